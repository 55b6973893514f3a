package daemon_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const shopPkg = "com.acme.shop"

// startRollout brings release 1.2.0 (120) of shop to rolling_out on
// Android, staged at 20 % on Play's production track over 1.1.0 (110), as
// TestRollbackOneEdit does; with ready, it first waits until the rollback
// build 1.2.1 (121) is ready.
func startRollout(t *testing.T, pb *playBundle, ready bool) {
	t.Helper()
	tb, ctx := pb.tb, context.Background()
	if ready {
		_, _, err := tb.d.Catalog.BuildUpload(pb.local, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.1.0", BuildNumber: "110", Body: bytes.NewReader(pb.live)})
		require.NoError(t, err)
	}
	resp := tb.call(t, pb.rm, "POST", "/api/v1/apps/shop/releases", jsonBody(httpapi.ReleaseCreateRequest{Version: "1.2.0"}), nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	if ready {
		tb.waitRollback(t, pb.viewer, "/api/v1/apps/shop/releases/1.2.0/rollback-build", ripcord.RollbackReady)
	} else {
		// The preparation queued with the release opens Play edits; let it
		// finish (live build unknown) so it does not supersede ours.
		tb.waitJobs(t, "prepare_rollback", "completed", 1)
	}
	_, _, err := tb.d.Catalog.BuildUpload(pb.local, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", Body: bytes.NewReader(pb.target)})
	require.NoError(t, err)
	_, err = pb.pc.Upload(ctx, play.UploadParams{Package: shopPkg, File: pb.target, APK: true, Track: play.TrackProduction, Status: play.StatusInProgress, UserFraction: 0.2})
	require.NoError(t, err)
	app, err := tb.d.Store.AppGetByName(ctx, "shop")
	require.NoError(t, err)
	rel, err := tb.d.Store.ReleaseGetByVersion(ctx, app.ID, "1.2.0")
	require.NoError(t, err)
	rp := *rel.Platform(ripcord.Android)
	rp.Status = ripcord.StatusRollingOut
	require.NoError(t, tb.d.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.ReleasePlatformUpdate(ctx, rel.ID, rp)
	}))
}

// reportCrashes posts crash-free session counts for shop 1.2.0 on Android
// through the batch API and returns the verdicts answered.
func reportCrashes(t *testing.T, pb *playBundle, bad, total int64) []healthwatch.Verdict {
	t.Helper()
	var res healthwatch.IngestResult
	resp := pb.tb.call(t, pb.rm, "POST", "/api/v1/health/samples", jsonBody(httpapi.HealthSamplesRequest{Samples: []healthwatch.Sample{{
		App: "shop", Platform: ripcord.Android, Version: "1.2.0", Metric: healthwatch.CrashFreeSessions,
		WindowStart: time.Now().UTC().Truncate(time.Minute), Bad: bad, Total: total,
	}}}), &res)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return res.Verdicts
}

// androidStatus reads shop 1.2.0's Android status from the database.
func androidStatus(t *testing.T, tb *testBundle) ripcord.ReleaseStatus {
	t.Helper()
	ctx := context.Background()
	app, err := tb.d.Store.AppGetByName(ctx, "shop")
	require.NoError(t, err)
	rel, err := tb.d.Store.ReleaseGetByVersion(ctx, app.ID, "1.2.0")
	require.NoError(t, err)
	return rel.Platform(ripcord.Android).Status
}

// waitStatus waits up to 5 s for shop 1.2.0 to reach status on Android.
func waitStatus(t *testing.T, tb *testBundle, status ripcord.ReleaseStatus) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for androidStatus(t, tb) != status {
		require.True(t, time.Now().Before(deadline), "release still %s, want %s", androidStatus(t, tb), status)
		time.Sleep(5 * time.Millisecond)
	}
}

// auditActions lists the actions audited on shop 1.2.0 on Android.
func auditActions(t *testing.T, tb *testBundle) []ripcord.AuditEntry {
	t.Helper()
	entries, err := tb.d.Store.AuditList(context.Background(), storage.AuditListParams{Limit: 1000, Target: "release/shop/1.2.0/android"})
	require.NoError(t, err)
	return entries
}

// waitAuditLen waits up to 5 s for n audit entries on shop 1.2.0 on
// Android: the status and its audit entry commit together, but the status
// may be read between the job's commit and the test's read.
func waitAuditLen(t *testing.T, tb *testBundle, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(auditActions(t, tb)) < n; time.Sleep(5 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "audit: %+v", auditActions(t, tb))
	}
}

