package rollout_test

import (
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/rollout"
)

// TestStoreFaults injects the stores' transient faults (429, 5xx, a timeout)
// once: the connectors retry and the rollback ends as usual, the write
// made once. Permanent refusals (403) stop the action in state failed with
// the store's message and an audit entry, and leave the release's status
// alone; the job is not retried.
func TestStoreFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		platform ripcord.Platform
		fault    fakestore.Fault
		failed   string // substring of the action's error; "" when it succeeds
	}{
		{"play 429 on commit", ripcord.Android, fakestore.Fault{Op: "androidpublisher.edits.commit", Kind: fakestore.FaultStatus, Status: 429, Count: 1}, ""},
		{"play 500 on track update", ripcord.Android, fakestore.Fault{Op: "androidpublisher.edits.tracks.update", Kind: fakestore.FaultStatus, Status: 500, Count: 1}, ""},
		{"play timeout on commit", ripcord.Android, fakestore.Fault{Op: "androidpublisher.edits.commit", Kind: fakestore.FaultTimeout, Latency: fakestore.Duration(20 * time.Millisecond), Count: 1}, ""},
		{"play lost answer to commit", ripcord.Android, fakestore.Fault{Op: "androidpublisher.edits.commit", Kind: fakestore.FaultLostResponse, Count: 1}, ""},
		{"play 403", ripcord.Android, fakestore.Fault{Op: "androidpublisher.edits.commit", Kind: fakestore.FaultStatus, Status: 403}, "403"},
		{"asc 429 on release", ripcord.IOS, fakestore.Fault{Op: "asc.appStoreVersionReleaseRequests.create", Kind: fakestore.FaultStatus, Status: 429, Count: 1}, ""},
		{"asc 500 on release", ripcord.IOS, fakestore.Fault{Op: "asc.appStoreVersionReleaseRequests.create", Kind: fakestore.FaultStatus, Status: 500, Count: 1}, ""},
		{"asc lost answer to release", ripcord.IOS, fakestore.Fault{Op: "asc.appStoreVersionReleaseRequests.create", Kind: fakestore.FaultLostResponse, Count: 1}, ""},
		{"asc 403", ripcord.IOS, fakestore.Fault{Op: "asc.appStoreVersionReleaseRequests.create", Kind: fakestore.FaultStatus, Status: 403}, "403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "sqlite")
			svc := b.service(t, 3, nil)
			writeOp := "androidpublisher.edits.commit"
			if tt.platform == ripcord.IOS {
				writeOp = "asc.appStoreVersionReleaseRequests.create"
			}
			before := b.fake.CountEvents(writeOp)
			require.NoError(t, b.fake.AddFault(tt.fault))
			a, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: tt.platform, Kind: ripcord.ActionRollback})
			require.NoError(t, err)
			a, err = svc.Run(b.rm, a.ID)
			if tt.failed == "" {
				require.NoError(t, err)
				require.Equal(t, ripcord.ActionSucceeded, a.State, a.Error)
				require.Equal(t, ripcord.StatusRolledBack, b.status(t, tt.platform))
				require.Equal(t, before+1, b.fake.CountEvents(writeOp), "written once")
				require.Positive(t, b.fake.Faults()[0].Hits, "the fault was hit")
				return
			}
			require.Error(t, err)
			require.True(t, errors.As(err, new(*rollout.PermanentError)), "%v", err)
			require.Equal(t, ripcord.ActionFailed, a.State)
			require.Contains(t, a.Error, tt.failed)
			require.Contains(t, a.Error, "fix the cause, then ask again")
			require.Equal(t, ripcord.StatusRollingOut, b.status(t, tt.platform), "nothing recorded as done")
			require.Equal(t, before, b.fake.CountEvents(writeOp))
			es := b.audit(t, tt.platform)
			require.Equal(t, "release.rollback_failed", es[len(es)-1].Action)
			require.Contains(t, es[len(es)-1].After, tt.failed)
			// Failed is final: another run does nothing, and a new request
			// (once the cause is fixed) makes a new action.
			again, err := svc.Run(b.rm, a.ID)
			require.NoError(t, err)
			require.Equal(t, ripcord.ActionFailed, again.State)
			require.NoError(t, b.fake.ClearFaults())
			next, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: tt.platform, Kind: ripcord.ActionRollback})
			require.NoError(t, err)
			require.NotEqual(t, a.ID, next.ID)
			next, err = svc.Run(b.rm, next.ID)
			require.NoError(t, err)
			require.Equal(t, ripcord.ActionSucceeded, next.State)
		})
	}
}

// TestStoreDownRetriedByJob: Play answers 503 longer than the connector
// retries, so the run ends with a transient error and the action stays
// running for the job's next attempt, which succeeds once Play is back.
// On the job's last attempt the action is failed instead of left running.
func TestStoreDownRetriedByJob(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	svc := b.service(t, 2, nil)
	require.NoError(t, b.fake.AddFault(fakestore.Fault{Op: "androidpublisher.edits.insert", Kind: fakestore.FaultStatus, Status: 503}))
	a, err := svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: ripcord.Android, Kind: ripcord.ActionHalt})
	require.NoError(t, err)
	a, err = svc.Run(b.rm, a.ID)
	require.Error(t, err)
	require.False(t, rollout.Permanent(err), "%v", err)
	require.Equal(t, ripcord.ActionRunning, a.State)
	require.NoError(t, b.fake.ClearFaults())
	a, err = svc.Run(b.rm, a.ID)
	require.NoError(t, err)
	require.Equal(t, ripcord.ActionSucceeded, a.State)
	require.Equal(t, []string{"110:completed", "120:halted@0.2"}, b.productionTrack(t))

	// The job's last attempt: still down, so the worker fails the action
	// (with an audit entry) rather than leave it running without a job.
	require.NoError(t, b.fake.AddFault(fakestore.Fault{Op: "androidpublisher.edits.insert", Kind: fakestore.FaultStatus, Status: 503}))
	a, err = svc.Request(b.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: ripcord.Android, Kind: ripcord.ActionResume})
	require.NoError(t, err)
	w := rollout.NewWorker(svc)
	job := func(attempt int) *river.Job[rollout.ActionArgs] {
		return &river.Job[rollout.ActionArgs]{JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: 10}, Args: rollout.ActionArgs{ActionID: a.ID}}
	}
	err = w.Work(b.rm, job(1))
	require.Error(t, err)
	require.False(t, errors.As(err, new(*river.JobCancelError)), "an early attempt is retried")
	err = w.Work(b.rm, job(10))
	require.True(t, errors.As(err, new(*river.JobCancelError)), "%v", err)
	got, err := svc.Get(b.rm, "shop", "1.2.0", a.ID)
	require.NoError(t, err)
	require.Equal(t, ripcord.ActionFailed, got.State)
	require.Contains(t, got.Error, "gave up after 10 attempts")
	require.Contains(t, got.Error, "503")
	es := b.audit(t, ripcord.Android)
	require.Equal(t, "release.resume_failed", es[len(es)-1].Action)
}
