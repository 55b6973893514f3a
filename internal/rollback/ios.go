package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// AppStore is the slice of the App Store Connect client (internal/appstore)
// that preparation needs.
type AppStore interface {
	// FindApp returns the app with bundleID, or an error matching
	// appstore.ErrNotFound.
	FindApp(ctx context.Context, bundleID string) (*appstore.App, error)
	// ListVersions returns the app's App Store versions, newest first.
	ListVersions(ctx context.Context, appID, platform string) ([]appstore.Version, error)
	// ListBuilds returns the app's builds matching f.
	ListBuilds(ctx context.Context, f appstore.BuildFilter) ([]appstore.Build, error)
	// FindBuild returns the build with this version and build number, or
	// an error matching appstore.ErrNotFound.
	FindBuild(ctx context.Context, appID, version, buildNumber string) (*appstore.Build, error)
	// UploadBuild uploads an IPA and waits up to timeout for its import,
	// resuming what an earlier attempt left.
	UploadBuild(ctx context.Context, p appstore.UploadParams, timeout time.Duration) (*appstore.Build, error)
	// WaitBuildValid waits up to timeout for the build to finish
	// processing VALID: appstore.ErrBuildNotValid when it ended INVALID or
	// FAILED, appstore.ErrTimeout when it is still missing or processing.
	WaitBuildValid(ctx context.Context, appID, version, buildNumber string, timeout time.Duration) (*appstore.Build, error)
}

var _ AppStore = (*appstore.Client)(nil)

// errNoAppStore stops preparation that needs App Store Connect when no
// client is configured.
var errNoAppStore = errors.New("no App Store Connect client is configured; store the app's asc_api_key with `ripcord app credentials APP --asc-key FILE --asc-key-id ID --asc-issuer-id ID`")

// PrepareIOS prepares (or resumes preparing) the iOS rollback build of a
// target release, step by step from its persisted state, like
// PrepareAndroid: allocate a version and build number above every one
// Ripcord and App Store Connect have seen, re-sign the live IPA with the
// app's ios_identity (and its ios_profile:<bundle id> profiles, else the
// embedded ones), verify it, check it against the App Store minimums, store
// it as a build, upload it through the App Store Connect API and wait for
// processing. A build still processing after Config.AppStoreWait stays
// uploaded and the call returns an error, so the job retries later and
// checks again instead of blocking; it is ready once processed VALID.
//
// Creating the rollback App Store version, attaching the build and
// submitting it for review are not done here: App Store Connect allows a
// new version only once the latest one is released, so they belong to the
// step that runs once the target is READY_FOR_DISTRIBUTION. A ready iOS
// rollback build is therefore uploaded and processed, not yet approved.
//
// Refusals (no identity, an identity the profiles do not list, an SDK
// below the minimum, a build App Store Connect processed as invalid) are
// recorded states, not errors.
func (p *Preparer) PrepareIOS(ctx context.Context, req PrepareRequest) (*ripcord.RollbackBuild, error) {
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: Actor, Role: ripcord.RoleAdmin})
	rb, app, err := p.prepareIOS(ctx, req)
	if err != nil {
		return rb, fmt.Errorf("prepare ios rollback of %s %s: %w", req.App, req.TargetVersion, err)
	}
	p.logger.InfoContext(ctx, "rollback build prepared", "app", app.Name, "platform", string(ripcord.IOS), "target", rb.TargetVersion,
		"version", rb.Version, "build_number", rb.BuildNumber, "state", string(rb.State), "reason", rb.Reason)
	return rb, nil
}

// ascSession finds the app on App Store Connect once per run.
type ascSession struct {
	as       AppStore
	bundleID string
	app      *appstore.App
}

func (s *ascSession) appID(ctx context.Context) (string, error) {
	if s.as == nil {
		return "", errNoAppStore
	}
	if s.app == nil {
		a, err := s.as.FindApp(ctx, s.bundleID)
		if err != nil {
			return "", fmt.Errorf("find %s on App Store Connect (create the app there, or give the API key access to it): %w", s.bundleID, err)
		}
		s.app = a
	}
	return s.app.ID, nil
}

// buildNumbers lists every build number App Store Connect holds for the app.
func (s *ascSession) buildNumbers(ctx context.Context) ([]string, error) {
	id, err := s.appID(ctx)
	if err != nil {
		return nil, err
	}
	builds, err := s.as.ListBuilds(ctx, appstore.BuildFilter{AppID: id})
	if err != nil {
		return nil, fmt.Errorf("list builds of %s on App Store Connect: %w", s.bundleID, err)
	}
	out := make([]string, 0, len(builds))
	for _, b := range builds {
		out = append(out, b.BuildNumber)
	}
	return out, nil
}

