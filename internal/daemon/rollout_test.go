package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// waitAction polls an action until it finished, failing after 15 s with
// the last answer.
func (tb *testBundle) waitAction(t *testing.T, token, base string, id int64) httpapi.Action {
	t.Helper()
	var a httpapi.Action
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp := tb.call(t, token, "GET", fmt.Sprintf("%sactions/%d", base, id), nil, &a)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		if a.State == "succeeded" || a.State == "failed" {
			return a
		}
		require.True(t, time.Now().Before(deadline), "action %d is still %s: %+v", id, a.State, a)
	}
}

// TestRollbackOneEdit halts, resumes and rolls back release 1.2.0 (120,
// staged at 20 % on Play's production track over 1.1.0's 110) through the
// API against the fake Play, once its rollback build 1.2.1 (121) is ready.
// Each request answers a durable action that the job queue runs, whose
// steps GET .../actions/{id} reports; the rollback is one committed edit
// that leaves 120 halted and 121 completed; concurrent clicks make one
// action; "all" acts on each platform separately (iOS, still a draft here,
// is refused while Android goes ahead); every action is audited.
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
	resp = tb.call(t, pb.rm, "POST", base+"halt", nil, &eb)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, eb.Error.Message, "name the platforms")
	resp = tb.call(t, pb.rm, "POST", base+"halt?platform=ios", jsonBody(httpapi.RolloutActionRequest{Platforms: []string{"android"}}), &eb)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, eb.Error.Message, "disagree")
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
	act := func(t *testing.T, path string, body any, want string) httpapi.Action {
		t.Helper()
		var out httpapi.RolloutActions
		resp := tb.call(t, pb.rm, "POST", path, jsonBody(body), &out)
		require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, resp.StatusCode)
		require.Len(t, out.Actions, 1)
		require.NotNil(t, out.Actions[0].Action, "%+v", out.Actions[0].Error)
		a := tb.waitAction(t, pb.viewer, base, out.Actions[0].Action.ID)
		require.Equal(t, "succeeded", a.State, a.Error)
		require.Equal(t, "recorded: "+want, a.Steps[len(a.Steps)-1].Name)
		return a
	}
	before := commits()
	a := act(t, base+"halt", httpapi.RolloutActionRequest{Platform: "android"}, "halted")
	require.Equal(t, "edit: halt 120", a.Steps[0].Name)
	tr, err := pb.pc.GetTrack(ctx, pkg, play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, play.StatusHalted, tr.Find(120).Status)
	require.InDelta(t, 0.2, tr.Find(120).UserFraction, 1e-9)

	act(t, base+"resume?platform=android", nil, "rolling_out")
	tr, err = pb.pc.GetTrack(ctx, pkg, play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, play.StatusInProgress, tr.Find(120).Status)
	require.InDelta(t, 0.2, tr.Find(120).UserFraction, 1e-9, "resumed at the halted fraction")
	require.Equal(t, before+2, commits(), "one commit each for halt and resume")

	// Concurrent clicks on "all": each answers the same Android action;
	// iOS (a draft here) is refused in the same answer. Play sees one
	// commit.
	before = commits()
	var wg sync.WaitGroup
	outs := make([]httpapi.RolloutActions, 3)
	for i := range outs {
		wg.Go(func() {
			resp := tb.call(t, pb.rm, "POST", base+"rollback", jsonBody(httpapi.RolloutActionRequest{Platform: "all"}), &outs[i])
			require.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
	wg.Wait()
	for _, o := range outs {
		require.Len(t, o.Actions, 2)
		require.Equal(t, "android", o.Actions[0].Platform)
		require.NotNil(t, o.Actions[0].Action, "%+v", o.Actions[0].Error)
		require.Equal(t, outs[0].Actions[0].Action.ID, o.Actions[0].Action.ID, "one action for every click")
		require.Equal(t, "ios", o.Actions[1].Platform)
		require.NotNil(t, o.Actions[1].Error)
		require.Equal(t, "conflict", o.Actions[1].Error.Code)
		require.Contains(t, o.Actions[1].Error.Message, "while it is draft")
	}
	a = tb.waitAction(t, pb.viewer, base, outs[0].Actions[0].Action.ID)
	require.Equal(t, "succeeded", a.State, a.Error)
	require.Equal(t, before+1, commits(), "the rollback is one Play edit")

	tr, err = pb.pc.GetTrack(ctx, pkg, play.TrackProduction)
	require.NoError(t, err)
	require.Len(t, tr.Releases, 2, "%+v", tr.Releases)
	require.Equal(t, play.StatusHalted, tr.Find(120).Status)
	require.Equal(t, play.StatusCompleted, tr.Find(121).Status)
	require.Nil(t, tr.Find(110), "the rollback replaced the old completed release")

	// A repeat answers the same action and writes nothing to Play.
	// (Background jobs may read Play meanwhile, so count writes.)
	written := commits()
	var again httpapi.RolloutActions
	resp = tb.call(t, pb.rm, "POST", base+"rollback?platform=android", nil, &again)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, a.ID, again.Actions[0].Action.ID)
	require.Equal(t, written, commits(), "no store write on a repeat")
	resp = tb.call(t, pb.rm, "POST", base+"resume?platform=android", nil, &eb)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "rolled_back", eb.Error.Details["status"])
	resp = tb.call(t, pb.viewer, "GET", base+"actions/999", nil, &eb)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp = tb.call(t, pb.viewer, "GET", "/api/v1/apps/shop/releases/1.3.0/actions/1", nil, &eb)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	entries, err := tb.d.Store.AuditList(ctx, storage.AuditListParams{Limit: 1000, Target: "release/shop/1.2.0/android"})
	require.NoError(t, err)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		require.Equal(t, "token:rm", e.Actor)
	}
	require.Equal(t, []string{"release.halt_requested", "release.halt", "release.resume_requested", "release.resume",
		"release.rollback_requested", "release.rollback"}, actions)
	require.Contains(t, entries[5].After, `"rollback_version_code":121`)
}
