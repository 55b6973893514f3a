// Package rollout acts on a release's rollout in the stores: halt (Play) or
// pause (App Store phased release), resume, and one-click rollback.
//
// Every action is durable. A request checks the caller's role, the release
// state machine (ripcord.Transition) and what a rollback needs, then records
// a rollout action and queues its job in one transaction; the database lets
// one action per release and platform be active, so two clicks or two
// instances make one action. The job (Run) works through the action's steps,
// storing each as it completes. Before a store write it marks the step
// pending; after a crash a pending step first reads the store and skips the
// write when it already took effect, so no store action is done twice. The
// release's new status, its audit entry and the action's success commit
// together once the store acknowledged every step.
package rollout

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Play is the slice of the Google Play connector (internal/play) that
// rollout actions need. Each write is one edit that reads the track first
// and commits only when the track changes.
type Play interface {
	// GetTrack reads a track's committed releases; a restarted action uses
	// it to see whether its write already took effect.
	GetTrack(ctx context.Context, pkg, track string) (*play.Track, error)
	// Halt stops the production release of versionCode from reaching more
	// users.
	Halt(ctx context.Context, pkg, track string, versionCode int64) error
	// Resume restarts a halted release; fraction 0 keeps the fraction it
	// was halted at.
	Resume(ctx context.Context, pkg, track string, versionCode int64, fraction float64) error
	// RollBack halts target and completes rollback on production in one
	// edit.
	RollBack(ctx context.Context, pkg string, target, rollback int64) error
}

var _ Play = (*play.Client)(nil)

// PlayOpener returns a Play client for an app, from its stored service
// account.
type PlayOpener func(ctx context.Context, app *ripcord.App) (Play, error)

// AppStore is the slice of the App Store Connect client (internal/appstore)
// that rollout actions need.
type AppStore interface {
	// FindApp returns the app with bundleID.
	FindApp(ctx context.Context, bundleID string) (*appstore.App, error)
	// ListVersions returns the app's App Store versions, newest first.
	ListVersions(ctx context.Context, appID, platform string) ([]appstore.Version, error)
	// GetVersion reads one App Store version.
	GetVersion(ctx context.Context, versionID string) (*appstore.Version, error)
	// GetPhasedRelease reads a version's phased release.
	GetPhasedRelease(ctx context.Context, versionID string) (*appstore.PhasedRelease, error)
	// PausePhasedRelease pauses a running phased release.
	PausePhasedRelease(ctx context.Context, versionID string) (*appstore.PhasedRelease, error)
	// ResumePhasedRelease resumes a paused phased release.
	ResumePhasedRelease(ctx context.Context, versionID string) (*appstore.PhasedRelease, error)
	// ReleaseVersion releases a version waiting in Pending Developer
	// Release.
	ReleaseVersion(ctx context.Context, versionID string) error
}

var _ AppStore = (*appstore.Client)(nil)

// AppStoreOpener returns an App Store Connect client for an app, from its
// stored API key.
type AppStoreOpener func(ctx context.Context, app *ripcord.App) (AppStore, error)

// Hook is called around each step's store call with phase "before" (the
// step is marked pending, nothing sent yet) or "after" (the store answered,
// nothing recorded yet). A non-nil error stops the run there as a crash
// would. Crash-point tests use it; production leaves it nil.
type Hook func(ctx context.Context, a *ripcord.RolloutAction, step, phase string) error

// Config holds the Service's dependencies.
type Config struct {
	Store storage.Store // required
	Play  PlayOpener    // required
	// AppStore opens App Store Connect clients; nil refuses iOS actions.
	AppStore AppStoreOpener
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
	// Hook is the crash-point test hook; nil in production.
	Hook Hook
}

// Service requests and runs rollout actions.
type Service struct {
	store    storage.Store
	play     PlayOpener
	appStore AppStoreOpener
	now      func() time.Time
	logger   *slog.Logger
	hook     Hook
}

// New builds a Service; it names the first missing required dependency.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("rollout: Config.Store is required")
	case cfg.Play == nil:
		return nil, errors.New("rollout: Config.Play is required")
	}
	s := &Service{store: cfg.Store, play: cfg.Play, appStore: cfg.AppStore, now: cfg.Now, logger: cmp.Or(cfg.Logger, slog.Default()), hook: cfg.Hook}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
