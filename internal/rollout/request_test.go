package rollout_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/rollout"
)

// TestTwoClicksOneAction: concurrent requests for the same action make one
// action (same id, one job's worth of store writes); a different action
// while it is active is a conflict naming it; once it finished, the next
// action is accepted. On both databases, since the database decides.
func TestTwoClicksOneAction(t *testing.T) {
	t.Parallel()
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			b := setup(t, dialect)
			svc := b.service(t, 3, nil)
			const n = 6
			ids := make([]int64, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					// Each click has its own key, as two people's would.
					a, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: ripcord.Android, Kind: ripcord.ActionRollback})
					if err == nil {
						ids[i] = a.ID
					} else {
						t.Errorf("click %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			for _, id := range ids {
				require.Equal(t, ids[0], id, "every click got the same action: %v", ids)
			}
			_, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: ripcord.Android, Kind: ripcord.ActionHalt})
			require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err), "%v", err)
			require.Contains(t, ripcord.ErrorMessage(err), "a rollback of shop 1.2.0 on android is queued")
			require.Equal(t, ids[0], ripcord.ErrorDetails(err)["action_id"])
			// The other platform is independent.
			pause, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: ripcord.IOS, Kind: ripcord.ActionHalt})
			require.NoError(t, err)

			commits := b.fake.CountEvents("androidpublisher.edits.commit")
			a, err := svc.Run(b.rm, ids[0])
			require.NoError(t, err)
			require.Equal(t, ripcord.ActionSucceeded, a.State)
			require.Equal(t, commits+1, b.fake.CountEvents("androidpublisher.edits.commit"))
			_, err = svc.Run(b.rm, pause.ID)
			require.NoError(t, err)
			require.Equal(t, ripcord.StatusPaused, b.status(t, ripcord.IOS))

			// Resume the paused phased release: the App Store shows it active.
			res, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: ripcord.IOS, Kind: ripcord.ActionResume})
			require.NoError(t, err)
			_, err = svc.Run(b.rm, res.ID)
			require.NoError(t, err)
			require.Equal(t, ripcord.StatusRollingOut, b.status(t, ripcord.IOS))
			require.Equal(t, appstore.PhasedActive, b.appStoreState(t)["1.2.0 phased"])
		})
	}
}

// TestRefusals: what cannot be done now is refused at once with the reason
// and what is possible instead, and nothing is recorded or sent.
func TestRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	svc := b.service(t, 3, nil)
	events := len(b.fake.Events())
	req := func(p ripcord.Platform, k ripcord.ActionKind) error {
		_, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: p, Kind: k})
		return err
	}

	// The iOS rollback version is still in review.
	b.setRollbackVersion(t, "v1", appstore.StateWaitingForReview)
	err := req(ripcord.IOS, ripcord.ActionRollback)
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
	require.Contains(t, err.Error(), "the App Store is still reviewing 1.2.1 (it is WAITING_FOR_REVIEW, not approved)")
	require.Contains(t, err.Error(), "pause it instead with `ripcord release halt shop 1.2.0 --platform ios`")
	require.Equal(t, []string{"pause"}, ripcord.ErrorDetails(err)["possible"])
	b.setRollbackVersion(t, "", "")
	require.Contains(t, req(ripcord.IOS, ripcord.ActionRollback).Error(), "the App Store version 1.2.1 of the rollback does not exist yet")

	// "all": iOS is refused, Android goes ahead; the answer says which.
	out, err := svc.RequestPlatforms(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Kind: ripcord.ActionRollback}, nil)
	require.NoError(t, err)
	require.Len(t, out, 2)
	require.Equal(t, ripcord.Android, out[0].Platform)
	require.NoError(t, out[0].Err)
	require.Equal(t, ripcord.ActionQueued, out[0].Action.State)
	require.Equal(t, ripcord.IOS, out[1].Platform)
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(out[1].Err))

	// The state machine: resume while rolling out.
	err = req(ripcord.IOS, ripcord.ActionResume)
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
	require.Contains(t, err.Error(), "cannot resume the ios release while it is rolling_out")

	// Roles, names, keys.
	viewer := ripcord.NewContextWithActor(b.rm, ripcord.Actor{Name: "token:v", Role: ripcord.RoleViewer})
	_, err = svc.Request(viewer, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: ripcord.Android, Kind: ripcord.ActionHalt})
	require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err))
	require.Equal(t, ripcord.ENOTFOUND, ripcord.ErrorCode(func() error {
		_, err := svc.Request(b.rm, rollout.ActionRequest{App: "nope", Version: "1.2.0", Platform: ripcord.Android, Kind: ripcord.ActionHalt})
		return err
	}()))
	require.Equal(t, ripcord.ENOTFOUND, ripcord.ErrorCode(func() error {
		_, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "9.9.9", Platform: ripcord.Android, Kind: ripcord.ActionHalt})
		return err
	}()))
	_, err = svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: ripcord.IOS, Kind: ripcord.ActionHalt, IdempotencyKey: out[0].Action.IdempotencyKey})
	require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
	require.Contains(t, err.Error(), "was used for the rollback of another release or platform")
	_, err = svc.Get(b.rm, "shop", "1.2.0", 424242)
	require.Equal(t, ripcord.ENOTFOUND, ripcord.ErrorCode(err))

	require.Len(t, b.fake.Events(), events, "no store call for a request")
}
