package rollback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Requeue queues a fresh preparation of a target's rollback in tx (the job
// queue's insert, which lives above this package).
type Requeue func(ctx context.Context, tx storage.Tx, app *ripcord.App, platform ripcord.Platform, target string) error

// Invalidator retires rollback builds that no longer fit: a hotfix took
// their version or build number, the live release they re-sign is no
// longer live, or the signing material they were made with expired. The
// row is marked invalid with the reason and superseded, audited, in one
// transaction; for the first two a fresh preparation is queued in the same
// transaction, so the target is never left without one. The superseded row
// stays for provenance, and its version and build number stay used, so the
// fresh preparation allocates new ones above them.
type Invalidator struct {
	Store   storage.Store
	Requeue Requeue // required for hotfix and live changes
	Now     func() time.Time
	Logger  *slog.Logger
}

// settled reports whether no preparation is at work on a row in state s,
// so the checks may retire it. Rows in allocated, signed or uploaded are
// mid-preparation: a running job holds them, and a collision surfaces
// there as a store conflict.
func settled(s ripcord.RollbackState) bool {
	return s == ripcord.RollbackReady || s == ripcord.RollbackInvalid || s == ripcord.RollbackNotShippable
}

func (iv *Invalidator) clock() time.Time {
	now := time.Now
	if iv.Now != nil {
		now = iv.Now
	}
	return now().UTC().Truncate(time.Microsecond)
}

func (iv *Invalidator) logger() *slog.Logger {
	if iv.Logger != nil {
		return iv.Logger
	}
	return slog.Default()
}

// Supersede marks rb invalid with reason and superseded, audited as the
// caller in ctx, and queues a fresh preparation when requeue is set.
func (iv *Invalidator) Supersede(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild, reason string, requeue bool) error {
	if requeue && iv.Requeue == nil {
		return errors.New("rollback: Invalidator.Requeue is required to queue a fresh preparation")
	}
	before := *rb
	now := iv.clock()
	rb.State, rb.Reason, rb.UpdatedAt, rb.SupersededAt = ripcord.RollbackInvalid, reason, now, now
	err := iv.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.RollbackBuildUpdate(ctx, rb); err != nil {
			return err
		}
		if err := tx.RollbackBuildSupersede(ctx, rb.ID, now); err != nil {
			return err
		}
		if err := tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "rollback.invalidate", auditTarget(app, rb), storeSummary(&before), storeSummary(rb))); err != nil {
			return err
		}
		if requeue {
			return iv.Requeue(ctx, tx, app, rb.Platform, rb.TargetVersion)
		}
		return nil
	})
	if err != nil {
		*rb = before
		return fmt.Errorf("invalidate rollback build %d of %s %s: %w", rb.ID, app.Name, rb.TargetVersion, err)
	}
	iv.logger().WarnContext(ctx, "rollback build invalidated", "app", app.Name, "platform", string(rb.Platform), "target", rb.TargetVersion,
		"version", rb.Version, "build_number", rb.BuildNumber, "reason", reason, "requeued", requeue)
	return nil
}

// CheckHotfix retires rb when a build uploaded through Ripcord (not the
// rollback's own) or a release of the app took its version or build
// number: the store would refuse the rollback, or users would get two
// different binaries under one version. It reports whether it did.
func (iv *Invalidator) CheckHotfix(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild) (bool, error) {
	if !settled(rb.State) || !rb.SupersededAt.IsZero() {
		return false, nil
	}
	// One version ships on both stores, so a hotfix build of either
	// platform takes the version; build numbers are per store.
	builds, err := iv.Store.BuildList(ctx, storage.BuildListParams{AppID: app.ID, Limit: 10000})
	if err != nil {
		return false, err
	}
	reason := ""
	for _, b := range builds {
		if b.ID == rb.BuildID || b.UploadedBy == Actor {
			continue
		}
		switch {
		case b.Version == rb.Version:
			reason = fmt.Sprintf("%s build %s uploaded by %s takes the rollback's version %s", b.Platform, b.Label(), b.UploadedBy, rb.Version)
		case b.Platform == rb.Platform && b.BuildNumber == rb.BuildNumber:
			reason = fmt.Sprintf("build %s uploaded by %s takes the rollback's build number %s", b.Label(), b.UploadedBy, rb.BuildNumber)
		}
		if reason != "" {
			break
		}
	}
	if reason == "" {
		if _, err := iv.Store.ReleaseGetByVersion(ctx, app.ID, rb.Version); err == nil {
			reason = fmt.Sprintf("release %s was created, which takes the rollback's version", rb.Version)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return false, err
		}
	}
	if reason == "" {
		return false, nil
	}
	return true, iv.Supersede(ctx, app, rb, fmt.Sprintf("a hotfix: %s; a fresh rollback build with a new version and build number is being prepared", reason), true)
}

// LiveRelease is what a store serves in production, as far as Ripcord can
// tell: Version is empty when Ripcord does not know it.
type LiveRelease struct {
	Version     string
	BuildNumber string
}

