package play

import (
	"context"
	"fmt"
	"strconv"
	"time"

	reporting "google.golang.org/api/playdeveloperreporting/v1beta1"
)

// Metric names a rate Ripcord reads from Android vitals.
type Metric string

// Metrics Ripcord reads.
const (
	// MetricCrashRate is the share of daily users with at least one crash.
	MetricCrashRate Metric = "crashRate"
	// MetricANRRate is the share of daily users with at least one ANR.
	MetricANRRate Metric = "anrRate"
)

// Period is the aggregation period of a vitals query.
type Period string

// Periods the Reporting API offers for rates: HOURLY in UTC, DAILY in
// America/Los_Angeles.
const (
	Hourly Period = "HOURLY"
	Daily  Period = "DAILY"
)

// VitalsQuery asks for one metric per versionCode over a time range.
type VitalsQuery struct {
	// Package is the app's package name.
	Package string
	// Metric is MetricCrashRate or MetricANRRate.
	Metric Metric
	// Period is Hourly or Daily.
	Period Period
	// Start and End bound the range (End exclusive); both are aligned down
	// to the period, and End is clamped to the data's freshness.
	Start, End time.Time
	// VersionCode restricts rows to one versionCode; 0 returns all.
	VersionCode int64
}

// VitalsRow is one period's value for one versionCode.
type VitalsRow struct {
	// Start is the period's start.
	Start time.Time
	// VersionCode is the row's versionCode.
	VersionCode int64
	// Rate is the metric's value in [0, 1].
	Rate float64
	// DistinctUsers is the (rounded) user count behind Rate.
	DistinctUsers int64
}

// Vitals is a query's answer with how fresh the data is.
type Vitals struct {
	// Rows are ordered by period start.
	Rows []VitalsRow
	// FreshUntil is the end of the latest complete period the API has:
	// missing later periods mean "not yet known", not "no crashes".
	FreshUntil time.Time
}

