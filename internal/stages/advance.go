package stages

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/play"
)

// Start releases the first stage of the release's rollout on platform
// (release managers). It refuses without a recorded go from the release
// gate, and on iOS until Android has reached its second stage (saying when
// that is due). Android: the build's production release goes inProgress at
// the first stage's fraction. iOS: phased release is chosen (Apple's 1 %
// on day 1) and the approved version is released. Starting a started
// release returns it as it is.
func (s *Service) Start(ctx context.Context, appName, version string, platform ripcord.Platform) (*ripcord.Release, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	return s.claimed(ctx, appName, version, platform, func(t *target) (*ripcord.Release, error) { return s.start(ctx, t, false) })
}

func (s *Service) start(ctx context.Context, t *target, auto bool) (*ripcord.Release, error) {
	switch t.rp.Status {
	case ripcord.StatusRollingOut, ripcord.StatusHalted, ripcord.StatusPaused, ripcord.StatusComplete:
		return t.rel, nil // started before
	}
	if _, err := ripcord.Transition(t.rp.Platform, t.rp.Status, ripcord.EventStart); err != nil {
		return nil, err
	}
	plan, err := s.planFor(ctx, t)
	if err != nil {
		return nil, err
	}
	if t.rp.Platform == ripcord.IOS {
		if why, due := iosWaits(t.rel, t.app); why != "" {
			msg := why
			if !due.IsZero() {
				msg += "; that is due at " + due.Format(time.RFC3339)
			}
			return nil, ripcord.Errorf(ripcord.ECONFLICT, "not starting %s: %s", t.label(), msg).
				WithDetails(map[string]any{"status": string(t.rp.Status), "reason": "waiting_for_android", "due_at": due})
		}
	}
	if err := s.gate.GoRecorded(ctx, t.app.Name, t.rel.Version); err != nil {
		return nil, fmt.Errorf("not starting %s: the release gate has no go: %w", t.label(), err)
	}
	first := plan.Stages(t.rp.Platform)[0]
	if t.rp.Platform == ripcord.Android {
		err = s.startAndroid(ctx, t, first.Percent)
	} else {
		err = s.startIOS(ctx, t, first.Percent)
	}
	if err != nil {
		return nil, err
	}
	now := s.clock()
	after := t.rp
	after.Status, after.Stage, after.StageStartedAt, after.RolloutStartedAt, after.Plan, after.Reason = ripcord.StatusRollingOut, 1, now, now, &plan, ""
	events := []ripcord.ReleaseEvent{ripcord.EventStart}
	if len(plan.Stages(t.rp.Platform)) == 1 && first.Percent == 100 {
		after.Status = ripcord.StatusComplete
		events = append(events, ripcord.EventComplete)
	}
	return s.record(ctx, t, step{events: events, after: after, audit: map[string]any{"gate": "go recorded", "automatic": auto}})
}

func (s *Service) startAndroid(ctx context.Context, t *target, percent float64) error {
	code, err := t.versionCode()
	if err != nil {
		return err
	}
	pl, err := s.play(ctx, t.app)
	if err != nil {
		return err
	}
	tr, err := pl.GetTrack(ctx, t.app.AndroidPackage, productionTrack)
	if err != nil {
		return fmt.Errorf("read Google Play's production track for %s: %w", t.label(), err)
	}
	r := tr.Find(code)
	switch {
	case r == nil:
		return ripcord.Errorf(ripcord.ECONFLICT, "versionCode %d of %s is not on Google Play's production track; run `ripcord release submit %s %s --platform android` first",
			code, t.label(), t.app.Name, t.rel.Version)
	case r.Status == play.StatusHalted:
		return ripcord.Errorf(ripcord.ECONFLICT, "versionCode %d of %s is halted on Google Play (someone halted it in Play Console); resume it there or with `ripcord release resume`", code, t.label())
	case r.Status == play.StatusCompleted || r.Status == play.StatusInProgress && r.UserFraction >= percent/100:
		return nil // the store already has it: a retry after a crash
	case percent >= 100:
		err = pl.Complete(ctx, t.app.AndroidPackage, productionTrack, code)
	default:
		err = pl.SetRollout(ctx, t.app.AndroidPackage, productionTrack, code, percent/100)
	}
	if err != nil {
		return fmt.Errorf("start %s on Google Play at %g %% (nothing was recorded; try again): %w", t.label(), percent, err)
	}
	return nil
}

