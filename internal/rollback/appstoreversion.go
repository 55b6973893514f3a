package rollback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// AppStoreReview is the slice of the App Store Connect client that the iOS
// rollback's own App Store version needs: created once the target is
// released, submitted for review, followed to Pending Developer Release,
// and withdrawn on purpose.
type AppStoreReview interface {
	AppStore
	// GetVersion reads one App Store version (ErrNotFound once deleted).
	GetVersion(ctx context.Context, versionID string) (*appstore.Version, error)
	// CreateVersion creates the version or returns the one with its
	// versionString, so a retry never creates two.
	CreateVersion(ctx context.Context, p appstore.CreateVersionParams) (*appstore.Version, error)
	// AttachBuild sets the version's build; a no-op when attached.
	AttachBuild(ctx context.Context, versionID, buildID string) error
	// SubmitForReview sends the version to App Review, reusing what an
	// earlier attempt left.
	SubmitForReview(ctx context.Context, versionID string) (*appstore.Submission, error)
	// GetPhasedRelease reads a version's phased release (ErrNotFound when
	// it has none).
	GetPhasedRelease(ctx context.Context, versionID string) (*appstore.PhasedRelease, error)
	// WithdrawVersion cancels the version's review or developer-rejects it
	// and deletes it; a version already gone succeeds.
	WithdrawVersion(ctx context.Context, versionID string, timeout time.Duration) error
}

var _ AppStoreReview = (*appstore.Client)(nil)

// Steps of the App Store version follow-up a CrashHook is called after.
// StepVersionCreated comes after the store created the version and before
// Ripcord recorded it; StepSubmitted after the submission and before its
// record.
const (
	StepVersionCreated = "version_created"
	StepSubmitted      = "submitted"
)

// FollowRequest names the iOS rollback whose App Store version to follow.
type FollowRequest struct {
	App           string
	TargetVersion string
	// AppStore reaches App Store Connect with the app's API key. Required.
	AppStore AppStoreReview
	// Resubmit sends a version App Review rejected to review again; the
	// follow-up never does that by itself, so a rejection is not a loop.
	Resubmit bool
}

// FollowIOS moves the current iOS rollback of a target towards an approved
// App Store version, one idempotent step per store state, and returns the
// row as recorded:
//
//   - it records when the target was released (the start of the window
//     without an approved rollback), whatever the rollback's state;
//   - nothing more until the rollback build is ready and the target's App
//     Store version is READY_FOR_DISTRIBUTION (the App Store allows a new
//     version only once the latest one is released);
//   - then it creates the rollback's
//     version (MANUAL release, no phased release) with the rollback build
//     attached, and submits it for review;
//   - it records each state App Review moves the version to, and the time
//     it was first seen PENDING_DEVELOPER_RELEASE (ApprovedAt).
//
// Every step reads the store before it writes: a version or submission an
// earlier run created before it crashed is found, never made twice. A
// rejection is recorded with its reason and audited, and is not submitted
// again unless req.Resubmit. App Store versions of superseded rollbacks of
// the target are withdrawn first, since one would block creating this one.
func (p *Preparer) FollowIOS(ctx context.Context, req FollowRequest) (*ripcord.RollbackBuild, error) {
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: Actor, Role: ripcord.RoleAdmin})
	rb, err := p.followIOS(ctx, req)
	if err != nil {
		return rb, fmt.Errorf("follow the App Store version of the ios rollback of %s %s: %w", req.App, req.TargetVersion, err)
	}
	return rb, nil
}

