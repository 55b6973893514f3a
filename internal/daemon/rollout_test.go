package daemon_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// TestRollbackOneEdit halts, resumes and rolls back release 1.2.0 (120,
// staged at 20 % on Play's production track over 1.1.0's 110) through the
// API against the fake Play, once its rollback build 1.2.1 (121) is ready:
// the rollback is one committed edit that leaves 120 halted and 121
// completed, every action is audited, and a repeat changes nothing.
func TestRollbackOneEdit(t *testing.T) {
	t.Parallel()
	pb := setupPlay(t)
	tb, ctx := pb.tb, context.Background()
	const base = "/api/v1/apps/shop/releases/1.2.0/"
	const pkg = "com.acme.shop"

	// The live build is in Ripcord before the release exists, so the job
	// queued with the release prepares the rollback at once.
	_, _, err := tb.d.Catalog.BuildUpload(pb.local, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.1.0", BuildNumber: "110", Body: bytes.NewReader(pb.live)})
	require.NoError(t, err)
	resp := tb.call(t, pb.rm, "POST", "/api/v1/apps/shop/releases", jsonBody(httpapi.ReleaseCreateRequest{Version: "1.2.0"}), nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	// Before any rollout: the state machine refuses, naming the status.
	var eb httpapi.ErrorBody
	resp = tb.call(t, pb.rm, "POST", base+"halt?platform=android", nil, &eb)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "draft", eb.Error.Details["status"], eb.Error.Message)
	resp = tb.call(t, pb.rm, "POST", base+"halt?platform=ios", nil, &eb)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, eb.Error.Message, "not yet supported")
	resp = tb.call(t, pb.viewer, "POST", base+"halt?platform=android", nil, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	tb.waitRollback(t, pb.viewer, base+"rollback-build", ripcord.RollbackReady)

	// The release flow that starts rollouts is not built yet: attach the
	// target build, stage it on Play through the connector, and set the
	// status directly.
	_, _, err = tb.d.Catalog.BuildUpload(pb.local, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", Body: bytes.NewReader(pb.target)})
	require.NoError(t, err)
	_, err = pb.pc.Upload(ctx, play.UploadParams{Package: pkg, File: pb.target, APK: true, Track: play.TrackProduction, Status: play.StatusInProgress, UserFraction: 0.2})
	require.NoError(t, err)
	app, err := tb.d.Store.AppGetByName(ctx, "shop")
	require.NoError(t, err)
	rel, err := tb.d.Store.ReleaseGetByVersion(ctx, app.ID, "1.2.0")
	require.NoError(t, err)
	rp := *rel.Platform(ripcord.Android)
	require.NotZero(t, rp.BuildID, "the 1.2.0 build is attached")
	rp.Status = ripcord.StatusRollingOut
	require.NoError(t, tb.d.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.ReleasePlatformUpdate(ctx, rel.ID, rp)
	}))

	commits := func() int { return pb.fake.CountEvents("androidpublisher.edits.commit") }
	status := func(t *testing.T, resp *http.Response, r httpapi.Release) string {
		t.Helper()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		for _, p := range r.Platforms {
			if p.Platform == "android" {
				return p.Status
			}
		}
		require.Fail(t, "no android platform", "%+v", r)
		return ""
	}
	before := commits()
	var out httpapi.Release
	resp = tb.call(t, pb.rm, "POST", base+"halt", jsonBody(httpapi.RolloutActionRequest{Platform: "android"}), &out)
	require.Equal(t, "halted", status(t, resp, out))
	tr, err := pb.pc.GetTrack(ctx, pkg, play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, play.StatusHalted, tr.Find(120).Status)
	require.InDelta(t, 0.2, tr.Find(120).UserFraction, 1e-9)

	resp = tb.call(t, pb.rm, "POST", base+"resume?platform=android", nil, &out)
	require.Equal(t, "rolling_out", status(t, resp, out))
	tr, err = pb.pc.GetTrack(ctx, pkg, play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, play.StatusInProgress, tr.Find(120).Status)
	require.InDelta(t, 0.2, tr.Find(120).UserFraction, 1e-9, "resumed at the halted fraction")
	require.Equal(t, before+2, commits(), "one commit each for halt and resume")

	// Two concurrent clicks: one rolls back, the other gets 409 or (if
	// it came after) the same final state; Play sees one commit.
	before = commits()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Go(func() {
			codes[i] = tb.call(t, pb.rm, "POST", base+"rollback?platform=android", nil, nil).StatusCode
		})
	}
	wg.Wait()
	require.Contains(t, codes, http.StatusOK)
	require.Subset(t, []int{http.StatusOK, http.StatusConflict}, codes)
	require.Equal(t, before+1, commits(), "the rollback is one Play edit")

	tr, err = pb.pc.GetTrack(ctx, pkg, play.TrackProduction)
	require.NoError(t, err)
	require.Len(t, tr.Releases, 2, "%+v", tr.Releases)
	require.Equal(t, play.StatusHalted, tr.Find(120).Status)
	require.Equal(t, play.StatusCompleted, tr.Find(121).Status)
	require.Nil(t, tr.Find(110), "the rollback replaced the old completed release")

	// A repeat answers the same final state and writes nothing to Play.
	// (Background jobs may read Play meanwhile, so count writes.)
	written := commits()
	resp = tb.call(t, pb.rm, "POST", base+"rollback?platform=android", nil, &out)
	require.Equal(t, "rolled_back", status(t, resp, out))
	require.Equal(t, written, commits(), "no store write on a repeat")
	resp = tb.call(t, pb.rm, "POST", base+"resume?platform=android", nil, &eb)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "rolled_back", eb.Error.Details["status"])

	entries, err := tb.d.Store.AuditList(ctx, storage.AuditListParams{Limit: 1000, Target: "release/shop/1.2.0/android"})
	require.NoError(t, err)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		require.Equal(t, "token:rm", e.Actor)
	}
	require.Equal(t, []string{"release.halt", "release.resume", "release.rollback"}, actions)
	require.Contains(t, entries[2].After, `"rollback_version_code":121`)
}
