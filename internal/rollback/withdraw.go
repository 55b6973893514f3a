package rollback

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// StepVersionDeleted comes after the store deleted a withdrawn rollback's
// App Store version and before Ripcord recorded it.
const StepVersionDeleted = "version_deleted"

// WithdrawRequest names the iOS rollback whose App Store version to
// withdraw.
type WithdrawRequest struct {
	App           string
	TargetVersion string
	// AppStore reaches App Store Connect with the app's API key. Required.
	AppStore AppStoreReview
	// Wait bounds the wait for Apple to apply a review cancellation before
	// the version can be deleted. Default one minute: a person is waiting;
	// withdrawing again resumes.
	Wait time.Duration
}

// WithdrawIOS withdraws the current iOS rollback of a target on purpose: an
// approved rollback parked in Pending Developer Release (or one in review)
// blocks the team's next App Store version, since the App Store creates a
// new version only once the latest is released. The review is canceled or
// the version developer-rejected, then the version is deleted, and the
// rollback is recorded withdrawn (audited as the caller in ctx). It is
// idempotent: a withdrawn rollback is returned unchanged, and a version
// already deleted by an earlier attempt is found gone. A released rollback
// version cannot be withdrawn (ECONFLICT).
func (p *Preparer) WithdrawIOS(ctx context.Context, req WithdrawRequest) (*ripcord.RollbackBuild, error) {
	rb, err := p.withdrawIOS(ctx, req)
	if err != nil {
		return rb, fmt.Errorf("withdraw the ios rollback of %s %s: %w", req.App, req.TargetVersion, err)
	}
	p.logger.InfoContext(ctx, "ios rollback withdrawn", "app", req.App, "target", req.TargetVersion, "version", rb.Version)
	return rb, nil
}

func (p *Preparer) withdrawIOS(ctx context.Context, req WithdrawRequest) (*ripcord.RollbackBuild, error) {
	app, err := p.iosApp(ctx, req.App)
	if err != nil {
		return nil, err
	}
	mu, _ := p.appLocks.LoadOrStore(app.ID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	rb, err := p.store.RollbackBuildGet(ctx, app.ID, ripcord.IOS, req.TargetVersion)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no iOS rollback for %s, so there is nothing to withdraw", app.Name, req.TargetVersion)
	} else if err != nil {
		return nil, err
	}
	if rb.State == ripcord.RollbackWithdrawn {
		return rb, nil
	}
	if req.AppStore == nil {
		return rb, errNoAppStore
	}
	st := &ascSession{as: req.AppStore, bundleID: app.IOSBundleID}
	existed, err := p.deleteStoreVersion(ctx, st, req.AppStore, rb, cmp.Or(req.Wait, time.Minute))
	if err != nil {
		return rb, err
	}
	if err := p.hook(StepVersionDeleted); err != nil {
		return rb, err
	}
	who := ripcord.ActorFromContext(ctx).Name
	err = p.record(ctx, app, rb, "rollback.withdraw", func(rb *ripcord.RollbackBuild) {
		rb.State, rb.ApprovedAt = ripcord.RollbackWithdrawn, time.Time{}
		rb.StoreVersionState = ""
		if existed {
			rb.StoreVersionState = ripcord.AppStoreDeleted
		}
		rb.Reason = fmt.Sprintf("withdrawn by %s: App Store version %s was deleted so the next version can be created; the next release gets its own rollback once it is released",
			who, rb.Version)
	})
	return rb, err
}

// deleteStoreVersion takes rb's App Store version out of review (or
// developer-rejects it) and deletes it, waiting up to wait for a
// cancellation; it reports whether a version existed. It finds the version
// by versionString when rb has not recorded it (a crash between creating
// it and the record).
func (p *Preparer) deleteStoreVersion(ctx context.Context, st *ascSession, as AppStoreReview, rb *ripcord.RollbackBuild, wait time.Duration) (bool, error) {
	var v *appstore.Version
	if rb.StoreVersionID != "" {
		got, err := as.GetVersion(ctx, rb.StoreVersionID)
		if errors.Is(err, appstore.ErrNotFound) {
			return true, nil // an earlier attempt deleted it
		} else if err != nil {
			return false, fmt.Errorf("read App Store version %s: %w", rb.Version, err)
		}
		v = got
	} else {
		appID, err := st.appID(ctx)
		if err != nil {
			return false, err
		}
		versions, err := as.ListVersions(ctx, appID, appstore.PlatformIOS)
		if err != nil {
			return false, fmt.Errorf("list App Store versions of %s: %w", st.bundleID, err)
		}
		if v = findVersion(versions, rb.Version); v == nil {
			return false, nil
		}
	}
	if released(v.State) {
		return false, ripcord.Errorf(ripcord.ECONFLICT, "rollback version %s is %s on the App Store: it was released, so there is nothing to withdraw", rb.Version, v.State)
	}
	err := as.WithdrawVersion(ctx, v.ID, wait)
	switch {
	case errors.Is(err, appstore.ErrTimeout):
		return false, ripcord.Errorf(ripcord.EUNAVAILABLE,
			"App Store Connect has not finished canceling the review of %s after %s; withdraw again in a minute to delete it (%v)", rb.Version, wait, err)
	case errors.Is(err, appstore.ErrWrongState), errors.Is(err, appstore.ErrConflict):
		return false, ripcord.Errorf(ripcord.ECONFLICT, "App Store Connect refused to withdraw rollback version %s (%s): %v", rb.Version, v.State, err)
	case err != nil:
		return false, fmt.Errorf("withdraw App Store version %s: %w", rb.Version, err)
	}
	return true, nil
}

// withdrawSuperseded deletes the App Store versions that superseded
// rollbacks of the target left (created, in review or approved): one would
// block the App Store version of the current rollback. Each deletion is
// recorded on its superseded row.
func (p *Preparer) withdrawSuperseded(ctx context.Context, st *ascSession, as AppStoreReview, app *ripcord.App, target string) error {
	old, err := p.store.RollbackBuildList(ctx, storage.RollbackBuildListParams{AppID: app.ID, Platform: ripcord.IOS, TargetVersion: target, Superseded: true})
	if err != nil {
		return err
	}
	for _, rb := range old {
		if rb.StoreVersionID == "" || rb.StoreVersionState == ripcord.AppStoreDeleted || released(rb.StoreVersionState) {
			continue
		}
		if _, err := p.deleteStoreVersion(ctx, st, as, rb, time.Minute); err != nil {
			return fmt.Errorf("withdraw the App Store version %s of superseded rollback %d: %w", rb.Version, rb.ID, err)
		}
		if err := p.record(ctx, app, rb, "rollback.store_version_withdraw", func(rb *ripcord.RollbackBuild) {
			rb.StoreVersionState, rb.ApprovedAt = ripcord.AppStoreDeleted, time.Time{}
		}); err != nil {
			return err
		}
	}
	return nil
}
