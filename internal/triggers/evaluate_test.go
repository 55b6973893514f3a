package triggers

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/runbook"
)

func windows(counts ...[2]int64) []Window {
	out := make([]Window, len(counts))
	for i, c := range counts {
		out[i] = Window{Start: time.Unix(int64(i)*60, 0), Counts: health.Counts{Bad: c[0], Total: c[1]}}
	}
	return out
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	errRate := runbook.Trigger{ID: "T1", Signal: "flow_error_rate", Flow: "exam-submit", Op: ">", Threshold: runbook.Threshold{Value: 0.05, Percent: true, Set: true},
		Window: time.Minute, Consecutive: 3, MinVolume: 30}
	crashFree := runbook.Trigger{ID: "T2", Signal: "crash_free_sessions", Op: "<", Threshold: runbook.Threshold{Value: 0.995, Percent: true, Set: true},
		Window: time.Minute, Consecutive: 2, MinVolume: 100}
	custom := runbook.Trigger{ID: "T3", Signal: "checkout_latency_p95", Op: ">", Threshold: runbook.Threshold{Value: 2, Set: true}, Window: time.Minute, Consecutive: 1}
	for _, tt := range []struct {
		name    string
		trigger runbook.Trigger
		windows []Window
		fired   bool
		says    string
	}{
		{"every window above", errRate, windows([2]int64{6, 100}, [2]int64{10, 100}, [2]int64{7, 100}), true, "last windows: 6.00%, 10.00%, 7.00%"},
		{"only the last windows count", errRate, windows([2]int64{0, 100}, [2]int64{6, 100}, [2]int64{10, 100}, [2]int64{7, 100}), true, "fired"},
		{"one window at the threshold is not above it", errRate, windows([2]int64{6, 100}, [2]int64{5, 100}, [2]int64{7, 100}), false, "5.00%"},
		{"a quiet window is no data and breaks the run", errRate, windows([2]int64{6, 100}, [2]int64{5, 20}, [2]int64{7, 100}), false, "no data"},
		{"too few windows so far", errRate, windows([2]int64{60, 100}, [2]int64{60, 100}), false, "only 2 of 3 windows"},
		{"crash-free compares the good share", crashFree, windows([2]int64{1, 100}, [2]int64{2, 100}), true, "99.00%, 98.00%"},
		{"crash-free above the floor", crashFree, windows([2]int64{0, 1000}, [2]int64{1, 1000}), false, "did not fire"},
		{"custom signals are not counted", custom, windows([2]int64{1, 1}), false, "not counted by Ripcord"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := Evaluate(tt.trigger, tt.windows)
			require.Equal(t, tt.fired, res.Fired, res.Sentence)
			require.Contains(t, res.Sentence, tt.says)
		})
	}
}

func TestEvaluateNaNForNoData(t *testing.T) {
	t.Parallel()
	tr := runbook.Trigger{ID: "T1", Signal: "anr_rate", Op: ">=", Threshold: runbook.Threshold{Value: 0.01, Percent: true, Set: true}, Window: time.Minute, Consecutive: 1, MinVolume: 0}
	res := Evaluate(tr, windows([2]int64{0, 0}))
	require.False(t, res.Fired, "an empty window never fires, even with min_volume 0")
	require.True(t, math.IsNaN(res.Values[0]))
}
