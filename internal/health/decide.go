package health

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Outcome is a health verdict. Each maps to a pre-committed action; the two
// last ones never advance a rollout.
type Outcome string

// Verdicts, from best to worst, then the holds.
const (
	Healthy      Outcome = "healthy"      // at or above the target: proceed
	FixForward   Outcome = "fix_forward"  // between the fix-forward line and the target: may continue, the fix rides the next release
	Pause        Outcome = "pause"        // pause and hotfix: halt (Play) or pause (App Store)
	Rollback     Outcome = "rollback"     // release the prepared rollback build
	Inconclusive Outcome = "inconclusive" // not enough evidence either way: hold
	NoData       Outcome = "no_data"      // nothing fresh to decide on: hold and alert
)

// Tiers are an app's pre-committed stability bands on the good rate
// (crash-free sessions by default), shown before a rollout starts.
type Tiers struct {
	Target     float64 `json:"target"`      // at or above: healthy (default 0.9995)
	FixForward float64 `json:"fix_forward"` // at or above (below Target): fix forward (default 0.998)
	Pause      float64 `json:"pause"`       // at or above (below FixForward): pause + hotfix; below: roll back (default 0.99)
}

// DefaultTiers are design §4's: 99.95 % target, 99.80 % fix-forward line,
// 99.00 % rollback line.
func DefaultTiers() Tiers { return Tiers{Target: 0.9995, FixForward: 0.998, Pause: 0.99} }

// Validate checks that the bands are ordered rates.
func (t Tiers) Validate() error {
	if !(0 < t.Pause && t.Pause < t.FixForward && t.FixForward < t.Target && t.Target <= 1) {
		return fmt.Errorf("tiers must satisfy 0 < pause (%s) < fix forward (%s) < target (%s) ≤ 100 %%", pct(t.Pause), pct(t.FixForward), pct(t.Target))
	}
	return nil
}

// TierOf names the band a good rate falls in.
func (t Tiers) TierOf(rate float64) Outcome {
	switch {
	case rate >= t.Target:
		return Healthy
	case rate >= t.FixForward:
		return FixForward
	case rate >= t.Pause:
		return Pause
	}
	return Rollback
}

// Guards say how much evidence a good verdict needs. Bad verdicts need none:
// crashes are reported late, so waiting only makes a bad release look worse.
type Guards struct {
	MinAge      time.Duration // release age before healthy or fix-forward (default 2h: crashes upload at next launch)
	MinTotal    int64         // events before healthy or fix-forward (default 1500: the rule of three for < 0.2 %)
	MaxStale    time.Duration // data older than this is no data (default 30m)
	Alpha       float64       // error rate of the anytime-valid decisions (default 0.05)
	BaselineMin int64         // baseline events needed to compare (default 500)
}

// DefaultGuards are Ripcord's defaults for crash-free sessions.
func DefaultGuards() Guards {
	return Guards{MinAge: 2 * time.Hour, MinTotal: 1500, MaxStale: 30 * time.Minute, Alpha: 0.05, BaselineMin: 500}
}

// Input is everything a decision looks at.
type Input struct {
	Counts    Counts        // this release, since it started (or since a pause, for resuming: hysteresis)
	Baseline  *Counts       // the previous release at the same age, if known
	Age       time.Duration // how long this release has been out
	Staleness time.Duration // how old the newest data is
	Tiers     Tiers
	Guards    Guards
	Unit      string // what is counted, for the sentence: "sessions"
}

// Decision is a verdict with everything needed to explain and audit it.
type Decision struct {
	Outcome    Outcome  `json:"outcome"`
	Rate       float64  `json:"rate"`     // observed good rate (NaN without data)
	CI         Interval `json:"ci"`       // 95 % Wilson interval, for people
	Sequence   Interval `json:"sequence"` // anytime-valid interval the verdict rests on
	Total      int64    `json:"total"`
	Baseline   float64  `json:"baseline"`   // baseline good rate (NaN when unknown)
	Regression bool     `json:"regression"` // significantly worse than the baseline, even within one tier
	Reason     string   `json:"reason"`     // why the outcome, when it is a hold
	Sentence   string   `json:"sentence"`   // "99.41 % (95 % CI 99.12–99.63 %), 4,812 sessions; baseline 99.93 %: pause tier"
}

