// Package triggers evaluates runbook triggers against release health and
// opens an incident, with the runbook attached, when one fires. Evaluate is
// a pure function of a trigger and its windows' counts; Watcher is the thin
// hook the daemon calls after health counts are ingested.
package triggers

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/runbook"
)

// Metric returns the health metric a trigger's signal reads and whether the
// value compared is the good share (crash-free rates) rather than the bad
// one. ok is false for signals Ripcord does not count (named custom
// signals): those triggers are documented in the runbook but not watched.
func Metric(t runbook.Trigger) (metric string, good bool, ok bool) {
	switch t.Signal {
	case "flow_error_rate":
		return "flow:" + t.Flow, false, t.Flow != ""
	case "crash_free_sessions", "crash_free_users":
		return t.Signal, true, true
	case "anr_rate":
		return "anr_rate", false, true
	}
	return "", false, false
}

// Window is one window's counts, oldest first in a slice.
type Window struct {
	Start  time.Time
	Counts health.Counts
}

// Result is a trigger's evaluation over its last windows.
type Result struct {
	Fired bool
	// Values are the windows' values (rates as fractions; NaN for a window
	// under the minimum volume, which counts as "no data").
	Values []float64
	// Sentence says why it fired or did not, for the incident and logs.
	Sentence string
}

// Evaluate decides whether t fires given its last windows, oldest first.
// It fires when each of the last t.Consecutive windows has at least
// t.MinVolume events and its value satisfies the operator against the
// threshold. A window with fewer events is "no data" and breaks the run:
// a quiet minute is not evidence of a breach.
func Evaluate(t runbook.Trigger, windows []Window) Result {
	_, good, ok := Metric(t)
	if !ok {
		return Result{Sentence: fmt.Sprintf("signal %s is not counted by Ripcord", t.Signal)}
	}
	need := max(t.Consecutive, 1)
	if len(windows) < need {
		return Result{Sentence: fmt.Sprintf("only %d of %d windows have elapsed", len(windows), need)}
	}
	last := windows[len(windows)-need:]
	res := Result{Fired: true, Values: make([]float64, len(last))}
	for i, w := range last {
		if w.Counts.Total < int64(t.MinVolume) || w.Counts.Total == 0 {
			res.Values[i] = math.NaN()
			res.Fired = false
			continue
		}
		v := float64(w.Counts.Bad) / float64(w.Counts.Total)
		if good {
			v = 1 - v
		}
		res.Values[i] = v
		if !compare(v, t.Op, t.Threshold.Value) {
			res.Fired = false
		}
	}
	vals := make([]string, len(res.Values))
	for i, v := range res.Values {
		vals[i] = formatValue(v, t.Threshold.Percent)
	}
	verb := "fired"
	if !res.Fired {
		verb = "did not fire"
	}
	res.Sentence = fmt.Sprintf("trigger %s %s: %s %s %s over %s for %d consecutive window(s) (min volume %d); last windows: %s",
		t.ID, verb, signalName(t), t.Op, t.Threshold, shortDur(t.Window), need, t.MinVolume, strings.Join(vals, ", "))
	return res
}

func signalName(t runbook.Trigger) string {
	if t.Flow != "" {
		return t.Signal + " of " + t.Flow
	}
	return t.Signal
}

func formatValue(v float64, percent bool) string {
	switch {
	case math.IsNaN(v):
		return "no data"
	case percent:
		return strconv.FormatFloat(v*100, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// compare applies a trigger operator. Rates are compared after rounding
// to 1e-9, so 5% of 100 events is exactly 5% and not 5.000000001%.
func compare(v float64, op string, threshold float64) bool {
	v, threshold = math.Round(v*1e9)/1e9, math.Round(threshold*1e9)/1e9
	switch op {
	case ">":
		return v > threshold
	case ">=":
		return v >= threshold
	case "<":
		return v < threshold
	case "<=":
		return v <= threshold
	}
	return false
}

// shortDur writes 1m rather than 1m0s.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
