package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/incident"
	"github.com/ripcordhq/ripcord/internal/jobs"
	"github.com/ripcordhq/ripcord/internal/notify"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/sentry"
)

// fanOut hands each verdict to every subscriber in order. The automatic
// halt comes first and returns at once (it acts in a goroutine), so
// recording the incident never delays the halt.
func fanOut(subs ...func(context.Context, healthwatch.Verdict)) func(context.Context, healthwatch.Verdict) {
	return func(ctx context.Context, v healthwatch.Verdict) {
		for _, sub := range subs {
			sub(ctx, v)
		}
	}
}

// openIncidents builds the notifier and the incident service from the
// configuration.
func (d *Daemon) openIncidents(cfg *config.Config, opts Options) error {
	var dests []notify.Destination
	for _, u := range cfg.Notify.Webhooks {
		dests = append(dests, notify.Destination{Kind: notify.KindWebhook, URL: u})
	}
	for _, u := range cfg.Notify.SlackURLs {
		dests = append(dests, notify.Destination{Kind: notify.KindSlack, URL: u})
	}
	d.now = opts.Now
	if d.now == nil {
		d.now = time.Now
	}
	var err error
	if d.Notify, err = notify.New(notify.Config{Destinations: dests, Secret: []byte(cfg.Notify.SigningSecret), Now: opts.Now, Logger: d.logger,
		RetryBase: opts.NotifyRetryBase}); err != nil {
		return err
	}
	autoRollback := slices.Clone(cfg.Health.AutoRollbackApps)
	d.Incidents, err = incident.New(incident.Config{Store: d.Store, Notify: d.Notify, PublicURL: cfg.Notify.PublicURL, Now: opts.Now, Logger: d.logger,
		AutoRollback: func(app string) bool { return slices.Contains(autoRollback, app) }})
	return err
}

// incidentVerdict opens an incident (or appends to the open one) on a
// pause- or rollback-tier crash-free verdict, as Ripcord's health actor.
// It runs in the ingest request after the verdict is recorded; a failure
// is logged and never fails the ingest, whose counts are already stored.
func (d *Daemon) incidentVerdict(ctx context.Context, v healthwatch.Verdict) {
	if v.Metric != healthwatch.CrashFreeSessions && v.Metric != healthwatch.CrashFreeUsers {
		return
	}
	if o := v.Decision.Outcome; o != health.Pause && o != health.Rollback {
		return
	}
	actx := ripcord.NewContextWithActor(context.WithoutCancel(ctx), ripcord.Actor{Name: HealthActor, Role: ripcord.RoleReleaseManager})
	id, err := d.Incidents.Open(actx, incident.IncidentParams{App: v.App, Version: v.Version, Platform: v.Platform, Trigger: "health:" + v.Metric,
		Decision: v.Decision.Sentence, Outcome: string(v.Decision.Outcome)})
	if err != nil {
		d.logger.ErrorContext(ctx, "could not record the incident of a health breach; the breach is in the audit log", slog.String("app", v.App),
			slog.String("version", v.Version), slog.String("platform", string(v.Platform)), slog.String("sentence", v.Decision.Sentence), slog.String("error", err.Error()))
		return
	}
	d.logger.WarnContext(ctx, "incident open on a health breach", slog.Int64("incident", id), slog.String("app", v.App), slog.String("version", v.Version),
		slog.String("platform", string(v.Platform)), slog.String("outcome", string(v.Decision.Outcome)))
}

// registerIncidentJobs adds the notification worker and the configured
// health pollers to workers and returns the pollers' periodic jobs.
func (d *Daemon) registerIncidentJobs(workers *river.Workers) ([]*river.PeriodicJob, error) {
	river.AddWorker(workers, d.Notify.Worker())
	pc := d.cfg.Pollers
	deps := jobs.PollDeps{Store: d.Store, Health: d.Health, Alerts: d.Notify, MaxErrors: pc.MaxErrors, Interval: pc.Interval, Now: d.now, Logger: d.logger}
	var periodic []*river.PeriodicJob
	if len(pc.SentryProjects) > 0 {
		if pc.SentryToken == "" || pc.SentryOrg == "" {
			return nil, fmt.Errorf("pollers.sentry_projects is set but pollers.sentry_token or pollers.sentry_org is not; set both, or clear pollers.sentry_projects")
		}
		var projects []jobs.SentryProject
		for _, key := range slices.Sorted(maps.Keys(pc.SentryProjects)) {
			app, platform, _ := strings.Cut(key, ":")
			projects = append(projects, jobs.SentryProject{App: app, Platform: ripcord.Platform(platform), ProjectID: pc.SentryProjects[key]})
		}
		river.AddWorker(workers, jobs.NewSentryPollWorker(deps, jobs.SentryPollConfig{Org: pc.SentryOrg, Projects: projects,
			Client: &sentry.SessionsClient{BaseURL: pc.SentryURL, Token: pc.SentryToken}}))
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(pc.Interval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.SentryPollArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	if len(pc.PlayVitalsApps) > 0 {
		open := func(ctx context.Context, app *ripcord.App) (jobs.VitalsReader, error) {
			m, err := d.Credentials.Open(ctx, app.Name, credentials.KindPlayServiceAccount)
			if err != nil {
				return nil, fmt.Errorf("open the Play service account of %s (store it with `ripcord app credentials %s --play-service-account FILE`): %w", app.Name, app.Name, err)
			}
			return play.New(ctx, play.Config{ServiceAccountJSON: m.ServiceAccount, Endpoint: d.cfg.Stores.GooglePlayURL, ReportingEndpoint: pc.PlayReportingURL, Logger: d.logger})
		}
		river.AddWorker(workers, jobs.NewPlayVitalsPollWorker(deps, jobs.PlayVitalsPollConfig{Apps: pc.PlayVitalsApps, Open: open}))
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(pc.Interval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.PlayVitalsPollArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	return periodic, nil
}
