package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Catalog reads apps, releases and builds (internal/catalog).
type Catalog interface {
	AppList(ctx context.Context) ([]*ripcord.App, error)
	AppGet(ctx context.Context, name string) (*ripcord.App, error)
	ReleaseList(ctx context.Context, app string) ([]*ripcord.Release, error)
	ReleaseGet(ctx context.Context, app, version string) (*ripcord.Release, error)
	BuildGet(ctx context.Context, app string, id int64) (*ripcord.Build, error)
}

// Rollbacks reads rollback builds, including the states without a row.
type Rollbacks interface {
	RollbackBuildGet(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.RollbackBuild, error)
}

// Records reads the database directly where no service has a read: the
// audit log (timeline, decision log, live updates), the per-minute health
// counts behind the chart and the recorded verdicts. storage.Store
// satisfies it.
type Records interface {
	AuditList(ctx context.Context, p storage.AuditListParams) ([]ripcord.AuditEntry, error)
	AuditListTargets(ctx context.Context, targets []string, limit int) ([]ripcord.AuditEntry, error)
	AuditHead(ctx context.Context) (seq int64, hash string, err error)
	HealthSeries(ctx context.Context, p storage.HealthSumParams, n int) ([]storage.HealthBucket, error)
	HealthDecisionLatest(ctx context.Context, appID int64, platform ripcord.Platform, version, metric string) (*storage.HealthDecision, error)
}

// Tokens lists API tokens for the admin page (internal/access).
type Tokens interface {
	TokenList(ctx context.Context) ([]*ripcord.Token, error)
}

// The interfaces below belong to services built in parallel; each is
// optional, and a nil one renders its section as "not available".

// Stages reads a platform's rollout stages and schedule.
type Stages interface {
	RolloutStages(ctx context.Context, app, version string, platform ripcord.Platform) (*StagesView, *RolloutProgress, error)
}

// Incidents lists an app's open incidents.
type Incidents interface {
	OpenIncidents(ctx context.Context, app string) ([]IncidentView, error)
}

// Gate reads a release's go/no-go checklist.
type Gate interface {
	ReleaseGate(ctx context.Context, app, version string) (*GateView, error)
}

// Users lists accounts for the admin page.
type Users interface {
	UserList(ctx context.Context) ([]UserView, error)
}

// Actions runs rollout actions and reports their steps. Start returns once
// the action is accepted (a synchronous implementation returns it
// finished); Latest returns the newest action on a release's platform, or
// nil when none ran.
type Actions interface {
	Start(ctx context.Context, app, version string, platform ripcord.Platform, kind string) (*ActionView, error)
	Latest(ctx context.Context, app, version string, platform ripcord.Platform) (*ActionView, error)
}

// Sources are the services the pages read, gathered in one place so that
// wiring a new service is one field.
type Sources struct {
	Catalog   Catalog   // required
	Rollbacks Rollbacks // required
	Records   Records   // required
	Tokens    Tokens    // required
	Actions   Actions   // required
	// Tiers returns an app's health tiers. Default health.DefaultTiers.
	Tiers     func(app *ripcord.App) health.Tiers
	Stages    Stages    // optional
	Incidents Incidents // optional
	Gate      Gate      // optional
	Users     Users     // optional
}

func (s Sources) validate() error {
	switch {
	case s.Catalog == nil:
		return errors.New("web: Sources.Catalog is required")
	case s.Rollbacks == nil:
		return errors.New("web: Sources.Rollbacks is required")
	case s.Records == nil:
		return errors.New("web: Sources.Records is required")
	case s.Tokens == nil:
		return errors.New("web: Sources.Tokens is required")
	case s.Actions == nil:
		return errors.New("web: Sources.Actions is required")
	}
	return nil
}

func (s Sources) tiers(app *ripcord.App) health.Tiers {
	if s.Tiers != nil {
		return s.Tiers(app)
	}
	return health.DefaultTiers()
}

// chartMetric is the metric the chart and the overview verdict show: the
// one the tiers are written for.
const chartMetric = healthwatch.CrashFreeSessions

// Overview gathers the overview page. Every read runs as the viewer in ctx,
// so the services' own role checks apply.
func (s Sources) Overview(ctx context.Context) ([]AppOverview, error) {
	apps, err := s.Catalog.AppList(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AppOverview, 0, len(apps))
	for _, app := range apps {
		rels, err := s.Catalog.ReleaseList(ctx, app.Name)
		if err != nil {
			return nil, err
		}
		ov := AppOverview{App: app, IncidentsKnown: s.Incidents != nil}
		if s.Incidents != nil {
			if ov.OpenIncidents, err = s.Incidents.OpenIncidents(ctx, app.Name); err != nil {
				return nil, err
			}
		}
		for _, p := range app.Platforms() {
			po, err := s.platformOverview(ctx, app, rels, p)
			if err != nil {
				return nil, err
			}
			ov.Platforms = append(ov.Platforms, po)
		}
		out = append(out, ov)
	}
	return out, nil
}

