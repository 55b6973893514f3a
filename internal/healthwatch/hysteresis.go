package healthwatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Hysteresis. Once a release's metric was recorded at a breach tier (pause
// or rollback), its verdict stays a breach — in the stored decision that
// the rollout reads to advance, and in the health report — until a
// decision on data received after the breach alone is conclusive at
// healthy or fix-forward. Only the data since the breach counts because
// the release was halted for what it did before: a healthy verdict that
// still rests on those sessions, or an inconclusive one on the few
// sessions since, is no reason to let it reach more users. Between the two
// breach tiers the verdict follows the whole data (a pause may become a
// rollback as late crash reports arrive, and back). Nothing in Ripcord
// resumes a halted release on its own; a person may resume it, and the
// verdict then still shows the breach until the fresh evidence is in.

// holdSinceKey is where a breach decision's inputs keep when the breach
// began, so a run of breach decisions measures "after" from the first.
const holdSinceKey = "hold_since"

func isBreach(o health.Outcome) bool { return o == health.Pause || o == health.Rollback }

// decideWithHold decides one release's metric with hysteresis. last is the
// latest recorded decision (nil when none). It returns the decision and,
// while the breach holds, when it began (zero otherwise).
func (s *Service) decideWithHold(ctx context.Context, app *ripcord.App, k releaseKey, now time.Time, in *health.Input, last *storage.HealthDecision) (health.Decision, time.Time, error) {
	full := health.Decide(*in)
	if last == nil || !isBreach(last.Outcome) {
		if isBreach(full.Outcome) {
			return full, now, nil
		}
		return full, time.Time{}, nil
	}
	since := holdSince(last)
	from := since.Truncate(time.Minute).Add(time.Minute) // whole minutes after the breach only
	post, err := s.healthSum(ctx, storage.HealthSumParams{AppID: app.ID, Platform: k.platform, Version: k.version, Metric: k.metric, From: from})
	if err != nil {
		return health.Decision{}, time.Time{}, err
	}
	postIn := *in
	postIn.Counts = post
	fresh := health.Decide(postIn)
	stamp := from.UTC().Format("15:04 UTC Jan 2")
	switch {
	case fresh.Outcome == health.Healthy || fresh.Outcome == health.FixForward:
		fresh.Sentence += fmt.Sprintf(" (on data since %s, after the %s-tier breach)", stamp, last.Outcome)
		return fresh, time.Time{}, nil
	case isBreach(full.Outcome):
		return full, since, nil
	}
	held := full
	held.Outcome = last.Outcome
	held.Reason = fmt.Sprintf("held at the %s tier since %s: the data since then is %s (%s), not conclusive healthy or fix-forward; Ripcord does not resume on its own",
		last.Outcome, since.UTC().Format(time.RFC3339), fresh.Outcome, fresh.Sentence)
	held.Sentence = fmt.Sprintf("%s; held at %s tier until the data since %s is conclusive (now %s on %d %s)",
		full.Sentence, last.Outcome, stamp, fresh.Outcome, post.Total, in.Unit)
	return held, since, nil
}

// holdSince reads when a recorded breach began: the first breach of a run
// of breach decisions. Decisions recorded before hysteresis existed have no
// mark; their own time is the best answer.
func holdSince(d *storage.HealthDecision) time.Time {
	var in map[string]any
	if json.Unmarshal([]byte(d.Inputs), &in) == nil {
		if s, ok := in[holdSinceKey].(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t
			}
		}
	}
	return d.DecidedAt
}
