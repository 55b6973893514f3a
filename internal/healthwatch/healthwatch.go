// Package healthwatch is the use case that turns reported counts into
// release-health verdicts: it stores counts per release, platform, metric
// and minute, decides on every ingest (not on a timer) with the statistics
// of internal/health, records each change of verdict, and hands verdicts to
// whoever acts on them (the rollout service halts or pauses on a breach).
package healthwatch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Metrics Ripcord knows. Flow metrics are "flow:<name>".
const (
	CrashFreeSessions = "crash_free_sessions" // bad = crashed sessions, total = sessions
	CrashFreeUsers    = "crash_free_users"    // bad = users with a crash, total = users
	AbnormalSessions  = "abnormal_sessions"   // bad = abnormal sessions (includes ANRs on Android)
	ErroredSessions   = "errored_sessions"    // bad = sessions with errors > 0
	FatalEvents       = "fatal_events"        // bad = fatal (crash) events, total = error and fatal events; reported only
	ANRRate           = "anr_rate"            // bad = users with an ANR (Play vitals)
	flowPrefix        = "flow:"
)

var flowNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// decided lists the metrics whose verdict drives rollouts; the others are
// reported (and watched by runbook triggers).
var decided = map[string]bool{CrashFreeSessions: true, CrashFreeUsers: true}

// ValidMetric checks a metric name.
func ValidMetric(m string) error {
	switch m {
	case CrashFreeSessions, CrashFreeUsers, AbnormalSessions, ErroredSessions, ANRRate, FatalEvents:
		return nil
	}
	if name, ok := cutPrefix(m, flowPrefix); ok && flowNameRe.MatchString(name) {
		return nil
	}
	return ripcord.Errorf(ripcord.EINVALID, "metric %q is not known; use crash_free_sessions, crash_free_users, abnormal_sessions, errored_sessions, anr_rate, fatal_events or flow:<name>", m)
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// Sample is counts for one release, platform and metric over a window that
// starts in one minute (the minute it is filed under).
type Sample struct {
	App         string           `json:"app"`
	Platform    ripcord.Platform `json:"platform"`
	Version     string           `json:"version"`
	Metric      string           `json:"metric"`
	WindowStart time.Time        `json:"window_start"`
	Bad         int64            `json:"bad"`
	Total       int64            `json:"total"`
}

// Verdict is a decision for one release's metric.
type Verdict struct {
	App      string           `json:"app"`
	Platform ripcord.Platform `json:"platform"`
	Version  string           `json:"version"`
	Metric   string           `json:"metric"`
	Decision health.Decision  `json:"decision"`
	// Changed is true when the outcome differs from the last recorded one.
	Changed bool `json:"changed"`
}

// Rejection says why one sample of a batch was not taken.
type Rejection struct {
	Index   int    `json:"index"`
	Message string `json:"message"`
}

// IngestResult reports what a batch did.
type IngestResult struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected,omitempty"`
	Verdicts []Verdict   `json:"verdicts"`
}

// Config holds the service's dependencies and policy.
type Config struct {
	Store storage.Store // required
	// Tiers returns an app's tiers. Default: health.DefaultTiers for all.
	Tiers func(app *ripcord.App) health.Tiers
	// Guards bound good verdicts. Zero fields take health's defaults.
	Guards health.Guards
	// OnVerdict receives every verdict whose outcome changed, after it is
	// recorded. Default: none.
	OnVerdict func(ctx context.Context, v Verdict)
	// MaxSkew is how far in the future a window may start (device clocks
	// drift). Default 10 minutes.
	MaxSkew time.Duration
	// MaxAge is how old a window may be. Default 30 days.
	MaxAge time.Duration
	// Now is the clock. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger

	// Envelope ingest pipeline (ingest_pipeline.go). IngestDir is where its
	// log and session snapshot live; empty means no pipeline: each fact is
	// deduplicated by its own SQL statement (fine for tests and tools,
	// thousands of updates per second rather than hundreds of thousands).
	IngestDir string
	// FlushInterval is how often pending counts go to the database.
	// Default 500 ms.
	FlushInterval time.Duration
	// CheckpointInterval is how often the session state is snapshotted
	// and old log segments removed. Default 30 s.
	CheckpointInterval time.Duration
	// MaxOpenSessions bounds sessions still running. Default 1,000,000.
	MaxOpenSessions int
	// MaxEndedSessions bounds ended sessions kept for retries (117 bytes
	// each). Default 1,000,000.
	MaxEndedSessions int
	// EndedGrace is how long an ended session is kept for retries at
	// most. Default 1 hour.
	EndedGrace time.Duration
	// SessionRetention is how long an open session is kept after it
	// started. Default 6 days, as the stored dedupe state.
	SessionRetention time.Duration
	// MaxEvents bounds event ids kept in memory (older ones are looked up
	// in the database). Default 1,000,000.
	MaxEvents int
}