// Decide turns counts into a verdict. The verdict is the tier that the whole
// anytime-valid interval lies in, so it holds at the chosen error rate
// however many times Decide is called as data arrives; where the interval
// straddles a tier line the answer is inconclusive, never a guess from the
// point estimate.
func Decide(in Input) Decision {
	g := in.Guards.withDefaults()
	unit := in.Unit
	if unit == "" {
		unit = "sessions"
	}
	d := Decision{Rate: in.Counts.GoodRate(), Total: in.Counts.Total, Baseline: math.NaN(),
		CI: Wilson(in.Counts, 0.95), Sequence: ConfidenceSequence(in.Counts, g.Alpha)}
	if in.Baseline != nil && in.Baseline.Total >= g.BaselineMin {
		d.Baseline = in.Baseline.GoodRate()
		// Worse than the baseline beyond doubt: the release's whole
		// anytime-valid interval lies below the baseline's 95 % interval.
		d.Regression = d.Sequence.Hi < Wilson(*in.Baseline, 0.95).Lo
	}
	switch {
	case !in.Counts.Valid():
		d.Outcome, d.Reason = NoData, "the counts are impossible (more bad than total); check the source"
	case in.Counts.Total == 0:
		d.Outcome, d.Reason = NoData, "no "+unit+" reported yet"
	case in.Staleness > g.MaxStale:
		d.Outcome, d.Reason = NoData, fmt.Sprintf("the newest data is %s old (limit %s); the source may be down", in.Staleness.Round(time.Minute), g.MaxStale)
	default:
		lo, hi := in.Tiers.TierOf(d.Sequence.Lo), in.Tiers.TierOf(d.Sequence.Hi)
		switch {
		case lo == hi && (lo == Pause || lo == Rollback):
			d.Outcome = lo
		case hi == Pause || hi == Rollback:
			// Even the best plausible rate is below the fix-forward line.
			d.Outcome = Pause
			if hi == Rollback {
				d.Outcome = Rollback
			}
		case lo != hi:
			d.Outcome, d.Reason = Inconclusive, fmt.Sprintf("the evidence spans %s to %s; more %s are needed", lo, hi, unit)
		case in.Age < g.MinAge:
			d.Outcome, d.Reason = Inconclusive, fmt.Sprintf("the release is %s old; a good verdict needs %s (crashes are reported at next launch)", in.Age.Round(time.Minute), g.MinAge)
		case in.Counts.Total < g.MinTotal:
			d.Outcome, d.Reason = Inconclusive, fmt.Sprintf("%d %s; a good verdict needs %d", in.Counts.Total, unit, g.MinTotal)
		default:
			d.Outcome = lo
		}
	}
	d.Sentence = sentence(d, unit)
	return d
}

func (g Guards) withDefaults() Guards {
	def := DefaultGuards()
	if g.MinAge == 0 {
		g.MinAge = def.MinAge
	}
	if g.MinTotal == 0 {
		g.MinTotal = def.MinTotal
	}
	if g.MaxStale == 0 {
		g.MaxStale = def.MaxStale
	}
	if g.Alpha == 0 {
		g.Alpha = def.Alpha
	}
	if g.BaselineMin == 0 {
		g.BaselineMin = def.BaselineMin
	}
	return g
}

func sentence(d Decision, unit string) string {
	if d.Total == 0 {
		return "no " + unit + " yet: " + string(d.Outcome)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (95 %% CI %s–%s), %s %s", pct(d.Rate), pctNum(d.CI.Lo), pct(d.CI.Hi), thousands(d.Total), unit)
	if !math.IsNaN(d.Baseline) {
		fmt.Fprintf(&b, "; baseline %s", pct(d.Baseline))
		if d.Regression {
			b.WriteString(", a significant regression")
		}
	}
	switch d.Outcome {
	case Healthy, FixForward, Pause, Rollback:
		fmt.Fprintf(&b, ": %s tier", strings.ReplaceAll(string(d.Outcome), "_", "-"))
	default:
		fmt.Fprintf(&b, ": %s (%s)", d.Outcome, d.Reason)
	}
	return b.String()
}

func pct(x float64) string    { return pctNum(x) + " %" }
func pctNum(x float64) string { return fmt.Sprintf("%.2f", math.Floor(x*1e4+0.5)/100) }

func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MarshalJSON writes rates that do not exist (no data, no baseline) as
// null: JSON has no NaN.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	out := struct {
		plain
		Rate     *float64 `json:"rate"`
		Baseline *float64 `json:"baseline"`
	}{plain: plain(d)}
	if !math.IsNaN(d.Rate) {
		out.Rate = &d.Rate
	}
	if !math.IsNaN(d.Baseline) {
		out.Baseline = &d.Baseline
	}
	return json.Marshal(out)
}
