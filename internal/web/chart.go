package web

import (
	"cmp"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"
)

// Chart geometry, in SVG user units; the CSS scales it to the page width.
const (
	chartW, chartH               = 720.0, 260.0
	padLeft, padRight            = 64.0, 150.0
	padTop, padBottom            = 14.0, 34.0
	plotW, plotH                 = chartW - padLeft - padRight, chartH - padTop - padBottom
	chartRateDecimals            = 2
	chartMinSpan                 = time.Minute
	chartMaxLabel, chartMinLabel = 1.0, 0.0
)

// healthChart draws a release's cumulative crash-free rate over time as
// SVG, on the server: the 95 % interval as a band, the rate as a line, the
// tier lines (target, pause, roll back) and the baseline, each labelled in
// words so the chart reads without colour. Everything in it is numbers and
// fixed words, so nothing from outside reaches the markup unescaped.
func healthChart(hv *HealthView) template.HTML {
	if hv == nil || len(hv.Points) == 0 {
		return ""
	}
	pts := hv.Points
	lo := 1.0
	for _, p := range pts {
		lo = min(lo, p.Lo)
	}
	lo = min(lo, hv.Tiers.Pause)
	if hv.Baseline != nil {
		lo = min(lo, *hv.Baseline)
	}
	lo = max(chartMinLabel, lo-(1-lo)*0.15)
	hi := chartMaxLabel
	t0, t1 := pts[0].At, pts[len(pts)-1].At
	if t1.Sub(t0) < chartMinSpan {
		t0 = t1.Add(-chartMinSpan)
	}
	x := func(t time.Time) float64 { return padLeft + plotW*float64(t.Sub(t0))/float64(t1.Sub(t0)) }
	y := func(r float64) float64 {
		r = math.Min(hi, math.Max(lo, r))
		return padTop + plotH*(hi-r)/(hi-lo)
	}
	var b strings.Builder
	last := pts[len(pts)-1]
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-labelledby="chart-%s-title chart-%s-desc" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, hv.Metric, hv.Metric)
	fmt.Fprintf(&b, `<title id="chart-%s-title">Crash-free sessions over time</title>`, hv.Metric)
	fmt.Fprintf(&b, `<desc id="chart-%s-desc">Cumulative crash-free sessions from %s to %s: now %s (95 %% interval %s to %s) over %d sessions.</desc>`,
		hv.Metric, formatTime(t0), formatTime(t1), pct(last.Rate), pct(last.Lo), pct(last.Hi), last.Total)
	// Grid and y labels.
	for i := 0; i <= 4; i++ {
		r := lo + (hi-lo)*float64(i)/4
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, padLeft, padLeft+plotW, y(r), y(r))
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, padLeft-6, y(r)+4, pct(r))
	}
	// x labels: start, middle, end.
	for _, t := range []time.Time{t0, t0.Add(t1.Sub(t0) / 2), t1} {
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x(t), chartH-10, t.UTC().Format("Jan 2 15:04"))
	}
	// Interval band: upper bounds forward, lower bounds back.
	var band []string
	for _, p := range pts {
		band = append(band, fmt.Sprintf("%.1f,%.1f", x(p.At), y(p.Hi)))
	}
	for i := len(pts) - 1; i >= 0; i-- {
		band = append(band, fmt.Sprintf("%.1f,%.1f", x(pts[i].At), y(pts[i].Lo)))
	}
	fmt.Fprintf(&b, `<polygon class="band" points="%s"><title>95 %% confidence interval</title></polygon>`, strings.Join(band, " "))
	// Tier lines and the baseline, labelled on the right; labels of lines
	// close together are pushed apart so each stays readable.
	type mark struct {
		class, label string
		rate, labelY float64
	}
	marks := []mark{{"tier tier-target", "target", hv.Tiers.Target, 0}, {"tier tier-pause", "pause below", hv.Tiers.FixForward, 0},
		{"tier tier-rollback", "roll back below", hv.Tiers.Pause, 0}}
	if hv.Baseline != nil {
		marks = append(marks, mark{"baseline", "baseline", *hv.Baseline, 0})
	}
	slices.SortFunc(marks, func(a, b mark) int { return cmp.Compare(b.rate, a.rate) })
	next := 0.0
	for i := range marks {
		marks[i].labelY = max(y(marks[i].rate)+4, next)
		next = marks[i].labelY + 13
	}
	for _, m := range marks {
		fmt.Fprintf(&b, `<line class="%s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, m.class, padLeft, padLeft+plotW, y(m.rate), y(m.rate))
		fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%.1f">%s %s</text>`, padLeft+plotW+6, m.labelY, m.label, pct(m.rate))
	}
	// The rate itself, with a dot where it stands now.
	var rate []string
	for _, p := range pts {
		rate = append(rate, fmt.Sprintf("%.1f,%.1f", x(p.At), y(p.Rate)))
	}
	fmt.Fprintf(&b, `<polyline class="rate" points="%s"/>`, strings.Join(rate, " "))
	fmt.Fprintf(&b, `<circle class="rate-now" cx="%.1f" cy="%.1f" r="4"><title>now %s</title></circle>`, x(last.At), y(last.Rate), pct(last.Rate))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and fixed words only, built above
}
