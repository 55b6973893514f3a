package rollback_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/rollback"
)

const (
	versionCreateEvent = "asc.appStoreVersions.create"
	submitEvent        = "asc.reviewSubmissions.submit"
	versionDeleteEvent = "asc.appStoreVersions.delete"
)

// followBundle is an iOS rollback prepared to ready against the fake App
// Store, with a Preparer on the store's clock.
type followBundle struct {
	*iosBundle
	prep   *rollback.Preparer
	follow rollback.FollowRequest
}

func setupFollow(t *testing.T, hook func(string) error) *followBundle {
	t.Helper()
	tb := setupIOS(t, iosSetupOptions{})
	rb, err := tb.newPrep(t, nil).PrepareIOS(context.Background(), tb.request)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackReady, rb.State, rb.Reason)
	fb := &followBundle{iosBundle: tb, follow: rollback.FollowRequest{App: "shop", TargetVersion: "1.2.0", AppStore: tb.asc}}
	fb.prep = fb.newFollower(t, hook)
	return fb
}

func (fb *followBundle) newFollower(t *testing.T, hook func(string) error) *rollback.Preparer {
	t.Helper()
	p, err := rollback.New(rollback.Config{Store: fb.db, Artifacts: fb.blobs, Credentials: fb.creds, WorkDir: fb.workDir, CrashHook: hook,
		AppStoreWait: time.Hour, Now: fb.fake.Now})
	require.NoError(t, err)
	return p
}

// releaseTarget takes the target 1.2.0 through review and releases it with
// a phased release, as the team would; it returns the release time.
func (fb *followBundle) releaseTarget(t *testing.T) time.Time {
	t.Helper()
	ctx := fb.ctx
	b, err := fb.asc.WaitBuildValid(ctx, fb.ascApp, "1.2.0", "125", time.Hour)
	require.NoError(t, err)
	v, err := fb.asc.CreateVersion(ctx, appstore.CreateVersionParams{AppID: fb.ascApp, VersionString: "1.2.0", BuildID: b.ID})
	require.NoError(t, err)
	_, err = fb.asc.EnablePhasedRelease(ctx, v.ID)
	require.NoError(t, err)
	_, err = fb.asc.SubmitForReview(ctx, v.ID)
	require.NoError(t, err)
	require.NoError(t, fb.fake.Advance(ctx, 25*time.Hour))
	require.NoError(t, fb.asc.ReleaseVersion(ctx, v.ID))
	at := fb.fake.Now().UTC().Truncate(time.Second)
	require.NoError(t, fb.fake.Advance(ctx, 5*time.Hour+12*time.Minute))
	return at
}

func (fb *followBundle) get(t *testing.T) *ripcord.RollbackBuild {
	t.Helper()
	rb, err := fb.db.RollbackBuildGet(fb.ctx, fb.app.ID, ripcord.IOS, "1.2.0")
	require.NoError(t, err)
	return rb
}

func (fb *followBundle) run(t *testing.T, req rollback.FollowRequest) *ripcord.RollbackBuild {
	t.Helper()
	rb, err := fb.prep.FollowIOS(context.Background(), req)
	require.NoError(t, err)
	return rb
}