func (p *Preparer) followIOS(ctx context.Context, req FollowRequest) (*ripcord.RollbackBuild, error) {
	if req.AppStore == nil {
		return nil, errNoAppStore
	}
	app, err := p.iosApp(ctx, req.App)
	if err != nil {
		return nil, err
	}
	mu, _ := p.appLocks.LoadOrStore(app.ID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	st := &ascSession{as: req.AppStore, bundleID: app.IOSBundleID}
	if err := p.withdrawSuperseded(ctx, st, req.AppStore, app, req.TargetVersion); err != nil {
		return nil, err
	}
	rb, err := p.store.RollbackBuildGet(ctx, app.ID, ripcord.IOS, req.TargetVersion)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil // nothing prepared yet: preparation comes first
	} else if err != nil {
		return nil, err
	}
	if rb.State == ripcord.RollbackWithdrawn {
		return rb, nil
	}
	appID, err := st.appID(ctx)
	if err != nil {
		return rb, err
	}
	versions, err := req.AppStore.ListVersions(ctx, appID, appstore.PlatformIOS)
	if err != nil {
		return rb, fmt.Errorf("list App Store versions of %s: %w", app.IOSBundleID, err)
	}
	target, mine := findVersion(versions, rb.TargetVersion), findVersion(versions, rb.Version)
	if mine == nil && rb.StoreVersionID != "" && rb.State == ripcord.RollbackReady {
		// Someone deleted it in App Store Connect: say so, then make it
		// again below when the store allows.
		if err := p.record(ctx, app, rb, "rollback.store_version_gone", func(rb *ripcord.RollbackBuild) {
			rb.StoreVersionID, rb.StoreVersionState, rb.ApprovedAt, rb.Reason = "", "", time.Time{}, ""
		}); err != nil {
			return rb, err
		}
	}
	if rb.TargetReleasedAt.IsZero() && target != nil && released(target.State) {
		at := p.clock()
		if ph, err := req.AppStore.GetPhasedRelease(ctx, target.ID); err == nil && !ph.StartDate.IsZero() {
			at = ph.StartDate.UTC().Truncate(time.Microsecond)
		} else if err != nil && !errors.Is(err, appstore.ErrNotFound) {
			return rb, fmt.Errorf("read the phased release of %s %s: %w", app.IOSBundleID, rb.TargetVersion, err)
		}
		if err := p.record(ctx, app, rb, "rollback.target_released", func(rb *ripcord.RollbackBuild) { rb.TargetReleasedAt = at }); err != nil {
			return rb, err
		}
	}
	if rb.State != ripcord.RollbackReady {
		// Not ready (or refused): nothing to submit yet, but the window
		// since the target's release is recorded above all the same.
		return rb, nil
	}
	if mine == nil {
		if target == nil || target.State != appstore.StateReadyForDistribution {
			return rb, nil // the target is not released: the store would refuse a new version
		}
		if blocker := newerUnreleased(versions, target); blocker != nil {
			return rb, p.note(ctx, app, rb, fmt.Sprintf(
				"App Store version %s (%s) is newer than the target and not released, so the App Store allows no rollback version for %s until it is released or deleted",
				blocker.VersionString, blocker.State, rb.TargetVersion))
		}
		build, err := p.storeBuild(ctx, req.AppStore, app, rb, appID)
		if err != nil || build == nil {
			return rb, err
		}
		if mine, err = req.AppStore.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: rb.Version,
			ReleaseType: "MANUAL", BuildID: build.ID}); err != nil {
			return rb, p.storeRefusal(ctx, app, rb, "create App Store version "+rb.Version, err)
		}
		if err := p.hook(StepVersionCreated); err != nil {
			return rb, err
		}
	}
	// An approval is recorded with its time by advanceReview, in one entry.
	approval := rb.StoreVersionID == mine.ID && mine.State == appstore.StatePendingDeveloperRelease
	if !approval && (rb.StoreVersionID != mine.ID || rb.StoreVersionState != mine.State) {
		action := "rollback.store_version_state"
		if rb.StoreVersionID != mine.ID {
			action = "rollback.store_version_create"
		}
		if err := p.record(ctx, app, rb, action, func(rb *ripcord.RollbackBuild) {
			rb.StoreVersionID, rb.StoreVersionState = mine.ID, mine.State
		}); err != nil {
			return rb, err
		}
	}
	return rb, p.advanceReview(ctx, req, app, rb, appID, mine)
}

