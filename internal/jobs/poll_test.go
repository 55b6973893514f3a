package jobs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/jobs"
	"github.com/ripcordhq/ripcord/internal/notify"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/sentry/sentrytest"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// alertLog is a hand-written Alerter that records what was queued.
type alertLog struct {
	mu   sync.Mutex
	msgs []notify.Message
}

var _ jobs.Alerter = (*alertLog)(nil)

func (a *alertLog) Enqueue(_ context.Context, _ notify.JobInserter, m notify.Message) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.msgs = append(a.msgs, m)
	return nil
}

func (a *alertLog) events() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, m := range a.msgs {
		out = append(out, m.Event)
	}
	return out
}

type pollBundle struct {
	store  *sqlite.DB
	health *healthwatch.Service
	alerts *alertLog
	app    *ripcord.App
	now    time.Time
}

func setupPoll(t *testing.T) *pollBundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	pb := &pollBundle{store: db, alerts: &alertLog{}, now: time.Now().UTC().Truncate(time.Second)}
	pb.app = &ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop", CreatedAt: pb.now, UpdatedAt: pb.now}
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.AppCreate(ctx, pb.app) }))
	pb.health = healthwatch.New(healthwatch.Config{Store: db, Now: func() time.Time { return pb.now }})
	return pb
}

func (pb *pollBundle) deps() jobs.PollDeps {
	return jobs.PollDeps{Store: pb.store, Health: pb.health, Alerts: pb.alerts, MaxErrors: 3, Now: func() time.Time { return pb.now }}
}

func (pb *pollBundle) sum(t *testing.T, p ripcord.Platform, version, metric string) health.Counts {
	t.Helper()
	c, err := pb.store.HealthSum(context.Background(), storage.HealthSumParams{AppID: pb.app.ID, Platform: p, Version: version, Metric: metric})
	require.NoError(t, err)
	return c
}

func (pb *pollBundle) status(t *testing.T, source string) storage.PollerStatus {
	t.Helper()
	all, err := pb.store.PollerStatusList(context.Background(), pb.app.ID)
	require.NoError(t, err)
	for _, st := range all {
		if st.Source == source {
			return st
		}
	}
	t.Fatalf("no %s status", source)
	return storage.PollerStatus{}
}

func (pb *pollBundle) latest(t *testing.T, p ripcord.Platform, version string) health.Outcome {
	t.Helper()
	d, err := pb.store.HealthDecisionLatest(context.Background(), pb.app.ID, p, version, healthwatch.CrashFreeSessions)
	require.NoError(t, err)
	return d.Outcome
}

// TestSentryPollerAddsGrowthOnceAndAlertsOnOutage: each poll adds only
// what Sentry's cumulative counts grew by (so late sessions count, once),
// decides, and an outage turns the verdict into no-data — never healthy —
// with one alert at the third failure in a row and one on recovery.
func TestSentryPollerAddsGrowthOnceAndAlertsOnOutage(t *testing.T) {
	t.Parallel()
	pb := setupPoll(t)
	fake := sentrytest.New("acme", "tok")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	w := jobs.NewSentryPollWorker(pb.deps(), jobs.SentryPollConfig{Client: &sentry.SessionsClient{BaseURL: srv.URL, Token: "tok"}, Org: "acme",
		Projects: []jobs.SentryProject{{App: "shop", Platform: ripcord.IOS, ProjectID: "42"}}})
	poll := func() {
		t.Helper()
		require.NoError(t, w.Work(context.Background(), &river.Job[jobs.SentryPollArgs]{JobRow: &rivertype.JobRow{Attempt: 1}}))
	}
	fake.Set("42", "com.acme.shop@1.2.0+120", sentrytest.Counts{Healthy: 9_998, Crashed: 2, Users: 4_200, CrashedUsers: 2})
	fake.Set("42", "com.other@1.2.0+1", sentrytest.Counts{Healthy: 99, Crashed: 1, Users: 10})
	poll()
	require.Equal(t, health.Counts{Bad: 2, Total: 10_000}, pb.sum(t, ripcord.IOS, "1.2.0", healthwatch.CrashFreeSessions))
	require.Equal(t, health.Counts{Bad: 2, Total: 4_200}, pb.sum(t, ripcord.IOS, "1.2.0", healthwatch.CrashFreeUsers))
	require.Equal(t, health.Inconclusive, pb.latest(t, ripcord.IOS, "1.2.0"), "decided on the polled counts (too young for healthy)")
	st := pb.status(t, jobs.SourceSentry)
	require.Equal(t, pb.now, st.LastSuccessAt)
	require.Zero(t, st.ConsecutiveErrors)

	pb.now = pb.now.Add(5 * time.Minute)
	poll() // nothing new
	require.Equal(t, health.Counts{Bad: 2, Total: 10_000}, pb.sum(t, ripcord.IOS, "1.2.0", healthwatch.CrashFreeSessions), "a repeat poll adds nothing")
	fake.Set("42", "com.acme.shop@1.2.0+120", sentrytest.Counts{Healthy: 11_997, Crashed: 3, Users: 5_000, CrashedUsers: 3})
	poll()
	require.Equal(t, health.Counts{Bad: 3, Total: 12_000}, pb.sum(t, ripcord.IOS, "1.2.0", healthwatch.CrashFreeSessions), "only the growth is added")

	// An outage: three failures alert once; the fourth does not again.
	for i := 1; i <= 4; i++ {
		pb.now = pb.now.Add(10 * time.Minute)
		fake.FailNext(http.StatusBadGateway)
		poll()
		require.Equal(t, int64(i), pb.status(t, jobs.SourceSentry).ConsecutiveErrors)
	}
	st = pb.status(t, jobs.SourceSentry)
	require.Contains(t, st.LastError, "502")
	require.False(t, st.AlertedAt.IsZero())
	require.Equal(t, []string{notify.EventPollerFailing}, pb.alerts.events())
	require.Equal(t, health.Counts{Bad: 3, Total: 12_000}, pb.sum(t, ripcord.IOS, "1.2.0", healthwatch.CrashFreeSessions), "a failed poll adds nothing")
	require.Equal(t, health.NoData, pb.latest(t, ripcord.IOS, "1.2.0"), "stale data after the outage: no-data, never healthy")

	poll() // recovers
	st = pb.status(t, jobs.SourceSentry)
	require.Zero(t, st.ConsecutiveErrors)
	require.True(t, st.AlertedAt.IsZero())
	require.Equal(t, []string{notify.EventPollerFailing, notify.EventPollerRecovered}, pb.alerts.events())
}

