// Package rollout acts on a release's rollout in the store: halt, resume and
// one-click rollback. Each action checks the caller's role and the release
// state machine (ripcord.Transition), makes the store change, and only once
// the store acknowledged it records the new status with its audit entry in
// one transaction. Android (Google Play) only for now.
package rollout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Play is the slice of the Google Play connector (internal/play) that
// rollout actions need. Each call is one edit, committed only when the
// track changes.
type Play interface {
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

// PlayOpener returns a Play client for an app, from its stored service
// account.
type PlayOpener func(ctx context.Context, app *ripcord.App) (Play, error)

// productionTrack is where rollouts happen; the rollback build waits on the
// internal track until it replaces the target here.
const productionTrack = "production"

// Config holds the Service's dependencies.
type Config struct {
	Store storage.Store // required
	Play  PlayOpener    // required
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
}

// Service halts, resumes and rolls back releases.
type Service struct {
	store  storage.Store
	play   PlayOpener
	now    func() time.Time
	logger *slog.Logger
	// busy (release ID/platform → struct{}) holds the releases an action
	// is running on in this process, so a concurrent second action (a
	// double click) gets a 409 instead of a second store write. Across
	// processes the status check in the recording transaction catches a
	// race after the fact.
	busy sync.Map
}

// New builds a Service; it names the first missing required dependency.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("rollout: Config.Store is required")
	case cfg.Play == nil:
		return nil, errors.New("rollout: Config.Play is required")
	}
	s := &Service{store: cfg.Store, play: cfg.Play, now: cfg.Now, logger: cmp.Or(cfg.Logger, slog.Default())}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// reasonKey carries why an action is taken into its audit entry.
type reasonKey struct{}

// WithReason returns ctx carrying why the next action is taken, such as the
// health verdict's sentence when Ripcord halts on its own: the action's
// audit entry records it under "reason", so the audit says why, not only
// who.
func WithReason(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, reasonKey{}, reason)
}

// target is what an action works on, read before the store call.
type target struct {
	app  *ripcord.App
	rel  *ripcord.Release
	rp   ripcord.ReleasePlatform
	code int64 // the target build's versionCode
}

// Halt stops new installs of the release on platform (Play's halt). Halting
// a halted release changes nothing and returns it as it is.
func (s *Service) Halt(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.Release, error) {
	return s.act(ctx, app, version, platform, ripcord.EventHalt, func(ctx context.Context, pl Play, t *target) (map[string]any, error) {
		return nil, pl.Halt(ctx, t.app.AndroidPackage, productionTrack, t.code)
	})
}

// Resume continues a halted rollout at the fraction it was halted at.
func (s *Service) Resume(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.Release, error) {
	return s.act(ctx, app, version, platform, ripcord.EventResume, func(ctx context.Context, pl Play, t *target) (map[string]any, error) {
		return nil, pl.Resume(ctx, t.app.AndroidPackage, productionTrack, t.code, 0)
	})
}

// Rollback replaces the release with its ready rollback build: in one Play
// edit the target is halted (if it is not already) and the rollback
// versionCode is released to 100 % on production. It refuses, saying what
// is possible instead, when no rollback build is ready. Rolling back a
// rolled-back release changes nothing and returns it as it is.
func (s *Service) Rollback(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.Release, error) {
	return s.act(ctx, app, version, platform, ripcord.EventRollback, func(ctx context.Context, pl Play, t *target) (map[string]any, error) {
		rb, err := s.store.RollbackBuildGet(ctx, t.app.ID, platform, version)
		if errors.Is(err, storage.ErrNotFound) {
			rb = &ripcord.RollbackBuild{State: "none"}
		} else if err != nil {
			return nil, err
		}
		if rb.State != ripcord.RollbackReady {
			why := rb.Reason
			if why == "" {
				why = "its state is " + string(rb.State)
			}
			return nil, ripcord.Errorf(ripcord.ECONFLICT,
				"cannot roll back %s %s on %s: no rollback build is ready (%s); halt it instead with `ripcord release halt %s %s --platform %s`, and see `ripcord release rollback-build %s %s` for the rollback build",
				t.app.Name, version, platform, why, t.app.Name, version, platform, t.app.Name, version).
				WithDetails(map[string]any{"status": string(t.rp.Status), "rollback_build": string(rb.State), "possible": []string{"halt"}})
		}
		code, err := strconv.ParseInt(rb.BuildNumber, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("rollback build %s of %s has build number %q, not a versionCode; prepare it again: %w", rb.Version, t.app.Name, rb.BuildNumber, err)
		}
		if err := pl.RollBack(ctx, t.app.AndroidPackage, t.code, code); err != nil {
			return nil, err
		}
		return map[string]any{"rollback_version": rb.Version, "rollback_version_code": code}, nil
	})
}

