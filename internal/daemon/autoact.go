package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/rollout"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// HealthActor is the actor Ripcord's automatic actions on health verdicts
// are audited as. It has release-manager rights, as a person clicking halt
// would need.
const HealthActor = "ripcord:health"

// Limits of the automatic actions.
const (
	// maxAutoActions bounds the actions running at once; a verdict that
	// finds them all busy is logged and left to a person, never queued
	// without bound behind a slow store.
	maxAutoActions = 16
	// autoActionTimeout bounds one action, store call and recording included.
	autoActionTimeout = 2 * time.Minute
)

// autoActor turns health verdicts into rollout actions: a pause- or
// rollback-tier crash-free verdict on a release rolling out on Android halts
// it, and a rollback-tier verdict rolls it back where the app opted in and
// a rollback build is ready. It runs each action in a goroutine so the
// ingest reply never waits on the store; a verdict that changed is
// reported once (healthwatch only calls back on a change), and an action
// already running on the release makes a repeat a no-op, so a flurry of
// breach reports acts once. The release's status is read before acting, so
// a halted release is never halted again.
type autoActor struct {
	store    storage.Store
	rollout  *rollout.Service
	logger   *slog.Logger
	rollback map[string]bool // apps that opted in to an automatic rollback
	slots    chan struct{}
	running  sync.Map // "app/version/platform" → struct{}
	wg       sync.WaitGroup
}

func newAutoActor(store storage.Store, ro *rollout.Service, rollbackApps []string, logger *slog.Logger) *autoActor {
	a := &autoActor{store: store, rollout: ro, logger: logger, rollback: map[string]bool{}, slots: make(chan struct{}, maxAutoActions)}
	for _, name := range rollbackApps {
		a.rollback[name] = true
	}
	return a
}

// onVerdict is healthwatch's Config.OnVerdict. It returns at once.
func (a *autoActor) onVerdict(ctx context.Context, v healthwatch.Verdict) {
	if v.Platform != ripcord.Android || (v.Metric != healthwatch.CrashFreeSessions && v.Metric != healthwatch.CrashFreeUsers) {
		return
	}
	if o := v.Decision.Outcome; o != health.Pause && o != health.Rollback {
		return
	}
	key := v.App + "/" + v.Version + "/" + string(v.Platform)
	if _, busy := a.running.LoadOrStore(key, struct{}{}); busy {
		a.logger.InfoContext(ctx, "automatic action already running on the release; this verdict adds nothing", slog.String("release", key),
			slog.String("outcome", string(v.Decision.Outcome)))
		return
	}
	select {
	case a.slots <- struct{}{}:
	default:
		a.running.Delete(key)
		a.logger.ErrorContext(ctx, "too many automatic actions running; not acting on this verdict, act by hand", slog.String("release", key),
			slog.String("outcome", string(v.Decision.Outcome)), slog.String("sentence", v.Decision.Sentence))
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() { <-a.slots }()
		defer a.running.Delete(key)
		// The request's actor (whoever reported the counts) is not the one
		// acting, and the request may end before the store answers.
		actx := ripcord.NewContextWithActor(context.WithoutCancel(ctx), ripcord.Actor{Name: HealthActor, Role: ripcord.RoleReleaseManager})
		actx, cancel := context.WithTimeout(rollout.WithReason(actx, v.Decision.Sentence), autoActionTimeout)
		defer cancel()
		if err := a.act(actx, v); err != nil {
			a.logger.ErrorContext(actx, "automatic action on a health verdict failed; act by hand", slog.String("app", v.App), slog.String("version", v.Version),
				slog.String("platform", string(v.Platform)), slog.String("outcome", string(v.Decision.Outcome)), slog.String("sentence", v.Decision.Sentence),
				slog.String("error", err.Error()))
		}
	}()
}

// act halts or rolls back one release, if it is in a state to be.
func (a *autoActor) act(ctx context.Context, v healthwatch.Verdict) error {
	app, err := a.store.AppGetByName(ctx, v.App)
	if err != nil {
		return fmt.Errorf("read app %s: %w", v.App, err)
	}
	rel, err := a.store.ReleaseGetByVersion(ctx, app.ID, v.Version)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // observed through health only; Ripcord does not roll it out
	} else if err != nil {
		return fmt.Errorf("read release %s %s: %w", v.App, v.Version, err)
	}
	rp := rel.Platform(v.Platform)
	if rp == nil {
		return nil
	}
	rollBack := v.Decision.Outcome == health.Rollback && a.rollback[v.App] && a.rollbackReady(ctx, app.ID, v)
	event := ripcord.EventHalt
	switch {
	case rollBack && (rp.Status == ripcord.StatusRollingOut || rp.Status == ripcord.StatusHalted):
		event = ripcord.EventRollback
	case rp.Status != ripcord.StatusRollingOut:
		a.logger.DebugContext(ctx, "health verdict needs no automatic action: the release is not rolling out", slog.String("app", v.App),
			slog.String("version", v.Version), slog.String("status", string(rp.Status)), slog.String("outcome", string(v.Decision.Outcome)))
		return nil
	}
	start := time.Now()
	if event == ripcord.EventRollback {
		_, err = a.rollout.Rollback(ctx, v.App, v.Version, v.Platform)
	} else {
		_, err = a.rollout.Halt(ctx, v.App, v.Version, v.Platform)
	}
	if err != nil {
		return fmt.Errorf("automatic %s: %w", event, err)
	}
	a.logger.WarnContext(ctx, "release acted on automatically after a health verdict", slog.String("app", v.App), slog.String("version", v.Version),
		slog.String("platform", string(v.Platform)), slog.String("event", string(event)), slog.String("actor", HealthActor),
		slog.String("metric", v.Metric), slog.String("outcome", string(v.Decision.Outcome)), slog.String("sentence", v.Decision.Sentence),
		slog.Duration("duration", time.Since(start)))
	return nil
}

// rollbackReady says whether the release's rollback build can be released;
// when it cannot, the automatic action falls back to a halt (and the
// reason is logged) rather than to nothing.
func (a *autoActor) rollbackReady(ctx context.Context, appID int64, v healthwatch.Verdict) bool {
	rb, err := a.store.RollbackBuildGet(ctx, appID, v.Platform, v.Version)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a.logger.WarnContext(ctx, "rollback-tier verdict but no rollback build; halting instead", slog.String("app", v.App), slog.String("version", v.Version))
		return false
	case err != nil:
		a.logger.ErrorContext(ctx, "read rollback build; halting instead", slog.String("app", v.App), slog.String("version", v.Version), slog.String("error", err.Error()))
		return false
	case rb.State != ripcord.RollbackReady:
		a.logger.WarnContext(ctx, "rollback-tier verdict but the rollback build is not ready; halting instead", slog.String("app", v.App),
			slog.String("version", v.Version), slog.String("state", string(rb.State)))
		return false
	}
	return true
}

// wait blocks until running actions finished or ctx is done.
func (a *autoActor) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
