package fakestore

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // DAILY vitals are in America/Los_Angeles on any host
)

// VitalsSpec sets the Android vitals the fake reports for one versionCode.
type VitalsSpec struct {
	// VersionCode is the release's versionCode.
	VersionCode int64 `json:"version_code"`
	// CrashRate is the fraction of daily users with a crash, e.g. 0.012.
	CrashRate float64 `json:"crash_rate"`
	// ANRRate is the fraction of daily users with an ANR.
	ANRRate float64 `json:"anr_rate"`
	// DistinctUsers is the user count behind each period's rates.
	DistinctUsers int64 `json:"distinct_users"`
}

// Freshness lags of the fake's vitals: hourly data ends 3 hours before now,
// daily data at the start of yesterday in America/Los_Angeles (observed lag
// is 2–4 h hourly and 24–48 h daily, per third-party reports).
const hourlyLag = 3 * time.Hour

// SetVitals sets the vitals the fake reports for a Play app's versionCode.
func (s *Server) SetVitals(pkg string, v VitalsSpec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, ok := s.st.Play[pkg]
	if !ok {
		return fmt.Errorf("vitals: play app %s does not exist; create it first", pkg)
	}
	if v.CrashRate < 0 || v.CrashRate > 1 || v.ANRRate < 0 || v.ANRRate > 1 {
		return fmt.Errorf("vitals %s/%d: rates must be within [0, 1]", pkg, v.VersionCode)
	}
	app.Vitals[strconv.FormatInt(v.VersionCode, 10)] = &v
	s.event("admin.play.vitals.set", fmt.Sprintf("%s/%d", pkg, v.VersionCode))
	return s.persistLocked()
}

var metricSets = map[string]struct {
	id      string
	metrics []string
}{
	"crashRateMetricSet": {"crashrate", []string{"crashRate", "userPerceivedCrashRate", "crashRate7dUserWeighted", "crashRate28dUserWeighted", "userPerceivedCrashRate7dUserWeighted", "userPerceivedCrashRate28dUserWeighted", "distinctUsers"}},
	"anrRateMetricSet":   {"anrrate", []string{"anrRate", "userPerceivedAnrRate", "anrRate7dUserWeighted", "anrRate28dUserWeighted", "userPerceivedAnrRate7dUserWeighted", "userPerceivedAnrRate28dUserWeighted", "distinctUsers"}},
}

type gDateTime struct {
	Year      int    `json:"year,omitempty"`
	Month     int    `json:"month,omitempty"`
	Day       int    `json:"day,omitempty"`
	Hours     int    `json:"hours,omitempty"`
	Minutes   int    `json:"minutes,omitempty"`
	Seconds   int    `json:"seconds,omitempty"`
	Nanos     int    `json:"nanos,omitempty"`
	UTCOffset string `json:"utcOffset,omitempty"`
	TimeZone  *struct {
		ID string `json:"id"`
	} `json:"timeZone,omitempty"`
}

func toDateTime(t time.Time) gDateTime {
	d := gDateTime{Year: t.Year(), Month: int(t.Month()), Day: t.Day(), Hours: t.Hour(), Minutes: t.Minute(), Seconds: t.Second()}
	d.TimeZone = &struct {
		ID string `json:"id"`
	}{ID: t.Location().String()}
	return d
}

func (d gDateTime) time() (time.Time, error) {
	loc := time.UTC
	switch {
	case d.TimeZone != nil && d.TimeZone.ID != "":
		l, err := time.LoadLocation(d.TimeZone.ID)
		if err != nil {
			return time.Time{}, fmt.Errorf("unknown time zone %q", d.TimeZone.ID)
		}
		loc = l
	case d.UTCOffset != "":
		off, err := time.ParseDuration(d.UTCOffset)
		if err != nil {
			return time.Time{}, fmt.Errorf("bad utcOffset %q", d.UTCOffset)
		}
		loc = time.FixedZone("", int(off.Seconds()))
	}
	return time.Date(d.Year, time.Month(d.Month), d.Day, d.Hours, d.Minutes, d.Seconds, d.Nanos, loc), nil
}