func (s Sources) platformOverview(ctx context.Context, app *ripcord.App, rels []*ripcord.Release, p ripcord.Platform) (PlatformOverview, error) {
	po := PlatformOverview{Platform: p}
	target := newestRelease(rels)
	if target == nil {
		return po, nil
	}
	po.Target = target
	if rp := target.Platform(p); rp != nil {
		po.Status = rp.Status
	}
	var err error
	if po.Rollback, err = s.Rollbacks.RollbackBuildGet(ctx, app.Name, target.Version, p); err != nil {
		return po, err
	}
	po.Live = liveVersion(rels, p, po.Rollback, target)
	if s.Stages != nil {
		if _, po.Rollout, err = s.Stages.RolloutStages(ctx, app.Name, target.Version, p); err != nil {
			return po, err
		}
	}
	po.Verdict, err = s.verdict(ctx, app, target.Version, p)
	return po, err
}

// newestRelease is the release with the highest version.
func newestRelease(rels []*ripcord.Release) *ripcord.Release {
	var best *ripcord.Release
	var bv ripcord.Version
	for _, r := range rels {
		v, err := ripcord.ParseVersion(r.Version)
		if err != nil {
			continue
		}
		if best == nil || v.Compare(bv) > 0 {
			best, bv = r, v
		}
	}
	return best
}

// liveVersion is what users get by default on p as far as Ripcord knows:
// the target's rollback when it was rolled back, else the newest release
// that completed there, else the version the rollback build re-signs.
func liveVersion(rels []*ripcord.Release, p ripcord.Platform, rb *ripcord.RollbackBuild, target *ripcord.Release) string {
	if rp := target.Platform(p); rp != nil && rp.Status == ripcord.StatusRolledBack && rb != nil && rb.Version != "" {
		return rb.Version
	}
	var best string
	var bv ripcord.Version
	for _, r := range rels {
		rp := r.Platform(p)
		if rp == nil || rp.Status != ripcord.StatusComplete {
			continue
		}
		if v, err := ripcord.ParseVersion(r.Version); err == nil && (best == "" || v.Compare(bv) > 0) {
			best, bv = r.Version, v
		}
	}
	return best
}

// verdict is the health engine's latest recorded verdict on a release's
// crash-free sessions; nil before the first. The page shows what the
// engine decided (and acted on), not a second opinion computed here.
func (s Sources) verdict(ctx context.Context, app *ripcord.App, version string, p ripcord.Platform) (*VerdictView, error) {
	d, err := s.Records.HealthDecisionLatest(ctx, app.ID, p, version, chartMetric)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	v := &VerdictView{Outcome: string(d.Outcome), Sentence: d.Sentence, At: d.DecidedAt}
	var in struct {
		Baseline *health.Counts `json:"baseline"`
	}
	if json.Unmarshal([]byte(d.Inputs), &in) == nil && in.Baseline != nil && in.Baseline.Total > 0 {
		b := 1 - float64(in.Baseline.Bad)/float64(in.Baseline.Total)
		v.Baseline = &b
	}
	return v, nil
}

