package health_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/health"
)

// TestWilsonMatchesReference checks the interval against the reference
// table (shared/docs/reference/health-and-flags.md §3.1).
func TestWilsonMatchesReference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n, k   int64
		lo, hi float64
	}{
		{100, 0, 0.9630, 1},
		{500, 1, 0.9888, 0.9997},
		{1000, 2, 0.9927, 0.9995},
		{1000, 5, 0.9884, 0.9979},
		{5000, 10, 0.9963, 0.9989},
		{100000, 200, 0.9977, 0.9983},
	}
	for _, tc := range tests {
		ci := health.Wilson(health.Counts{Bad: tc.k, Total: tc.n}, 0.95)
		require.InDelta(t, tc.lo, ci.Lo, 0.00006, "n=%d k=%d", tc.n, tc.k)
		require.InDelta(t, tc.hi, ci.Hi, 0.00006, "n=%d k=%d", tc.n, tc.k)
	}
}

func TestConfidenceSequenceIsWiderAndNarrows(t *testing.T) {
	t.Parallel()
	prevWidth := 1.0
	for _, n := range []int64{100, 1000, 10000, 100000} {
		c := health.Counts{Bad: n / 500, Total: n}
		cs, ci := health.ConfidenceSequence(c, 0.05), health.Wilson(c, 0.95)
		require.LessOrEqual(t, cs.Lo, ci.Lo, "n=%d: the anytime-valid interval is at least as wide", n)
		require.GreaterOrEqual(t, cs.Hi, ci.Hi, "n=%d", n)
		require.True(t, cs.Contains(c.GoodRate()))
		w := cs.Hi - cs.Lo
		require.Less(t, w, prevWidth, "n=%d: more data, narrower interval", n)
		prevWidth = w
	}
	require.Equal(t, health.Interval{Lo: 0, Hi: 1}, health.ConfidenceSequence(health.Counts{}, 0.05))
}

func TestDecide(t *testing.T) {
	t.Parallel()
	tiers := health.DefaultTiers()
	tests := []struct {
		name     string
		c        health.Counts
		baseline *health.Counts
		age      time.Duration
		stale    time.Duration
		want     health.Outcome
		reason   string
	}{
		{"RollbackEarlyNeedsNoAge", health.Counts{Bad: 10, Total: 200}, nil, 5 * time.Minute, 0, health.Rollback, ""},
		{"PauseTier", health.Counts{Bad: 300, Total: 60000}, nil, 3 * time.Hour, 0, health.Pause, ""},
		{"Healthy", health.Counts{Bad: 5, Total: 200000}, nil, 3 * time.Hour, 0, health.Healthy, ""},
		{"HealthyNeedsAge", health.Counts{Bad: 5, Total: 200000}, nil, 30 * time.Minute, 0, health.Inconclusive, "needs 2h0m0s"},
		{"HealthyNeedsVolume", health.Counts{Bad: 0, Total: 1000}, nil, 3 * time.Hour, 0, health.Inconclusive, "more sessions are needed"},
		{"FixForward", health.Counts{Bad: 130, Total: 100000}, nil, 3 * time.Hour, 0, health.FixForward, ""},
		{"PointEstimateIsNotEnough", health.Counts{Bad: 2, Total: 1000}, nil, 3 * time.Hour, 0, health.Inconclusive, "spans"},
		{"NoData", health.Counts{}, nil, time.Hour, 0, health.NoData, "no sessions reported yet"},
		{"Stale", health.Counts{Bad: 1, Total: 100000}, nil, 3 * time.Hour, 2 * time.Hour, health.NoData, "the source may be down"},
		{"Impossible", health.Counts{Bad: 5, Total: 2}, nil, time.Hour, 0, health.NoData, "impossible"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := health.Decide(health.Input{Counts: tc.c, Baseline: tc.baseline, Age: tc.age, Staleness: tc.stale, Tiers: tiers})
			require.Equal(t, tc.want, d.Outcome, d.Sentence)
			require.Contains(t, d.Reason, tc.reason)
		})
	}
}

