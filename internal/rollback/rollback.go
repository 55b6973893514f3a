// Package rollback prepares rollback builds: the live release's binary,
// re-signed with a version above the target release, verified, checked and
// uploaded before anyone needs it, so rolling back is one click.
//
// Preparation is a sequence of steps whose progress is persisted in the
// rollback build's row (allocated → signed → uploaded → ready). Each step
// commits its result and its audit entry in one transaction, so a crash
// between steps loses nothing and a re-run resumes at the first step not
// done; store calls are idempotent, so a crash between a store call and its
// record does not act twice either.
package rollback

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Artifacts is where builds' artifacts live (internal/blob).
type Artifacts interface {
	// Open reads the artifact stored under key.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Put streams r to key, refusing more than limit bytes, and leaves
	// nothing under key on error.
	Put(ctx context.Context, key string, r io.Reader, limit int64) (blob.Stored, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Credentials opens an app's signing material and audits the use
// (internal/credentials). It returns an error with code ENOTFOUND when the
// app has no credential of the kind.
type Credentials interface {
	Open(ctx context.Context, appName, kind string) (*credentials.Material, error)
}

// Play is the slice of the Google Play connector (internal/play) that
// preparation needs.
type Play interface {
	// HighestVersionCode returns the highest versionCode ever uploaded for
	// pkg; a new upload must exceed it.
	HighestVersionCode(ctx context.Context, pkg string) (int64, error)
	// Upload uploads an APK to a track and returns its versionCode. It is
	// idempotent: the same bytes again find the earlier upload.
	Upload(ctx context.Context, p play.UploadParams) (int64, error)
	// GetTrack reads a track's committed releases.
	GetTrack(ctx context.Context, pkg, track string) (*play.Track, error)
}

// Steps a CrashHook is called after, in order. StepUploadedToStore comes
// after the store acknowledged the upload and before Ripcord recorded it.
const (
	StepAllocated       = "allocated"
	StepArtifactStored  = "artifact_stored"
	StepSigned          = "signed"
	StepUploadedToStore = "uploaded_to_store"
	StepUploaded        = "uploaded"
	StepReady           = "ready"
)

// Actor is who the service acts as in the audit log and when it opens
// credentials.
const Actor = "ripcord:rollback"

// Config holds the Preparer's dependencies.
type Config struct {
	Store       storage.Store // required
	Artifacts   Artifacts     // required
	Credentials Credentials   // required
	Play        Play          // required for Android
	AppStore    AppStore      // required for iOS
	// WorkDir holds temporary artifacts while re-signing. Default os.TempDir().
	WorkDir string
	// MinTargetSdk is Play's minimum targetSdk for updates; an artifact
	// below it is not shippable. Default apk.DefaultMinTargetSdk.
	MinTargetSdk int
	// IOSCompliance holds the App Store minimums (SDK, Xcode) the re-signed
	// IPA is checked against; a build below them is not shippable. Zero
	// fields take ipa.Compliance's defaults.
	IOSCompliance ipa.Compliance
	// IOSRoots, when set, must anchor the re-signed IPA's signing
	// certificate (Apple's roots in production, a test CA in tests). Nil
	// checks the signatures only.
	IOSRoots *x509.CertPool
	// AppStoreWait bounds each wait on App Store Connect within one run:
	// importing an upload and processing a build. A build still processing
	// after it stays uploaded; the next run (the job's retry) checks again,
	// so no run blocks for long. Default 10 minutes.
	AppStoreWait time.Duration
	// MaxArtifactBytes limits one produced artifact. Default 4 GiB.
	MaxArtifactBytes int64
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
	// CrashHook, when set, is called after each step (the Step* names);
	// an error stops preparation there as a crash would. Tests only.
	CrashHook func(step string) error
}

// Preparer prepares rollback builds.
type Preparer struct {
	store     storage.Store
	artifacts Artifacts
	creds     Credentials
	play      Play
	appStore  AppStore
	iosCheck  ipa.Compliance
	iosRoots  *x509.CertPool
	ascWait   time.Duration
	workDir   string
	minTarget int
	maxBytes  int64
	now       func() time.Time
	logger    *slog.Logger
	crashHook func(step string) error
	// appLocks (app ID → *sync.Mutex) runs one preparation per app at a
	// time in this process: Play keeps one open edit per app and API user (a
	// second edit deletes the first), and reserved versionCodes must reach
	// Play in the order they were reserved, since Play refuses a code below
	// one already uploaded. Across processes the job queue must do the same
	// (one job per app at a time).
	appLocks sync.Map
}

// New builds a Preparer; it names the first missing required dependency.
func New(cfg Config) (*Preparer, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("rollback: Config.Store is required")
	case cfg.Artifacts == nil:
		return nil, errors.New("rollback: Config.Artifacts is required")
	case cfg.Credentials == nil:
		return nil, errors.New("rollback: Config.Credentials is required")
	}
	p := &Preparer{
		store: cfg.Store, artifacts: cfg.Artifacts, creds: cfg.Credentials, play: cfg.Play,
		appStore: cfg.AppStore, iosCheck: cfg.IOSCompliance, iosRoots: cfg.IOSRoots,
		ascWait:   cmp.Or(cfg.AppStoreWait, 10*time.Minute),
		workDir:   cmp.Or(cfg.WorkDir, os.TempDir()),
		minTarget: cmp.Or(cfg.MinTargetSdk, apk.DefaultMinTargetSdk),
		maxBytes:  cmp.Or(cfg.MaxArtifactBytes, 4<<30),
		now:       cfg.Now,
		logger:    cmp.Or(cfg.Logger, slog.Default()),
		crashHook: cfg.CrashHook,
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

func (p *Preparer) clock() time.Time { return p.now().UTC().Truncate(time.Microsecond) }

func (p *Preparer) hook(step string) error {
	if p.crashHook == nil {
		return nil
	}
	if err := p.crashHook(step); err != nil {
		return fmt.Errorf("stopped after step %s: %w", step, err)
	}
	return nil
}

// PrepareRequest names the rollback build to prepare.
type PrepareRequest struct {
	App           string // app name
	TargetVersion string // the release the rollback undoes; it must exist
	// LiveBuildID is the build live in production, re-signed. Zero
	// discovers it: the build Ripcord holds for the versionCode of Play's
	// completed production release. When that is not known the result is
	// a RollbackLiveUnknown report (audited, no row) saying what to upload.
	// On iOS it is the build Ripcord holds for the version and build
	// number of the App Store version READY_FOR_DISTRIBUTION.
	LiveBuildID int64
	// Play, when set, is used instead of Config.Play: each app reaches Play
	// with its own service account, so the job queue builds one per app.
	Play Play
	// AppStore, when set, is used instead of Config.AppStore, for the same
	// reason: each app has its own App Store Connect API key.
	AppStore AppStore
}

// errNoPlay stops preparation that needs the store when no connector is
// configured.
var errNoPlay = errors.New("no Play connector is configured; store the app's play_service_account with `ripcord app credentials APP --play-service-account FILE`")

// allocateAttempts bounds how often allocation retries when another job
// took the build number it chose.
const allocateAttempts = 8

// PrepareAndroid prepares (or resumes preparing) the Android rollback build
// of a target release, step by step from its persisted state, and returns
// it. It is idempotent: once ready or not shippable it returns the row
// unchanged; an invalid row (no signing key, a key that is not the live
// build's) is retried from signing, keeping its version and build number,
// since its cause is fixed outside Ripcord. Refusals are recorded states,
// not errors: an error means preparation stopped early (a store or
// database failure, or a bad request) and may be retried.
func (p *Preparer) PrepareAndroid(ctx context.Context, req PrepareRequest) (*ripcord.RollbackBuild, error) {
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: Actor, Role: ripcord.RoleAdmin})
	rb, app, err := p.prepareAndroid(ctx, req)
	if err != nil {
		return rb, fmt.Errorf("prepare android rollback of %s %s: %w", req.App, req.TargetVersion, err)
	}
	p.logger.InfoContext(ctx, "rollback build prepared", "app", app.Name, "target", rb.TargetVersion,
		"version", rb.Version, "build_number", rb.BuildNumber, "state", string(rb.State), "reason", rb.Reason)
	return rb, nil
}

func (p *Preparer) prepareAndroid(ctx context.Context, req PrepareRequest) (*ripcord.RollbackBuild, *ripcord.App, error) {
	return p.run(ctx, req, ripcord.Android, func(app *ripcord.App) steps {
		pl := p.play
		if req.Play != nil {
			pl = req.Play
		}
		return steps{
			discover: func(ctx context.Context, target string) (*ripcord.Build, *ripcord.RollbackBuild, error) {
				return p.discoverLive(ctx, pl, app, target)
			},
			storeNumbers: playNumbers(pl, app),
			sign:         p.sign,
			upload: func(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild) error {
				return p.upload(ctx, pl, app, rb)
			},
			markReady: func(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild) error {
				return p.markReady(ctx, pl, app, rb)
			},
		}
	})
}

// steps are what differs between the platforms' preparations; run drives
// them through the same persisted states.
type steps struct {
	// discover finds the live build when the request does not name it; a
	// non-nil report means it is unknown, with the reason recorded.
	discover     func(ctx context.Context, target string) (*ripcord.Build, *ripcord.RollbackBuild, error)
	storeNumbers func(ctx context.Context) ([]string, error)
	sign         func(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild) error
	upload       func(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild) error
	markReady    func(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild) error
}

// run prepares (or resumes) one platform's rollback build: it allocates on
// the first call and then moves the persisted state forward one step at a
// time, calling the crash hook after each, until the state is final or a
// refusal is recorded. One preparation per app runs at a time in this
// process, because the stores serialise their own edits per app.
func (p *Preparer) run(ctx context.Context, req PrepareRequest, platform ripcord.Platform, stepsFor func(*ripcord.App) steps) (*ripcord.RollbackBuild, *ripcord.App, error) {
	app, err := p.store.AppGetByName(ctx, req.App)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %q does not exist; register it with `ripcord app create`", req.App)
	} else if err != nil {
		return nil, nil, err
	}
	if !app.Has(platform) {
		what := "Android package"
		if platform == ripcord.IOS {
			what = "iOS bundle id"
		}
		return nil, nil, ripcord.Errorf(ripcord.EINVALID, "app %s has no %s; add one before preparing an %s rollback", app.Name, what, platformName(platform))
	}
	mu, _ := p.appLocks.LoadOrStore(app.ID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	st := stepsFor(app)
	rb, err := p.store.RollbackBuildGet(ctx, app.ID, platform, req.TargetVersion)
	if errors.Is(err, storage.ErrNotFound) {
		if req.LiveBuildID == 0 {
			live, unknown, err := st.discover(ctx, req.TargetVersion)
			if err != nil || unknown != nil {
				return unknown, app, err
			}
			req.LiveBuildID = live.ID
		}
		if rb, err = p.allocate(ctx, app, platform, req, st.storeNumbers); err != nil {
			return nil, app, err
		}
		if err := p.hook(StepAllocated); err != nil {
			return rb, app, err
		}
	} else if err != nil {
		return nil, app, err
	}
	for !rb.State.Final() {
		step := ""
		switch rb.State {
		case ripcord.RollbackAllocated, ripcord.RollbackInvalid:
			before := rb.State
			if err := st.sign(ctx, app, rb); err != nil {
				return rb, app, err
			}
			if rb.State == ripcord.RollbackInvalid {
				if before == ripcord.RollbackInvalid {
					p.logger.WarnContext(ctx, "rollback build still invalid", "app", app.Name, "platform", string(platform), "target", rb.TargetVersion, "reason", rb.Reason)
				}
				return rb, app, nil
			}
			step = StepSigned
		case ripcord.RollbackSigned:
			if err := st.upload(ctx, app, rb); err != nil {
				return rb, app, err
			}
			step = StepUploaded
		case ripcord.RollbackUploaded:
			if err := st.markReady(ctx, app, rb); err != nil {
				return rb, app, err
			}
			step = StepReady
		default:
			return rb, app, fmt.Errorf("rollback build %d is in unknown state %q; fix the row or delete it", rb.ID, rb.State)
		}
		if err := p.hook(step); err != nil {
			return rb, app, err
		}
	}
	return rb, app, nil
}

func auditTarget(app *ripcord.App, rb *ripcord.RollbackBuild) string {
	return fmt.Sprintf("app/%s/rollbacks/%s/%s", app.Name, rb.Platform, rb.TargetVersion)
}

func summary(rb *ripcord.RollbackBuild) map[string]any {
	m := map[string]any{"state": string(rb.State), "version": rb.Version, "build_number": rb.BuildNumber,
		"source_build_id": rb.SourceBuildID, "source_sha256": rb.SourceSHA256}
	if rb.Reason != "" {
		m["reason"] = rb.Reason
	}
	if rb.BuildID != 0 {
		m["build_id"], m["sha256"], m["signer_cert_sha256"] = rb.BuildID, rb.SHA256, rb.SignerCertSHA256
	}
	if rb.StoreRef != "" {
		m["store_ref"] = rb.StoreRef
	}
	return m
}

// save stores rb's new state with its audit entry in tx; before is the
// state as it was, for the entry.
func (p *Preparer) save(ctx context.Context, tx storage.Tx, app *ripcord.App, before, rb *ripcord.RollbackBuild, action string) error {
	if err := tx.RollbackBuildUpdate(ctx, rb); err != nil {
		return err
	}
	return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, rb.UpdatedAt, action, auditTarget(app, rb), summary(before), summary(rb)))
}