// advanceReview acts on the rollback's App Store version by its state.
func (p *Preparer) advanceReview(ctx context.Context, req FollowRequest, app *ripcord.App, rb *ripcord.RollbackBuild, appID string, v *appstore.Version) error {
	switch v.State {
	case appstore.StatePendingDeveloperRelease:
		if rb.ApprovedAt.IsZero() || rb.Reason != "" || rb.StoreVersionState != v.State {
			return p.record(ctx, app, rb, "rollback.approved", func(rb *ripcord.RollbackBuild) {
				rb.StoreVersionState = v.State
				if rb.ApprovedAt.IsZero() {
					rb.ApprovedAt = p.clock()
				}
				rb.Reason = ""
			})
		}
		return nil
	case appstore.StateRejected, "METADATA_REJECTED", "INVALID_BINARY":
		if !req.Resubmit {
			return p.note(ctx, app, rb, fmt.Sprintf(
				"App Review rejected rollback version %s (%s); read the message in App Store Connect's Resolution Center, fix what it asks, then submit it again with `ripcord release rollback-build %s %s --platform ios --prepare`",
				rb.Version, v.State, app.Name, rb.TargetVersion))
		}
	case appstore.StateDeveloperRejected:
		if !req.Resubmit {
			return p.note(ctx, app, rb, fmt.Sprintf(
				"rollback version %s was taken out of review in App Store Connect (DEVELOPER_REJECTED); submit it again with `ripcord release rollback-build %s %s --platform ios --prepare`, or withdraw it",
				rb.Version, app.Name, rb.TargetVersion))
		}
	case appstore.StatePrepareForSubmission:
	default:
		return nil // in review, released or replaced: only recorded
	}
	if v.BuildID == "" {
		build, err := p.storeBuild(ctx, req.AppStore, app, rb, appID)
		if err != nil || build == nil {
			return err
		}
		if err := req.AppStore.AttachBuild(ctx, v.ID, build.ID); err != nil {
			return p.storeRefusal(ctx, app, rb, "attach build "+rb.BuildNumber+" to App Store version "+rb.Version, err)
		}
	}
	if _, err := req.AppStore.SubmitForReview(ctx, v.ID); err != nil {
		if errors.Is(err, appstore.ErrSubmissionInFlight) {
			return p.note(ctx, app, rb, fmt.Sprintf(
				"another review submission of %s is in flight, and App Review takes one at a time; rollback version %s is submitted once it finishes (%v)",
				app.IOSBundleID, rb.Version, err))
		}
		return p.storeRefusal(ctx, app, rb, "submit App Store version "+rb.Version+" for review", err)
	}
	if err := p.hook(StepSubmitted); err != nil {
		return err
	}
	after, err := req.AppStore.GetVersion(ctx, v.ID)
	if err != nil {
		return fmt.Errorf("read App Store version %s after submitting it: %w", rb.Version, err)
	}
	return p.record(ctx, app, rb, "rollback.store_version_submit", func(rb *ripcord.RollbackBuild) {
		rb.StoreVersionState, rb.Reason = after.State, ""
	})
}

// ErrStoreBuildGone says App Store Connect no longer holds a ready
// rollback build (builds expire 90 days after upload, or someone removed
// it): the rollback must be retired and prepared afresh, which the caller
// does with an Invalidator.
var ErrStoreBuildGone = errors.New("the build is no longer on App Store Connect (builds expire 90 days after upload)")

// storeBuild finds the rollback build on App Store Connect, or returns an
// error matching ErrStoreBuildGone.
func (p *Preparer) storeBuild(ctx context.Context, as AppStoreReview, app *ripcord.App, rb *ripcord.RollbackBuild, appID string) (*appstore.Build, error) {
	build, err := as.FindBuild(ctx, appID, rb.Version, rb.BuildNumber)
	if errors.Is(err, appstore.ErrNotFound) {
		return nil, fmt.Errorf("rollback build %s (%s) of %s: %w", rb.Version, rb.BuildNumber, app.IOSBundleID, ErrStoreBuildGone)
	} else if err != nil {
		return nil, fmt.Errorf("find rollback build %s (%s) on App Store Connect: %w", rb.Version, rb.BuildNumber, err)
	}
	return build, nil
}

