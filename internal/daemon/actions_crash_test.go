package daemon_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/play"
)

// TestRollbackSurvivesDaemonCrash rolls back through a daemon that dies
// right after Play acknowledged the edit, before anything was recorded: a
// new daemon on the same database and fake Play finishes the action from
// its job, reading the track first, so Play sees exactly one commit and
// ends as after a run without a crash (120 halted, 121 completed).
func TestRollbackSurvivesDaemonCrash(t *testing.T) {
	t.Parallel()
	pb := setupPlay(t)
	startRollout(t, pb, true)
	ctx := context.Background()
	// The first daemon of the bundle stops cleanly; its cleanup still
	// finds its Run result.
	pb.tb.cancel()
	stopped := <-pb.tb.stopped
	pb.tb.stopped <- stopped
	cfg := pb.tb.d.Config()

	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	start := func(hook func(ctx context.Context, a *ripcord.RolloutAction, step, phase string) error) (string, func()) {
		logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		rctx, cancel := context.WithCancel(ctx)
		d, err := daemon.OpenWith(rctx, cfg, logger, daemon.Options{RolloutHook: hook})
		require.NoError(t, err)
		require.NoError(t, d.Listen())
		done := make(chan error, 1)
		go func() { done <- d.Run(rctx) }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				cancel()
				<-done
				d.Close()
			})
		}
		t.Cleanup(stop)
		return d.URL(), stop
	}

	crashed := make(chan struct{})
	url, stop := start(func(_ context.Context, _ *ripcord.RolloutAction, step, phase string) error {
		if strings.HasPrefix(step, "edit:") && phase == "after" {
			close(crashed)
			return errors.New("crash hook: the daemon dies after Play acknowledged the edit")
		}
		return nil
	})
	commits := pb.fake.CountEvents("androidpublisher.edits.commit")
	tb := &testBundle{url: url, d: pb.tb.d}
	var out httpapi.RolloutActions
	resp := tb.call(t, pb.rm, "POST", "/api/v1/apps/shop/releases/1.2.0/rollback", jsonBody(httpapi.RolloutActionRequest{Platforms: []string{"android"}}), &out)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	id := out.Actions[0].Action.ID
	select {
	case <-crashed:
	case <-time.After(15 * time.Second):
		t.Fatal("the action never reached Play")
	}
	stop()
	require.Equal(t, commits+1, pb.fake.CountEvents("androidpublisher.edits.commit"), "Play applied the edit before the crash")
	require.Equal(t, ripcord.StatusRollingOut, androidStatus(t, pb.tb), "nothing recorded yet")

	url, _ = start(nil)
	tb.url = url
	a := tb.waitAction(t, pb.viewer, "/api/v1/apps/shop/releases/1.2.0/", id)
	require.Equal(t, "succeeded", a.State, a.Error)
	require.Contains(t, a.Steps[0].Note, "found already done in the store")
	require.Equal(t, ripcord.StatusRolledBack, androidStatus(t, pb.tb))
	require.Equal(t, commits+1, pb.fake.CountEvents("androidpublisher.edits.commit"), "no second commit")
	tr, err := pb.pc.GetTrack(ctx, shopPkg, play.TrackProduction)
	require.NoError(t, err)
	require.Len(t, tr.Releases, 2)
	require.Equal(t, play.StatusHalted, tr.Find(120).Status)
	require.Equal(t, play.StatusCompleted, tr.Find(121).Status)
}