func (p *Preparer) prepareIOS(ctx context.Context, req PrepareRequest) (*ripcord.RollbackBuild, *ripcord.App, error) {
	return p.run(ctx, req, ripcord.IOS, func(app *ripcord.App) steps {
		st := &ascSession{as: p.appStore, bundleID: app.IOSBundleID}
		if req.AppStore != nil {
			st.as = req.AppStore
		}
		return steps{
			discover: func(ctx context.Context, target string) (*ripcord.Build, *ripcord.RollbackBuild, error) {
				return p.discoverLiveIOS(ctx, st, app, target)
			},
			storeNumbers: st.buildNumbers,
			sign:         p.signIOS,
			upload: func(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild) error {
				return p.uploadIOS(ctx, st, app, rb)
			},
			markReady: func(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild) error {
				return p.markReadyIOS(ctx, st, app, rb)
			},
		}
	})
}

// discoverLiveIOS finds the build live on the App Store: the one Ripcord
// holds for the version and build number of the build attached to the App
// Store version READY_FOR_DISTRIBUTION, or, once the target itself is
// released (a re-preparation), the highest released version below the
// target, which is what rolling back returns to. When there is none it records why
// and returns a RollbackLiveUnknown report, as discoverLive does.
func (p *Preparer) discoverLiveIOS(ctx context.Context, st *ascSession, app *ripcord.App, target string) (*ripcord.Build, *ripcord.RollbackBuild, error) {
	if err := p.checkTarget(ctx, app, target); err != nil {
		return nil, nil, err
	}
	appID, err := st.appID(ctx)
	if err != nil {
		return nil, nil, err
	}
	versions, err := st.as.ListVersions(ctx, appID, appstore.PlatformIOS)
	if err != nil {
		return nil, nil, fmt.Errorf("list App Store versions of %s: %w", app.IOSBundleID, err)
	}
	live := liveBefore(versions, target)
	if live == nil || live.BuildID == "" {
		return p.liveUnknown(ctx, app, ripcord.IOS, target, fmt.Sprintf(
			"App Store Connect has no version of %s ready for distribution, so there is no live build to roll back to; prepare again once one is released",
			app.IOSBundleID))
	}
	build, err := liveASCBuild(ctx, st, appID, live)
	if err != nil {
		return nil, nil, err
	}
	b, err := p.store.BuildGetByIdentity(ctx, storage.BuildIdentityParams{AppID: app.ID, Platform: ripcord.IOS, Version: build.Version, BuildNumber: build.BuildNumber})
	if errors.Is(err, storage.ErrNotFound) {
		return p.liveUnknown(ctx, app, ripcord.IOS, target, fmt.Sprintf(
			"App Store version %s is live with build %s (%s), which Ripcord does not hold; upload the IPA your CI exported for it (not an App Store download, which is encrypted) with `ripcord build upload --app %s --platform ios --file FILE --version %s --build-number %s` and prepare the iOS rollback of %s again",
			live.VersionString, build.Version, build.BuildNumber, app.Name, build.Version, build.BuildNumber, target))
	}
	if err != nil {
		return nil, nil, err
	}
	return b, nil, nil
}

// liveASCBuild returns the build attached to the live version, looked up
// among the builds of its version string first.
func liveASCBuild(ctx context.Context, st *ascSession, appID string, live *appstore.Version) (*appstore.Build, error) {
	for _, f := range []appstore.BuildFilter{{AppID: appID, Version: live.VersionString}, {AppID: appID}} {
		builds, err := st.as.ListBuilds(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("list builds of %s on App Store Connect: %w", st.bundleID, err)
		}
		for i := range builds {
			if builds[i].ID == live.BuildID {
				return &builds[i], nil
			}
		}
	}
	return nil, fmt.Errorf("app store version %s of %s is attached to build %s, which App Store Connect does not list; prepare again later",
		live.VersionString, st.bundleID, live.BuildID)
}

// profiledKinds are the bundle kinds that carry a provisioning profile.
var profiledKinds = map[string]bool{ipa.KindApp: true, ipa.KindExtension: true, ipa.KindWatchApp: true, ipa.KindAppClip: true}

