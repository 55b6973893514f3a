package healthwatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
)

// TestBreachHoldsUntilFreshConclusiveEvidence: after a rollback-tier
// breach, healthy data that still includes the bad sessions, and too few
// sessions since the breach, leave the verdict (stored and reported) at
// the breach; only a conclusive healthy decision on data after the breach
// clears it.
func TestBreachHoldsUntilFreshConclusiveEvidence(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	latest := func() health.Outcome {
		t.Helper()
		app, err := tb.store.AppGetByName(context.Background(), "shop")
		require.NoError(t, err)
		d, err := tb.store.HealthDecisionLatest(context.Background(), app.ID, ripcord.Android, "1.2.0", healthwatch.CrashFreeSessions)
		require.NoError(t, err)
		return d.Outcome
	}
	reported := func() health.Decision {
		t.Helper()
		rep, err := tb.svc.Report(tb.ctx, "shop", "1.2.0", ripcord.Android)
		require.NoError(t, err)
		for _, m := range rep.Platforms[0].Metrics {
			if m.Metric == healthwatch.CrashFreeSessions {
				return m.Decision
			}
		}
		t.Fatal("no crash_free_sessions in the report")
		return health.Decision{}
	}
	ingest := func(bad, total int64) healthwatch.Verdict {
		t.Helper()
		res, err := tb.svc.Ingest(tb.ctx, []healthwatch.Sample{sample("1.2.0", tb.now.Truncate(time.Minute), bad, total)})
		require.NoError(t, err)
		return res.Verdicts[0]
	}

	// Three hours of data, 2 % crashing: rollback tier.
	_, err := tb.svc.Ingest(tb.ctx, []healthwatch.Sample{sample("1.2.0", tb.now.Add(-3*time.Hour), 150, 5_000), sample("1.2.0", tb.now, 50, 5_000)})
	require.NoError(t, err)
	require.Equal(t, health.Rollback, latest())

	// Two million clean sessions in the breach's own minute: the whole
	// data says healthy, but none of it is after the breach.
	v := ingest(0, 2_000_000)
	require.False(t, v.Changed)
	require.Equal(t, health.Rollback, v.Decision.Outcome)
	require.Equal(t, health.Rollback, latest(), "the stored verdict the rollout reads stays at the breach")
	d := reported()
	require.Equal(t, health.Rollback, d.Outcome)
	require.Contains(t, d.Sentence, "held at rollback tier")
	require.Contains(t, d.Reason, "does not resume on its own")

	// A few sessions after the breach: inconclusive, still held.
	tb.now = tb.now.Add(2 * time.Minute)
	v = ingest(0, 50)
	require.False(t, v.Changed)
	require.Equal(t, health.Rollback, latest())
	require.Contains(t, reported().Reason, "inconclusive")

	// Enough clean sessions after the breach: conclusive, the hold ends.
	v = ingest(0, 200_000)
	require.True(t, v.Changed)
	require.Equal(t, health.Healthy, v.Decision.Outcome, v.Decision.Sentence)
	require.Contains(t, v.Decision.Sentence, "after the rollback-tier breach")
	require.Equal(t, health.Healthy, latest())
	require.Equal(t, health.Healthy, reported().Outcome)
}

// TestBreachTiersFollowTheData: while held, the verdict still moves
// between the breach tiers with the whole data (late crash reports can
// make a pause a rollback), and a bad verdict after the breach is
// recorded as such.
func TestBreachTiersFollowTheData(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	start := tb.now.Add(-3 * time.Hour)
	res, err := tb.svc.Ingest(tb.ctx, []healthwatch.Sample{sample("1.2.0", start, 50, 10_000), sample("1.2.0", tb.now, 0, 0)}) // 99.5 %
	require.NoError(t, err)
	require.Equal(t, health.Pause, res.Verdicts[0].Decision.Outcome, res.Verdicts[0].Decision.Sentence)
	res, err = tb.svc.Ingest(tb.ctx, []healthwatch.Sample{sample("1.2.0", start, 250, 250)}) // late crashes: 97 %
	require.NoError(t, err)
	require.True(t, res.Verdicts[0].Changed)
	require.Equal(t, health.Rollback, res.Verdicts[0].Decision.Outcome)
}
