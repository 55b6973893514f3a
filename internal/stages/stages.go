// Package stages runs staged rollouts: it submits a release to the stores
// and follows App Review, starts the rollout once the release gate said go,
// and moves each platform through its rollout plan's stages when the plan
// says a stage is due and the release's crash-free verdict is good. Every
// store call reads the store's state before writing, and every recorded
// step is audited in the transaction that records it, so a retry after a
// crash never moves a rollout twice.
package stages

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Gate says whether a release may start. Helper "gate" implements it with
// the release checklist's recorded go.
type Gate interface {
	// GoRecorded returns nil when a go is recorded for the app's release,
	// otherwise an ECONFLICT error saying what fails.
	GoRecorded(ctx context.Context, app, version string) error
}

// Play is the slice of the Google Play connector (internal/play) rollouts
// need. Each write is one edit, committed only when the track changes.
type Play interface {
	// GetTrack reads a track's committed releases.
	GetTrack(ctx context.Context, pkg, track string) (*play.Track, error)
	// Upload uploads an APK or AAB (found by digest first, so a retry does
	// not upload twice) and puts it on a track.
	Upload(ctx context.Context, p play.UploadParams) (int64, error)
	// SetRollout stages versionCode's release at fraction (0, 1).
	SetRollout(ctx context.Context, pkg, track string, versionCode int64, fraction float64) error
	// Complete releases versionCode to 100 %.
	Complete(ctx context.Context, pkg, track string, versionCode int64) error
}

var _ Play = (*play.Client)(nil)

// AppStore is the slice of the App Store Connect connector
// (internal/appstore) rollouts need.
type AppStore interface {
	// FindApp finds the app by bundle id.
	FindApp(ctx context.Context, bundleID string) (*appstore.App, error)
	// FindBuild returns an error matching appstore.ErrNotFound when the
	// store does not have the build.
	FindBuild(ctx context.Context, appID, version, buildNumber string) (*appstore.Build, error)
	// UploadBuild uploads an IPA and waits for its import (resuming an
	// earlier attempt's upload rather than making a second).
	UploadBuild(ctx context.Context, p appstore.UploadParams, timeout time.Duration) (*appstore.Build, error)
	// CreateVersion returns the existing version of that versionString
	// (attaching the build) instead of creating a second one.
	CreateVersion(ctx context.Context, p appstore.CreateVersionParams) (*appstore.Version, error)
	// GetVersion reads a version's state.
	GetVersion(ctx context.Context, versionID string) (*appstore.Version, error)
	// SubmitForReview submits the version, reusing an open submission.
	SubmitForReview(ctx context.Context, versionID string) (*appstore.Submission, error)
	// EnablePhasedRelease chooses phased release, or returns the existing one.
	EnablePhasedRelease(ctx context.Context, versionID string) (*appstore.PhasedRelease, error)
	// GetPhasedRelease returns an error matching appstore.ErrNotFound when
	// the version has none.
	GetPhasedRelease(ctx context.Context, versionID string) (*appstore.PhasedRelease, error)
	// ReleaseVersion releases an approved version; a released one is left alone.
	ReleaseVersion(ctx context.Context, versionID string) error
	// CompletePhasedRelease releases to everyone now; complete is left alone.
	CompletePhasedRelease(ctx context.Context, versionID string) (*appstore.PhasedRelease, error)
}

var _ AppStore = (*appstore.Client)(nil)

// Artifacts reads builds' artifacts (internal/blob).
type Artifacts interface {
	// Open reads the artifact stored under key.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// Config holds the Service's dependencies.
type Config struct {
	Store     storage.Store // required
	Artifacts Artifacts     // required
	Gate      Gate          // required
	// Play opens a Play client for an app. Required.
	Play func(ctx context.Context, app *ripcord.App) (Play, error)
	// AppStore opens an App Store Connect client for an app. Required.
	AppStore func(ctx context.Context, app *ripcord.App) (AppStore, error)
	// UploadTimeout bounds an IPA upload's import by App Store Connect.
	// Default 20 minutes.
	UploadTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
}

// Service submits, starts and advances staged rollouts.
type Service struct {
	store         storage.Store
	artifacts     Artifacts
	gate          Gate
	play          func(ctx context.Context, app *ripcord.App) (Play, error)
	appStore      func(ctx context.Context, app *ripcord.App) (AppStore, error)
	uploadTimeout time.Duration
	now           func() time.Time
	logger        *slog.Logger
	// busy (app/platform → struct{}) holds the apps whose store a step is
	// acting on in this process: Play supersedes an app's open edit when
	// another starts, so two steps at once would break each other. A
	// second step gets ECONFLICT; across processes the check in record
	// catches a race after the fact.
	busy sync.Map
}

// New builds a Service; it names the first missing required dependency.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("stages: Config.Store is required")
	case cfg.Artifacts == nil:
		return nil, errors.New("stages: Config.Artifacts is required")
	case cfg.Gate == nil:
		return nil, errors.New("stages: Config.Gate is required")
	case cfg.Play == nil:
		return nil, errors.New("stages: Config.Play is required")
	case cfg.AppStore == nil:
		return nil, errors.New("stages: Config.AppStore is required")
	}
	s := &Service{store: cfg.Store, artifacts: cfg.Artifacts, gate: cfg.Gate, play: cfg.Play, appStore: cfg.AppStore,
		uploadTimeout: cmp.Or(cfg.UploadTimeout, 20*time.Minute), now: cfg.Now, logger: cmp.Or(cfg.Logger, slog.Default())}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// clock is the current time at the precision both databases keep.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// ScheduleActor is the actor the periodic job's steps are audited as.
const ScheduleActor = "ripcord:schedule"

// productionTrack is where Android rollouts happen.
const productionTrack = play.TrackProduction