func (s *Service) startIOS(ctx context.Context, t *target, percent float64) error {
	if t.rp.StoreRef == "" {
		return ripcord.Errorf(ripcord.ECONFLICT, "%s has no App Store version; submit it with `ripcord release submit %s %s --platform ios`", t.label(), t.app.Name, t.rel.Version)
	}
	as, err := s.appStore(ctx, t.app)
	if err != nil {
		return err
	}
	v, err := as.GetVersion(ctx, t.rp.StoreRef)
	if err != nil {
		return fmt.Errorf("read App Store version %s of %s: %w", t.rp.StoreRef, t.label(), err)
	}
	switch v.State {
	case appstore.StateReadyForDistribution, appstore.StateProcessingForDistrib:
		return nil // released before: a retry after a crash
	case appstore.StatePendingDeveloperRelease:
	default:
		return ripcord.Errorf(ripcord.ECONFLICT, "App Store version %s of %s is %s; only an approved version waiting in Pending Developer Release can be released", v.VersionString, t.label(), v.State)
	}
	if percent < 100 {
		if _, err := as.EnablePhasedRelease(ctx, v.ID); err != nil {
			return fmt.Errorf("choose phased release for %s (nothing was released; try again): %w", t.label(), err)
		}
	}
	if err := as.ReleaseVersion(ctx, v.ID); err != nil {
		return fmt.Errorf("release App Store version %s of %s (try again; a released version is not released twice): %w", v.VersionString, t.label(), err)
	}
	return nil
}

// iosWaits says why iOS may not start yet and when Android's second stage
// is due, or "" when Android has reached it (or the app is not on Android).
func iosWaits(rel *ripcord.Release, app *ripcord.App) (string, time.Time) {
	a := rel.Platform(ripcord.Android)
	if a == nil || !app.Has(ripcord.Android) {
		return "", time.Time{}
	}
	if a.Status == ripcord.StatusComplete || a.Stage >= 2 || a.Plan != nil && len(a.Plan.Android) < 2 && a.Stage >= 1 {
		return "", time.Time{}
	}
	if a.Stage < 1 || a.Plan == nil {
		return "iOS starts only once Android has reached its second stage, and the Android rollout has not started", time.Time{}
	}
	due, _, _ := a.Plan.NextAdvance(ripcord.Android, a.Stage-1, a.RolloutStartedAt, a.StageStartedAt, -1)
	return fmt.Sprintf("iOS starts only once Android has reached its second stage; Android is at stage %d/%d (%g %%)",
		a.Stage, len(a.Plan.Android), percentAt(*a)), due
}

// planFor is the plan a release's platform follows: the one fixed at its
// start, else the one fixed at Android's start (so both platforms count
// days alike), else the app's current plan.
func (s *Service) planFor(ctx context.Context, t *target) (ripcord.RolloutPlan, error) {
	if t.rp.Plan != nil {
		return *t.rp.Plan, nil
	}
	if a := t.rel.Platform(ripcord.Android); a != nil && a.Plan != nil {
		return *a.Plan, nil
	}
	p, err := s.planOf(ctx, s.store, t.app)
	if err != nil {
		return ripcord.RolloutPlan{}, err
	}
	return p.Plan, nil
}

// clockStart is the time a platform's rollout days count from: Android's
// start when Android started (iOS day 2 is Android's day 2), else the
// platform's own.
func clockStart(rel *ripcord.Release, rp ripcord.ReleasePlatform) time.Time {
	if a := rel.Platform(ripcord.Android); a != nil && !a.RolloutStartedAt.IsZero() {
		return a.RolloutStartedAt
	}
	return rp.RolloutStartedAt
}

// androidIndex is Android's stage index (from 0) for NextAdvance: -1 before
// it starts, its last index once complete, and high when the app is not on
// Android, so iOS waits for nothing.
func androidIndex(rel *ripcord.Release) int {
	a := rel.Platform(ripcord.Android)
	switch {
	case a == nil:
		return 1 << 20
	case a.Status == ripcord.StatusComplete:
		return max(a.Stage-1, 1)
	}
	return a.Stage - 1
}

// errNotDue marks a refusal because the next stage's time has not come;
// the periodic job treats it as nothing to do.
var errNotDue = errors.New("stages: next stage not due")

// Advance moves the release's rollout on platform to its next stage now,
// by hand (release managers): the calendar is not waited for, but the
// health rule is the schedule's: only on a healthy or fix-forward
// crash-free verdict, and never for a halted or paused rollout. The
// refusal says why.
func (s *Service) Advance(ctx context.Context, appName, version string, platform ripcord.Platform) (*ripcord.Release, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	return s.claimed(ctx, appName, version, platform, func(t *target) (*ripcord.Release, error) { return s.advance(ctx, t, true) })
}

