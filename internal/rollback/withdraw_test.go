package rollback_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/rollback"
	"github.com/ripcordhq/ripcord/internal/storage"
)

func (fb *followBundle) withdraw(ctx context.Context) (*ripcord.RollbackBuild, error) {
	return fb.prep.WithdrawIOS(ctx, rollback.WithdrawRequest{App: "shop", TargetVersion: "1.2.0", AppStore: fb.asc})
}

// TestWithdrawIOSApproved withdraws an approved rollback parked in Pending
// Developer Release: before, the App Store refuses the team's next
// version; after, the rollback version is gone, the rollback is withdrawn
// (audited as the person), and the next version can be created.
func TestWithdrawIOSApproved(t *testing.T) {
	t.Parallel()
	fb := setupFollow(t, nil)
	fb.releaseTarget(t)
	fb.run(t, fb.follow)
	require.NoError(t, fb.fake.Advance(fb.ctx, 25*time.Hour))
	rb := fb.run(t, fb.follow)
	require.True(t, rb.ReleasableOnIOS())

	_, err := fb.asc.CreateVersion(fb.ctx, appstore.CreateVersionParams{AppID: fb.ascApp, VersionString: "1.3.0"})
	require.ErrorIs(t, err, appstore.ErrConflict, "an approved version waiting for release blocks the next one")
	require.ErrorIs(t, fb.asc.DeleteVersion(fb.ctx, rb.StoreVersionID), appstore.ErrConflict,
		"the store does not delete an approved version: it must be developer-rejected first")

	ctx := ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "token:rm", Role: ripcord.RoleReleaseManager})
	rb, err = fb.withdraw(ctx)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackWithdrawn, rb.State)
	require.Equal(t, ripcord.AppStoreDeleted, rb.StoreVersionState)
	require.True(t, rb.ApprovedAt.IsZero())
	require.False(t, rb.ReleasableOnIOS())
	require.Contains(t, rb.Reason, "withdrawn by token:rm: App Store version 1.2.1 was deleted")
	require.Equal(t, fb.get(t), rb)
	_, err = fb.asc.GetVersion(fb.ctx, rb.StoreVersionID)
	require.ErrorIs(t, err, appstore.ErrNotFound)
	require.Equal(t, 1, fb.fake.CountEvents(versionDeleteEvent))
	entries, err := fb.db.AuditList(fb.ctx, storage.AuditListParams{Target: iosTarget})
	require.NoError(t, err)
	last := entries[len(entries)-1]
	require.Equal(t, "rollback.withdraw", last.Action)
	require.Equal(t, "token:rm", last.Actor)

	_, err = fb.asc.CreateVersion(fb.ctx, appstore.CreateVersionParams{AppID: fb.ascApp, VersionString: "1.3.0"})
	require.NoError(t, err, "the team's next version can be created")

	// Again: nothing changes, no store call; following creates nothing.
	events := len(fb.fake.Events())
	again, err := fb.withdraw(ctx)
	require.NoError(t, err)
	require.Equal(t, rb, again)
	fb.run(t, fb.follow)
	require.Len(t, fb.fake.Events(), events)
}

// TestWithdrawIOSInReview cancels the review first (Apple applies it after
// a delay) and then deletes the version.
func TestWithdrawIOSInReview(t *testing.T) {
	t.Parallel()
	fb := setupFollow(t, nil)
	fb.releaseTarget(t)
	rb := fb.run(t, fb.follow)
	require.Equal(t, appstore.StateWaitingForReview, rb.StoreVersionState)
	require.ErrorIs(t, fb.asc.DeleteVersion(fb.ctx, rb.StoreVersionID), appstore.ErrConflict, "the store does not delete a version in review")
	rb, err := fb.withdraw(fb.ctx)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackWithdrawn, rb.State)
	require.Equal(t, 1, fb.fake.CountEvents("asc.reviewSubmissions.cancel"))
	require.Equal(t, 1, fb.fake.CountEvents(versionDeleteEvent))
}

// TestWithdrawIOSReleased refuses to withdraw a rollback version already
// released, and changes nothing.
func TestWithdrawIOSReleased(t *testing.T) {
	t.Parallel()
	fb := setupFollow(t, nil)
	fb.releaseTarget(t)
	fb.run(t, fb.follow)
	require.NoError(t, fb.fake.Advance(fb.ctx, 25*time.Hour))
	rb := fb.run(t, fb.follow)
	require.NoError(t, fb.asc.ReleaseVersion(fb.ctx, rb.StoreVersionID))
	_, err := fb.withdraw(fb.ctx)
	require.Error(t, err)
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
	require.ErrorContains(t, err, "rollback version 1.2.1 is READY_FOR_DISTRIBUTION on the App Store: it was released")
	require.Zero(t, fb.fake.CountEvents(versionDeleteEvent))
	require.Equal(t, ripcord.RollbackReady, fb.get(t).State)
}

// TestWithdrawIOSBeforeCreate withdraws before the version exists: the
// rollback is withdrawn and the follow-up never creates the version.
func TestWithdrawIOSBeforeCreate(t *testing.T) {
	t.Parallel()
	fb := setupFollow(t, nil)
	rb, err := fb.withdraw(fb.ctx)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackWithdrawn, rb.State)
	require.Empty(t, rb.StoreVersionState)
	fb.releaseTarget(t)
	fb.run(t, fb.follow)
	require.Equal(t, 1, fb.fake.CountEvents(versionCreateEvent), "only the target's version")
}

// TestWithdrawIOSCrashAfterDelete stops after the store deleted the version
// and before Ripcord recorded it: withdrawing again finds it gone and
// records the withdrawal, deleting nothing twice.
func TestWithdrawIOSCrashAfterDelete(t *testing.T) {
	t.Parallel()
	crashed := false
	fb := setupFollow(t, func(s string) error {
		if s == rollback.StepVersionDeleted && !crashed {
			crashed = true
			return errCrash
		}
		return nil
	})
	fb.releaseTarget(t)
	fb.run(t, fb.follow)
	require.NoError(t, fb.fake.Advance(fb.ctx, 25*time.Hour))
	require.True(t, fb.run(t, fb.follow).ReleasableOnIOS())
	_, err := fb.withdraw(fb.ctx)
	require.ErrorIs(t, err, errCrash)
	require.Equal(t, ripcord.RollbackReady, fb.get(t).State, "the crash came before the record")
	fb.prep = fb.newFollower(t, nil)
	rb, err := fb.withdraw(fb.ctx)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackWithdrawn, rb.State)
	require.Equal(t, ripcord.AppStoreDeleted, rb.StoreVersionState)
	require.Equal(t, 1, fb.fake.CountEvents(versionDeleteEvent))
}