// TestAutoHaltOnBreach reports a crash spike on 1.2.0 while it rolls out:
// Ripcord halts it on Play on its own, as ripcord:health, with the verdict's
// sentence in the audit; the app did not opt in to automatic rollbacks, so
// even a rollback-tier verdict only halts. Further breach reports do not act
// again.
func TestAutoHaltOnBreach(t *testing.T) {
	t.Parallel()
	pb := setupPlay(t)
	tb, ctx := pb.tb, context.Background()
	startRollout(t, pb, false)
	commits := func() int { return pb.fake.CountEvents("androidpublisher.edits.commit") }
	before := commits()

	verdicts := reportCrashes(t, pb, 300, 10_000) // 97 % crash-free
	require.Len(t, verdicts, 1)
	require.Equal(t, health.Rollback, verdicts[0].Decision.Outcome, verdicts[0].Decision.Sentence)
	require.True(t, verdicts[0].Changed)
	sentence := verdicts[0].Decision.Sentence

	waitStatus(t, tb, ripcord.StatusHalted)
	tr, err := pb.pc.GetTrack(ctx, shopPkg, play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, play.StatusHalted, tr.Find(120).Status)
	require.InDelta(t, 0.2, tr.Find(120).UserFraction, 1e-9)
	require.Equal(t, before+1, commits(), "one halt edit")

	waitAuditLen(t, tb, 2)
	entries := auditActions(t, tb)
	require.Equal(t, "release.halt_requested", entries[0].Action)
	require.Equal(t, "release.halt", entries[1].Action)
	require.Equal(t, daemon.HealthActor, entries[1].Actor)
	require.Contains(t, entries[1].After, sentence, "the audit says why")

	// More breach reports: the same tier again (no change, no call back),
	// then enough good sessions to move it to the pause tier, a changed
	// breach verdict that finds the release already halted.
	verdicts = reportCrashes(t, pb, 300, 10_000)
	require.False(t, verdicts[0].Changed)
	verdicts = reportCrashes(t, pb, 0, 100_000) // 600 of 120,000: 99.5 %
	require.Equal(t, health.Pause, verdicts[0].Decision.Outcome, verdicts[0].Decision.Sentence)
	require.True(t, verdicts[0].Changed)
	time.Sleep(200 * time.Millisecond) // an action would have run by now
	require.Equal(t, before+1, commits(), "no second store edit")
	require.Len(t, auditActions(t, tb), 2)
	require.Equal(t, ripcord.StatusHalted, androidStatus(t, tb))
}

// TestAutoRollbackOptedIn: where the app opted in
// (health.auto_rollback_apps) and the rollback build is ready, a
// rollback-tier verdict rolls back in one Play edit, as ripcord:health.
func TestAutoRollbackOptedIn(t *testing.T) {
	t.Parallel()
	pb := setupPlay(t, func(c *config.Config) { c.Health.AutoRollbackApps = []string{"shop"} })
	tb, ctx := pb.tb, context.Background()
	startRollout(t, pb, true)
	before := pb.fake.CountEvents("androidpublisher.edits.commit")

	verdicts := reportCrashes(t, pb, 300, 10_000)
	require.Equal(t, health.Rollback, verdicts[0].Decision.Outcome)

	waitStatus(t, tb, ripcord.StatusRolledBack)
	tr, err := pb.pc.GetTrack(ctx, shopPkg, play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, play.StatusHalted, tr.Find(120).Status)
	require.Equal(t, play.StatusCompleted, tr.Find(121).Status)
	require.Equal(t, before+1, pb.fake.CountEvents("androidpublisher.edits.commit"), "the rollback is one Play edit")
	waitAuditLen(t, tb, 2)
	entries := auditActions(t, tb)
	require.Equal(t, "release.rollback_requested", entries[0].Action)
	require.Equal(t, "release.rollback", entries[1].Action)
	require.Equal(t, daemon.HealthActor, entries[1].Actor)
	require.Contains(t, entries[1].After, verdicts[0].Decision.Sentence)
}

// TestBreachToHaltLatency measures, over RIPCORD_BREACH_RUNS runs (skipped
// when unset; e.g. 20), the time from the reply to the report that crosses
// the line to the fake Play receiving the halt commit, and requires p99 ≤
// 1 s (issue 8). Each run is a fresh server and fake store.
func TestBreachToHaltLatency(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("RIPCORD_BREACH_RUNS"))
	if runs <= 0 {
		t.Skip("set RIPCORD_BREACH_RUNS=20 to measure breach-to-halt latency")
	}
	lat := make([]time.Duration, 0, runs)
	for i := range runs {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			pb := setupPlay(t)
			startRollout(t, pb, false)
			before := pb.fake.CountEvents("androidpublisher.edits.commit")
			reportCrashes(t, pb, 300, 10_000)
			replied := time.Now()
			deadline := replied.Add(5 * time.Second)
			for pb.fake.CountEvents("androidpublisher.edits.commit") == before {
				require.True(t, time.Now().Before(deadline), "no halt within 5 s")
				time.Sleep(200 * time.Microsecond)
			}
			lat = append(lat, time.Since(replied))
		})
	}
	require.Len(t, lat, runs)
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	// A measurement, not a timed assertion: the figure goes in the notes
	// (target p99 ≤ 1 s); a slow machine must not fail a test.
	t.Logf("breach-to-halt over %d runs: p50 %s, p99 %s, max %s (target p99 ≤ 1s)", runs, pct(0.5), pct(0.99), lat[len(lat)-1])
}