// Service ingests counts and decides.
type Service struct {
	cfg  Config
	pipe *pipeline // nil without Config.IngestDir or before Start
	memo *memo
}

// New builds the service.
func New(cfg Config) *Service {
	if cfg.Tiers == nil {
		cfg.Tiers = func(*ripcord.App) health.Tiers { return health.DefaultTiers() }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.MaxSkew = cmp.Or(cfg.MaxSkew, 10*time.Minute)
	cfg.MaxAge = cmp.Or(cfg.MaxAge, 30*24*time.Hour)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.FlushInterval = cmp.Or(cfg.FlushInterval, 500*time.Millisecond)
	cfg.CheckpointInterval = cmp.Or(cfg.CheckpointInterval, 30*time.Second)
	cfg.MaxOpenSessions = cmp.Or(cfg.MaxOpenSessions, 1_000_000)
	cfg.MaxEndedSessions = cmp.Or(cfg.MaxEndedSessions, 1_000_000)
	cfg.EndedGrace = cmp.Or(cfg.EndedGrace, time.Hour)
	cfg.SessionRetention = cmp.Or(cfg.SessionRetention, 6*24*time.Hour)
	cfg.MaxEvents = cmp.Or(cfg.MaxEvents, 1_000_000)
	return &Service{cfg: cfg, memo: newMemo()}
}

type releaseKey struct {
	appID    int64
	platform ripcord.Platform
	version  string
	metric   string
}

// Ingest stores a batch of samples and decides on every release it touched.
// A bad sample is rejected with its index and reason; the rest are stored.
// Engineers and above may report.
func (s *Service) Ingest(ctx context.Context, samples []Sample) (*IngestResult, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleEngineer); err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	res := &IngestResult{Verdicts: []Verdict{}}
	apps := map[string]*ripcord.App{}
	var deltas []storage.HealthCountDelta
	touched := map[releaseKey]bool{}
	for i, sm := range samples {
		app, err := s.appFor(ctx, apps, sm.App)
		if err == nil {
			err = s.validate(sm, app, now)
		}
		if err != nil {
			res.Rejected = append(res.Rejected, Rejection{Index: i, Message: ripcord.ErrorMessage(err)})
			if ripcord.ErrorCode(err) == ripcord.EINTERNAL {
				return nil, err
			}
			continue
		}
		deltas = append(deltas, storage.HealthCountDelta{AppID: app.ID, Platform: sm.Platform, Version: sm.Version, Metric: sm.Metric,
			Bucket: sm.WindowStart.UTC().Truncate(time.Minute), Counts: health.Counts{Bad: sm.Bad, Total: sm.Total}})
		touched[releaseKey{app.ID, sm.Platform, sm.Version, sm.Metric}] = true
		res.Accepted++
	}
	if len(deltas) == 0 {
		if len(samples) == 0 {
			return nil, ripcord.Errorf(ripcord.EINVALID, "the batch has no samples")
		}
		return res, ripcord.Errorf(ripcord.EINVALID, "no sample in the batch was valid; the first problem: sample %d: %s", res.Rejected[0].Index, res.Rejected[0].Message).
			WithDetails(map[string]any{"rejected": res.Rejected})
	}
	err := s.addCounts(ctx, deltas)
	if err != nil {
		return nil, fmt.Errorf("ingest health samples: %w", err)
	}
	byID := make(map[int64]*ripcord.App, len(apps))
	for _, a := range apps {
		byID[a.ID] = a
	}
	if res.Verdicts, err = s.decideTouched(ctx, byID, touched, now); err != nil {
		return nil, err
	}
	return res, nil
}

// decideTouched is the decide step every ingest path shares: after counts
// are committed, it decides on each touched release metric that drives
// rollouts (in a stable order) and records the verdicts that changed.
func (s *Service) decideTouched(ctx context.Context, apps map[int64]*ripcord.App, touched map[releaseKey]bool, now time.Time) ([]Verdict, error) {
	keys := make([]releaseKey, 0, len(touched))
	for k := range touched {
		if decided[k.metric] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b releaseKey) int {
		return cmp.Or(cmp.Compare(a.appID, b.appID), cmp.Compare(a.platform, b.platform), cmp.Compare(a.version, b.version), cmp.Compare(a.metric, b.metric))
	})
	verdicts := []Verdict{}
	for _, k := range keys {
		v, err := s.decide(ctx, apps[k.appID], k, now)
		if err != nil {
			return nil, err
		}
		verdicts = append(verdicts, *v)
	}
	return verdicts, nil
}