// act runs one action: authorise, read the target, check the transition,
// call the store, then record the new status and the audit entry together.
func (s *Service) act(ctx context.Context, appName, version string, platform ripcord.Platform, ev ripcord.ReleaseEvent,
	storeCall func(ctx context.Context, pl Play, t *target) (map[string]any, error)) (*ripcord.Release, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	if platform != ripcord.Android {
		return nil, ripcord.Errorf(ripcord.EINVALID, "%s on %s is not yet supported; only android is", ev, platform)
	}
	t, err := s.load(ctx, appName, version, platform)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%d/%s", t.rel.ID, platform)
	if _, running := s.busy.LoadOrStore(key, struct{}{}); running {
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "another action on %s %s (%s) is running; it is %s, try again once it finished", appName, version, platform, t.rp.Status).
			WithDetails(map[string]any{"status": string(t.rp.Status), "event": string(ev)})
	}
	defer s.busy.Delete(key)
	// Read again under the key: the action that just released it may have
	// moved the release.
	if t, err = s.load(ctx, appName, version, platform); err != nil {
		return nil, err
	}
	if done := doneStatus[ev]; t.rp.Status == done {
		return t.rel, nil // a repeat: already done, no store call
	}
	next, err := ripcord.Transition(platform, t.rp.Status, ev)
	if err != nil {
		return nil, err
	}
	if t.code == 0 {
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "%s %s has no %s build, so it has no rollout to %s", appName, version, platform, ev).
			WithDetails(map[string]any{"status": string(t.rp.Status), "event": string(ev)})
	}
	pl, err := s.play(ctx, t.app)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	extra, err := storeCall(ctx, pl, t)
	if err != nil {
		return nil, fmt.Errorf("%s %s %s on Google Play (nothing was recorded; check the release in Play Console and try again): %w", ev, appName, version, err)
	}
	s.logger.InfoContext(ctx, "rollout action acknowledged by the store", slog.String("app", appName), slog.String("version", version),
		slog.String("event", string(ev)), slog.Duration("store_time", time.Since(start)))
	before := t.rp
	after := t.rp
	after.Status, after.UpdatedAt = next, s.clock()
	err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		cur, err := tx.ReleaseGetByVersion(ctx, t.app.ID, version)
		if err != nil {
			return err
		}
		if rp := cur.Platform(platform); rp == nil || rp.Status != before.Status {
			return ripcord.Errorf(ripcord.ECONFLICT, "%s %s (%s) changed while Google Play applied the %s; read it again", appName, version, platform, ev)
		}
		if err := tx.ReleasePlatformUpdate(ctx, t.rel.ID, after); err != nil {
			return err
		}
		sumAfter := map[string]any{"status": string(after.Status), "version_code": t.code}
		for k, v := range extra {
			sumAfter[k] = v
		}
		if reason, _ := ctx.Value(reasonKey{}).(string); reason != "" {
			sumAfter["reason"] = reason
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, after.UpdatedAt, "release."+string(ev),
			fmt.Sprintf("release/%s/%s/%s", appName, version, platform), map[string]any{"status": string(before.Status)}, sumAfter))
	})
	if err != nil {
		return nil, fmt.Errorf("record the %s of %s %s (Google Play already applied it; running it again records it without a second change): %w", ev, appName, version, err)
	}
	*t.rel.Platform(platform) = after
	return t.rel, nil
}

// doneStatus is the status a repeated action finds when it already
// succeeded; the action then returns the release without a store call.
var doneStatus = map[ripcord.ReleaseEvent]ripcord.ReleaseStatus{
	ripcord.EventHalt:     ripcord.StatusHalted,
	ripcord.EventRollback: ripcord.StatusRolledBack,
}

// load reads the app, the release and the target build's versionCode.
func (s *Service) load(ctx context.Context, appName, version string, platform ripcord.Platform) (*target, error) {
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
	rel, err := s.store.ReleaseGetByVersion(ctx, app.ID, v.String())
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
		b, err := s.store.BuildGetByID(ctx, rp.BuildID)
		if err != nil {
			return nil, fmt.Errorf("read the %s build of %s %s: %w", platform, app.Name, version, err)
		}
		if t.code, err = strconv.ParseInt(b.BuildNumber, 10, 64); err != nil {
			return nil, fmt.Errorf("the %s build of %s %s has build number %q, not a versionCode: %w", platform, app.Name, version, b.BuildNumber, err)
		}
	}
	return t, nil
}