// playNumbers reads the highest versionCode ever uploaded to Play, which a
// new upload must exceed.
func playNumbers(pl Play, app *ripcord.App) func(ctx context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		if pl == nil {
			return nil, errNoPlay
		}
		hi, err := pl.HighestVersionCode(ctx, app.AndroidPackage)
		if err != nil {
			return nil, fmt.Errorf("read the highest versionCode on Play: %w", err)
		}
		return []string{strconv.FormatInt(hi, 10)}, nil
	}
}

// platformName is how messages name a platform.
func platformName(p ripcord.Platform) string {
	if p == ripcord.IOS {
		return "iOS"
	}
	return "Android"
}

// allocate checks the request, chooses the rollback's version and build
// number and reserves the number, all in one transaction. storeNumbers
// returns the build numbers the store has seen that the new one must
// exceed; it is called once the request checked out. Another job taking
// the same number (or preparing the same target) makes the insert
// conflict; allocation then starts over and sees what the other took.
func (p *Preparer) allocate(ctx context.Context, app *ripcord.App, platform ripcord.Platform, req PrepareRequest,
	storeNumbers func(context.Context) ([]string, error)) (*ripcord.RollbackBuild, error) {
	target, err := ripcord.ParseVersion(req.TargetVersion)
	if err != nil {
		return nil, err
	}
	if _, err := p.store.ReleaseGetByVersion(ctx, app.ID, req.TargetVersion); errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no release %s to prepare a rollback for; create it with `ripcord release create %s %s`",
			app.Name, req.TargetVersion, app.Name, req.TargetVersion)
	} else if err != nil {
		return nil, err
	}
	live, err := p.store.BuildGetByID(ctx, req.LiveBuildID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (live.AppID != app.ID || live.Platform != platform)) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no %s build %d to roll back to; upload the live production artifact with `ripcord build upload`",
			app.Name, platformName(platform), req.LiveBuildID)
	} else if err != nil {
		return nil, err
	}
	storeUsed, err := storeNumbers(ctx)
	if err != nil {
		return nil, err
	}
	var rb *ripcord.RollbackBuild
	for attempt := 1; ; attempt++ {
		err = p.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
			rb = nil
			versions, err := tx.RollbackVersionsUsed(ctx, app.ID)
			if err != nil {
				return err
			}
			var taken []ripcord.Version
			for _, v := range versions {
				if pv, err := ripcord.ParseVersion(v); err == nil {
					taken = append(taken, pv)
				}
			}
			numbers, err := tx.RollbackBuildNumbersUsed(ctx, app.ID, platform)
			if err != nil {
				return err
			}
			number, err := ripcord.NextBuildNumber(platform, append(numbers, storeUsed...))
			if err != nil {
				return err
			}
			now := p.clock()
			rb = &ripcord.RollbackBuild{AppID: app.ID, Platform: platform, TargetVersion: req.TargetVersion,
				Version: sharedVersion(ctx, tx, app, platform, req.TargetVersion, ripcord.RollbackVersion(target, taken).String()), BuildNumber: number,
				SourceBuildID: live.ID, SourceSHA256: live.SHA256, State: ripcord.RollbackAllocated, CreatedAt: now, UpdatedAt: now}
			if err := tx.RollbackBuildCreate(ctx, rb); err != nil {
				return err
			}
			if err := tx.BuildNumberReserve(ctx, storage.BuildNumberReservation{AppID: app.ID, Platform: platform,
				BuildNumber: number, ReservedFor: rb.ID, CreatedAt: now}); err != nil {
				return err
			}
			return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "rollback.allocate", auditTarget(app, rb), nil, summary(rb)))
		})
		if err == nil {
			return rb, nil
		}
		if !errors.Is(err, storage.ErrConflict) || attempt == allocateAttempts {
			return nil, fmt.Errorf("allocate version and build number: %w", err)
		}
		// Another job prepared this target meanwhile: resume its row.
		if other, gerr := p.store.RollbackBuildGet(ctx, app.ID, platform, req.TargetVersion); gerr == nil {
			return other, nil
		}
	}
}