// target is a release on one platform, read before acting.
type target struct {
	app   *ripcord.App
	rel   *ripcord.Release
	rp    ripcord.ReleasePlatform
	build *ripcord.Build // nil while no build is attached
}

// label names the release for messages: "shop 1.2.0 (android)".
func (t *target) label() string {
	return fmt.Sprintf("%s %s (%s)", t.app.Name, t.rel.Version, t.rp.Platform)
}

// load reads the app, its release of version and the platform's build.
func (s *Service) load(ctx context.Context, appName, version string, platform ripcord.Platform) (*target, error) {
	if !platform.Valid() {
		return nil, ripcord.Errorf(ripcord.EINVALID, "platform %q is not known; use android or ios", platform)
	}
	app, err := s.store.AppGetByName(ctx, appName)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no app %s; `ripcord app list` shows the apps", appName)
	} else if err != nil {
		return nil, err
	}
	v, err := ripcord.ParseVersion(version)
	if err != nil {
		return nil, err
	}
	rel, err := s.store.ReleaseGetByVersion(ctx, app.ID, version)
	if errors.Is(err, storage.ErrNotFound) && v.String() != version {
		rel, err = s.store.ReleaseGetByVersion(ctx, app.ID, v.String())
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no release %s; `ripcord release list %s` shows its releases", app.Name, version, app.Name)
	} else if err != nil {
		return nil, err
	}
	rp := rel.Platform(platform)
	if rp == nil {
		return nil, ripcord.Errorf(ripcord.EINVALID, "app %s is not on %s", app.Name, platform)
	}
	t := &target{app: app, rel: rel, rp: *rp}
	if rp.BuildID != 0 {
		if t.build, err = s.store.BuildGetByID(ctx, rp.BuildID); err != nil {
			return nil, fmt.Errorf("read the %s build of %s %s: %w", platform, app.Name, rel.Version, err)
		}
	}
	return t, nil
}

// claimed loads the target while holding its app's store on platform for
// fn, or refuses when another step holds it.
func (s *Service) claimed(ctx context.Context, appName, version string, platform ripcord.Platform, fn func(t *target) (*ripcord.Release, error)) (*ripcord.Release, error) {
	key := appName + "/" + string(platform)
	if _, running := s.busy.LoadOrStore(key, struct{}{}); running {
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "another step on %s (%s) is acting on the store; try again once it finished", appName, platform).
			WithDetails(map[string]any{"reason": "busy"})
	}
	defer s.busy.Delete(key)
	t, err := s.load(ctx, appName, version, platform)
	if err != nil {
		return nil, err
	}
	return fn(t)
}

// versionCode is the Android build's versionCode.
func (t *target) versionCode() (int64, error) {
	if t.build == nil {
		return 0, ripcord.Errorf(ripcord.ECONFLICT, "%s has no build; upload one with `ripcord build upload`", t.label())
	}
	code, err := strconv.ParseInt(t.build.BuildNumber, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the build of %s has build number %q, not a versionCode: %w", t.label(), t.build.BuildNumber, err)
	}
	return code, nil
}

// step is one recorded change of a release on a platform: its status
// events (each audited) and its new progress.
type step struct {
	events []ripcord.ReleaseEvent
	after  ripcord.ReleasePlatform
	audit  map[string]any // extra facts for the audit entries
}

// record stores a step in one transaction with its audit entries, after
// checking that nobody moved the release since t was read; a concurrent
// second attempt gets ECONFLICT instead of recording twice.
func (s *Service) record(ctx context.Context, t *target, st step) (*ripcord.Release, error) {
	before := t.rp
	now := s.clock()
	st.after.UpdatedAt = now
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		cur, err := tx.ReleaseGetByVersion(ctx, t.app.ID, t.rel.Version)
		if err != nil {
			return err
		}
		rp := cur.Platform(before.Platform)
		if rp == nil || rp.Status != before.Status || rp.Stage != before.Stage {
			return ripcord.Errorf(ripcord.ECONFLICT, "%s changed while the store applied this step; read it again", t.label())
		}
		if err := tx.ReleasePlatformUpdate(ctx, t.rel.ID, st.after); err != nil {
			return err
		}
		if err := tx.ReleaseRolloutPut(ctx, t.rel.ID, st.after); err != nil {
			return err
		}
		status := before.Status
		for _, ev := range st.events {
			next, err := ripcord.Transition(before.Platform, status, ev)
			if err != nil {
				return err
			}
			after := map[string]any{"status": string(next), "stage": st.after.Stage}
			if pct := percentAt(st.after); pct > 0 {
				after["percent"] = pct
			}
			for k, v := range st.audit {
				after[k] = v
			}
			entry := ripcord.NewAuditEntry(ctx, now, "release."+string(ev), fmt.Sprintf("release/%s/%s/%s", t.app.Name, t.rel.Version, before.Platform),
				map[string]any{"status": string(status), "stage": before.Stage}, after)
			if err := tx.AuditAppend(ctx, entry); err != nil {
				return err
			}
			status = next
		}
		if status != st.after.Status {
			return fmt.Errorf("record %s: events lead to %s, not %s (a bug)", t.label(), status, st.after.Status)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", t.label(), err)
	}
	*t.rel.Platform(before.Platform) = st.after
	t.rp = st.after
	return t.rel, nil
}

// percentAt is the share of users the platform's current stage releases
// to, or 0 before the start.
func percentAt(rp ripcord.ReleasePlatform) float64 {
	if rp.Plan == nil || rp.Stage < 1 {
		return 0
	}
	stages := rp.Plan.Stages(rp.Platform)
	if rp.Stage > len(stages) {
		return 100
	}
	return stages[rp.Stage-1].Percent
}