// TestPlayVitalsPollerFilesEachHourOnce reads hourly crash and ANR rates
// from the fake Play Reporting API and files them as counts (rate × the
// hour's distinct users) under the release with that versionCode, each
// complete hour once.
func TestPlayVitalsPollerFilesEachHourOnce(t *testing.T) {
	t.Parallel()
	pb := setupPoll(t)
	ts := httptest.NewUnstartedServer(nil)
	fakeURL := "http://" + ts.Listener.Addr().String()
	fake, err := fakestore.New(fakestore.Config{StateDir: t.TempDir(), BaseURL: fakeURL})
	require.NoError(t, err)
	ts.Config.Handler = fake.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { fake.Close() })
	require.NoError(t, fake.CreatePlayApp(fakestore.PlayAppSpec{PackageName: "com.acme.shop", ExistingVersionCodes: []int64{120, 999}}))
	require.NoError(t, fake.SetVitals("com.acme.shop", fakestore.VitalsSpec{VersionCode: 120, CrashRate: 0.012, ANRRate: 0.004, DistinctUsers: 5000}))
	require.NoError(t, fake.SetVitals("com.acme.shop", fakestore.VitalsSpec{VersionCode: 999, CrashRate: 0.5, DistinctUsers: 10}))
	require.NoError(t, pb.store.InTx(context.Background(), func(ctx context.Context, tx storage.Tx) error {
		return tx.BuildCreate(ctx, &ripcord.Build{AppID: pb.app.ID, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120",
			SHA256: "00000000000000000000000000000000000000000000000000000000000000aa", Size: 1, BlobKey: "builds/x", UploadedBy: "t", CreatedAt: pb.now})
	}))
	pc, err := play.New(context.Background(), play.Config{ServiceAccountJSON: fake.Credentials().PlayServiceAccountJSON, Endpoint: fakeURL + "/", ReportingEndpoint: fakeURL + "/"})
	require.NoError(t, err)
	w := jobs.NewPlayVitalsPollWorker(pb.deps(), jobs.PlayVitalsPollConfig{Apps: []string{"shop"},
		Open: func(context.Context, *ripcord.App) (jobs.VitalsReader, error) { return pc, nil }})
	poll := func() {
		t.Helper()
		require.NoError(t, w.Work(context.Background(), &river.Job[jobs.PlayVitalsPollArgs]{JobRow: &rivertype.JobRow{Attempt: 1}}))
	}
	poll()
	crash := pb.sum(t, ripcord.Android, "1.2.0", jobs.PlayCrashUsers)
	anr := pb.sum(t, ripcord.Android, "1.2.0", healthwatch.ANRRate)
	require.Positive(t, crash.Total)
	hours := crash.Total / 5000
	require.Equal(t, health.Counts{Bad: 60 * hours, Total: 5000 * hours}, crash, "1.2 %% of 5,000 users per hour")
	require.Equal(t, health.Counts{Bad: 20 * hours, Total: 5000 * hours}, anr)
	st := pb.status(t, jobs.SourcePlayVitals)
	require.False(t, st.DataThrough.IsZero())
	require.False(t, st.DataThrough.After(pb.now), "freshness comes from Play, never ahead of now")

	poll() // the same hours again: nothing new
	require.Equal(t, crash, pb.sum(t, ripcord.Android, "1.2.0", jobs.PlayCrashUsers))
}

// TestPlayVitalsPollerFailureCounts: a reader that fails is recorded as a
// failed poll, with the error.
func TestPlayVitalsPollerFailureCounts(t *testing.T) {
	t.Parallel()
	pb := setupPoll(t)
	w := jobs.NewPlayVitalsPollWorker(pb.deps(), jobs.PlayVitalsPollConfig{Apps: []string{"shop", "ghost"},
		Open: func(context.Context, *ripcord.App) (jobs.VitalsReader, error) {
			return nil, &play.Error{Op: "vitals", Package: "com.acme.shop", Message: "no service account"}
		}})
	require.NoError(t, w.Work(context.Background(), &river.Job[jobs.PlayVitalsPollArgs]{JobRow: &rivertype.JobRow{Attempt: 1}}))
	st := pb.status(t, jobs.SourcePlayVitals)
	require.Equal(t, int64(1), st.ConsecutiveErrors)
	require.Contains(t, st.LastError, "no service account")
}