// refuse records rb as invalid (or not shippable) with a reason, audited,
// unless it already says exactly that.
func (p *Preparer) refuse(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild, state ripcord.RollbackState, reason string) error {
	if rb.State == state && rb.Reason == reason {
		return nil
	}
	before := *rb
	rb.State, rb.Reason, rb.UpdatedAt = state, reason, p.clock()
	err := p.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return p.save(ctx, tx, app, &before, rb, "rollback."+string(state))
	})
	if err != nil {
		*rb = before
		return fmt.Errorf("record rollback build %d as %s: %w", rb.ID, state, err)
	}
	return nil
}

// sign re-signs the live build's artifact as the rollback's version with
// the app's upload key, verifies the result, checks it against Play's
// rules and stores it as a build with its provenance.
func (p *Preparer) sign(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild) error {
	m, err := p.creds.Open(ctx, app.Name, credentials.KindAndroidKeystore)
	if ripcord.ErrorCode(err) == ripcord.ENOTFOUND {
		return p.refuse(ctx, app, rb, ripcord.RollbackInvalid, fmt.Sprintf(
			"app %s has no %s credential to sign the rollback with; store the upload key with `ripcord app credentials %s --keystore FILE --keystore-pass env:VAR` and prepare again",
			app.Name, credentials.KindAndroidKeystore, app.Name))
	} else if err != nil {
		return err
	}
	key, err := m.SigningKey()
	if err != nil {
		return p.refuse(ctx, app, rb, ripcord.RollbackInvalid, fmt.Sprintf(
			"the %s credential of app %s does not open (%v); store it again and prepare again", credentials.KindAndroidKeystore, app.Name, err))
	}
	live, dir, src, size, err := p.liveArtifact(ctx, rb, "live.apk")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer src.Close()

	versionCode, err := ripcord.ParseVersionCode(rb.BuildNumber)
	if err != nil {
		return err
	}
	out := dir + "/rollback.apk"
	rep, err := apk.Resign(ctx, src, size, out, apk.ResignOptions{
		VersionCode: versionCode, VersionName: rb.Version, Keys: []*signingkey.Key{key}, MinTargetSdk: p.minTarget,
	})
	switch {
	case errors.Is(err, apk.ErrSignerMismatch):
		return p.refuse(ctx, app, rb, ripcord.RollbackInvalid, fmt.Sprintf(
			"the %s credential's key (certificate sha256 %s) is not the key live build %s was signed with; devices would refuse the update: store the app's original upload key and prepare again (%v)",
			credentials.KindAndroidKeystore, key.CertSHA256(), live.Label(), err))
	case errors.Is(err, apk.ErrVersionNotHigher), errors.Is(err, apk.ErrNotVerified), errors.Is(err, apk.ErrPlaySigned),
		errors.Is(err, apk.ErrNoManifest), errors.Is(err, apk.ErrMissingKey), errors.Is(err, apk.ErrLineageMismatch):
		return p.refuse(ctx, app, rb, ripcord.RollbackInvalid, fmt.Sprintf("live build %s cannot be re-signed: %v", live.Label(), err))
	case err != nil:
		return fmt.Errorf("re-sign live build %s: %w", live.Label(), err)
	}
	signer, err := verify(ctx, out)
	if err != nil {
		return p.refuse(ctx, app, rb, ripcord.RollbackInvalid, fmt.Sprintf("the re-signed artifact does not verify: %v", err))
	}
	findings, err := json.Marshal(rep.Findings)
	if err != nil {
		return fmt.Errorf("encode findings: %w", err)
	}
	if len(rep.Findings) == 0 {
		findings = []byte("[]")
	}
	notShippable := ""
	for _, fd := range rep.Findings {
		if fd.Code == "target_sdk_below_play_minimum" || fd.Code == "version_code_above_play_maximum" {
			notShippable = fd.Message
			break
		}
	}
	return p.storeSigned(ctx, app, rb, live, out, signer, findings, notShippable)
}