func TestDecideFlagsRegressionWithinATier(t *testing.T) {
	t.Parallel()
	base := health.Counts{Bad: 5, Total: 50000} // 99.99 %
	d := health.Decide(health.Input{Counts: health.Counts{Bad: 50, Total: 50000}, Baseline: &base, Age: 3 * time.Hour, Tiers: health.DefaultTiers()})
	require.Equal(t, health.FixForward, d.Outcome)
	require.True(t, d.Regression)
	require.Equal(t, "99.90 % (95 % CI 99.87–99.92 %), 50,000 sessions; baseline 99.99 %, a significant regression: fix-forward tier", d.Sentence)

	same := health.Decide(health.Input{Counts: health.Counts{Bad: 6, Total: 50000}, Baseline: &base, Age: 3 * time.Hour, Tiers: health.DefaultTiers()})
	require.False(t, same.Regression)
}

func TestDecideSentence(t *testing.T) {
	t.Parallel()
	base := health.Counts{Bad: 7, Total: 10000}
	d := health.Decide(health.Input{Counts: health.Counts{Bad: 28, Total: 4812}, Baseline: &base, Age: time.Hour, Tiers: health.DefaultTiers()})
	require.Equal(t, health.Pause, d.Outcome)
	require.Equal(t, "99.42 % (95 % CI 99.16–99.60 %), 4,812 sessions; baseline 99.93 %, a significant regression: pause tier", d.Sentence)
}

// TestRepeatedLooksKeepFalseAlarmsBounded simulates releases whose true
// crash-free rate sits exactly on the fix-forward line, looked at after
// every batch of 100 sessions. A verdict of pause would be a false alarm.
// Deciding on the anytime-valid interval keeps false alarms under alpha
// across all looks; the naive repeated Wilson test does not, which is why
// Ripcord does not use it.
func TestRepeatedLooksKeepFalseAlarmsBounded(t *testing.T) {
	t.Parallel()
	const (
		runs, looks, batch = 400, 100, 100
		trueBad            = 0.002 // crash-free exactly 99.80 %
	)
	tiers := health.DefaultTiers()
	rng := rand.New(rand.NewPCG(1, 2))
	var sequentialAlarms, naiveAlarms int
	for r := 0; r < runs; r++ {
		var c health.Counts
		seqHit, naiveHit := false, false
		for l := 0; l < looks; l++ {
			for i := 0; i < batch; i++ {
				if rng.Float64() < trueBad {
					c.Bad++
				}
			}
			c.Total += batch
			if !seqHit {
				o := health.Decide(health.Input{Counts: c, Age: 24 * time.Hour, Tiers: tiers}).Outcome
				seqHit = o == health.Pause || o == health.Rollback
			}
			if !naiveHit && health.Wilson(c, 0.90).Hi < tiers.FixForward { // a one-sided 5 % test at each look
				naiveHit = true
			}
		}
		if seqHit {
			sequentialAlarms++
		}
		if naiveHit {
			naiveAlarms++
		}
	}
	seqRate, naiveRate := float64(sequentialAlarms)/runs, float64(naiveAlarms)/runs
	t.Logf("false alarms over %d looks: anytime-valid %.3f, naive repeated test %.3f", looks, seqRate, naiveRate)
	require.LessOrEqual(t, seqRate, 0.05)
	require.Greater(t, naiveRate, 0.10, "the naive test should show the peeking problem the sequence avoids")
}

func TestTiers(t *testing.T) {
	t.Parallel()
	tiers := health.DefaultTiers()
	require.NoError(t, tiers.Validate())
	require.Equal(t, health.Healthy, tiers.TierOf(0.9995))
	require.Equal(t, health.FixForward, tiers.TierOf(0.9980))
	require.Equal(t, health.Pause, tiers.TierOf(0.9900))
	require.Equal(t, health.Rollback, tiers.TierOf(0.98999))
	require.Error(t, health.Tiers{Target: 0.99, FixForward: 0.995, Pause: 0.98}.Validate())
	require.True(t, math.IsNaN(health.Counts{}.GoodRate()))
}

func TestDecisionJSONWritesMissingRatesAsNull(t *testing.T) {
	t.Parallel()
	d := health.Decide(health.Input{Tiers: health.DefaultTiers()})
	b, err := json.Marshal(d)
	require.NoError(t, err)
	require.Contains(t, string(b), `"rate":null`)
	require.Contains(t, string(b), `"baseline":null`)
	require.Contains(t, string(b), `"outcome":"no_data"`)
}