// CheckLive retires rb when the store's live release is no longer the
// build rb re-signs and is older than the target: a hotfix of the previous
// release went live (outside Ripcord or not), so rolling back must return
// to it, not to what rb holds. The target itself going live, the rollback
// going live and anything newer than the target are expected and change
// nothing; so does a live release Ripcord cannot place. It reports whether
// it retired rb.
func (iv *Invalidator) CheckLive(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild, live *LiveRelease) (bool, error) {
	if live == nil || live.Version == "" || !settled(rb.State) || !rb.SupersededAt.IsZero() {
		return false, nil
	}
	lv, err := ripcord.ParseVersion(live.Version)
	if err != nil {
		return false, nil // not a version Ripcord compares; leave it
	}
	target, err := ripcord.ParseVersion(rb.TargetVersion)
	if err != nil || lv.Compare(target) >= 0 {
		return false, err
	}
	src, err := iv.Store.BuildGetByID(ctx, rb.SourceBuildID)
	if err != nil {
		return false, fmt.Errorf("read the source build of rollback build %d: %w", rb.ID, err)
	}
	same := src.BuildNumber == live.BuildNumber && (rb.Platform == ripcord.Android || src.Version == live.Version)
	if same {
		return false, nil
	}
	return true, iv.Supersede(ctx, app, rb, fmt.Sprintf(
		"the live release changed: the store now serves %s (%s), not %s which this rollback re-signs; a fresh rollback build of the live release is being prepared",
		live.Version, live.BuildNumber, src.Label()), true)
}

// CredentialExpired retires the app's current rollback builds made with
// a signing credential of this kind that expired at expiresAt. No fresh
// preparation is queued: it would need the renewed material, and the
// reason says how to store it and prepare again. It returns how many rows
// it retired.
func (iv *Invalidator) CredentialExpired(ctx context.Context, appName, kind string, expiresAt time.Time) (int, error) {
	platform, flag := ripcord.Android, "--keystore FILE --keystore-pass env:VAR"
	switch {
	case kind == credentials.KindAndroidKeystore:
	case kind == credentials.KindIOSIdentity:
		platform, flag = ripcord.IOS, "--identity FILE.p12 --identity-pass env:VAR"
	case strings.HasPrefix(kind, credentials.KindIOSProfile+":"):
		platform, flag = ripcord.IOS, "--profile FILE.mobileprovision"
	default:
		return 0, nil // store access keys sign no rollback
	}
	app, err := iv.Store.AppGetByName(ctx, appName)
	if err != nil {
		return 0, fmt.Errorf("read app %s: %w", appName, err)
	}
	rows, err := iv.Store.RollbackBuildList(ctx, storage.RollbackBuildListParams{AppID: app.ID, Platform: platform})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rb := range rows {
		// Only rows whose artifact was made with the material; the check
		// runs while the stored credential is the expired one, so a row
		// signed with a renewal is never seen here.
		if rb.BuildID == 0 || (rb.State != ripcord.RollbackReady && rb.State != ripcord.RollbackSigned && rb.State != ripcord.RollbackUploaded) {
			continue
		}
		reason := fmt.Sprintf("the %s credential it was signed with expired on %s; store a renewed one with `ripcord app credentials %s %s`, then prepare a fresh rollback with `ripcord release rollback-build %s %s --platform %s --prepare`",
			kind, expiresAt.UTC().Format(time.DateOnly), app.Name, flag, app.Name, rb.TargetVersion, platform)
		if err := iv.Supersede(ctx, app, rb, reason, false); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// LiveAndroid reads what Play serves in production: the highest
// versionCode of the production track's completed release, with its
// version name when Ripcord holds that build.
func LiveAndroid(ctx context.Context, store storage.Queries, pl Play, app *ripcord.App) (*LiveRelease, error) {
	t, err := pl.GetTrack(ctx, app.AndroidPackage, play.TrackProduction)
	if err != nil {
		return nil, fmt.Errorf("read Play's production track: %w", err)
	}
	var live int64
	for _, r := range t.Releases {
		if r.Status == play.StatusCompleted {
			for _, vc := range r.VersionCodes {
				live = max(live, vc)
			}
		}
	}
	if live == 0 {
		return nil, nil
	}
	out := &LiveRelease{BuildNumber: strconv.FormatInt(live, 10)}
	b, err := store.BuildGetByIdentity(ctx, storage.BuildIdentityParams{AppID: app.ID, Platform: ripcord.Android, BuildNumber: out.BuildNumber})
	if err == nil {
		out.Version = b.Version
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	return out, nil
}

// LiveIOS reads what the App Store serves: the version
// READY_FOR_DISTRIBUTION and its build's number.
func LiveIOS(ctx context.Context, as AppStore, app *ripcord.App) (*LiveRelease, error) {
	st := &ascSession{as: as, bundleID: app.IOSBundleID}
	appID, err := st.appID(ctx)
	if err != nil {
		return nil, err
	}
	versions, err := as.ListVersions(ctx, appID, appstore.PlatformIOS)
	if err != nil {
		return nil, fmt.Errorf("list App Store versions of %s: %w", app.IOSBundleID, err)
	}
	for i := range versions {
		v := &versions[i]
		if v.State != appstore.StateReadyForDistribution || v.BuildID == "" {
			continue
		}
		b, err := liveASCBuild(ctx, st, appID, v)
		if err != nil {
			return nil, err
		}
		return &LiveRelease{Version: v.VersionString, BuildNumber: b.BuildNumber}, nil
	}
	return nil, nil
}