// signIOS re-signs the live build's IPA as the rollback's version and build
// number with the app's distribution identity and profiles, verifies it,
// checks it against the App Store minimums and stores it as a build with
// its provenance.
func (p *Preparer) signIOS(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild) error {
	m, err := p.creds.Open(ctx, app.Name, credentials.KindIOSIdentity)
	if ripcord.ErrorCode(err) == ripcord.ENOTFOUND {
		return p.refuse(ctx, app, rb, ripcord.RollbackInvalid, fmt.Sprintf(
			"app %s has no %s credential to sign the rollback with; store the distribution identity with `ripcord app credentials %s --identity FILE.p12 --identity-pass env:VAR` and prepare again",
			app.Name, credentials.KindIOSIdentity, app.Name))
	} else if err != nil {
		return err
	}
	key, err := ipa.LoadIdentity(m.Identity, m.IdentityPassword)
	if err != nil {
		return p.refuse(ctx, app, rb, ripcord.RollbackInvalid, fmt.Sprintf(
			"the %s credential of app %s does not open (%v); store it again and prepare again", credentials.KindIOSIdentity, app.Name, err))
	}
	live, dir, src, _, err := p.liveArtifact(ctx, rb, "live.ipa")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	in := src.Name()
	if err := src.Close(); err != nil {
		return fmt.Errorf("copy live build %s artifact: %w", live.Label(), err)
	}
	cannot := func(err error) error {
		return p.refuse(ctx, app, rb, ripcord.RollbackInvalid, fmt.Sprintf("live build %s cannot be re-signed: %v", live.Label(), err))
	}
	insp, err := ipa.Inspect(ctx, in, ipa.InspectOptions{Compliance: p.iosCheck, Now: p.now})
	if errors.Is(err, ipa.ErrFormat) || errors.Is(err, ipa.ErrEncrypted) {
		return cannot(err)
	} else if err != nil {
		return fmt.Errorf("inspect live build %s: %w", live.Label(), err)
	}
	profiles := map[string][]byte{}
	for _, b := range insp.Bundles {
		if !profiledKinds[b.Kind] {
			continue
		}
		pm, err := p.creds.Open(ctx, app.Name, credentials.KindIOSProfile+":"+b.BundleID)
		if ripcord.ErrorCode(err) == ripcord.ENOTFOUND {
			continue // the embedded profile must do
		} else if err != nil {
			return err
		}
		profiles[b.BundleID] = pm.Profile
	}

	out := filepath.Join(dir, "rollback.ipa")
	rep, err := ipa.Resign(ctx, in, out, ipa.ResignOptions{Version: rb.Version, Build: rb.BuildNumber, Identity: key, Profiles: profiles,
		Compliance: p.iosCheck, Now: p.now})
	switch {
	case errors.Is(err, ipa.ErrProfile), errors.Is(err, ipa.ErrEntitlement):
		return p.refuse(ctx, app, rb, ripcord.RollbackInvalid, fmt.Sprintf(
			"the %s credential (certificate sha256 %s) and the provisioning profiles do not fit live build %s: %v; store a profile listing that certificate for each bundle with `ripcord app credentials %s --profile FILE.mobileprovision`, or the identity the profiles were made for, and prepare again",
			credentials.KindIOSIdentity, key.CertSHA256(), live.Label(), err, app.Name))
	case errors.Is(err, ipa.ErrFormat), errors.Is(err, ipa.ErrEncrypted), errors.Is(err, ipa.ErrVersion), errors.Is(err, ipa.ErrVerify):
		return cannot(err)
	case err != nil:
		return fmt.Errorf("re-sign live build %s: %w", live.Label(), err)
	}
	if _, err := ipa.Verify(ctx, out, ipa.VerifyOptions{Roots: p.iosRoots, Now: p.now}); err != nil {
		return p.refuse(ctx, app, rb, ripcord.RollbackInvalid, fmt.Sprintf("the re-signed IPA does not verify: %v", err))
	}
	findings := []byte("[]")
	if len(rep.Findings) > 0 {
		if findings, err = json.Marshal(rep.Findings); err != nil {
			return fmt.Errorf("encode findings: %w", err)
		}
	}
	notShippable := ""
	for _, fd := range rep.Findings {
		if fd.Severity == ipa.SeverityError {
			notShippable = fd.Message
			break
		}
	}
	return p.storeSigned(ctx, app, rb, live, out, key.CertSHA256(), findings, notShippable)
}

// uploadIOS uploads the rollback IPA through the App Store Connect API
// unless the store already has a build with its version and build number
// (a run that crashed after the upload); UploadBuild itself also resumes a
// partial upload, so a re-run never uploads twice.
func (p *Preparer) uploadIOS(ctx context.Context, st *ascSession, app *ripcord.App, rb *ripcord.RollbackBuild) error {
	appID, err := st.appID(ctx)
	if err != nil {
		return err
	}
	b, err := p.store.BuildGetByID(ctx, rb.BuildID)
	if err != nil {
		return fmt.Errorf("read rollback build %d: %w", rb.BuildID, err)
	}
	_, err = st.as.FindBuild(ctx, appID, rb.Version, rb.BuildNumber)
	if errors.Is(err, appstore.ErrNotFound) {
		err = p.uploadIPA(ctx, st, appID, app, b)
	} else if err != nil {
		err = fmt.Errorf("look for build %s on App Store Connect: %w", b.Label(), err)
	}
	if err != nil {
		return err
	}
	if err := p.hook(StepUploadedToStore); err != nil {
		return err
	}
	before := *rb
	rb.State, rb.StoreRef, rb.UpdatedAt = ripcord.RollbackUploaded, fmt.Sprintf("appstore:%s/%s/%s", app.IOSBundleID, rb.Version, rb.BuildNumber), p.clock()
	err = p.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return p.save(ctx, tx, app, &before, rb, "rollback.upload")
	})
	if err != nil {
		*rb = before
		return fmt.Errorf("record upload of %s: %w", b.Label(), err)
	}
	return nil
}