// QueryVitals reads crash or ANR rates by versionCode.
func (c *Client) QueryVitals(ctx context.Context, q VitalsQuery) (*Vitals, error) {
	set, query, err := c.metricSet(q)
	if err != nil {
		return nil, err
	}
	var out Vitals
	err = c.retry(ctx, "vitals", q.Package, func(ctx context.Context) error {
		out = Vitals{}
		name := "apps/" + q.Package + "/" + set
		var fresh []*reporting.GooglePlayDeveloperReportingV1beta1FreshnessInfoFreshness
		switch q.Metric {
		case MetricCrashRate:
			ms, err := c.rep.Vitals.Crashrate.Get(name).Context(ctx).Do()
			if err != nil {
				return classify("vitals", q.Package, err)
			}
			if ms.FreshnessInfo != nil {
				fresh = ms.FreshnessInfo.Freshnesses
			}
		default:
			ms, err := c.rep.Vitals.Anrrate.Get(name).Context(ctx).Do()
			if err != nil {
				return classify("vitals", q.Package, err)
			}
			if ms.FreshnessInfo != nil {
				fresh = ms.FreshnessInfo.Freshnesses
			}
		}
		for _, f := range fresh {
			if f.AggregationPeriod == string(q.Period) && f.LatestEndTime != nil {
				t, err := fromDateTime(f.LatestEndTime)
				if err != nil {
					return &Error{Op: "vitals", Package: q.Package, Message: "bad freshness time", Err: err}
				}
				out.FreshUntil = t
			}
		}
		start, end := align(q.Start, q.Period), align(q.End, q.Period)
		if !out.FreshUntil.IsZero() && end.After(out.FreshUntil) {
			end = out.FreshUntil
		}
		if !end.After(start) {
			return nil
		}
		token := ""
		for {
			req := query(start, end, token)
			var rows []*reporting.GooglePlayDeveloperReportingV1beta1MetricsRow
			var next string
			if q.Metric == MetricCrashRate {
				resp, err := c.rep.Vitals.Crashrate.Query(name, req.crash).Context(ctx).Do()
				if err != nil {
					return classify("vitals", q.Package, err)
				}
				rows, next = resp.Rows, resp.NextPageToken
			} else {
				resp, err := c.rep.Vitals.Anrrate.Query(name, req.anr).Context(ctx).Do()
				if err != nil {
					return classify("vitals", q.Package, err)
				}
				rows, next = resp.Rows, resp.NextPageToken
			}
			for _, r := range rows {
				row, err := toRow(r, q.Metric)
				if err != nil {
					return &Error{Op: "vitals", Package: q.Package, Message: "unreadable row", Err: err}
				}
				out.Rows = append(out.Rows, row)
			}
			if next == "" {
				return nil
			}
			token = next
		}
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

type vitalsRequest struct {
	crash *reporting.GooglePlayDeveloperReportingV1beta1QueryCrashRateMetricSetRequest
	anr   *reporting.GooglePlayDeveloperReportingV1beta1QueryAnrRateMetricSetRequest
}

func (c *Client) metricSet(q VitalsQuery) (string, func(start, end time.Time, token string) vitalsRequest, error) {
	var set string
	switch q.Metric {
	case MetricCrashRate:
		set = "crashRateMetricSet"
	case MetricANRRate:
		set = "anrRateMetricSet"
	default:
		return "", nil, fmt.Errorf("play vitals %s: metric %q must be crashRate or anrRate", q.Package, q.Metric)
	}
	if q.Period != Hourly && q.Period != Daily {
		return "", nil, fmt.Errorf("play vitals %s: period %q must be HOURLY or DAILY", q.Package, q.Period)
	}
	filter := ""
	if q.VersionCode != 0 {
		filter = "versionCode = " + strconv.FormatInt(q.VersionCode, 10)
	}
	metrics := []string{string(q.Metric), "distinctUsers"}
	build := func(start, end time.Time, token string) vitalsRequest {
		ts := &reporting.GooglePlayDeveloperReportingV1beta1TimelineSpec{
			AggregationPeriod: string(q.Period), StartTime: toDateTime(start, q.Period), EndTime: toDateTime(end, q.Period),
		}
		if q.Metric == MetricCrashRate {
			return vitalsRequest{crash: &reporting.GooglePlayDeveloperReportingV1beta1QueryCrashRateMetricSetRequest{
				TimelineSpec: ts, Dimensions: []string{"versionCode"}, Metrics: metrics, Filter: filter, PageToken: token}}
		}
		return vitalsRequest{anr: &reporting.GooglePlayDeveloperReportingV1beta1QueryAnrRateMetricSetRequest{
			TimelineSpec: ts, Dimensions: []string{"versionCode"}, Metrics: metrics, Filter: filter, PageToken: token}}
	}
	return set, build, nil
}

// location returns the time zone the API requires for the period.
func location(p Period) *time.Location {
	if p == Daily {
		if l, err := time.LoadLocation("America/Los_Angeles"); err == nil {
			return l
		}
	}
	return time.UTC
}

func align(t time.Time, p Period) time.Time {
	t = t.In(location(p))
	if p == Daily {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	}
	return t.Truncate(time.Hour)
}

func toDateTime(t time.Time, p Period) *reporting.GoogleTypeDateTime {
	t = t.In(location(p))
	return &reporting.GoogleTypeDateTime{
		Year: int64(t.Year()), Month: int64(t.Month()), Day: int64(t.Day()), Hours: int64(t.Hour()),
		TimeZone: &reporting.GoogleTypeTimeZone{Id: t.Location().String()},
	}
}

func fromDateTime(d *reporting.GoogleTypeDateTime) (time.Time, error) {
	loc := time.UTC
	if d.TimeZone != nil && d.TimeZone.Id != "" {
		l, err := time.LoadLocation(d.TimeZone.Id)
		if err != nil {
			return time.Time{}, fmt.Errorf("time zone %q: %w", d.TimeZone.Id, err)
		}
		loc = l
	} else if d.UtcOffset != "" {
		off, err := time.ParseDuration(d.UtcOffset)
		if err != nil {
			return time.Time{}, fmt.Errorf("utcOffset %q: %w", d.UtcOffset, err)
		}
		loc = time.FixedZone("", int(off.Seconds()))
	}
	return time.Date(int(d.Year), time.Month(d.Month), int(d.Day), int(d.Hours), int(d.Minutes), int(d.Seconds), int(d.Nanos), loc), nil
}

func toRow(r *reporting.GooglePlayDeveloperReportingV1beta1MetricsRow, m Metric) (VitalsRow, error) {
	var row VitalsRow
	if r.StartTime != nil {
		t, err := fromDateTime(r.StartTime)
		if err != nil {
			return row, err
		}
		row.Start = t
	}
	for _, d := range r.Dimensions {
		if d.Dimension != "versionCode" {
			continue
		}
		s := d.StringValue
		if s == "" && d.Int64Value != 0 {
			s = strconv.FormatInt(d.Int64Value, 10)
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return row, fmt.Errorf("versionCode %q: %w", s, err)
		}
		row.VersionCode = v
	}
	for _, mv := range r.Metrics {
		if mv.DecimalValue == nil {
			continue
		}
		switch mv.Metric {
		case string(m):
			v, err := strconv.ParseFloat(mv.DecimalValue.Value, 64)
			if err != nil {
				return row, fmt.Errorf("%s %q: %w", m, mv.DecimalValue.Value, err)
			}
			row.Rate = v
		case "distinctUsers":
			v, err := strconv.ParseFloat(mv.DecimalValue.Value, 64)
			if err != nil {
				return row, fmt.Errorf("distinctUsers %q: %w", mv.DecimalValue.Value, err)
			}
			row.DistinctUsers = int64(v)
		}
	}
	return row, nil
}
