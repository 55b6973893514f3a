package stages

import (
	"context"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
)

// PlatformSchedule is where a release's rollout stands on one platform and
// what comes next, for `release show`.
type PlatformSchedule struct {
	Platform ripcord.Platform
	Status   ripcord.ReleaseStatus
	Stage    int     // 1-based; 0 before the start
	Stages   int     // stages in the plan for the platform
	Percent  float64 // share of users at the current stage; 0 before the start
	Since    time.Time
	// Next is the next step, e.g. "stage 3/3, 100 %"; "" when none.
	Next string
	// DueAt is when the next step is due by the plan; zero when it does
	// not depend on the calendar.
	DueAt time.Time
	// Waiting says what the next step waits for: "held: weekend",
	// "waiting for health: …", "waiting for Android: …"; "" when due now
	// or nothing is next.
	Waiting string
}

// Label is the stage in words: "stage 2/3, 30 %".
func (ps PlatformSchedule) Label() string {
	if ps.Stage == 0 {
		return "not started"
	}
	return fmt.Sprintf("stage %d/%d, %g %%", ps.Stage, ps.Stages, ps.Percent)
}

// Schedule reports the release's rollout per platform: its stage, since
// when, the next step and when it is due or why it is held.
func (s *Service) Schedule(ctx context.Context, appName, version string) ([]PlatformSchedule, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, appName)
	if err != nil {
		return nil, err
	}
	var out []PlatformSchedule
	for _, p := range app.Platforms() {
		t, err := s.load(ctx, appName, version, p)
		if err != nil {
			return nil, err
		}
		ps, err := s.scheduleOf(ctx, t)
		if err != nil {
			return nil, err
		}
		out = append(out, ps)
	}
	return out, nil
}

func (s *Service) scheduleOf(ctx context.Context, t *target) (PlatformSchedule, error) {
	rp := t.rp
	plan, err := s.planFor(ctx, t)
	if err != nil {
		return PlatformSchedule{}, err
	}
	stages := plan.Stages(rp.Platform)
	ps := PlatformSchedule{Platform: rp.Platform, Status: rp.Status, Stage: rp.Stage, Stages: len(stages), Percent: percentAt(rp), Since: rp.StageStartedAt}
	if ps.Stage > 0 && rp.Plan == nil {
		ps.Percent = stages[min(ps.Stage, len(stages))-1].Percent
	}
	now := s.clock()
	nextLabel := func(i int) string { return fmt.Sprintf("stage %d/%d, %g %%", i+1, len(stages), stages[i].Percent) }
	switch rp.Status {
	case ripcord.StatusDraft:
		ps.Next, ps.Waiting = "upload a build", rp.Reason
	case ripcord.StatusUploaded:
		ps.Next, ps.Waiting = "submit", rp.Reason
	case ripcord.StatusInReview:
		ps.Next, ps.Waiting = "approval", "waiting for App Review"
	case ripcord.StatusApproved:
		ps.Next = "start at " + nextLabel(0)
		if rp.Platform == ripcord.IOS {
			if why, due := iosWaits(t.rel, t.app); why != "" {
				ps.Waiting, ps.DueAt = "waiting for Android: "+why, due
				break
			}
			if due, ok, _ := plan.NextAdvance(ripcord.IOS, -1, clockStart(t.rel, rp), rp.StageStartedAt, androidIndex(t.rel)); ok {
				ps.DueAt = due
				ps.Waiting = s.waiting(ctx, t, plan, ripcord.Android, due, now)
			}
			break
		}
		ps.Waiting = "a go from the release gate, then `ripcord release start`"
	case ripcord.StatusRollingOut:
		if rp.Stage < 1 {
			ps.Waiting = "rolling out outside Ripcord's plan (not started with `ripcord release start`)"
			break
		}
		if rp.Stage >= len(stages) {
			break
		}
		ps.Next = nextLabel(rp.Stage)
		due, ok, why := plan.NextAdvance(rp.Platform, rp.Stage-1, clockStart(t.rel, rp), rp.StageStartedAt, androidIndex(t.rel))
		if !ok {
			ps.Waiting = why
			break
		}
		ps.DueAt = due
		ps.Waiting = s.waiting(ctx, t, plan, rp.Platform, due, now)
	case ripcord.StatusHalted, ripcord.StatusPaused:
		if rp.Stage < len(stages) {
			ps.Next = nextLabel(rp.Stage)
		}
		ps.Waiting = fmt.Sprintf("%s: resume to continue (`ripcord release resume`)", rp.Status)
	}
	return ps, nil
}

// waiting says what a step due at due waits for: the calendar (and why
// today is held, if it is) before then, the health verdict of healthOf
// after.
func (s *Service) waiting(ctx context.Context, t *target, plan ripcord.RolloutPlan, healthOf ripcord.Platform, due, now time.Time) string {
	if now.Before(due) {
		if hold := plan.HoldReason(now); hold != "" {
			return "held: " + hold
		}
		return "scheduled"
	}
	v, err := s.healthVerdict(ctx, t.app, healthOf, t.rel.Version)
	switch {
	case err != nil:
		return "health unknown: " + err.Error()
	case !v.ok:
		return fmt.Sprintf("waiting for health: %s (%s)", v.outcome, v.sentence)
	}
	return ""
}