// storeSigned stores the re-signed artifact at out as a build with its
// provenance (the live build's digest, the signer's certificate) and records
// rb as signed, or as not shippable with that reason when notShippable is
// set, in one transaction. On failure nothing of it is kept.
func (p *Preparer) storeSigned(ctx context.Context, app *ripcord.App, rb *ripcord.RollbackBuild, live *ripcord.Build, out, signer string,
	findings []byte, notShippable string) error {
	f, err := os.Open(out)
	if err != nil {
		return fmt.Errorf("open re-signed artifact: %w", err)
	}
	defer f.Close()
	blobKey := fmt.Sprintf("builds/%s/%s/rollback-%d-%s", app.Name, rb.Platform, rb.ID, rb.BuildNumber)
	stored, err := p.artifacts.Put(ctx, blobKey, f, p.maxBytes)
	if err != nil {
		return fmt.Errorf("store re-signed artifact: %w", err)
	}
	if err := p.hook(StepArtifactStored); err != nil {
		return err
	}

	before := *rb
	now := p.clock()
	b := &ripcord.Build{AppID: app.ID, Platform: rb.Platform, Version: rb.Version, BuildNumber: rb.BuildNumber,
		SHA256: stored.SHA256, Size: stored.Size, BlobKey: stored.Key, UploadedBy: Actor, CreatedAt: now}
	rb.State, rb.Reason, rb.SHA256, rb.SignerCertSHA256, rb.Findings, rb.UpdatedAt = ripcord.RollbackSigned, "", stored.SHA256, signer, string(findings), now
	action := "rollback.sign"
	if notShippable != "" {
		rb.State, rb.Reason, action = ripcord.RollbackNotShippable, notShippable, "rollback.not_shippable"
	}
	err = p.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.BuildCreate(ctx, b); err != nil {
			return err
		}
		if err := tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "build.create", fmt.Sprintf("build/%s/%s/%d", app.Name, b.Platform, b.ID), nil,
			map[string]any{"version": b.Version, "build_number": b.BuildNumber, "sha256": b.SHA256, "size": b.Size, "uploaded_by": b.UploadedBy,
				"source_build_id": live.ID, "source_sha256": live.SHA256, "signer_cert_sha256": signer})); err != nil {
			return err
		}
		rb.BuildID = b.ID
		return p.save(ctx, tx, app, &before, rb, action)
	})
	if err != nil {
		*rb = before
		if derr := p.artifacts.Delete(context.WithoutCancel(ctx), blobKey); derr != nil {
			p.logger.ErrorContext(ctx, "delete unreferenced artifact", "key", blobKey, "error", derr.Error())
		}
		if errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("record rollback build %s: another build already holds build number %s or these bytes; prepare a rollback for a new target instead: %w",
				b.Label(), rb.BuildNumber, err)
		}
		return fmt.Errorf("record rollback build %s: %w", b.Label(), err)
	}
	return nil
}