func (s *Service) advance(ctx context.Context, t *target, manual bool) (*ripcord.Release, error) {
	p := t.rp.Platform
	switch t.rp.Status {
	case ripcord.StatusRollingOut:
	case ripcord.StatusHalted, ripcord.StatusPaused:
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "%s is %s; a stopped rollout never advances: resume it first with `ripcord release resume`", t.label(), t.rp.Status).
			WithDetails(map[string]any{"status": string(t.rp.Status)})
	default:
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "%s is %s; only a rolling-out release advances (start it with `ripcord release start`)", t.label(), t.rp.Status).
			WithDetails(map[string]any{"status": string(t.rp.Status)})
	}
	if t.rp.Stage < 1 || t.rp.Plan == nil {
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "%s is rolling out without a stage of a Ripcord plan (it was not started with `ripcord release start`), so it has no next stage; move it in the store's console", t.label()).
			WithDetails(map[string]any{"status": string(t.rp.Status), "reason": "not_staged"})
	}
	plan := *t.rp.Plan
	stages := plan.Stages(p)
	if t.rp.Stage >= len(stages) {
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "%s is at its last stage (%d/%d)", t.label(), t.rp.Stage, len(stages)).
			WithDetails(map[string]any{"status": string(t.rp.Status), "stage": t.rp.Stage})
	}
	next := t.rp.Stage + 1
	pct := stages[next-1].Percent
	if !manual {
		due, ok, why := plan.NextAdvance(p, t.rp.Stage-1, clockStart(t.rel, t.rp), t.rp.StageStartedAt, androidIndex(t.rel))
		if !ok {
			return nil, fmt.Errorf("%s: %s: %w", t.label(), why, errNotDue)
		}
		if s.clock().Before(due) {
			return nil, fmt.Errorf("%s: stage %d/%d is due at %s: %w", t.label(), next, len(stages), due.Format(time.RFC3339), errNotDue)
		}
	}
	v, err := s.healthVerdict(ctx, t.app, p, t.rel.Version)
	if err != nil {
		return nil, err
	}
	if !v.ok {
		return nil, refuseHealth(t, fmt.Sprintf("advancing to stage %d/%d (%g %%)", next, len(stages), pct), v)
	}
	if p == ripcord.Android {
		err = s.advanceAndroid(ctx, t, pct)
	} else {
		err = s.advanceIOS(ctx, t, pct)
	}
	if err != nil {
		return nil, err
	}
	after := t.rp
	after.Stage, after.StageStartedAt, after.Plan = next, s.clock(), &plan
	ev := ripcord.EventAdvance
	if next == len(stages) && pct == 100 {
		ev, after.Status = ripcord.EventComplete, ripcord.StatusComplete
	}
	return s.record(ctx, t, step{events: []ripcord.ReleaseEvent{ev}, after: after,
		audit: map[string]any{"decision": v.sentence, "outcome": string(v.outcome), "manual": manual}})
}

func (s *Service) advanceAndroid(ctx context.Context, t *target, percent float64) error {
	code, err := t.versionCode()
	if err != nil {
		return err
	}
	pl, err := s.play(ctx, t.app)
	if err != nil {
		return err
	}
	tr, err := pl.GetTrack(ctx, t.app.AndroidPackage, productionTrack)
	if err != nil {
		return fmt.Errorf("read Google Play's production track for %s: %w", t.label(), err)
	}
	r := tr.Find(code)
	switch {
	case r == nil:
		return ripcord.Errorf(ripcord.ECONFLICT, "versionCode %d of %s is no longer on Google Play's production track; check Play Console", code, t.label())
	case r.Status == play.StatusHalted:
		return ripcord.Errorf(ripcord.ECONFLICT, "versionCode %d of %s is halted on Google Play (halted in Play Console); it does not advance until resumed", code, t.label()).
			WithDetails(map[string]any{"reason": "halted_in_store"})
	case r.Status == play.StatusCompleted || percent < 100 && r.UserFraction >= percent/100:
		return nil // the store is there already: a retry after a crash
	case percent >= 100:
		err = pl.Complete(ctx, t.app.AndroidPackage, productionTrack, code)
	default:
		err = pl.SetRollout(ctx, t.app.AndroidPackage, productionTrack, code, percent/100)
	}
	if err != nil {
		return fmt.Errorf("advance %s on Google Play to %g %% (nothing was recorded; the next attempt reads the track first): %w", t.label(), percent, err)
	}
	return nil
}

// advanceIOS completes the phased release early: Apple runs its 7-day ramp
// itself, so the only step Ripcord takes after the start is to 100 %.
func (s *Service) advanceIOS(ctx context.Context, t *target, percent float64) error {
	if percent < 100 {
		return ripcord.Errorf(ripcord.EINVALID, "iOS stage at %g %% is not possible: Apple's phased release can only be started or completed; fix the plan", percent)
	}
	as, err := s.appStore(ctx, t.app)
	if err != nil {
		return err
	}
	pr, err := as.GetPhasedRelease(ctx, t.rp.StoreRef)
	switch {
	case errors.Is(err, appstore.ErrNotFound):
		return nil // released without phasing: everyone has it
	case err != nil:
		return fmt.Errorf("read the phased release of %s: %w", t.label(), err)
	case pr.State == appstore.PhasedPaused:
		return ripcord.Errorf(ripcord.ECONFLICT, "the phased release of %s is paused in App Store Connect; it does not advance until resumed", t.label()).
			WithDetails(map[string]any{"reason": "paused_in_store"})
	case pr.State == appstore.PhasedComplete:
		return nil
	}
	if _, err := as.CompletePhasedRelease(ctx, t.rp.StoreRef); err != nil {
		return fmt.Errorf("complete the phased release of %s (nothing was recorded; the next attempt reads it first): %w", t.label(), err)
	}
	return nil
}
