package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// SourcePlayVitals names the Play vitals poller in its status rows.
const SourcePlayVitals = "play_vitals"

// PlayCrashUsers is where Play's crash rates are filed (see
// healthwatch.PlayCrashUsers: reported, not decided on).
const PlayCrashUsers = healthwatch.PlayCrashUsers

// playFirstLookback is how far back the first poll of an app reads.
const playFirstLookback = 48 * time.Hour

// VitalsReader reads Android vitals (internal/play's Client).
type VitalsReader interface {
	QueryVitals(ctx context.Context, q play.VitalsQuery) (*play.Vitals, error)
}

// PlayVitalsPollConfig configures the Play vitals poller.
type PlayVitalsPollConfig struct {
	Apps []string
	// Open returns a vitals reader for an app, from its stored Play
	// service account. Required when Apps is not empty.
	Open func(ctx context.Context, app *ripcord.App) (VitalsReader, error)
}

// PlayVitalsPollArgs asks for one poll of every configured app's vitals.
type PlayVitalsPollArgs struct{}

// Kind names the job in the queue.
func (PlayVitalsPollArgs) Kind() string { return "play_vitals_poll" }

// InsertOpts makes the poll unique per minute.
func (PlayVitalsPollArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}, MaxAttempts: 1}
}

// PlayVitalsPollWorker polls Play's hourly crash and ANR rates.
type PlayVitalsPollWorker struct {
	river.WorkerDefaults[PlayVitalsPollArgs]
	deps PollDeps
	cfg  PlayVitalsPollConfig
}

// NewPlayVitalsPollWorker builds the worker.
func NewPlayVitalsPollWorker(d PollDeps, cfg PlayVitalsPollConfig) *PlayVitalsPollWorker {
	return &PlayVitalsPollWorker{deps: d.withDefaults(), cfg: cfg}
}

// Timeout bounds one round of polls.
func (w *PlayVitalsPollWorker) Timeout(*river.Job[PlayVitalsPollArgs]) time.Duration {
	return 5 * time.Minute
}

// Work polls each app; a failure is recorded in the app's status.
func (w *PlayVitalsPollWorker) Work(ctx context.Context, _ *river.Job[PlayVitalsPollArgs]) error {
	ctx = pollerContext(ctx)
	for _, name := range w.cfg.Apps {
		if err := w.pollOne(ctx, name); err != nil {
			w.deps.Logger.ErrorContext(ctx, "play vitals poll", slog.String("app", name), slog.String("error", err.Error()))
		}
	}
	return nil
}

// Play's rates become counts with the distinct users Play gives for the
// same hour: bad = round(rate × users), total = users. Hours do not add up
// to distinct users (a user active in two hours counts twice), so the sums
// are user-hours; the ratio is still the user-weighted rate. Each hour is
// filed once: the status's data_through is the cursor, and only complete
// hours up to Play's freshness are read.
func (w *PlayVitalsPollWorker) pollOne(ctx context.Context, name string) error {
	app, err := w.deps.app(ctx, name)
	if err != nil {
		return err
	}
	st, err := pollStatus(ctx, w.deps.Store, SourcePlayVitals, app, ripcord.Android)
	if err != nil {
		return err
	}
	now := w.deps.Now().UTC()
	fail := func(cause error) error {
		if rerr := w.deps.recordFailure(ctx, st, now, cause); rerr != nil {
			return errors.Join(cause, rerr)
		}
		return nil
	}
	if app.AndroidPackage == "" {
		return fail(fmt.Errorf("app %s has no Android package; remove it from pollers.play_vitals_apps", app.Name))
	}
	reader, err := w.cfg.Open(ctx, app)
	if err != nil {
		return fail(err)
	}
	start := st.DataThrough
	if start.IsZero() {
		start = now.Add(-playFirstLookback).Truncate(time.Hour)
	}
	type metric struct {
		m    play.Metric
		name string
	}
	var deltas []storage.HealthCountDelta
	through := time.Time{}
	unknown := map[int64]bool{}
	for _, mt := range []metric{{play.MetricCrashRate, PlayCrashUsers}, {play.MetricANRRate, healthwatch.ANRRate}} {
		v, err := reader.QueryVitals(ctx, play.VitalsQuery{Package: app.AndroidPackage, Metric: mt.m, Period: play.Hourly, Start: start, End: now})
		if err != nil {
			return fail(fmt.Errorf("%s: %w", mt.m, err))
		}
		fresh := v.FreshUntil
		if fresh.IsZero() || fresh.After(now) {
			fresh = now.Truncate(time.Hour)
		}
		if through.IsZero() || fresh.Before(through) {
			through = fresh
		}
		for _, row := range v.Rows {
			if row.Start.Before(start) || row.Start.Add(time.Hour).After(fresh) || row.DistinctUsers <= 0 {
				continue
			}
			b, err := w.deps.Store.BuildGetByIdentity(ctx, storage.BuildIdentityParams{AppID: app.ID, Platform: ripcord.Android, BuildNumber: strconv.FormatInt(row.VersionCode, 10)})
			if errors.Is(err, storage.ErrNotFound) {
				unknown[row.VersionCode] = true
				continue
			} else if err != nil {
				return err
			}
			rate := min(max(row.Rate, 0), 1)
			bad := int64(math.Round(rate * float64(row.DistinctUsers)))
			deltas = append(deltas, storage.HealthCountDelta{AppID: app.ID, Platform: ripcord.Android, Version: b.Version, Metric: mt.name,
				Bucket: row.Start.UTC().Truncate(time.Minute), Counts: health.Counts{Bad: bad, Total: row.DistinctUsers}})
		}
	}
	// Both metrics are filed up to the earlier freshness; rows past it
	// wait for the next poll.
	kept := deltas[:0]
	for _, d := range deltas {
		if !d.Bucket.Add(time.Hour).After(through) {
			kept = append(kept, d)
		}
	}
	for code := range unknown {
		w.deps.Logger.InfoContext(ctx, "play vitals for a versionCode Ripcord has no build of; skipped", slog.String("app", app.Name), slog.Int64("version_code", code))
	}
	if through.Before(start) {
		through = start
	}
	return w.deps.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if len(kept) > 0 {
			if err := tx.HealthCountsAdd(ctx, kept); err != nil {
				return err
			}
		}
		return w.deps.recordSuccess(ctx, tx, st, now, through)
	})
}