func (p *Preparer) uploadIPA(ctx context.Context, st *ascSession, appID string, app *ripcord.App, b *ripcord.Build) error {
	dir, err := os.MkdirTemp(p.workDir, "rollback-")
	if err != nil {
		return fmt.Errorf("make a work directory in %s: %w", p.workDir, err)
	}
	defer os.RemoveAll(dir)
	f, size, err := p.fetch(ctx, b, dir, "rollback.ipa")
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = st.as.UploadBuild(ctx, appstore.UploadParams{AppID: appID, Version: b.Version, BuildNumber: b.BuildNumber,
		FileName: fmt.Sprintf("%s-%s-%s.ipa", app.Name, b.Version, b.BuildNumber), File: f, Size: size}, p.ascWait)
	switch {
	case errors.Is(err, appstore.ErrConflict):
		return fmt.Errorf("upload %s to App Store Connect: %w", b.Label(), ripcord.Errorf(ripcord.ECONFLICT,
			"App Store Connect refused build number %s, likely taken by an upload outside this preparation; prepare a rollback for a new target, or remove rollback build %s so it is allocated again (%v)",
			b.BuildNumber, b.Label(), err))
	case errors.Is(err, appstore.ErrTimeout):
		return fmt.Errorf("upload %s to App Store Connect: the upload is not imported after %s; preparing again resumes it: %w", b.Label(), p.ascWait, err)
	case err != nil:
		return fmt.Errorf("upload %s to App Store Connect: %w", b.Label(), err)
	}
	return nil
}

// markReadyIOS waits up to Config.AppStoreWait for App Store Connect to
// process the build and records the rollback as ready once it is VALID.
// Still processing is an error the caller retries later; processed INVALID
// or FAILED is a not-shippable rollback.
func (p *Preparer) markReadyIOS(ctx context.Context, st *ascSession, app *ripcord.App, rb *ripcord.RollbackBuild) error {
	appID, err := st.appID(ctx)
	if err != nil {
		return err
	}
	_, err = st.as.WaitBuildValid(ctx, appID, rb.Version, rb.BuildNumber, p.ascWait)
	switch {
	case errors.Is(err, appstore.ErrBuildNotValid):
		return p.refuse(ctx, app, rb, ripcord.RollbackNotShippable, fmt.Sprintf(
			"App Store Connect did not accept rollback build %s (%s) after processing (%v); read the email Apple sent about it, then prepare a rollback for a new target",
			rb.Version, rb.BuildNumber, err))
	case errors.Is(err, appstore.ErrTimeout):
		return fmt.Errorf("rollback build %s (%s) is still processing on App Store Connect after %s; preparing again checks again: %w", rb.Version, rb.BuildNumber, p.ascWait, err)
	case err != nil:
		return fmt.Errorf("read processing state of rollback build %s (%s): %w", rb.Version, rb.BuildNumber, err)
	}
	before := *rb
	rb.State, rb.UpdatedAt = ripcord.RollbackReady, p.clock()
	err = p.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return p.save(ctx, tx, app, &before, rb, "rollback.ready")
	})
	if err != nil {
		*rb = before
		return fmt.Errorf("record rollback %s (%s) as ready: %w", rb.Version, rb.BuildNumber, err)
	}
	return nil
}

// liveBefore returns the version a rollback of target returns to: the
// highest version below the target that went on the store (live, or
// replaced by the target's release). Nil when there is none.
func liveBefore(versions []appstore.Version, target string) *appstore.Version {
	tv, err := ripcord.ParseVersion(target)
	if err != nil {
		return nil
	}
	var best *appstore.Version
	var bestV ripcord.Version
	for i := range versions {
		v := &versions[i]
		pv, err := ripcord.ParseVersion(v.VersionString)
		if err != nil || !released(v.State) || pv.Compare(tv) >= 0 {
			continue
		}
		if best == nil || pv.Compare(bestV) > 0 {
			best, bestV = v, pv
		}
	}
	return best
}
