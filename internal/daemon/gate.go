package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/incident"
	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/triggers"
)

// triggerHealth is the health API with runbook triggers evaluated after
// every ingest: the thin hook between health counts and the trigger
// watcher, kept here so healthwatch needs no knowledge of runbooks. A
// trigger failure is logged and never fails the ingest: the counts are
// already committed, and the next ingest evaluates again.
type triggerHealth struct {
	httpapi.Health
	store   storage.Store
	watcher *triggers.Watcher
	now     func() time.Time
	logger  *slog.Logger
}

type releaseOn struct {
	app      string
	platform ripcord.Platform
	version  string
}

// Ingest ingests samples, then evaluates triggers of every release the
// accepted samples touched, over windows ending after its newest sample.
func (t triggerHealth) Ingest(ctx context.Context, samples []healthwatch.Sample) (*healthwatch.IngestResult, error) {
	res, err := t.Health.Ingest(ctx, samples)
	if err != nil || res == nil || res.Accepted == 0 {
		return res, err
	}
	rejected := map[int]bool{}
	for _, r := range res.Rejected {
		rejected[r.Index] = true
	}
	ends := map[releaseOn]time.Time{}
	for i, sm := range samples {
		if rejected[i] {
			continue
		}
		k := releaseOn{sm.App, sm.Platform, sm.Version}
		if end := sm.WindowStart.UTC().Truncate(time.Minute).Add(time.Minute); end.After(ends[k]) {
			ends[k] = end
		}
	}
	for k, end := range ends {
		t.observe(ctx, k, end)
	}
	return res, nil
}

// IngestEnvelope ingests a Sentry envelope, then evaluates triggers of the
// releases it touched, over windows ending after the current minute.
func (t triggerHealth) IngestEnvelope(ctx context.Context, p *storage.SentryProject, env *sentry.Envelope) (*healthwatch.EnvelopeResult, error) {
	res, err := t.Health.IngestEnvelope(ctx, p, env)
	if err != nil || res == nil {
		return res, err
	}
	app, err := t.store.AppGetByID(ctx, p.AppID)
	if err != nil {
		t.logger.WarnContext(ctx, "runbook triggers not evaluated", slog.String("error", err.Error()))
		return res, nil
	}
	end := t.now().UTC().Truncate(time.Minute).Add(time.Minute)
	seen := map[string]bool{}
	for _, v := range res.Verdicts {
		if !seen[v.Version] {
			seen[v.Version] = true
			t.observe(ctx, releaseOn{app.Name, p.Platform, v.Version}, end)
		}
	}
	return res, nil
}

func (t triggerHealth) observe(ctx context.Context, k releaseOn, end time.Time) {
	app, err := t.store.AppGetByName(ctx, k.app)
	if err == nil {
		_, err = t.watcher.Observe(ctx, app, k.platform, k.version, end)
	}
	if err != nil {
		t.logger.WarnContext(ctx, "runbook triggers not evaluated; the next ingest tries again", slog.String("app", k.app),
			slog.String("version", k.version), slog.String("platform", string(k.platform)), slog.String("error", err.Error()))
	}
}

// healthAPI is the health service as the API serves it: with runbook
// triggers evaluated after each ingest.
func (d *Daemon) healthAPI(opts Options) httpapi.Health {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return triggerHealth{Health: d.Health, store: d.Store, watcher: d.Triggers, now: now, logger: d.logger}
}

// runbookIncidents opens the incidents service's incidents for runbook
// triggers: trigger "runbook:<runbook>/<trigger>", the decision sentence
// led by the trigger as written, the runbook attached.
type runbookIncidents struct{ svc *incident.Service }

func (r runbookIncidents) Open(ctx context.Context, p triggers.IncidentParams) (int64, error) {
	return r.svc.Open(ctx, incident.IncidentParams{App: p.App, Version: p.Version, Platform: p.Platform,
		Trigger: "runbook:" + p.RunbookID + "/" + p.TriggerID, Decision: p.Trigger + ". " + p.Decision, RunbookID: p.RunbookID})
}

// triggerIncidents is the opener runbook triggers use: the one given in
// the options (tests), else the incidents service.
func (d *Daemon) triggerIncidents(opts Options) triggers.IncidentOpener {
	if opts.Incidents != nil {
		return opts.Incidents
	}
	if d.Incidents != nil {
		return runbookIncidents{d.Incidents}
	}
	return nil
}

// teamRolesHeld lists the team roles active users hold, for the push-time
// rule that someone holds every role a runbook names.
func (d *Daemon) teamRolesHeld(ctx context.Context) ([]string, error) {
	users, err := d.Store.UserList(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range users {
		if !u.Disabled {
			out = append(out, u.TeamRoles...)
		}
	}
	return out, nil
}