func losAngeles() *time.Location {
	l, err := time.LoadLocation("America/Los_Angeles")
	if err != nil { // unreachable with time/tzdata linked in
		return time.UTC
	}
	return l
}

func (s *Server) freshness(now time.Time) (hourly, daily time.Time) {
	hourly = now.UTC().Truncate(time.Hour).Add(-hourlyLag)
	la := now.In(losAngeles())
	daily = time.Date(la.Year(), la.Month(), la.Day()-1, 0, 0, 0, 0, la.Location())
	return hourly, daily
}

func (s *Server) reportingApp(r *http.Request, set string) (*playApp, string, error) {
	ms, ok := metricSets[set]
	if !ok {
		return nil, "", gNotFound("notFound", "Requested entity was not found.")
	}
	app, ok := s.st.Play[r.PathValue("pkg")]
	if !ok {
		return nil, "", gForbidden("forbidden", "The caller does not have permission")
	}
	return app, ms.id, nil
}

func (s *Server) reportingGet(r *http.Request, _ []byte) (int, any, error) {
	set := r.PathValue("metricset")
	app, _, err := s.reportingApp(r, set)
	if err != nil {
		return 0, nil, err
	}
	hourly, daily := s.freshness(s.nowLocked())
	return 200, map[string]any{
		"name": "apps/" + app.PackageName + "/" + set,
		"freshnessInfo": map[string]any{"freshnesses": []any{
			map[string]any{"aggregationPeriod": "HOURLY", "latestEndTime": toDateTime(hourly)},
			map[string]any{"aggregationPeriod": "DAILY", "latestEndTime": toDateTime(daily)},
		}},
	}, nil
}

type metricQuery struct {
	TimelineSpec *struct {
		AggregationPeriod string     `json:"aggregationPeriod"`
		StartTime         *gDateTime `json:"startTime"`
		EndTime           *gDateTime `json:"endTime"`
	} `json:"timelineSpec"`
	Dimensions []string `json:"dimensions"`
	Metrics    []string `json:"metrics"`
	Filter     string   `json:"filter"`
	PageSize   int      `json:"pageSize"`
	PageToken  string   `json:"pageToken"`
	UserCohort string   `json:"userCohort"`
}

