package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// SourceSentry names the Sentry sessions poller in its status rows.
const SourceSentry = "sentry"

// sentryLookback is how far back each Sentry poll reads: the health
// engine's 30-day window. Each poll reads cumulative counts over it and
// adds only what grew since the last poll (the cursor), so sessions that
// Sentry receives late (crashes sent at next launch) are still counted,
// once.
const sentryLookback = 30 * 24 * time.Hour

// SentryProject is one app and platform polled from one Sentry project.
type SentryProject struct {
	App       string
	Platform  ripcord.Platform
	ProjectID string
}

// SentryPollConfig configures the Sentry poller.
type SentryPollConfig struct {
	Client   *sentry.SessionsClient // required
	Org      string                 // required
	Projects []SentryProject
}

// SentryPollArgs asks for one poll of every configured Sentry project.
type SentryPollArgs struct{}

// Kind names the job in the queue.
func (SentryPollArgs) Kind() string { return "sentry_poll" }

// InsertOpts makes the poll unique per minute, so restarts and several
// instances do not stack polls.
func (SentryPollArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}, MaxAttempts: 1}
}

// SentryPollWorker polls the Sentry sessions API.
type SentryPollWorker struct {
	river.WorkerDefaults[SentryPollArgs]
	deps PollDeps
	cfg  SentryPollConfig
}

// NewSentryPollWorker builds the worker.
func NewSentryPollWorker(d PollDeps, cfg SentryPollConfig) *SentryPollWorker {
	return &SentryPollWorker{deps: d.withDefaults(), cfg: cfg}
}

// Timeout bounds one round of polls.
func (w *SentryPollWorker) Timeout(*river.Job[SentryPollArgs]) time.Duration { return 2 * time.Minute }

// Work polls each project; one project's failure does not stop the others
// (it is recorded in its status) and does not fail the job, which would
// only be retried out of step with the schedule.
func (w *SentryPollWorker) Work(ctx context.Context, _ *river.Job[SentryPollArgs]) error {
	ctx = pollerContext(ctx)
	for _, p := range w.cfg.Projects {
		if err := w.pollOne(ctx, p); err != nil {
			w.deps.Logger.ErrorContext(ctx, "sentry poll", slog.String("app", p.App), slog.String("platform", string(p.Platform)), slog.String("error", err.Error()))
		}
	}
	return nil
}

// sentryMetric is one metric the poller derives from a release's counts.
type sentryMetric struct {
	name   string
	counts func(r sentry.ReleaseSessions) health.Counts
}

var sentryMetrics = []sentryMetric{
	{healthwatch.CrashFreeSessions, func(r sentry.ReleaseSessions) health.Counts { return health.Counts{Bad: r.Crashed, Total: r.Sessions} }},
	{healthwatch.CrashFreeUsers, func(r sentry.ReleaseSessions) health.Counts {
		return health.Counts{Bad: r.CrashedUsers, Total: r.Users}
	}},
	{healthwatch.AbnormalSessions, func(r sentry.ReleaseSessions) health.Counts { return health.Counts{Bad: r.Abnormal, Total: r.Sessions} }},
	{healthwatch.ErroredSessions, func(r sentry.ReleaseSessions) health.Counts {
		return health.Counts{Bad: r.Errored + r.Crashed, Total: r.Sessions}
	}},
}

func (w *SentryPollWorker) pollOne(ctx context.Context, p SentryProject) error {
	app, err := w.deps.app(ctx, p.App)
	if err != nil {
		return err
	}
	st, err := pollStatus(ctx, w.deps.Store, SourceSentry, app, p.Platform)
	if err != nil {
		return err
	}
	now := w.deps.Now().UTC()
	rels, err := w.cfg.Client.ReleaseSessions(ctx, sentry.SessionsQuery{Org: w.cfg.Org, Project: p.ProjectID, Start: now.Add(-sentryLookback), End: now})
	if err != nil {
		if rerr := w.deps.recordFailure(ctx, st, now, err); rerr != nil {
			return errors.Join(err, rerr)
		}
		w.deps.redecide(ctx, app.Name, p.Platform, w.knownVersions(ctx, app, p.Platform))
		return nil
	}
	totals := releaseTotals(app, p.Platform, rels)
	// The cursor is read and moved in the transaction that adds the
	// counts, so the growth is added exactly once (polls are unique per
	// minute in the queue, so two never race on one cursor).
	bucket := now.Truncate(time.Minute)
	err = w.deps.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		cursors, err := tx.PollerCursorList(ctx, SourceSentry, app.ID, p.Platform)
		if err != nil {
			return err
		}
		deltas, moved := w.growth(ctx, app, p.Platform, totals, cursors, bucket)
		if len(deltas) > 0 {
			if err := tx.HealthCountsAdd(ctx, deltas); err != nil {
				return err
			}
		}
		for _, c := range moved {
			if err := tx.PollerCursorPut(ctx, c); err != nil {
				return err
			}
		}
		return w.deps.recordSuccess(ctx, tx, st, now, now)
	})
	if err != nil {
		return fmt.Errorf("record sentry poll of %s %s: %w", app.Name, p.Platform, err)
	}
	// Decide on every known version, not only those that grew: one with
	// no new sessions may now be stale.
	w.deps.redecide(ctx, app.Name, p.Platform, w.knownVersions(ctx, app, p.Platform))
	return nil
}