// liveArtifact copies the rollback's source build into a new work
// directory as name; the caller removes dir and closes the file.
func (p *Preparer) liveArtifact(ctx context.Context, rb *ripcord.RollbackBuild, name string) (live *ripcord.Build, dir string, f *os.File, size int64, err error) {
	live, err = p.store.BuildGetByID(ctx, rb.SourceBuildID)
	if err != nil {
		return nil, "", nil, 0, fmt.Errorf("read live build %d: %w", rb.SourceBuildID, err)
	}
	dir, err = os.MkdirTemp(p.workDir, "rollback-")
	if err != nil {
		return nil, "", nil, 0, fmt.Errorf("make a work directory in %s: %w", p.workDir, err)
	}
	f, size, err = p.fetch(ctx, live, dir, name)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", nil, 0, err
	}
	return live, dir, f, size, nil
}

// fetch copies a build's artifact to a file in dir (the signer reads at
// offsets) and checks its digest against the one recorded at upload, so the
// rollback provably contains the live build's bytes.
func (p *Preparer) fetch(ctx context.Context, b *ripcord.Build, dir, name string) (*os.File, int64, error) {
	r, err := p.artifacts.Open(ctx, b.BlobKey)
	if err != nil {
		return nil, 0, fmt.Errorf("open build %s artifact %s: %w", b.Label(), b.BlobKey, err)
	}
	defer r.Close()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, 0, fmt.Errorf("copy build %s artifact: %w", b.Label(), err)
	}
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("copy build %s artifact: %w", b.Label(), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != b.SHA256 {
		f.Close()
		return nil, 0, fmt.Errorf("build %s artifact has sha256 %s, not the %s recorded at upload: the artifact store was altered; upload the artifact again", b.Label(), got, b.SHA256)
	}
	return f, size, nil
}

