package rollout_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/rollout"
)

var errCrash = errors.New("crash hook: the process stops here")

// crashCase is an action whose run is cut at every hook point.
type crashCase struct {
	name     string
	platform ripcord.Platform
	kind     ripcord.ActionKind
	writeOp  string // the fake's event of the action's one store write
	want     ripcord.ReleaseStatus
}

var crashCases = []crashCase{
	{"android rollback", ripcord.Android, ripcord.ActionRollback, "androidpublisher.edits.commit", ripcord.StatusRolledBack},
	{"android halt", ripcord.Android, ripcord.ActionHalt, "androidpublisher.edits.commit", ripcord.StatusHalted},
	{"ios rollback", ripcord.IOS, ripcord.ActionRollback, "asc.appStoreVersionReleaseRequests.create", ripcord.StatusRolledBack},
	{"ios pause", ripcord.IOS, ripcord.ActionHalt, "asc.appStoreVersionPhasedReleases.update", ripcord.StatusPaused},
}

// storeState is what the stores show once an action ended.
type storeState struct {
	Track    []string
	AppStore map[string]string
}

// runAction requests c's action and runs it to its end with svc, returning
// the action's id.
func runAction(t *testing.T, b *bundle, svc *rollout.Service, c crashCase) int64 {
	t.Helper()
	a, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: c.platform, Kind: c.kind, Reason: "crash test"})
	require.NoError(t, err)
	return a.ID
}

// TestCrashAtEveryStep cuts each action at every point a process could die
// (before each store write, after the store acknowledged it but before it
// was recorded, before the final record), then runs it again in a new
// service on the same database and fake stores, as a restarted daemon's
// job would. The stores must end as in a run without a crash, each store
// write must have happened exactly once, and the release, action and audit
// must say it was done once.
func TestCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	for _, dialect := range dialects {
		for _, c := range crashCases {
			t.Run(dialect+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				// The run without a crash, recording its hook points.
				b := setup(t, dialect)
				var points []string
				svc := b.service(t, 3, func(_ context.Context, _ *ripcord.RolloutAction, step, phase string) error {
					points = append(points, step+"|"+phase)
					return nil
				})
				before := b.fake.CountEvents(c.writeOp)
				id := runAction(t, b, svc, c)
				a, err := svc.Run(b.rm, id)
				require.NoError(t, err)
				require.Equal(t, ripcord.ActionSucceeded, a.State)
				require.Equal(t, before+1, b.fake.CountEvents(c.writeOp))
				want := storeState{b.productionTrack(t), b.appStoreState(t)}
				require.NotEmpty(t, points)

				for _, point := range points {
					t.Run(point, func(t *testing.T) {
						b := setup(t, dialect)
						before := b.fake.CountEvents(c.writeOp)
						crashed := false
						svc := b.service(t, 3, func(_ context.Context, _ *ripcord.RolloutAction, step, phase string) error {
							if !crashed && step+"|"+phase == point {
								crashed = true
								return errCrash
							}
							return nil
						})
						id := runAction(t, b, svc, c)
						_, err := svc.Run(b.rm, id)
						require.ErrorIs(t, err, errCrash)
						require.False(t, rollout.Permanent(err), "a crash is retried")

						restarted := b.service(t, 3, nil)
						a, err := restarted.Run(b.rm, id)
						require.NoError(t, err)
						require.Equal(t, ripcord.ActionSucceeded, a.State, a.Error)
						require.Equal(t, want, storeState{b.productionTrack(t), b.appStoreState(t)}, "the stores end as without a crash")
						require.Equal(t, before+1, b.fake.CountEvents(c.writeOp), "the store write happened exactly once")
						require.Equal(t, c.want, b.status(t, c.platform))
						var done []string
						for _, e := range b.audit(t, c.platform) {
							if e.Action == "release."+string(c.kind.Event(c.platform)) {
								done = append(done, e.Action)
							}
						}
						require.Len(t, done, 1, "audited once")
						// A third run (a duplicate job) does nothing.
						events := len(b.fake.Events())
						_, err = restarted.Run(b.rm, id)
						require.NoError(t, err)
						require.Len(t, b.fake.Events(), events)
						t.Logf("steps after the restart: %s", stepList(a))
					})
				}
			})
		}
	}
}

func stepList(a *ripcord.RolloutAction) string {
	s := ""
	for _, st := range a.Steps {
		s += fmt.Sprintf("[%s", st.Name)
		if st.Note != "" {
			s += " — " + st.Note
		}
		s += "] "
	}
	return s
}