// growth compares Sentry's cumulative totals with the cursors and returns
// the counts to add and the cursors to move.
func (w *SentryPollWorker) growth(ctx context.Context, app *ripcord.App, p ripcord.Platform, totals map[string]sentry.ReleaseSessions,
	cursors []storage.PollerCursor, bucket time.Time) ([]storage.HealthCountDelta, []storage.PollerCursor) {
	seen := map[string]health.Counts{}
	for _, c := range cursors {
		seen[c.Version+"\x00"+c.Metric] = c.Counts
	}
	var deltas []storage.HealthCountDelta
	var moved []storage.PollerCursor
	for _, version := range sortedKeys(totals) {
		for _, m := range sentryMetrics {
			cur := m.counts(totals[version])
			old := seen[version+"\x00"+m.name]
			if cur == old {
				continue
			}
			moved = append(moved, storage.PollerCursor{Source: SourceSentry, AppID: app.ID, Platform: p, Version: version, Metric: m.name, Counts: cur})
			delta := health.Counts{Bad: cur.Bad - old.Bad, Total: cur.Total - old.Total}
			if delta.Total < 0 || delta.Bad < 0 {
				// Sentry no longer has some of what was counted (its
				// retention, or the release renamed): count nothing, and
				// measure growth from here.
				w.deps.Logger.WarnContext(ctx, "sentry reports fewer sessions than already counted; counting from the new figures", slog.String("app", app.Name),
					slog.String("version", version), slog.String("metric", m.name))
				continue
			}
			// A delta may have more bad than total (sessions counted
			// earlier that crashed since): buckets add up, and the sums
			// are what decisions read, as with late crash envelopes.
			deltas = append(deltas, storage.HealthCountDelta{AppID: app.ID, Platform: p, Version: version, Metric: m.name, Bucket: bucket, Counts: delta})
		}
	}
	return deltas, moved
}

// knownVersions lists the versions the poller has counted for an app.
func (w *SentryPollWorker) knownVersions(ctx context.Context, app *ripcord.App, p ripcord.Platform) []string {
	cs, err := w.deps.Store.PollerCursorList(ctx, SourceSentry, app.ID, p)
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range cs {
		if !slices.Contains(out, c.Version) {
			out = append(out, c.Version)
		}
	}
	return out
}

// releaseTotals maps Sentry releases ("bundle@version+build") to the app's
// versions on the platform, adding up builds of one version; releases of
// other apps and unparsable ones are skipped.
func releaseTotals(app *ripcord.App, p ripcord.Platform, rels []sentry.ReleaseSessions) map[string]sentry.ReleaseSessions {
	id := app.AndroidPackage
	if p == ripcord.IOS {
		id = app.IOSBundleID
	}
	out := map[string]sentry.ReleaseSessions{}
	for _, r := range rels {
		pkg, ver, _, ok := sentry.ParseRelease(r.Release)
		if !ok || (pkg != "" && !strings.EqualFold(pkg, id)) {
			continue
		}
		v, err := ripcord.ParseVersion(ver)
		if err != nil {
			continue
		}
		t := out[v.String()]
		t.Sessions += r.Sessions
		t.Crashed += r.Crashed
		t.Abnormal += r.Abnormal
		t.Errored += r.Errored
		t.Users += r.Users
		t.CrashedUsers += r.CrashedUsers
		out[v.String()] = t
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