func (s *Server) reportingQuery(r *http.Request, body []byte) (int, any, error) {
	set := r.PathValue("metricset")
	app, _, err := s.reportingApp(r, set)
	if err != nil {
		return 0, nil, err
	}
	var q metricQuery
	if err := json.Unmarshal(body, &q); err != nil {
		return 0, nil, gBadRequest("badRequest", "Invalid JSON payload received. "+err.Error())
	}
	ts := q.TimelineSpec
	if ts == nil || ts.StartTime == nil || ts.EndTime == nil {
		return 0, nil, gBadRequest("badRequest", "timeline_spec with start_time and end_time is required.")
	}
	start, err1 := ts.StartTime.time()
	end, err2 := ts.EndTime.time()
	if err1 != nil || err2 != nil {
		return 0, nil, gBadRequest("badRequest", fmt.Sprintf("Invalid timeline_spec: %v", cmpErr(err1, err2)))
	}
	hourlyFresh, dailyFresh := s.freshness(s.nowLocked())
	var step func(time.Time) time.Time
	switch ts.AggregationPeriod {
	case "HOURLY":
		if start.Location().String() != "UTC" && ts.StartTime.UTCOffset == "" {
			return 0, nil, gBadRequest("badRequest", "HOURLY aggregation only supports the UTC time zone.")
		}
		step = func(t time.Time) time.Time { return t.Add(time.Hour) }
		end = minTime(end, hourlyFresh)
	case "DAILY":
		if start.Location().String() != "America/Los_Angeles" {
			return 0, nil, gBadRequest("badRequest", "DAILY aggregation only supports the America/Los_Angeles time zone.")
		}
		step = func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
		end = minTime(end, dailyFresh)
	default:
		return 0, nil, gBadRequest("badRequest", "Unsupported aggregation period: "+ts.AggregationPeriod)
	}
	allowed := metricSets[set].metrics
	if len(q.Metrics) == 0 {
		return 0, nil, gBadRequest("badRequest", "At least one metric is required.")
	}
	for _, m := range q.Metrics {
		if !slices.Contains(allowed, m) {
			return 0, nil, gBadRequest("badRequest", "Unsupported metric: "+m)
		}
		if ts.AggregationPeriod == "HOURLY" && strings.Contains(m, "dUserWeighted") {
			return 0, nil, gBadRequest("badRequest", "Metric "+m+" is not supported with HOURLY aggregation.")
		}
	}
	for _, d := range q.Dimensions {
		if d != "versionCode" {
			return 0, nil, gBadRequest("badRequest", "The fake store supports only the versionCode dimension, not "+d+".")
		}
	}
	var only string
	if f := strings.TrimSpace(q.Filter); f != "" {
		k, v, ok := strings.Cut(f, "=")
		if !ok || strings.TrimSpace(k) != "versionCode" {
			return 0, nil, gBadRequest("badRequest", "The fake store supports only filters of the form versionCode = N, not "+strconv.Quote(f)+".")
		}
		only = strings.Trim(strings.TrimSpace(v), `"`)
	}
	codes := make([]string, 0, len(app.Vitals))
	for code := range app.Vitals {
		if only == "" || code == only {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	byVersion := slices.Contains(q.Dimensions, "versionCode")
	rows := []map[string]any{}
	// Whole periods only: a period is reported once its end is fresh.
	for t := start; !step(t).After(end); t = step(t) {
		var users int64
		var crash, anr float64
		for _, code := range codes {
			v := app.Vitals[code]
			if byVersion {
				rows = append(rows, vitalsRow(ts.AggregationPeriod, t, []map[string]any{{"dimension": "versionCode", "stringValue": code}}, q.Metrics, v.CrashRate, v.ANRRate, v.DistinctUsers))
				continue
			}
			users += v.DistinctUsers
			crash += v.CrashRate * float64(v.DistinctUsers)
			anr += v.ANRRate * float64(v.DistinctUsers)
		}
		if !byVersion && users > 0 {
			rows = append(rows, vitalsRow(ts.AggregationPeriod, t, nil, q.Metrics, crash/float64(users), anr/float64(users), users))
		}
	}
	pageSize := q.PageSize
	if pageSize <= 0 {
		pageSize = 1000
	}
	offset := 0
	if q.PageToken != "" {
		n, err := strconv.Atoi(q.PageToken)
		if err != nil || n < 0 || n > len(rows) {
			return 0, nil, gBadRequest("badRequest", "Invalid page token.")
		}
		offset = n
	}
	out := map[string]any{"rows": rows[offset:min(len(rows), offset+pageSize)]}
	if offset+pageSize < len(rows) {
		out["nextPageToken"] = strconv.Itoa(offset + pageSize)
	}
	return 200, out, nil
}

func vitalsRow(period string, t time.Time, dims []map[string]any, metrics []string, crash, anr float64, users int64) map[string]any {
	ms := []map[string]any{}
	for _, m := range metrics {
		var v string
		switch {
		case m == "distinctUsers":
			v = strconv.FormatInt(users, 10)
		case strings.Contains(strings.ToLower(m), "crash"):
			v = strconv.FormatFloat(crash, 'f', -1, 64)
		default:
			v = strconv.FormatFloat(anr, 'f', -1, 64)
		}
		ms = append(ms, map[string]any{"metric": m, "decimalValue": map[string]string{"value": v}})
	}
	row := map[string]any{"aggregationPeriod": period, "startTime": toDateTime(t), "metrics": ms}
	if dims != nil {
		row["dimensions"] = dims
	}
	return row
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