// Release gathers the release page.
func (s Sources) Release(ctx context.Context, appName, version string) (*ReleaseView, error) {
	app, err := s.Catalog.AppGet(ctx, appName)
	if err != nil {
		return nil, err
	}
	rel, err := s.Catalog.ReleaseGet(ctx, app.Name, version)
	if err != nil {
		return nil, err
	}
	version = rel.Version
	v := &ReleaseView{App: app, Release: rel}
	for _, rp := range rel.Platforms {
		pv := ReleasePlatformView{Platform: rp.Platform, Status: rp.Status}
		if rp.BuildID != 0 {
			if pv.Build, err = s.Catalog.BuildGet(ctx, app.Name, rp.BuildID); err != nil {
				return nil, err
			}
		}
		if pv.Rollback, err = s.Rollbacks.RollbackBuildGet(ctx, app.Name, version, rp.Platform); err != nil {
			return nil, err
		}
		if pv.Rollback != nil && pv.Rollback.SourceBuildID != 0 {
			if pv.RollbackSource, err = s.Catalog.BuildGet(ctx, app.Name, pv.Rollback.SourceBuildID); err != nil {
				return nil, err
			}
		}
		if s.Stages != nil {
			if pv.Stages, _, err = s.Stages.RolloutStages(ctx, app.Name, version, rp.Platform); err != nil {
				return nil, err
			}
		}
		if pv.Health, err = s.healthView(ctx, app, version, rp.Platform); err != nil {
			return nil, err
		}
		if pv.Action, err = s.Actions.Latest(ctx, app.Name, version, rp.Platform); err != nil {
			return nil, err
		}
		v.Platforms = append(v.Platforms, pv)
	}
	if v.Decisions, err = s.decisions(ctx, app.Name, rel); err != nil {
		return nil, err
	}
	if s.Gate != nil {
		if v.Gate, err = s.Gate.ReleaseGate(ctx, app.Name, version); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// maxChartPoints bounds the chart's points, whatever the release's age:
// enough for a 720-unit-wide chart, few enough that the windows are cheap
// sums (each is one indexed query).
const maxChartPoints = 48

// healthView reads the release's counts in windows and turns them into
// cumulative points: the rate the verdict sees at each time, with its
// interval.
func (s Sources) healthView(ctx context.Context, app *ripcord.App, version string, p ripcord.Platform) (*HealthView, error) {
	windows, err := s.Records.HealthSeries(ctx, storage.HealthSumParams{AppID: app.ID, Platform: p, Version: version, Metric: chartMetric}, maxChartPoints)
	if err != nil || len(windows) == 0 {
		return nil, err
	}
	hv := &HealthView{Metric: chartMetric, Tiers: s.tiers(app), Points: cumulativePoints(windows)}
	if hv.Verdict, err = s.verdict(ctx, app, version, p); err != nil {
		return nil, err
	}
	if hv.Verdict != nil {
		hv.Baseline = hv.Verdict.Baseline
	}
	return hv, nil
}

// cumulativePoints adds windows up in time order: each point is the rate
// of everything received until the window's end.
func cumulativePoints(windows []storage.HealthBucket) []HealthPoint {
	var out []HealthPoint
	var c health.Counts
	for _, w := range windows {
		c = c.Add(w.Counts)
		if c.Total == 0 {
			continue
		}
		ci := health.Wilson(c, 0.95)
		out = append(out, HealthPoint{At: w.Bucket, Rate: 1 - float64(c.Bad)/float64(c.Total), Lo: ci.Lo, Hi: ci.Hi, Total: c.Total})
	}
	return out
}

// decisions reads the decision log from the audit: each health verdict
// with its sentence, and each halt, pause or rollback with its reason.
func (s Sources) decisions(ctx context.Context, app string, rel *ripcord.Release) ([]DecisionView, error) {
	entries, err := s.releaseEntries(ctx, app, rel)
	if err != nil {
		return nil, err
	}
	var out []DecisionView
	for _, e := range entries {
		var after map[string]any
		_ = json.Unmarshal([]byte(e.After), &after)
		str := func(k string) string { v, _ := after[k].(string); return v }
		switch {
		case e.Action == "health.decision":
			out = append(out, DecisionView{At: e.At, Actor: e.Actor, Platform: str("platform"), Kind: "verdict", Outcome: str("outcome"),
				Sentence: fmt.Sprintf("%s: %s", str("metric"), str("sentence"))})
		case strings.HasPrefix(e.Action, "release.") && e.Action != "release.create" && e.Action != "release.attach_build":
			kind := strings.TrimPrefix(e.Action, "release.")
			sentence := fmt.Sprintf("%s %s by %s", kind, rel.Version, e.Actor)
			if r := str("reason"); r != "" {
				sentence += " because " + r
			}
			out = append(out, DecisionView{At: e.At, Actor: e.Actor, Platform: platformOfTarget(e.Target), Kind: kind, Outcome: str("status"), Sentence: sentence})
		}
	}
	slices.Reverse(out)
	return out, nil
}

// releaseTargets are the audit targets that concern a release: the release
// itself, each platform's rollout, and each platform's rollback build.
func releaseTargets(app string, rel *ripcord.Release) []string {
	ts := []string{fmt.Sprintf("release/%s/%s", app, rel.Version)}
	for _, rp := range rel.Platforms {
		ts = append(ts, fmt.Sprintf("release/%s/%s/%s", app, rel.Version, rp.Platform),
			fmt.Sprintf("app/%s/rollbacks/%s/%s", app, rp.Platform, rel.Version))
	}
	return ts
}

// releaseEntryLimit bounds the entries on a page; a release with more
// shows its newest.
const releaseEntryLimit = 500

// releaseEntries reads a release's audit entries, oldest first.
func (s Sources) releaseEntries(ctx context.Context, app string, rel *ripcord.Release) ([]ripcord.AuditEntry, error) {
	return s.Records.AuditListTargets(ctx, releaseTargets(app, rel), releaseEntryLimit)
}

// Timeline gathers a release's audit entries, newest first.
func (s Sources) Timeline(ctx context.Context, appName, version string) (*ripcord.Release, []ripcord.AuditEntry, error) {
	rel, err := s.Catalog.ReleaseGet(ctx, appName, version)
	if err != nil {
		return nil, nil, err
	}
	es, err := s.releaseEntries(ctx, appName, rel)
	if err != nil {
		return nil, nil, err
	}
	slices.Reverse(es)
	return rel, es, nil
}

// Admin gathers the admin page.
func (s Sources) Admin(ctx context.Context) (*AdminView, error) {
	toks, err := s.Tokens.TokenList(ctx)
	if err != nil {
		return nil, err
	}
	v := &AdminView{Tokens: toks, UsersKnown: s.Users != nil}
	if s.Users != nil {
		if v.Users, err = s.Users.UserList(ctx); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// platformOfTarget returns the platform at the end of a rollout target
// ("release/shop/1.2.0/android").
func platformOfTarget(t string) string {
	if i := strings.LastIndexByte(t, '/'); i >= 0 {
		if p, err := ripcord.ParsePlatform(t[i+1:]); err == nil {
			return string(p)
		}
	}
	return ""
}