// TestFollowIOSToApproval follows the rollback from a ready build to an
// approved App Store version: nothing before the target is released, then
// one version (manual release, no phased release, the rollback build
// attached) submitted once, recorded at each state, approved.
func TestFollowIOSToApproval(t *testing.T) {
	t.Parallel()
	fb := setupFollow(t, nil)
	rb := fb.run(t, fb.follow)
	require.Empty(t, rb.StoreVersionID, "the target is not released: the App Store would refuse a new version")
	require.Zero(t, fb.fake.CountEvents(versionCreateEvent))

	releasedAt := fb.releaseTarget(t)
	before := len(fb.fake.Events())
	start := time.Now()
	rb = fb.run(t, fb.follow)
	took := time.Since(start)
	var writes []string
	for _, e := range fb.fake.Events()[before:] {
		writes = append(writes, e.Op)
	}
	t.Logf("create and submit the rollback version: %d store writes %v, %s against the in-process fake (measured, not asserted)", len(writes), writes, took)
	require.NotEmpty(t, rb.StoreVersionID)
	require.Equal(t, appstore.StateWaitingForReview, rb.StoreVersionState)
	require.True(t, rb.ApprovedAt.IsZero())
	require.Equal(t, releasedAt, rb.TargetReleasedAt.Truncate(time.Second), "the window starts at the phased release's start")
	require.Equal(t, fb.get(t), rb, "recorded as returned")
	require.Equal(t, "no approved rollback for 5h 12m: the App Store reviews 1.2.1 (WAITING_FOR_REVIEW)", rb.IOSProtection(fb.fake.Now()).Sentence)
	require.False(t, rb.ReleasableOnIOS())

	v, err := fb.asc.GetVersion(fb.ctx, rb.StoreVersionID)
	require.NoError(t, err)
	require.Equal(t, "1.2.1", v.VersionString)
	require.Equal(t, "MANUAL", v.ReleaseType, "Ripcord releases the rollback itself, in one click")
	build, err := fb.asc.FindBuild(fb.ctx, fb.ascApp, "1.2.1", "126")
	require.NoError(t, err)
	require.Equal(t, build.ID, v.BuildID, "the rollback build is attached")
	_, err = fb.asc.GetPhasedRelease(fb.ctx, v.ID)
	require.ErrorIs(t, err, appstore.ErrNotFound, "a rollback goes to everyone at once: no phased release")
	require.Equal(t, 2, fb.fake.CountEvents(versionCreateEvent), "the target's version and the rollback's")
	require.Equal(t, 2, fb.fake.CountEvents(submitEvent))

	// Following again while in review writes nothing to the store.
	events := len(fb.fake.Events())
	fb.run(t, fb.follow)
	require.Len(t, fb.fake.Events(), events)

	require.NoError(t, fb.fake.Advance(fb.ctx, 25*time.Hour))
	approvedAt := fb.fake.Now().UTC().Truncate(time.Microsecond)
	rb = fb.run(t, fb.follow)
	require.Equal(t, ripcord.AppStoreApproved, rb.StoreVersionState)
	require.Equal(t, approvedAt, rb.ApprovedAt)
	require.True(t, rb.ReleasableOnIOS())
	require.False(t, rb.IOSProtection(fb.fake.Now()).Unprotected)
	require.Equal(t, []string{"rollback.allocate", "rollback.sign", "rollback.upload", "rollback.ready", "rollback.target_released",
		"rollback.store_version_create", "rollback.store_version_submit", "rollback.approved"}, fb.auditActions(t))

	// Approved stays approved; the first approval time is kept.
	require.NoError(t, fb.fake.Advance(fb.ctx, time.Hour))
	again := fb.run(t, fb.follow)
	require.Equal(t, rb, again)
}

// TestFollowIOSRejected: App Review rejects the rollback version. The
// follow-up records the state with a reason once (audited) and does not
// resubmit by itself; asked to, it resubmits the same version.
func TestFollowIOSRejected(t *testing.T) {
	t.Parallel()
	fb := setupFollow(t, nil)
	fb.releaseTarget(t)
	require.NoError(t, fb.fake.SetASCReviewOutcome(fb.ascApp, fakestore.ReviewReject))
	fb.run(t, fb.follow)
	require.NoError(t, fb.fake.Advance(fb.ctx, 25*time.Hour))
	rb := fb.run(t, fb.follow)
	require.Equal(t, appstore.StateRejected, rb.StoreVersionState)
	require.Contains(t, rb.Reason, "App Review rejected rollback version 1.2.1 (REJECTED)")
	require.Contains(t, rb.Reason, "ripcord release rollback-build shop 1.2.0 --platform ios --prepare")
	require.Equal(t, ripcord.RollbackReady, rb.State, "the build itself is fine")
	require.Contains(t, rb.IOSProtection(fb.fake.Now()).Sentence, "App Review rejected 1.2.1 (REJECTED)")
	submits := fb.fake.CountEvents(submitEvent)
	for range 3 {
		fb.run(t, fb.follow)
	}
	require.Equal(t, submits, fb.fake.CountEvents(submitEvent), "no resubmission loop")
	blocked := 0
	for _, a := range fb.auditActions(t) {
		if a == "rollback.store_version_blocked" {
			blocked++
		}
	}
	require.Equal(t, 1, blocked, "the rejection is audited once")

	require.NoError(t, fb.fake.SetASCReviewOutcome(fb.ascApp, fakestore.ReviewApprove))
	resubmit := fb.follow
	resubmit.Resubmit = true
	rb = fb.run(t, resubmit)
	require.Equal(t, appstore.StateWaitingForReview, rb.StoreVersionState)
	require.Empty(t, rb.Reason)
	require.Equal(t, submits+1, fb.fake.CountEvents(submitEvent))
	require.NoError(t, fb.fake.Advance(fb.ctx, 25*time.Hour))
	rb = fb.run(t, fb.follow)
	require.True(t, rb.ReleasableOnIOS())
	require.Equal(t, 2, fb.fake.CountEvents(versionCreateEvent), "the same rollback version, never a second one")
}

