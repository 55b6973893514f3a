package daemon_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/play"
)

// TestStagedRolloutThroughTheServer drives the staged-rollout routes of a
// real server against the fake Play: the rollout plan is shown and set
// (release managers only), a submission of all platforms is queued for
// Android (iOS has no build and is reported as skipped) and its job uploads
// 1.2.0 (120) to Play's production track as a draft, and a start is
// refused because the release gate has recorded no go, with nothing
// written to Play; release show carries the schedule.
func TestStagedRolloutThroughTheServer(t *testing.T) {
	t.Parallel()
	pb := setupPlay(t)
	tb := pb.tb
	const base = "/api/v1/apps/shop/releases/1.2.0/"

	var plan httpapi.RolloutPlan
	resp := tb.call(t, pb.viewer, "GET", "/api/v1/apps/shop/rollout-plan", nil, &plan)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, plan.Default)
	require.Equal(t, []httpapi.RolloutStage{{Day: 1, Percent: 8}, {Day: 2, Percent: 30}, {Day: 3, Percent: 100}}, plan.Android)
	plan.TimeZone, plan.Default = "America/Toronto", false
	resp = tb.call(t, pb.viewer, "PUT", "/api/v1/apps/shop/rollout-plan", jsonBody(plan), nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	var eb httpapi.ErrorBody
	bad := plan
	bad.Android = []httpapi.RolloutStage{{Day: 1, Percent: 8, MinDuration: "one day"}}
	resp = tb.call(t, pb.rm, "PUT", "/api/v1/apps/shop/rollout-plan", jsonBody(bad), &eb)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, eb.Error.Message, `min_duration "one day"`)
	resp = tb.call(t, pb.rm, "PUT", "/api/v1/apps/shop/rollout-plan", jsonBody(plan), &plan)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.False(t, plan.Default)
	require.Equal(t, "token:rm", plan.UpdatedBy)

	_, _, err := tb.d.Catalog.BuildUpload(pb.local, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", Body: bytes.NewReader(pb.target)})
	require.NoError(t, err)
	resp = tb.call(t, pb.rm, "POST", "/api/v1/apps/shop/releases", jsonBody(httpapi.ReleaseCreateRequest{Version: "1.2.0"}), nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	resp = tb.call(t, pb.rm, "POST", base+"submit", nil, &eb)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "the platform must be named")
	var res httpapi.StageActionResult
	resp = tb.call(t, pb.rm, "POST", base+"submit?platform=ios", nil, &eb)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Contains(t, eb.Error.Message, "has no build to submit")
	resp = tb.call(t, pb.rm, "POST", base+"submit?platform=all", nil, &res)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "android is queued")
	require.Len(t, res.Skipped, 1)
	require.Contains(t, res.Skipped[0], "ios: ")
	require.Contains(t, res.Skipped[0], "has no build to submit")

	var rel httpapi.Release
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp = tb.call(t, pb.viewer, "GET", "/api/v1/apps/shop/releases/1.2.0", nil, &rel)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		if rel.Platforms[0].Status == string(ripcord.StatusApproved) {
			break
		}
		require.True(t, time.Now().Before(deadline), "android is %s after a minute", rel.Platforms[0].Status)
	}
	tr, err := pb.pc.GetTrack(t.Context(), "com.acme.shop", play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, play.StatusDraft, tr.Find(120).Status)
	ro := rel.Platforms[0].Rollout
	require.NotNil(t, ro)
	require.Equal(t, "not started", ro.Label)
	require.Equal(t, "start at stage 1/3, 8 %", ro.Next)

	commits := pb.fake.CountEvents("androidpublisher.edits.commit")
	resp = tb.call(t, pb.rm, "POST", base+"start?platform=android", nil, &eb)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Contains(t, eb.Error.Message, "no go decision is recorded for shop 1.2.0")
	require.Equal(t, commits, pb.fake.CountEvents("androidpublisher.edits.commit"), "nothing written to Play")
	resp = tb.call(t, pb.rm, "POST", base+"advance?platform=android", nil, &eb)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Contains(t, eb.Error.Message, "only a rolling-out release advances")
}
