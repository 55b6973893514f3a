package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// autoRequestTimeout bounds recording one automatic action; the store calls
// run later in the action's job.
const autoRequestTimeout = 30 * time.Second

// autoActor turns health verdicts into durable rollout actions: a pause- or
// rollback-tier crash-free verdict on a release rolling out halts it (Play)
// or pauses its phased release (App Store), and a rollback-tier verdict
// rolls it back where the app opted in and one click can release the
// rollback. The action is recorded (with its job) before the verdict's
// ingest request answers, so a crash right after cannot lose it; the store
// calls run in the job. healthwatch calls back only when a verdict
// changed, and the database keeps one action per release and platform
// active, so a flurry of breach reports acts once.
type autoActor struct {
	store    storage.Store
	rollout  *rollout.Service
	logger   *slog.Logger
	rollback map[string]bool // apps that opted in to an automatic rollback
}

func newAutoActor(store storage.Store, ro *rollout.Service, rollbackApps []string, logger *slog.Logger) *autoActor {
	a := &autoActor{store: store, rollout: ro, logger: logger, rollback: map[string]bool{}}
	for _, name := range rollbackApps {
		a.rollback[name] = true
	}
	return a
}

// onVerdict is healthwatch's Config.OnVerdict.
func (a *autoActor) onVerdict(ctx context.Context, v healthwatch.Verdict) {
	if v.Metric != healthwatch.CrashFreeSessions && v.Metric != healthwatch.CrashFreeUsers {
		return
	}
	if o := v.Decision.Outcome; o != health.Pause && o != health.Rollback {
		return
	}
	// The request's actor (whoever reported the counts) is not the one
	// acting, and the request may end before the action is recorded.
	actx := ripcord.NewContextWithActor(context.WithoutCancel(ctx), ripcord.Actor{Name: HealthActor, Role: ripcord.RoleReleaseManager})
	actx, cancel := context.WithTimeout(actx, autoRequestTimeout)
	defer cancel()
	if err := a.act(actx, v); err != nil {
		a.logger.ErrorContext(actx, "automatic action on a health verdict failed; act by hand", slog.String("app", v.App), slog.String("version", v.Version),
			slog.String("platform", string(v.Platform)), slog.String("outcome", string(v.Decision.Outcome)), slog.String("sentence", v.Decision.Sentence),
			slog.String("error", err.Error()))
	}
}

// act requests a halt (pause) or rollback of one release, if it is in a
// state to take one.
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
	stopped := rp.Status == ripcord.StatusHalted || rp.Status == ripcord.StatusPaused
	kind := ripcord.ActionHalt
	switch {
	case v.Decision.Outcome == health.Rollback && a.rollback[v.App] && (rp.Status == ripcord.StatusRollingOut || stopped) && a.rollbackReady(ctx, app.ID, v):
		kind = ripcord.ActionRollback
	case rp.Status != ripcord.StatusRollingOut:
		a.logger.DebugContext(ctx, "health verdict needs no automatic action: the release is not rolling out", slog.String("app", v.App),
			slog.String("version", v.Version), slog.String("status", string(rp.Status)), slog.String("outcome", string(v.Decision.Outcome)))
		return nil
	}
	act, err := a.rollout.Request(ctx, rollout.ActionRequest{App: v.App, Version: v.Version, Platform: v.Platform, Kind: kind, Reason: v.Decision.Sentence})
	if err != nil {
		return fmt.Errorf("automatic %s: %w", kind, err)
	}
	a.logger.WarnContext(ctx, "release acted on automatically after a health verdict", slog.String("app", v.App), slog.String("version", v.Version),
		slog.String("platform", string(v.Platform)), slog.String("action", string(kind)), slog.Int64("action_id", act.ID), slog.String("state", string(act.State)),
		slog.String("actor", HealthActor), slog.String("metric", v.Metric), slog.String("outcome", string(v.Decision.Outcome)), slog.String("sentence", v.Decision.Sentence))
	return nil
}

// rollbackReady says whether one click can release the rollback; when it
// cannot, the automatic action falls back to a halt (and the reason is
// logged) rather than to nothing.
func (a *autoActor) rollbackReady(ctx context.Context, appID int64, v healthwatch.Verdict) bool {
	rb, err := a.store.RollbackBuildGet(ctx, appID, v.Platform, v.Version)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a.logger.WarnContext(ctx, "rollback-tier verdict but no rollback build; halting instead", slog.String("app", v.App), slog.String("version", v.Version))
		return false
	case err != nil:
		a.logger.ErrorContext(ctx, "read rollback build; halting instead", slog.String("app", v.App), slog.String("version", v.Version), slog.String("error", err.Error()))
		return false
	case rb.State != ripcord.RollbackReady || (v.Platform == ripcord.IOS && !rb.ReleasableOnIOS()):
		a.logger.WarnContext(ctx, "rollback-tier verdict but the rollback cannot be released yet; halting instead", slog.String("app", v.App),
			slog.String("version", v.Version), slog.String("state", string(rb.State)), slog.String("store_version_state", rb.StoreVersionState))
		return false
	}
	return true
}

// wait returns at once: automatic actions are jobs now, which the job
// queue's shutdown finishes or leaves to be resumed. Kept so shutdown reads
// the same whatever acts on verdicts.
func (a *autoActor) wait(context.Context) error { return nil }