func (s *Service) appFor(ctx context.Context, cache map[string]*ripcord.App, name string) (*ripcord.App, error) {
	if a, ok := cache[name]; ok {
		return a, nil
	}
	a, err := s.cfg.Store.AppGetByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %q does not exist", name)
	}
	if err != nil {
		return nil, err
	}
	cache[name] = a
	return a, nil
}

func (s *Service) validate(sm Sample, app *ripcord.App, now time.Time) error {
	if !app.Has(sm.Platform) {
		return ripcord.Errorf(ripcord.EINVALID, "app %s is not on platform %q", app.Name, sm.Platform)
	}
	if _, err := ripcord.ParseVersion(sm.Version); err != nil {
		return err
	}
	if err := ValidMetric(sm.Metric); err != nil {
		return err
	}
	if sm.Bad < 0 || sm.Total < 0 || sm.Bad > sm.Total {
		return ripcord.Errorf(ripcord.EINVALID, "counts bad=%d total=%d are impossible: need 0 ≤ bad ≤ total", sm.Bad, sm.Total)
	}
	switch {
	case sm.WindowStart.IsZero():
		return ripcord.Errorf(ripcord.EINVALID, "window_start is required (RFC 3339)")
	case sm.WindowStart.After(now.Add(s.cfg.MaxSkew)):
		return ripcord.Errorf(ripcord.EINVALID, "window_start %s is in the future (more than %s ahead of the server's clock)", sm.WindowStart.Format(time.RFC3339), s.cfg.MaxSkew)
	case sm.WindowStart.Before(now.Add(-s.cfg.MaxAge)):
		return ripcord.Errorf(ripcord.EINVALID, "window_start %s is older than %s", sm.WindowStart.Format(time.RFC3339), s.cfg.MaxAge)
	}
	return nil
}

// decide evaluates one release's metric and records the verdict when its
// outcome changed.
func (s *Service) decide(ctx context.Context, app *ripcord.App, k releaseKey, now time.Time) (*Verdict, error) {
	in, err := s.input(ctx, app, k, now)
	if err != nil {
		return nil, err
	}
	last, err := s.lastDecision(ctx, k)
	if errors.Is(err, storage.ErrNotFound) {
		last, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	d, hold, err := s.decideWithHold(ctx, app, k, now, in, last)
	if err != nil {
		return nil, err
	}
	v := &Verdict{App: app.Name, Platform: k.platform, Version: k.version, Metric: k.metric, Decision: d}
	v.Changed = last == nil || last.Outcome != d.Outcome
	if !v.Changed {
		return v, nil
	}
	inputMap := map[string]any{"counts": in.Counts, "baseline": in.Baseline, "age_seconds": int64(in.Age.Seconds()),
		"staleness_seconds": int64(in.Staleness.Seconds()), "tiers": in.Tiers, "ci": finite(d.CI), "sequence": finite(d.Sequence)}
	if !hold.IsZero() {
		inputMap[holdSinceKey] = hold.UTC().Format(time.RFC3339Nano)
	}
	inputs, _ := json.Marshal(inputMap)
	rec := &storage.HealthDecision{AppID: app.ID, Platform: k.platform, Version: k.version, Metric: k.metric, DecidedAt: now,
		Outcome: d.Outcome, Sentence: d.Sentence, Inputs: string(inputs)}
	if err := s.cfg.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.HealthDecisionAppend(ctx, rec); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "health.decision",
			fmt.Sprintf("release/%s/%s", app.Name, k.version), nil, map[string]any{"platform": k.platform, "metric": k.metric, "outcome": d.Outcome, "sentence": d.Sentence}))
	}); err != nil {
		return nil, fmt.Errorf("record health decision: %w", err)
	}
	s.memo.setDecision(k, rec)
	s.cfg.Logger.InfoContext(ctx, "health verdict", slog.String("app", app.Name), slog.String("platform", string(k.platform)),
		slog.String("version", k.version), slog.String("metric", k.metric), slog.String("outcome", string(d.Outcome)), slog.String("sentence", d.Sentence))
	if s.cfg.OnVerdict != nil {
		s.cfg.OnVerdict(ctx, *v)
	}
	return v, nil
}

func finite(i health.Interval) map[string]float64 { return map[string]float64{"lo": i.Lo, "hi": i.Hi} }