// TestFollowIOSCrash stops the follow-up after the store created the
// version (or took the submission) and before Ripcord recorded it; the next
// run finds what the store holds and never creates or submits twice.
func TestFollowIOSCrash(t *testing.T) {
	t.Parallel()
	for _, step := range []string{rollback.StepVersionCreated, rollback.StepSubmitted} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			crashed := false
			fb := setupFollow(t, func(s string) error {
				if s == step && !crashed {
					crashed = true
					return errCrash
				}
				return nil
			})
			fb.releaseTarget(t)
			_, err := fb.prep.FollowIOS(context.Background(), fb.follow)
			require.ErrorIs(t, err, errCrash)
			require.True(t, crashed)
			if step == rollback.StepVersionCreated {
				require.Empty(t, fb.get(t).StoreVersionID, "the crash came before the record")
			}
			fb.prep = fb.newFollower(t, nil) // a restarted process
			rb := fb.run(t, fb.follow)
			require.Equal(t, appstore.StateWaitingForReview, rb.StoreVersionState)
			require.Equal(t, 2, fb.fake.CountEvents(versionCreateEvent), "one rollback version")
			require.Equal(t, 2, fb.fake.CountEvents(submitEvent), "one rollback submission")
			require.NoError(t, fb.fake.Advance(fb.ctx, 25*time.Hour))
			require.True(t, fb.run(t, fb.follow).ReleasableOnIOS())
		})
	}
}

// TestFollowIOSWindowBeforeReady: the target is released while the
// rollback build is still processing; the window is recorded from the
// release all the same, and nothing is submitted until the build is ready.
func TestFollowIOSWindowBeforeReady(t *testing.T) {
	t.Parallel()
	tb := setupIOS(t, iosSetupOptions{wait: 5 * time.Minute, fake: func(c *fakestore.Config) { c.BuildProcessingDelay = 50 * time.Minute }})
	rb, err := tb.newPrep(t, nil).PrepareIOS(context.Background(), tb.request)
	require.ErrorIs(t, err, appstore.ErrTimeout)
	require.Equal(t, ripcord.RollbackUploaded, rb.State)
	fb := &followBundle{iosBundle: tb, follow: rollback.FollowRequest{App: "shop", TargetVersion: "1.2.0", AppStore: tb.asc}}
	fb.prep = fb.newFollower(t, nil)
	releasedAt := fb.releaseTarget(t)
	rb = fb.run(t, fb.follow)
	require.Equal(t, ripcord.RollbackUploaded, rb.State)
	require.Equal(t, releasedAt, rb.TargetReleasedAt.Truncate(time.Second))
	require.Equal(t, "no approved rollback for 5h 12m: the rollback build is uploaded", rb.IOSProtection(fb.fake.Now()).Sentence)
	require.Equal(t, 1, fb.fake.CountEvents(versionCreateEvent), "only the target's version")
}

// TestFollowIOSStoreFaults: a lost response to the version's creation (the
// store made it), 503s on the submission and a 429 on a listing are
// retried by the client with backoff; the follow-up ends in review with
// one rollback version and one submission.
func TestFollowIOSStoreFaults(t *testing.T) {
	t.Parallel()
	fb := setupFollow(t, nil)
	fb.releaseTarget(t)
	for _, f := range []fakestore.Fault{
		{Op: "asc.apps.appStoreVersions.list", Kind: fakestore.FaultStatus, Status: 429, RetryAfterSeconds: 1, Count: 1},
		{Op: "asc.appStoreVersions.create", Kind: fakestore.FaultLostResponse, Count: 1},
		{Op: "asc.reviewSubmissions.update", Kind: fakestore.FaultStatus, Status: 503, Count: 2},
	} {
		require.NoError(t, fb.fake.AddFault(f))
	}
	rb := fb.run(t, fb.follow)
	require.Equal(t, appstore.StateWaitingForReview, rb.StoreVersionState)
	for _, f := range fb.fake.Faults() {
		require.Equal(t, f.Count, f.Hits, "fault %s hit", f.Op)
	}
	require.Equal(t, 2, fb.fake.CountEvents(versionCreateEvent), "the target's and one rollback version")
	require.Equal(t, 2, fb.fake.CountEvents(submitEvent), "the target's and one rollback submission")
}

// buildGone is App Store Connect after the rollback build expired.
type buildGone struct{ *appstore.Client }

func (buildGone) FindBuild(context.Context, string, string, string) (*appstore.Build, error) {
	return nil, appstore.ErrNotFound
}

// TestFollowIOSBuildGone: the rollback build is no longer on App Store
// Connect; the follow-up says so with ErrStoreBuildGone (the job retires
// the rollback and prepares a fresh one) and creates nothing.
func TestFollowIOSBuildGone(t *testing.T) {
	t.Parallel()
	fb := setupFollow(t, nil)
	fb.releaseTarget(t)
	req := fb.follow
	req.AppStore = buildGone{fb.asc}
	_, err := fb.prep.FollowIOS(context.Background(), req)
	require.ErrorIs(t, err, rollback.ErrStoreBuildGone)
	require.Equal(t, 1, fb.fake.CountEvents(versionCreateEvent), "only the target's version")
}
