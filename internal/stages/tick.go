package stages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ripcordhq/ripcord"
)

// TickResult counts what one pass of the periodic job did.
type TickResult struct {
	Approved, Rejected, Started, Advanced int
	Held                                  int // steps refused for a reason the schedule shows (not due, health, waiting for Android)
	Failed                                int // steps that failed and are tried again on the next pass
}

// Tick is the periodic job's pass over every release (run every minute on
// the leader): it follows iOS releases in App Review, starts iOS when its
// day has come and Android has reached its second stage (under the same
// gate and health rules as by hand, on Android's verdict), and advances
// each rolling-out platform whose next stage is due on a good verdict. It
// acts as ScheduleActor. One release's failure does not stop the others.
func (s *Service) Tick(ctx context.Context) (TickResult, error) {
	var res TickResult
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: ScheduleActor, Role: ripcord.RoleReleaseManager})
	apps, err := s.store.AppList(ctx)
	if err != nil {
		return res, fmt.Errorf("rollout tick: list apps: %w", err)
	}
	for _, app := range apps {
		rels, err := s.store.ReleaseList(ctx, app.ID)
		if err != nil {
			return res, fmt.Errorf("rollout tick: list releases of %s: %w", app.Name, err)
		}
		for _, rel := range rels {
			for _, rp := range rel.Platforms {
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				s.tickOne(ctx, app, rel, rp, &res)
			}
		}
	}
	return res, nil
}

func (s *Service) tickOne(ctx context.Context, app *ripcord.App, rel *ripcord.Release, rp ripcord.ReleasePlatform, res *TickResult) {
	act := ""
	switch {
	case rp.Status == ripcord.StatusInReview && rp.Platform == ripcord.IOS:
		act = "follow review"
	case rp.Status == ripcord.StatusApproved && rp.Platform == ripcord.IOS && app.Has(ripcord.Android):
		act = "start"
	case rp.Status == ripcord.StatusRollingOut:
		act = "advance"
	default:
		return
	}
	if act == "advance" {
		// The common case, every minute: not due. Decided from the listing
		// alone, without reading the release again or claiming its store.
		// A rollout Ripcord did not start has no stage to move from.
		if rp.Plan == nil || rp.Stage < 1 {
			return
		}
		due, ok, _ := rp.Plan.NextAdvance(rp.Platform, rp.Stage-1, clockStart(rel, rp), rp.StageStartedAt, androidIndex(rel))
		if !ok || s.clock().Before(due) {
			res.Held++
			return
		}
	}
	var t *target
	before := rp.Status
	_, err := s.claimed(ctx, app.Name, rel.Version, rp.Platform, func(tg *target) (*ripcord.Release, error) {
		t, before = tg, tg.rp.Status
		switch act {
		case "follow review":
			return nil, s.followReview(ctx, t)
		case "start":
			return nil, s.autoStartIOS(ctx, t)
		}
		return s.advance(ctx, t, false)
	})
	if err == nil && t != nil {
		switch {
		case act == "follow review" && t.rp.Status == ripcord.StatusApproved:
			res.Approved++
		case act == "follow review" && t.rp.Status == ripcord.StatusUploaded:
			res.Rejected++
		case act == "start" && t.rp.Status != before:
			res.Started++
		case act == "advance" && t.rp.Stage != rp.Stage:
			res.Advanced++
		}
	}
	attrs := []any{slog.String("app", app.Name), slog.String("version", rel.Version), slog.String("platform", string(rp.Platform)), slog.String("step", act)}
	switch {
	case err == nil:
		if t != nil && (t.rp.Status != before || t.rp.Stage != rp.Stage) {
			s.logger.InfoContext(ctx, "rollout step taken", append(attrs, slog.String("status", string(t.rp.Status)), slog.Int("stage", t.rp.Stage))...)
		}
	case errors.Is(err, errNotDue) || ripcord.ErrorCode(err) == ripcord.ECONFLICT:
		res.Held++
		s.logger.DebugContext(ctx, "rollout step held", append(attrs, slog.String("reason", ripcord.ErrorMessage(err)))...)
	default:
		res.Failed++
		s.logger.ErrorContext(ctx, "rollout step failed; the next pass tries again", append(attrs, slog.String("error", err.Error()))...)
	}
}

// autoStartIOS starts iOS on schedule: once Android has reached its second
// stage, iOS's first stage is due by the plan, and Android's crash-free
// verdict (iOS has no users yet) is good.
func (s *Service) autoStartIOS(ctx context.Context, t *target) error {
	if why, _ := iosWaits(t.rel, t.app); why != "" {
		return fmt.Errorf("%s: %s: %w", t.label(), why, errNotDue)
	}
	plan, err := s.planFor(ctx, t)
	if err != nil {
		return err
	}
	due, ok, why := plan.NextAdvance(ripcord.IOS, -1, clockStart(t.rel, t.rp), t.rp.StageStartedAt, androidIndex(t.rel))
	if !ok {
		return fmt.Errorf("%s: %s: %w", t.label(), why, errNotDue)
	}
	if s.clock().Before(due) {
		return fmt.Errorf("%s: iOS stage 1 is due at %s: %w", t.label(), due, errNotDue)
	}
	v, err := s.healthVerdict(ctx, t.app, ripcord.Android, t.rel.Version)
	if err != nil {
		return err
	}
	if !v.ok {
		return refuseHealth(t, "starting", v)
	}
	_, err = s.start(ctx, t, true)
	return err
}
