package healthwatch_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

type testBundle struct {
	svc      *healthwatch.Service
	store    *sqlite.DB
	ctx      context.Context
	now      time.Time
	mu       sync.Mutex
	verdicts []healthwatch.Verdict
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	tb := &testBundle{store: db, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	tb.ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:ci", Role: ripcord.RoleAdmin})
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.AppCreate(ctx, &ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop", CreatedAt: tb.now, UpdatedAt: tb.now})
	}))
	tb.svc = healthwatch.New(healthwatch.Config{Store: db, Now: func() time.Time { return tb.now }, OnVerdict: func(_ context.Context, v healthwatch.Verdict) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		tb.verdicts = append(tb.verdicts, v)
	}})
	return tb
}

func sample(version string, start time.Time, bad, total int64) healthwatch.Sample {
	return healthwatch.Sample{App: "shop", Platform: ripcord.Android, Version: version, Metric: healthwatch.CrashFreeSessions, WindowStart: start, Bad: bad, Total: total}
}

func TestIngestDecidesOnEveryBatch(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	start := tb.now.Add(-10 * time.Minute)

	res, err := tb.svc.Ingest(tb.ctx, []healthwatch.Sample{sample("1.2.0", start, 1, 100)})
	require.NoError(t, err)
	require.Equal(t, 1, res.Accepted)
	require.Len(t, res.Verdicts, 1)
	require.Equal(t, health.Inconclusive, res.Verdicts[0].Decision.Outcome)
	require.True(t, res.Verdicts[0].Changed)

	// The same verdict again is not a change and is not recorded twice.
	res, err = tb.svc.Ingest(tb.ctx, []healthwatch.Sample{sample("1.2.0", start.Add(time.Minute), 0, 100)})
	require.NoError(t, err)
	require.False(t, res.Verdicts[0].Changed)

	// A crash spike crosses into the rollback tier at once: no age guard.
	res, err = tb.svc.Ingest(tb.ctx, []healthwatch.Sample{sample("1.2.0", start.Add(2*time.Minute), 30, 300)})
	require.NoError(t, err)
	require.Equal(t, health.Rollback, res.Verdicts[0].Decision.Outcome, res.Verdicts[0].Decision.Sentence)
	require.True(t, res.Verdicts[0].Changed)

	require.Len(t, tb.verdicts, 2, "OnVerdict hears each change once")
	require.Equal(t, health.Rollback, tb.verdicts[1].Decision.Outcome)
	last, err := tb.store.HealthDecisionLatest(context.Background(), 1, ripcord.Android, "1.2.0", healthwatch.CrashFreeSessions)
	require.NoError(t, err)
	require.Equal(t, health.Rollback, last.Outcome)
	require.Contains(t, last.Inputs, `"counts":{"bad":31,"total":500}`)

	entries, err := tb.store.AuditList(context.Background(), storage.AuditListParams{Target: "release/shop/1.2.0"})
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Equal(t, "health.decision", entries[1].Action)
}

func TestIngestRejectsBadSamplesAndKeepsTheRest(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ok := sample("1.2.0", tb.now.Add(-time.Minute), 0, 10)
	bad := []healthwatch.Sample{
		{App: "nope", Platform: ripcord.Android, Version: "1.2.0", Metric: healthwatch.CrashFreeSessions, WindowStart: tb.now, Total: 1},
		{App: "shop", Platform: ripcord.Android, Version: "1.2.0", Metric: "vibes", WindowStart: tb.now, Total: 1},
		{App: "shop", Platform: ripcord.Android, Version: "1.2.0", Metric: healthwatch.CrashFreeSessions, WindowStart: tb.now, Bad: 5, Total: 1},
		{App: "shop", Platform: ripcord.Android, Version: "1.2.0", Metric: healthwatch.CrashFreeSessions, WindowStart: tb.now.Add(time.Hour), Total: 1},
		{App: "shop", Platform: ripcord.Android, Version: "one", Metric: healthwatch.CrashFreeSessions, WindowStart: tb.now, Total: 1},
	}
	res, err := tb.svc.Ingest(tb.ctx, append(bad, ok))
	require.NoError(t, err)
	require.Equal(t, 1, res.Accepted)
	msgs := map[int]string{}
	for _, r := range res.Rejected {
		msgs[r.Index] = r.Message
	}
	require.Contains(t, msgs[0], `app "nope" does not exist`)
	require.Contains(t, msgs[1], `metric "vibes" is not known`)
	require.Contains(t, msgs[2], "impossible")
	require.Contains(t, msgs[3], "in the future")
	require.Contains(t, msgs[4], "version")

	_, err = tb.svc.Ingest(tb.ctx, bad)
	require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))

	viewer := ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "token:v", Role: ripcord.RoleViewer})
	_, err = tb.svc.Ingest(viewer, []healthwatch.Sample{ok})
	require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err))
}

func TestReportComparesWithTheBaselineAtTheSameAge(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	// 1.1.0 started a day ago: clean for its first hour, bad later. The
	// baseline for a release that is one hour old is its first hour only.
	old := tb.now.Add(-24 * time.Hour)
	_, err := tb.svc.Ingest(tb.ctx, []healthwatch.Sample{sample("1.1.0", old, 1, 50000), sample("1.1.0", old.Add(5*time.Hour), 500, 1000)})
	require.NoError(t, err)
	_, err = tb.svc.Ingest(tb.ctx, []healthwatch.Sample{sample("1.2.0", tb.now.Add(-time.Hour), 50, 50000)})
	require.NoError(t, err)

	rep, err := tb.svc.Report(tb.ctx, "shop", "1.2.0", "")
	require.NoError(t, err)
	require.Len(t, rep.Platforms, 2)
	android := rep.Platforms[0]
	require.Equal(t, ripcord.Android, android.Platform)
	require.Len(t, android.Metrics, 1)
	m := android.Metrics[0]
	require.Equal(t, health.Counts{Bad: 50, Total: 50000}, m.Counts)
	require.NotNil(t, m.Baseline)
	require.InDelta(t, 1-1.0/50000, *m.Baseline, 1e-9, "baseline is 1.1.0's first hour")
	require.True(t, m.Decision.Regression, m.Decision.Sentence)
	require.Empty(t, rep.Platforms[1].Metrics, "no iOS data")

	only, err := tb.svc.Report(tb.ctx, "shop", "1.2.0", ripcord.IOS)
	require.NoError(t, err)
	require.Len(t, only.Platforms, 1)
}