// input gathers a release's counts, age, freshness and baseline. The
// baseline is the previous version with data on the same platform, over
// the same age since its own first data.
func (s *Service) input(ctx context.Context, app *ripcord.App, k releaseKey, now time.Time) (*health.Input, error) {
	spans, err := s.healthSpans(ctx, app.ID, k.platform)
	if err != nil {
		return nil, err
	}
	var this *storage.HealthSpan
	var prev *storage.HealthSpan
	want, _ := ripcord.ParseVersion(k.version)
	for i := range spans {
		sp := &spans[i]
		if sp.Metric != k.metric {
			continue
		}
		if sp.Version == k.version {
			this = sp
			continue
		}
		v, err := ripcord.ParseVersion(sp.Version)
		if err != nil || v.Compare(want) >= 0 {
			continue
		}
		if prev == nil || v.Compare(ripcord.MustParseVersion(prev.Version)) > 0 {
			prev = sp
		}
	}
	in := &health.Input{Tiers: s.cfg.Tiers(app), Guards: s.cfg.Guards, Unit: unitOf(k.metric)}
	if this == nil {
		return in, nil
	}
	in.Counts = this.Counts
	in.Age = now.Sub(this.First)
	in.Staleness = max(0, now.Sub(this.Last.Add(time.Minute)))
	if prev != nil {
		b, err := s.healthSum(ctx, storage.HealthSumParams{AppID: app.ID, Platform: k.platform, Version: prev.Version, Metric: k.metric,
			From: prev.First, To: prev.First.Add(in.Age)})
		if err != nil {
			return nil, err
		}
		in.Baseline = &b
	}
	return in, nil
}

func unitOf(metric string) string {
	switch {
	case metric == CrashFreeUsers || metric == ANRRate || metric == PlayCrashUsers:
		return "users"
	case len(metric) > len(flowPrefix) && metric[:len(flowPrefix)] == flowPrefix:
		return "attempts"
	case metric == FatalEvents:
		return "events"
	}
	return "sessions"
}

// MetricReport is one metric of a release on one platform, as read back.
type MetricReport struct {
	Metric        string          `json:"metric"`
	Counts        health.Counts   `json:"counts"`
	Rate          *float64        `json:"rate"`
	CI            health.Interval `json:"ci"`
	Baseline      *float64        `json:"baseline,omitempty"`
	DataThrough   time.Time       `json:"data_through"`
	StaleSeconds  int64           `json:"stale_seconds"`
	Decision      health.Decision `json:"decision"`
	LastRecorded  *time.Time      `json:"last_recorded_at,omitempty"`
	RecordedState health.Outcome  `json:"recorded_outcome,omitempty"`
}

// PlatformReport is a release's health on one platform.
type PlatformReport struct {
	Platform ripcord.Platform `json:"platform"`
	Metrics  []MetricReport   `json:"metrics"`

	// Sources are the health pollers feeding this platform, if any.
	Sources []SourceStatus `json:"sources,omitempty"`
}

// Report is a release's health on every platform.
type Report struct {
	App       string           `json:"app"`
	Version   string           `json:"version"`
	Platforms []PlatformReport `json:"platforms"`
}

// Report reads a release's health back: counts, rate and interval,
// baseline, freshness and the current decision, per platform and metric.
func (s *Service) Report(ctx context.Context, appName, version string, only ripcord.Platform) (*Report, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	if _, err := ripcord.ParseVersion(version); err != nil {
		return nil, err
	}
	app, err := s.appFor(ctx, map[string]*ripcord.App{}, appName)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	rep := &Report{App: app.Name, Version: version, Platforms: []PlatformReport{}}
	for _, p := range app.Platforms() {
		if only != "" && p != only {
			continue
		}
		pr := PlatformReport{Platform: p, Metrics: []MetricReport{}}
		spans, err := s.healthSpans(ctx, app.ID, p)
		if err != nil {
			return nil, err
		}
		for _, sp := range spans {
			if sp.Version != version {
				continue
			}
			k := releaseKey{app.ID, p, version, sp.Metric}
			in, err := s.input(ctx, app, k, now)
			if err != nil {
				return nil, err
			}
			var last *storage.HealthDecision
			if l, err := s.cfg.Store.HealthDecisionLatest(ctx, app.ID, p, version, sp.Metric); err == nil {
				last = l
			}
			d, _, err := s.decideWithHold(ctx, app, k, now, in, last)
			if err != nil {
				return nil, err
			}
			mr := MetricReport{Metric: sp.Metric, Counts: sp.Counts, CI: d.CI, DataThrough: sp.Last.Add(time.Minute), StaleSeconds: int64(in.Staleness.Seconds()), Decision: d}
			if !math.IsNaN(d.Rate) {
				r := d.Rate
				mr.Rate = &r
			}
			if !math.IsNaN(d.Baseline) {
				b := d.Baseline
				mr.Baseline = &b
			}
			if last != nil {
				mr.LastRecorded, mr.RecordedState = &last.DecidedAt, last.Outcome
			}
			pr.Metrics = append(pr.Metrics, mr)
		}
		if pr.Sources, err = s.sources(ctx, app.ID, p); err != nil {
			return nil, err
		}
		rep.Platforms = append(rep.Platforms, pr)
	}
	return rep, nil
}
