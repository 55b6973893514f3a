package web

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// TestCumulativePoints checks the chart's data: each point is the rate of
// everything up to its window's end (what the verdict sees), and empty
// leading windows draw nothing.
func TestCumulativePoints(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	windows := []storage.HealthBucket{{Bucket: start, Counts: health.Counts{}}}
	var total health.Counts
	for i := range 96 {
		c := health.Counts{Bad: int64(i % 3), Total: 1000}
		total = total.Add(c)
		windows = append(windows, storage.HealthBucket{Bucket: start.Add(time.Duration(i+1) * time.Hour), Counts: c})
	}
	pts := cumulativePoints(windows)
	require.Len(t, pts, 96, "the empty first window draws no point")
	last := pts[len(pts)-1]
	require.Equal(t, total.Total, last.Total)
	require.InDelta(t, 1-float64(total.Bad)/float64(total.Total), last.Rate, 1e-12)
	require.Equal(t, start.Add(96*time.Hour), last.At)
	require.InDelta(t, 1.0, pts[0].Rate, 1e-12, "the first hour had no crash")
	for i, p := range pts {
		require.True(t, p.Lo <= p.Rate && p.Rate <= p.Hi, "point %d: %v outside [%v, %v]", i, p.Rate, p.Lo, p.Hi)
		if i > 0 {
			require.Greater(t, p.Total, pts[i-1].Total)
		}
	}
	require.Nil(t, cumulativePoints(nil))
}

// TestHealthChart checks the SVG: band, line, tier lines and baseline are
// drawn and labelled in words, labels of close lines do not overlap, and
// the description gives the numbers for screen readers.
func TestHealthChart(t *testing.T) {
	t.Parallel()
	require.Empty(t, healthChart(nil))
	require.Empty(t, healthChart(&HealthView{Metric: "crash_free_sessions"}))
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	base := 0.9996
	hv := &HealthView{Metric: "crash_free_sessions", Tiers: health.DefaultTiers(), Baseline: &base, Points: []HealthPoint{
		{At: at, Rate: 0.999, Lo: 0.995, Hi: 0.9998, Total: 1000},
		{At: at.Add(time.Hour), Rate: 0.9912, Lo: 0.989, Hi: 0.993, Total: 20000},
	}}
	svg := string(healthChart(hv))
	for _, want := range []string{`<polygon class="band"`, `<polyline class="rate"`, ">target 99.95 %<", ">pause below 99.80 %<", ">roll back below 99.00 %<",
		">baseline 99.96 %<", "now 99.12 % (95 % interval 98.90 % to 99.30 %) over 20000 sessions", `role="img"`} {
		require.Contains(t, svg, want)
	}
	var ys []float64
	for _, m := range regexp.MustCompile(`<text class="label" x="[0-9.]+" y="([0-9.]+)"`).FindAllStringSubmatch(svg, -1) {
		y, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		ys = append(ys, y)
	}
	require.Len(t, ys, 4)
	for i := 1; i < len(ys); i++ {
		require.GreaterOrEqual(t, ys[i]-ys[i-1], 12.9, "labels %v overlap", ys)
	}
	require.False(t, strings.Contains(svg, "NaN"))
}

// FuzzSafeNext checks that whatever a link carries, the page after sign-in
// is on the dashboard of this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/ui/", "/ui/apps/shop/releases/1.2.0", "//evil.example", "https://evil.example/", "/ui/\\evil", "/ui/\r\nSet-Cookie: x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/ui/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q leaves the dashboard", next, got)
		}
	})
}