// storeRefusal records a store refusal that waiting will not fix (a state
// conflict, an invalid request) as the rollback's reason, audited, and
// returns nil so the follow-up stops instead of looping; anything else
// (5xx after the client's retries, a timeout) is returned for a retry.
func (p *Preparer) storeRefusal(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild, what string, err error) error {
	var apiErr *appstore.Error
	if errors.Is(err, appstore.ErrConflict) || errors.Is(err, appstore.ErrWrongState) ||
		(errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 && apiErr.Status != 429) {
		return p.note(ctx, app, rb, fmt.Sprintf("App Store Connect refused to %s: %v; fix it in App Store Connect, then run `ripcord release rollback-build %s %s --platform ios --prepare`",
			what, err, app.Name, rb.TargetVersion))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// note records reason on the rollback (audited once per reason).
func (p *Preparer) note(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild, reason string) error {
	if rb.Reason == reason {
		return nil
	}
	p.logger.WarnContext(ctx, "ios rollback version stopped", "app", app.Name, "target", rb.TargetVersion, "reason", reason)
	return p.record(ctx, app, rb, "rollback.store_version_blocked", func(rb *ripcord.RollbackBuild) { rb.Reason = reason })
}

// record applies change to rb and stores it with an audit entry.
func (p *Preparer) record(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild, action string, change func(*ripcord.RollbackBuild)) error {
	before := *rb
	change(rb)
	rb.UpdatedAt = p.clock()
	err := p.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.RollbackBuildUpdate(ctx, rb); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, rb.UpdatedAt, action, auditTarget(app, rb), storeSummary(&before), storeSummary(rb)))
	})
	if err != nil {
		*rb = before
		return fmt.Errorf("record %s of rollback build %d: %w", action, rb.ID, err)
	}
	return nil
}

// storeSummary is summary plus the App Store version fields.
func storeSummary(rb *ripcord.RollbackBuild) map[string]any {
	m := summary(rb)
	if rb.StoreVersionID != "" {
		m["store_version_id"], m["store_version_state"] = rb.StoreVersionID, rb.StoreVersionState
	}
	if !rb.ApprovedAt.IsZero() {
		m["approved_at"] = rb.ApprovedAt
	}
	if !rb.TargetReleasedAt.IsZero() {
		m["target_released_at"] = rb.TargetReleasedAt
	}
	if !rb.SupersededAt.IsZero() {
		m["superseded_at"] = rb.SupersededAt
	}
	return m
}

func findVersion(vs []appstore.Version, versionString string) *appstore.Version {
	for i := range vs {
		if vs[i].VersionString == versionString {
			return &vs[i]
		}
	}
	return nil
}

// released reports whether a version went on the store at some point.
func released(state string) bool {
	return slices.Contains([]string{appstore.StateReadyForDistribution, appstore.StateProcessingForDistrib, appstore.StateReplacedWithNewVersion}, state)
}

// newerUnreleased returns a version created after the target that is not
// released: the App Store refuses a new version while it exists.
func newerUnreleased(vs []appstore.Version, target *appstore.Version) *appstore.Version {
	for i := range vs {
		if vs[i].ID != target.ID && vs[i].Created.After(target.Created) && !released(vs[i].State) {
			return &vs[i]
		}
	}
	return nil
}

// iosApp reads an app that must be on iOS.
func (p *Preparer) iosApp(ctx context.Context, name string) (*ripcord.App, error) {
	app, err := p.store.AppGetByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %q does not exist; `ripcord app list` shows the apps", name)
	} else if err != nil {
		return nil, err
	}
	if !app.Has(ripcord.IOS) {
		return nil, ripcord.Errorf(ripcord.EINVALID, "app %s has no iOS bundle id, so it has no iOS rollback", app.Name)
	}
	return app, nil
}
