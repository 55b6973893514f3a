// Package health decides whether a release is healthy from counts of bad
// and total events (crashed and all sessions, failed and all flow
// attempts), with statistics that hold up on the small samples of a
// rollout's first hours and on being looked at after every ingest. It is
// domain logic with no I/O.
package health

import (
	"math"
)

// Counts are the raw numbers every decision starts from. Rates are never
// stored without them: rates from different windows cannot be added.
type Counts struct {
	Bad   int64 `json:"bad"`
	Total int64 `json:"total"`
}

// Add returns the sum of two counts (counts add across buckets; rates do not).
func (c Counts) Add(o Counts) Counts { return Counts{Bad: c.Bad + o.Bad, Total: c.Total + o.Total} }

// Valid reports whether the counts can describe real events.
func (c Counts) Valid() bool { return c.Bad >= 0 && c.Total >= 0 && c.Bad <= c.Total }

// GoodRate is the share of good events (crash-free rate), or NaN without data.
func (c Counts) GoodRate() float64 {
	if c.Total == 0 {
		return math.NaN()
	}
	return 1 - float64(c.Bad)/float64(c.Total)
}

// Interval is a range of plausible good rates.
type Interval struct {
	Lo, Hi float64
}

// Contains reports whether x lies in the interval.
func (i Interval) Contains(x float64) bool { return i.Lo <= x && x <= i.Hi }

// Wilson returns the Wilson score interval of the good rate at confidence
// level (e.g. 0.95). It is what people are shown: better than the normal
// approximation near 100 % and for small n. It is valid for one look only,
// so decisions use ConfidenceSequence instead.
func Wilson(c Counts, level float64) Interval {
	if c.Total == 0 {
		return Interval{0, 1}
	}
	z := normalQuantile(1 - (1-level)/2)
	n := float64(c.Total)
	p := 1 - float64(c.Bad)/n
	den := 1 + z*z/n
	centre := (p + z*z/(2*n)) / den
	half := z * math.Sqrt(p*(1-p)/n+z*z/(4*n*n)) / den
	return Interval{Lo: math.Max(0, centre-half), Hi: math.Min(1, centre+half)}
}

// ConfidenceSequence returns an anytime-valid confidence set for the good
// rate: with probability at least 1-alpha it contains the true rate at every
// look, however often one looks and stops. It inverts Robbins' beta-binomial
// mixture martingale (a Jeffreys Beta(½,½) mixture over the bad rate): by
// Ville's inequality the martingale for the true rate exceeds 1/alpha with
// probability at most alpha, ever. That is why Ripcord can decide on every
// ingest without the false-alarm inflation of repeated fixed tests.
func ConfidenceSequence(c Counts, alpha float64) Interval {
	if c.Total == 0 {
		return Interval{0, 1}
	}
	k, n := float64(c.Bad), float64(c.Total)
	limit := math.Log(1 / alpha)
	// log M(q) for bad rate q: log B(k+½, n−k+½) − log B(½,½) − k log q − (n−k) log(1−q).
	lb := logBeta(k+0.5, n-k+0.5) - logBeta(0.5, 0.5)
	logM := func(q float64) float64 {
		v := lb
		if k > 0 {
			v -= k * math.Log(q)
		}
		if n-k > 0 {
			v -= (n - k) * math.Log1p(-q)
		}
		return v
	}
	mle := k / n
	// log M is convex in q with its minimum at the MLE, so the set where it
	// stays below the limit is an interval around the MLE: find its ends.
	loQ, hiQ := 0.0, 1.0
	if k > 0 && logM(1e-300) >= limit {
		loQ = bisect(logM, limit, 1e-300, mle)
	}
	if k < n && logM(1-1e-16) >= limit {
		hiQ = bisect(logM, limit, 1-1e-16, mle)
	}
	return Interval{Lo: 1 - hiQ, Hi: 1 - loQ}
}

// bisect finds q between out (where f ≥ limit) and in (where f < limit)
// with f(q) = limit.
func bisect(f func(float64) float64, limit, out, in float64) float64 {
	for i := 0; i < 200; i++ {
		mid := (out + in) / 2
		if f(mid) >= limit {
			out = mid
		} else {
			in = mid
		}
		if math.Abs(out-in) < 1e-12 {
			break
		}
	}
	return (out + in) / 2
}

func logBeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// normalQuantile is the standard normal quantile function (Acklam's rational
// approximation refined by one Halley step; relative error below 1e-15).
func normalQuantile(p float64) float64 {
	a := [...]float64{-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
	b := [...]float64{-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01}
	c := [...]float64{-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
	d := [...]float64{7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00}
	var x float64
	switch {
	case p < 0.02425:
		q := math.Sqrt(-2 * math.Log(p))
		x = (((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	case p > 1-0.02425:
		q := math.Sqrt(-2 * math.Log(1-p))
		x = -(((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	default:
		q := p - 0.5
		r := q * q
		x = (((((a[0]*r+a[1])*r+a[2])*r+a[3])*r+a[4])*r + a[5]) * q / (((((b[0]*r+b[1])*r+b[2])*r+b[3])*r+b[4])*r + 1)
	}
	e := 0.5*math.Erfc(-x/math.Sqrt2) - p
	u := e * math.Sqrt(2*math.Pi) * math.Exp(x*x/2)
	return x - u/(1+x*u/2)
}
