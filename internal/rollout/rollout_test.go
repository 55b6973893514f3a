package rollout_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/rollout"
)

// TestRollbackBothPlatforms rolls 1.2.0 back on both stores through
// RequestPlatforms and the job: Play gets one committed edit (120 halted,
// 121 completed), the App Store one release request (1.2.1 released,
// replacing 1.2.0); each action's steps and the audit say what happened,
// and a repeat returns the same actions without a store call.
func TestRollbackBothPlatforms(t *testing.T) {
	t.Parallel()
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			b := setup(t, dialect)
			svc := b.service(t, 3, nil)
			commits, releases := b.fake.CountEvents("androidpublisher.edits.commit"), b.fake.CountEvents("asc.appStoreVersionReleaseRequests.create")
			out, err := svc.RequestPlatforms(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Kind: ripcord.ActionRollback, IdempotencyKey: "k"}, nil)
			require.NoError(t, err)
			require.Len(t, out, 2)
			for _, o := range out {
				require.NoError(t, o.Err)
				require.Equal(t, ripcord.ActionQueued, o.Action.State)
				a, err := svc.Run(b.rm, o.Action.ID)
				require.NoError(t, err)
				require.Equal(t, ripcord.ActionSucceeded, a.State, a.Error)
				require.Equal(t, ripcord.StatusRolledBack, b.status(t, o.Platform))
			}
			require.Equal(t, []string{"121:completed", "120:halted@0.2"}, b.productionTrack(t))
			st := b.appStoreState(t)
			require.Equal(t, "READY_FOR_DISTRIBUTION", st["1.2.1"])
			require.Equal(t, "REPLACED_WITH_NEW_VERSION", st["1.2.0"])
			require.Equal(t, commits+1, b.fake.CountEvents("androidpublisher.edits.commit"), "one Play edit")
			require.Equal(t, releases+1, b.fake.CountEvents("asc.appStoreVersionReleaseRequests.create"), "one release request")

			a, err := svc.Get(b.rm, "shop", "1.2.0", out[0].Action.ID)
			require.NoError(t, err)
			var names []string
			for _, s := range a.Steps {
				names = append(names, s.Name)
			}
			require.Equal(t, []string{"edit: halt 120 + complete 121", "recorded: rolled_back"}, names)
			es := b.audit(t, ripcord.Android)
			require.Equal(t, "release.rollback_requested", es[0].Action)
			require.Equal(t, "release.rollback", es[1].Action)
			require.Equal(t, "token:rm", es[1].Actor)
			require.Contains(t, es[1].After, `"rollback_version_code":121`)

			// Two more clicks: the same key, then a fresh one.
			events := len(b.fake.Events())
			again, err := svc.RequestPlatforms(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Kind: ripcord.ActionRollback, IdempotencyKey: "k"}, nil)
			require.NoError(t, err)
			require.Equal(t, out[0].Action.ID, again[0].Action.ID)
			one, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: ripcord.IOS, Kind: ripcord.ActionRollback})
			require.NoError(t, err)
			require.Equal(t, out[1].Action.ID, one.ID, "a rolled-back release answers the action that did it")
			require.Len(t, b.fake.Events(), events, "no store call on a repeat")
		})
	}
}