// verify checks every signature scheme of the APK at path and returns its
// signer's certificate digest.
func verify(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	res, err := apk.Verify(ctx, f, st.Size(), apk.VerifyOptions{})
	if err != nil {
		return "", err
	}
	if !res.Verified {
		if fs := res.Failed(); fs != nil {
			return "", fmt.Errorf("%s: %s", fs.Scheme, fs.Reason)
		}
		return "", errors.New("no signature scheme present")
	}
	for _, s := range res.Schemes {
		if len(s.Signers) > 0 {
			return s.Signers[0].CertSHA256, nil
		}
	}
	return "", errors.New("no signer found")
}

// upload puts the rollback artifact on Play's internal track. The connector
// finds an earlier upload of the same bytes, so a re-run after a crash
// between the upload and its record does not upload twice.
func (p *Preparer) upload(ctx context.Context, pl Play, app *ripcord.App, rb *ripcord.RollbackBuild) error {
	b, err := p.store.BuildGetByID(ctx, rb.BuildID)
	if err != nil {
		return fmt.Errorf("read rollback build %d: %w", rb.BuildID, err)
	}
	r, err := p.artifacts.Open(ctx, b.BlobKey)
	if err != nil {
		return fmt.Errorf("open rollback artifact %s: %w", b.BlobKey, err)
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return fmt.Errorf("read rollback artifact %s: %w", b.BlobKey, err)
	}
	if pl == nil {
		return errNoPlay
	}
	vc, err := pl.Upload(ctx, play.UploadParams{Package: app.AndroidPackage, File: data, APK: true,
		Track: play.TrackInternal, ReleaseName: rb.Version + " (rollback)", Status: play.StatusCompleted})
	if errors.Is(err, play.ErrVersionCodeUsed) {
		return fmt.Errorf("upload %s to Play's internal track: %w", b.Label(), ripcord.Errorf(ripcord.ECONFLICT,
			"Play already has versionCode %s or a higher one, uploaded outside this preparation, so rollback %s cannot be uploaded with its reserved number; "+
				"prepare a rollback for a new target, or remove rollback build %d so it is allocated again (%v)", rb.BuildNumber, b.Label(), rb.ID, err))
	}
	if err != nil {
		return fmt.Errorf("upload %s to Play's internal track: %w", b.Label(), err)
	}
	if strconv.FormatInt(vc, 10) != rb.BuildNumber {
		return fmt.Errorf("play read versionCode %d from rollback %s, not %s; the artifact store was altered", vc, b.Label(), rb.BuildNumber)
	}
	if err := p.hook(StepUploadedToStore); err != nil {
		return err
	}
	before := *rb
	rb.State, rb.StoreRef, rb.UpdatedAt = ripcord.RollbackUploaded, storeRef(app, vc), p.clock()
	err = p.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return p.save(ctx, tx, app, &before, rb, "rollback.upload")
	})
	if err != nil {
		*rb = before
		return fmt.Errorf("record upload of %s: %w", b.Label(), err)
	}
	return nil
}

