package daemon

import (
	"context"
	"log/slog"
	"slices"

	"github.com/riverqueue/river"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/incident"
	"github.com/ripcordhq/ripcord/internal/notify"
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

// registerIncidentJobs adds the notification worker (and the pollers) to
// workers and returns their periodic jobs.
func (d *Daemon) registerIncidentJobs(workers *river.Workers) []*river.PeriodicJob {
	river.AddWorker(workers, d.Notify.Worker())
	return nil
}
