package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/notify"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Health pollers fetch release health that Ripcord does not receive
// itself (Sentry's sessions API, Play's Android vitals) on a timer, write
// the counts with the poller's cursor in one transaction, and decide again.
// Each keeps its status per app and platform: when data last arrived and
// how many polls failed in a row. A failing poller adds nothing, so the
// verdict turns into no-data once the data is stale — never healthy — and
// after MaxErrors failures in a row one alert goes out (and one more when
// it recovers).

// PollerActor is the actor pollers' writes and decisions are audited as.
const PollerActor = "ripcord:poller"

// Redecider decides again on releases after a poll (healthwatch).
type Redecider interface {
	Redecide(ctx context.Context, app string, platform ripcord.Platform, versions []string) ([]healthwatch.Verdict, error)
}

// Alerter queues an alert in a transaction (notify).
type Alerter interface {
	Enqueue(ctx context.Context, tx notify.JobInserter, m notify.Message) error
}

// PollDeps are what every poller needs.
type PollDeps struct {
	Store  storage.Store // required
	Health Redecider     // required
	// Alerts receives outage and recovery alerts. Default: none (logged).
	Alerts Alerter
	// MaxErrors is how many failed polls in a row raise the alert.
	// Default 3.
	MaxErrors int
	// Interval is how often the pollers run. Default 5 minutes.
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

func (d PollDeps) withDefaults() PollDeps {
	d.MaxErrors = cmp.Or(d.MaxErrors, 3)
	d.Interval = cmp.Or(d.Interval, 5*time.Minute)
	if d.Now == nil {
		d.Now = time.Now
	}
	d.Logger = cmp.Or(d.Logger, slog.Default())
	return d
}

// pollerContext acts as the poller.
func pollerContext(ctx context.Context) context.Context {
	return ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: PollerActor, Role: ripcord.RoleEngineer})
}

// maxErrorText bounds a stored poll error.
const maxErrorText = 500

// pollStatus reads a poller's status for an app and platform (zero when
// it never ran).
func pollStatus(ctx context.Context, s storage.Queries, source string, app *ripcord.App, p ripcord.Platform) (storage.PollerStatus, error) {
	all, err := s.PollerStatusList(ctx, app.ID)
	if err != nil {
		return storage.PollerStatus{}, err
	}
	for _, st := range all {
		if st.Source == source && st.Platform == p {
			return st, nil
		}
	}
	return storage.PollerStatus{Source: source, AppID: app.ID, App: app.Name, Platform: p}, nil
}

// recordSuccess stores a successful poll's status inside tx, with the
// recovery alert when an outage alert had gone out.
func (d PollDeps) recordSuccess(ctx context.Context, tx storage.Tx, st storage.PollerStatus, now, dataThrough time.Time) error {
	alerted := !st.AlertedAt.IsZero()
	failures := st.ConsecutiveErrors
	st.LastAttemptAt, st.LastSuccessAt, st.DataThrough = now, now, dataThrough
	st.ConsecutiveErrors, st.LastError, st.AlertedAt = 0, "", time.Time{}
	if err := tx.PollerStatusPut(ctx, st); err != nil {
		return err
	}
	if !alerted || d.Alerts == nil {
		return nil
	}
	return d.Alerts.Enqueue(ctx, tx, notify.Message{Event: notify.EventPollerRecovered, At: now,
		Text:   fmt.Sprintf("The %s poller of %s (%s) has data again after %d failed polls.", st.Source, st.App, st.Platform, failures),
		Poller: &notify.PollerRef{Source: st.Source, App: st.App, Platform: string(st.Platform), LastSuccessAt: now}})
}

// recordFailure counts a failed poll and, at MaxErrors in a row, queues
// the outage alert once.
func (d PollDeps) recordFailure(ctx context.Context, st storage.PollerStatus, now time.Time, cause error) error {
	msg := cause.Error()
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText] + "…"
	}
	st.LastAttemptAt, st.LastError = now, msg
	st.ConsecutiveErrors++
	alert := st.ConsecutiveErrors >= int64(d.MaxErrors) && st.AlertedAt.IsZero()
	if alert {
		st.AlertedAt = now
	}
	d.Logger.WarnContext(ctx, "health poll failed; its releases get no new data (the verdict becomes no-data when stale)", slog.String("source", st.Source),
		slog.String("app", st.App), slog.String("platform", string(st.Platform)), slog.Int64("consecutive_errors", st.ConsecutiveErrors), slog.String("error", msg))
	return d.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.PollerStatusPut(ctx, st); err != nil {
			return err
		}
		if !alert {
			return nil
		}
		last := "never"
		if !st.LastSuccessAt.IsZero() {
			last = st.LastSuccessAt.UTC().Format(time.RFC3339)
		}
		d.Logger.ErrorContext(ctx, "health poller failing; alert sent", slog.String("source", st.Source), slog.String("app", st.App),
			slog.String("platform", string(st.Platform)), slog.Int64("consecutive_errors", st.ConsecutiveErrors))
		if d.Alerts == nil {
			return nil
		}
		return d.Alerts.Enqueue(ctx, tx, notify.Message{Event: notify.EventPollerFailing, At: now,
			Text: fmt.Sprintf("The %s poller of %s (%s) failed %d times in a row (last success: %s): %s. Its releases' verdicts turn to no-data, never healthy, until it recovers.",
				st.Source, st.App, st.Platform, st.ConsecutiveErrors, last, msg),
			Poller: &notify.PollerRef{Source: st.Source, App: st.App, Platform: string(st.Platform), ConsecutiveErrors: st.ConsecutiveErrors,
				LastError: msg, LastSuccessAt: st.LastSuccessAt}})
	})
}

// redecide decides again on the versions after a poll; a failure is
// logged (the counts are stored, the next ingest or poll decides).
func (d PollDeps) redecide(ctx context.Context, app string, p ripcord.Platform, versions []string) {
	if len(versions) == 0 {
		return
	}
	if _, err := d.Health.Redecide(ctx, app, p, versions); err != nil {
		d.Logger.ErrorContext(ctx, "decide after a health poll", slog.String("app", app), slog.String("platform", string(p)), slog.String("error", err.Error()))
	}
}

func (d PollDeps) app(ctx context.Context, name string) (*ripcord.App, error) {
	app, err := d.Store.AppGetByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("app %s in the poller configuration does not exist; fix the configuration or create the app", name)
	}
	return app, err
}
