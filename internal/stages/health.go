package stages

import (
	"context"
	"errors"
	"fmt"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// verdict is the health evidence a stage change rests on.
type verdict struct {
	ok       bool
	outcome  health.Outcome
	sentence string
}

// healthVerdict reads the latest crash-free decisions of a release on a
// platform. A stage may move only on a healthy or fix-forward crash-free
// sessions verdict; a pause or rollback verdict on crash-free users blocks
// too, while an inconclusive one on users (they accrue more slowly) does
// not. No decision at all is no data: hold.
func (s *Service) healthVerdict(ctx context.Context, app *ripcord.App, platform ripcord.Platform, version string) (verdict, error) {
	d, err := s.store.HealthDecisionLatest(ctx, app.ID, platform, version, healthwatch.CrashFreeSessions)
	if errors.Is(err, storage.ErrNotFound) {
		return verdict{outcome: health.NoData, sentence: fmt.Sprintf("no crash-free verdict yet for %s %s on %s: no data has been decided on", app.Name, version, platform)}, nil
	} else if err != nil {
		return verdict{}, fmt.Errorf("read the crash-free verdict of %s %s on %s: %w", app.Name, version, platform, err)
	}
	v := verdict{outcome: d.Outcome, sentence: d.Sentence, ok: d.Outcome == health.Healthy || d.Outcome == health.FixForward}
	if !v.ok {
		return v, nil
	}
	u, err := s.store.HealthDecisionLatest(ctx, app.ID, platform, version, healthwatch.CrashFreeUsers)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return verdict{}, fmt.Errorf("read the crash-free users verdict of %s %s on %s: %w", app.Name, version, platform, err)
	case u.Outcome == health.Pause || u.Outcome == health.Rollback:
		return verdict{outcome: u.Outcome, sentence: u.Sentence}, nil
	}
	return v, nil
}

// refuseHealth is the error for a stage change health does not allow.
func refuseHealth(t *target, what string, v verdict) error {
	return ripcord.Errorf(ripcord.ECONFLICT, "not %s %s: the crash-free verdict is %s (%s); stages move only on a healthy or fix-forward verdict",
		what, t.label(), v.outcome, v.sentence).
		WithDetails(map[string]any{"status": string(t.rp.Status), "outcome": string(v.outcome), "reason": "health"})
}