func storeRef(app *ripcord.App, vc int64) string {
	return fmt.Sprintf("play:%s/%s/%d", app.AndroidPackage, play.TrackInternal, vc)
}

// markReady confirms that the internal track serves the rollback's
// versionCode and records the rollback as ready.
func (p *Preparer) markReady(ctx context.Context, pl Play, app *ripcord.App, rb *ripcord.RollbackBuild) error {
	vc, err := ripcord.ParseVersionCode(rb.BuildNumber)
	if err != nil {
		return err
	}
	if pl == nil {
		return errNoPlay
	}
	t, err := pl.GetTrack(ctx, app.AndroidPackage, play.TrackInternal)
	if err != nil {
		return fmt.Errorf("read Play's internal track: %w", err)
	}
	if t.Find(vc) == nil {
		// Someone replaced it on the track: upload again (idempotent).
		before := *rb
		rb.State, rb.StoreRef, rb.UpdatedAt = ripcord.RollbackSigned, "", p.clock()
		if err := p.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
			return p.save(ctx, tx, app, &before, rb, "rollback.upload_lost")
		}); err != nil {
			*rb = before
			return err
		}
		return fmt.Errorf("play's internal track no longer serves versionCode %d; preparing again uploads it again", vc)
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

// sharedVersion returns the version of the other platform's rollback of
// the same target when there is one, else next: one rollback version ships
// on both stores, so users on either see 1.2.1 replace 1.2.0, and the
// version the first platform took is not "taken" for the second.
func sharedVersion(ctx context.Context, tx storage.Tx, app *ripcord.App, platform ripcord.Platform, target, next string) string {
	for _, other := range app.Platforms() {
		if other == platform {
			continue
		}
		if rb, err := tx.RollbackBuildGet(ctx, app.ID, other, target); err == nil && rb.Version != "" && !retiredHere(ctx, tx, app, platform, rb.Version) {
			return rb.Version
		}
	}
	return next
}

// retiredHere reports whether a retired (superseded) rollback of this
// platform already used version: it was retired for a reason (a hotfix, a
// live change, expired material), and the store may have seen it, so a
// fresh preparation takes a new one even if the other platform keeps it.
func retiredHere(ctx context.Context, tx storage.Tx, app *ripcord.App, platform ripcord.Platform, version string) bool {
	old, err := tx.RollbackBuildList(ctx, storage.RollbackBuildListParams{AppID: app.ID, Platform: platform, Superseded: true})
	if err != nil {
		return true // when in doubt, do not share
	}
	for _, rb := range old {
		if rb.Version == version {
			return true
		}
	}
	return false
}
