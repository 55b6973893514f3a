package stages

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/fakestore/androidpkg"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/postgres"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

// monday is the start of the tests' store clock: Monday 23 November 2026,
// 09:00 UTC, an hour before the default plan's stages are due.
var monday = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// gateFunc is a hand-written Gate.
type gateFunc func(ctx context.Context, app, version string) error

func (f gateFunc) GoRecorded(ctx context.Context, app, version string) error {
	return f(ctx, app, version)
}

var _ Gate = gateFunc(nil)

type testBundle struct {
	fake     *fakestore.Server
	store    storage.Store
	svc      *Service
	pc       *play.Client
	as       *appstore.Client
	ascAppID string
	rm       context.Context // a release manager's context
	app      *ripcord.App

	mu     sync.Mutex
	gateOK bool
}

// setup serves the fake stores over HTTP with a frozen clock that only the
// test (and the App Store client's waits) move, registers app shop on both
// platforms with 1.1.0 live on both stores, uploads 1.2.0's builds
// (versionCode 120, iOS build 42) to Ripcord and creates release 1.2.0.
// The service's clock is the store's.
func setup(t testing.TB, start time.Time) *testBundle {
	t.Helper()
	return setupOn(t, start, openSQLite(t))
}

// dialects are the databases the main flows run on: SQLite always,
// PostgreSQL when RIPCORD_TEST_DATABASE_URL is set (required in CI).
var dialects = []struct {
	name string
	open func(t *testing.T) storage.Store
}{{"sqlite", func(t *testing.T) storage.Store { return openSQLite(t) }}, {"postgres", openPostgres}}

func openSQLite(t testing.TB) storage.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ripcord.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// openPostgres opens a store in a schema of its own, dropped at cleanup.
func openPostgres(t *testing.T) storage.Store {
	t.Helper()
	url := testenv.Getenv(t, "RIPCORD_TEST_DATABASE_URL", "PostgreSQL for the staged-rollout tests, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	db, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() {
		db.Close()
		if conn, err := pgx.Connect(context.Background(), url); err == nil {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(context.Background())
		}
	})
	return db
}

func setupOn(t testing.TB, start time.Time, db storage.Store) *testBundle {
	t.Helper()
	ctx := t.Context()
	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String()
	fake, err := fakestore.New(fakestore.Config{StateDir: t.TempDir(), BaseURL: url, ReviewWaitDelay: 10 * time.Minute, ReviewDelay: 20 * time.Minute})
	require.NoError(t, err)
	require.NoError(t, fake.SetTime(ctx, start))
	ts.Config.Handler = fake.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { require.NoError(t, fake.Close()) })
	require.NoError(t, fake.CreatePlayApp(fakestore.PlayAppSpec{PackageName: "com.acme.shop", ExistingVersionCodes: []int64{110}}))
	ascAppID, err := fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: "com.acme.shop", LiveVersion: "1.1.0", LiveBuild: "41"})
	require.NoError(t, err)

	pc, err := play.New(ctx, play.Config{ServiceAccountJSON: fake.Credentials().PlayServiceAccountJSON, Endpoint: url + "/"})
	require.NoError(t, err)
	cr := fake.Credentials()
	as, err := appstore.New(appstore.Config{KeyID: cr.ASCKeyID, IssuerID: cr.ASCIssuerID, PrivateKeyPEM: cr.ASCPrivateKeyPEM, BaseURL: url,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, MaxAttempts: 2,
		Sleep: func(ctx context.Context, d time.Duration) error { return fake.Advance(ctx, d) }, Clock: fake.Now})
	require.NoError(t, err)

	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	artifacts, err := blob.Open(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = artifacts.Close() })

	b := &testBundle{fake: fake, store: db, pc: pc, as: as, ascAppID: ascAppID,
		rm: ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:rm", Role: ripcord.RoleReleaseManager})}
	b.svc, err = New(Config{Store: db, Artifacts: artifacts, Now: fake.Now, Logger: slog.New(slog.DiscardHandler),
		Gate: gateFunc(func(_ context.Context, app, version string) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			if !b.gateOK {
				return ripcord.Errorf(ripcord.ECONFLICT, "the release gate of %s %s has no go: 2 checks are not done", app, version)
			}
			return nil
		}),
		Play:     func(context.Context, *ripcord.App) (Play, error) { return pc, nil },
		AppStore: func(context.Context, *ripcord.App) (AppStore, error) { return as, nil },
	})
	require.NoError(t, err)

	admin := ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "local:test", Role: ripcord.RoleAdmin})
	cat := catalog.New(catalog.Config{Store: db, Artifacts: artifacts, Now: fake.Now})
	b.app, err = cat.AppCreate(admin, ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop"})
	require.NoError(t, err)
	apk, err := androidpkg.BuildAPK(androidpkg.Manifest{Package: "com.acme.shop", VersionCode: 120, VersionName: "1.2.0"})
	require.NoError(t, err)
	_, _, err = cat.BuildUpload(admin, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", Body: bytes.NewReader(apk)})
	require.NoError(t, err)
	_, _, err = cat.BuildUpload(admin, catalog.BuildUploadParams{App: "shop", Platform: ripcord.IOS, Version: "1.2.0", BuildNumber: "42", Body: bytes.NewReader([]byte("an IPA the fake does not parse"))})
	require.NoError(t, err)
	_, err = cat.ReleaseCreate(admin, "shop", "1.2.0")
	require.NoError(t, err)
	return b
}

func (b *testBundle) openGate() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gateOK = true
}

func (b *testBundle) advance(t *testing.T, d time.Duration) {
	t.Helper()
	require.NoError(t, b.fake.Advance(t.Context(), d))
}

// decide records a crash-free sessions verdict, as the health engine does.
func (b *testBundle) decide(t *testing.T, p ripcord.Platform, o health.Outcome) {
	t.Helper()
	require.NoError(t, b.store.InTx(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		return tx.HealthDecisionAppend(ctx, &storage.HealthDecision{AppID: b.app.ID, Platform: p, Version: "1.2.0", Metric: healthwatch.CrashFreeSessions,
			DecidedAt: b.fake.Now(), Outcome: o, Sentence: "crash-free sessions are " + string(o) + " on " + string(p), Inputs: "{}"})
	}))
}

func (b *testBundle) platform(t *testing.T, p ripcord.Platform) ripcord.ReleasePlatform {
	t.Helper()
	rel, err := b.store.ReleaseGetByVersion(t.Context(), b.app.ID, "1.2.0")
	require.NoError(t, err)
	return *rel.Platform(p)
}

// production returns versionCode 120's release on Play's production track.
func (b *testBundle) production(t *testing.T) play.Release {
	t.Helper()
	tr, err := b.pc.GetTrack(t.Context(), "com.acme.shop", play.TrackProduction)
	require.NoError(t, err)
	r := tr.Find(120)
	require.NotNil(t, r, "%+v", tr.Releases)
	return *r
}

func (b *testBundle) commits() int { return b.fake.CountEvents("androidpublisher.edits.commit") }

func (b *testBundle) tick(t *testing.T) TickResult {
	t.Helper()
	res, err := b.svc.Tick(t.Context())
	require.NoError(t, err)
	return res
}

// submitBoth submits Android (approved at once) and iOS (uploaded to App
// Store Connect, processed, submitted, then approved by App Review as the
// periodic job sees it).
func (b *testBundle) submitBoth(t *testing.T) {
	t.Helper()
	_, err := b.svc.Submit(b.rm, "shop", "1.2.0", ripcord.Android)
	require.NoError(t, err)
	require.Equal(t, ripcord.StatusApproved, b.platform(t, ripcord.Android).Status)
	require.Equal(t, play.StatusDraft, b.production(t).Status, "uploaded to production as a draft")

	_, err = b.svc.Submit(b.rm, "shop", "1.2.0", ripcord.IOS)
	require.ErrorIs(t, err, ErrPending, "App Store Connect is processing the uploaded build")
	require.Equal(t, ripcord.StatusUploaded, b.platform(t, ripcord.IOS).Status)
	b.advance(t, 11*time.Minute)
	_, err = b.svc.Submit(b.rm, "shop", "1.2.0", ripcord.IOS)
	require.NoError(t, err)
	ios := b.platform(t, ripcord.IOS)
	require.Equal(t, ripcord.StatusInReview, ios.Status)
	require.NotEmpty(t, ios.StoreRef)
	require.Equal(t, 1, b.fake.CountEvents("asc.buildUploads.create"), "one upload")

	require.Zero(t, b.tick(t).Approved, "still waiting for review")
	b.advance(t, 31*time.Minute)
	require.Equal(t, 1, b.tick(t).Approved)
	require.Equal(t, ripcord.StatusApproved, b.platform(t, ripcord.IOS).Status)
}

// TestRolloutThroughAllStages runs release 1.2.0 through Shopify's default
// plan on both stores: gate refusal, Android's 8 % on Monday, iOS refused
// until Android's second stage, holds while health is missing or
// inconclusive, Android's 30 % and iOS's phased release on Tuesday (the
// same pass), both at 100 % on Wednesday, each step audited with the
// verdict it rested on.
func TestRolloutThroughAllStages(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			testRolloutThroughAllStages(t, setupOn(t, monday, d.open(t)))
		})
	}
}

func testRolloutThroughAllStages(t *testing.T, b *testBundle) {
	ctx := t.Context()

	_, err := b.svc.Start(b.rm, "shop", "1.2.0", ripcord.Android)
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err), "not submitted yet: %v", err)
	b.submitBoth(t)

	before := b.commits()
	_, err = b.svc.Start(b.rm, "shop", "1.2.0", ripcord.Android)
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
	require.Contains(t, err.Error(), "2 checks are not done")
	require.Equal(t, before, b.commits(), "no store write without a go")

	b.openGate()
	b.advance(t, time.Hour) // Monday 10:42
	_, err = b.svc.Start(b.rm, "shop", "1.2.0", ripcord.Android)
	require.NoError(t, err)
	require.Equal(t, play.StatusInProgress, b.production(t).Status)
	require.InDelta(t, 0.08, b.production(t).UserFraction, 1e-9)
	android := b.platform(t, ripcord.Android)
	require.Equal(t, ripcord.StatusRollingOut, android.Status)
	require.Equal(t, 1, android.Stage)
	require.NotNil(t, android.Plan)

	_, err = b.svc.Start(b.rm, "shop", "1.2.0", ripcord.IOS)
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
	require.Contains(t, err.Error(), "Android has reached its second stage")
	require.Contains(t, err.Error(), "2026-11-24T10:00:00Z", "says when Android's second stage is due")

	sched, err := b.svc.Schedule(b.rm, "shop", "1.2.0")
	require.NoError(t, err)
	require.Equal(t, "stage 1/3, 8 %", sched[0].Label())
	require.Equal(t, "stage 2/3, 30 %", sched[0].Next)
	require.Equal(t, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), sched[0].DueAt)
	require.Equal(t, "scheduled", sched[0].Waiting)
	require.Contains(t, sched[1].Waiting, "waiting for Android")

	// Not due yet: nothing moves, however healthy.
	b.decide(t, ripcord.Android, health.Healthy)
	before = b.commits()
	res := b.tick(t)
	require.Zero(t, res.Advanced)
	require.Equal(t, before, b.commits())

	// Tuesday 10:05: due, but no verdict, then an inconclusive one: hold.
	b.advance(t, 23*time.Hour+23*time.Minute)
	for _, o := range []health.Outcome{health.NoData, health.Inconclusive, health.Pause} {
		b.decide(t, ripcord.Android, o)
		res = b.tick(t)
		require.Zero(t, res.Advanced, "%s", o)
		require.InDelta(t, 0.08, b.production(t).UserFraction, 1e-9, "%s", o)
		_, err = b.svc.Advance(b.rm, "shop", "1.2.0", ripcord.Android)
		require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err), "%s", o)
		require.Contains(t, err.Error(), "crash-free verdict is "+string(o))
		sched, err = b.svc.Schedule(b.rm, "shop", "1.2.0")
		require.NoError(t, err)
		require.Contains(t, sched[0].Waiting, "waiting for health: "+string(o))
	}

	// Healthy: one pass takes Android to 30 % and, now that Android is at
	// its second stage on iOS's day 2, starts iOS's phased release.
	b.decide(t, ripcord.Android, health.Healthy)
	before = b.commits()
	events0, began := len(b.fake.Events()), time.Now()
	res = b.tick(t)
	t.Logf("pass advancing Android to 30 %% and starting iOS: %s, %d events in the fake's log (zero-latency fake over HTTP)", time.Since(began), len(b.fake.Events())-events0)
	require.Equal(t, 1, res.Advanced)
	require.Equal(t, 1, res.Started)
	require.Equal(t, before+1, b.commits(), "one Play edit for the stage")
	require.InDelta(t, 0.30, b.production(t).UserFraction, 1e-9)
	require.Equal(t, 2, b.platform(t, ripcord.Android).Stage)
	ios := b.platform(t, ripcord.IOS)
	require.Equal(t, ripcord.StatusRollingOut, ios.Status)
	require.Equal(t, 1, ios.Stage)
	v, err := b.as.GetVersion(ctx, ios.StoreRef)
	require.NoError(t, err)
	require.Equal(t, appstore.StateReadyForDistribution, v.State)
	pr, err := b.as.GetPhasedRelease(ctx, ios.StoreRef)
	require.NoError(t, err)
	require.Equal(t, appstore.PhasedActive, pr.State)
	require.Equal(t, 1, pr.Percent())

	// Wednesday 10:05: Android to 100 %, iOS's phased release completed
	// early, each on its own platform's verdict.
	b.advance(t, 24*time.Hour)
	b.decide(t, ripcord.Android, health.FixForward)
	res = b.tick(t)
	require.Equal(t, 1, res.Advanced, "iOS has no verdict yet")
	b.decide(t, ripcord.IOS, health.Healthy)
	res = b.tick(t)
	require.Equal(t, 1, res.Advanced)
	require.Equal(t, play.StatusCompleted, b.production(t).Status)
	require.Equal(t, ripcord.StatusComplete, b.platform(t, ripcord.Android).Status)
	require.Equal(t, ripcord.StatusComplete, b.platform(t, ripcord.IOS).Status)
	pr, err = b.as.GetPhasedRelease(ctx, ios.StoreRef)
	require.NoError(t, err)
	require.Equal(t, appstore.PhasedComplete, pr.State)

	before = b.commits()
	events := len(b.fake.Events())
	res = b.tick(t)
	require.Zero(t, res.Advanced+res.Started+res.Failed)
	require.Equal(t, before, b.commits())
	require.Len(t, b.fake.Events(), events, "a finished rollout makes no store call")

	entries, err := b.store.AuditList(ctx, storage.AuditListParams{Limit: 1000, Target: "release/shop/1.2.0/android"})
	require.NoError(t, err)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+" by "+e.Actor)
	}
	require.Equal(t, []string{"release.submit by token:rm", "release.approve by token:rm", "release.start by token:rm",
		"release.advance by ripcord:schedule", "release.complete by ripcord:schedule"}, actions)
	require.Contains(t, entries[3].After, "crash-free sessions are healthy on android")
	require.Contains(t, entries[4].After, "fix_forward")
}

// TestRetryAfterCrashDoesNotAdvanceTwice simulates a crash between the
// store's acknowledgement and the record: the store already has the next
// stage, the database does not. The next attempt reads the store first,
// writes nothing and records the stage once.
func TestRetryAfterCrashDoesNotAdvanceTwice(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			testRetryAfterCrash(t, setupOn(t, monday.Add(time.Hour), d.open(t)))
		})
	}
}

func testRetryAfterCrash(t *testing.T, b *testBundle) {
	b.submitBoth(t)
	b.openGate()
	_, err := b.svc.Start(b.rm, "shop", "1.2.0", ripcord.Android)
	require.NoError(t, err)

	b.advance(t, 24*time.Hour)
	b.decide(t, ripcord.Android, health.Healthy)
	tg, err := b.svc.load(b.rm, "shop", "1.2.0", ripcord.Android)
	require.NoError(t, err)
	before := b.commits()
	require.NoError(t, b.svc.advanceAndroid(b.rm, tg, 30), "the store step of the advance; then the process dies")
	require.Equal(t, before+1, b.commits())
	require.Equal(t, 1, b.platform(t, ripcord.Android).Stage, "nothing recorded")

	res := b.tick(t)
	require.Equal(t, 1, res.Advanced)
	require.Equal(t, before+1, b.commits(), "the retry wrote nothing to Play")
	require.Equal(t, 2, b.platform(t, ripcord.Android).Stage)
	require.Equal(t, ripcord.StatusRollingOut, b.platform(t, ripcord.IOS).Status, "the same pass started iOS")
	require.Equal(t, 1, b.fake.CountEvents("asc.appStoreVersionReleaseRequests.create"))

	// Two concurrent advances by hand (the calendar is not waited for):
	// one reaches the store, the other is refused or finds it done.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { _, errs[i] = b.svc.Advance(b.rm, "shop", "1.2.0", ripcord.Android) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err), "%v", err)
	}
	require.Equal(t, 1, ok, "%v", errs)
	require.Equal(t, 3, b.platform(t, ripcord.Android).Stage)
	require.Equal(t, ripcord.StatusComplete, b.platform(t, ripcord.Android).Status)
	require.Equal(t, before+2, b.commits(), "one more Play edit")
	require.Equal(t, play.StatusCompleted, b.production(t).Status)
}

// TestHaltedNeverAdvances: a rollout halted in Play Console (the store
// says halted, Ripcord does not know yet) and one halted through Ripcord
// both stay where they are.
func TestHaltedNeverAdvances(t *testing.T) {
	t.Parallel()
	b := setup(t, monday.Add(time.Hour))
	b.submitBoth(t)
	b.openGate()
	_, err := b.svc.Start(b.rm, "shop", "1.2.0", ripcord.Android)
	require.NoError(t, err)
	require.NoError(t, b.pc.Halt(t.Context(), "com.acme.shop", play.TrackProduction, 120))
	b.advance(t, 48*time.Hour)
	b.decide(t, ripcord.Android, health.Healthy)
	before := b.commits()
	res := b.tick(t)
	require.Zero(t, res.Advanced+res.Failed)
	require.Positive(t, res.Held)
	require.Equal(t, before, b.commits())
	require.Equal(t, play.StatusHalted, b.production(t).Status, "never resumed by an advance")

	rp := b.platform(t, ripcord.Android)
	rp.Status = ripcord.StatusHalted
	id := releaseID(t, b)
	require.NoError(t, b.store.InTx(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.ReleasePlatformUpdate(ctx, id, rp) }))
	_, err = b.svc.Advance(b.rm, "shop", "1.2.0", ripcord.Android)
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
	require.Contains(t, err.Error(), "never advances")
	sched, err := b.svc.Schedule(b.rm, "shop", "1.2.0")
	require.NoError(t, err)
	require.Contains(t, sched[0].Waiting, "halted: resume")
}

func releaseID(t *testing.T, b *testBundle) int64 {
	t.Helper()
	rel, err := b.store.ReleaseGetByVersion(t.Context(), b.app.ID, "1.2.0")
	require.NoError(t, err)
	return rel.ID
}

// TestWeekendHold: a rollout started on Friday waits over the weekend; the
// schedule says so, and Monday's pass advances it.
func TestWeekendHold(t *testing.T) {
	t.Parallel()
	friday := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	b := setup(t, friday)
	b.submitBoth(t)
	b.openGate()
	_, err := b.svc.Start(b.rm, "shop", "1.2.0", ripcord.Android)
	require.NoError(t, err)
	b.decide(t, ripcord.Android, health.Healthy)

	b.advance(t, 25*time.Hour) // Saturday
	require.Zero(t, b.tick(t).Advanced)
	sched, err := b.svc.Schedule(b.rm, "shop", "1.2.0")
	require.NoError(t, err)
	require.Equal(t, "held: weekend", sched[0].Waiting)
	require.Equal(t, time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC), sched[0].DueAt, "Monday is rollout day 2")

	b.advance(t, 48*time.Hour) // Monday, after 10:00
	require.Equal(t, 1, b.tick(t).Advanced)
	require.InDelta(t, 0.30, b.production(t).UserFraction, 1e-9)
}

// TestRejectedReview: App Review's rejection sends iOS back to uploaded
// with the reason, and a resubmission reuses the App Store version.
func TestRejectedReview(t *testing.T) {
	t.Parallel()
	b := setup(t, monday)
	require.NoError(t, b.fake.SetASCReviewOutcome(b.ascAppID, fakestore.ReviewReject))
	_, err := b.svc.Submit(b.rm, "shop", "1.2.0", ripcord.IOS)
	require.ErrorIs(t, err, ErrPending)
	b.advance(t, 11*time.Minute)
	_, err = b.svc.Submit(b.rm, "shop", "1.2.0", ripcord.IOS)
	require.NoError(t, err)
	ref := b.platform(t, ripcord.IOS).StoreRef
	b.advance(t, time.Hour)
	require.Equal(t, 1, b.tick(t).Rejected)
	ios := b.platform(t, ripcord.IOS)
	require.Equal(t, ripcord.StatusUploaded, ios.Status)
	require.Contains(t, ios.Reason, "REJECTED")

	require.NoError(t, b.fake.SetASCReviewOutcome(b.ascAppID, fakestore.ReviewApprove))
	_, err = b.svc.Submit(b.rm, "shop", "1.2.0", ripcord.IOS)
	require.NoError(t, err)
	require.Equal(t, ref, b.platform(t, ripcord.IOS).StoreRef, "the same App Store version, resubmitted")
	b.advance(t, time.Hour)
	require.Equal(t, 1, b.tick(t).Approved)
}

// TestPlanSet: a plan is validated before it is stored, and a stored plan
// replaces the default for rollouts that start afterwards.
func TestPlanSet(t *testing.T) {
	t.Parallel()
	b := setup(t, monday)
	p, err := b.svc.PlanGet(b.rm, "shop")
	require.NoError(t, err)
	require.True(t, p.Default)

	bad := ripcord.DefaultRolloutPlan()
	bad.IOS[0].Day = 1
	_, err = b.svc.PlanSet(b.rm, "shop", bad)
	require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
	require.Contains(t, err.Error(), "before Android reaches its second stage")
	viewer := ripcord.NewContextWithActor(t.Context(), ripcord.Actor{Name: "token:v", Role: ripcord.RoleViewer})
	_, err = b.svc.PlanSet(viewer, "shop", ripcord.DefaultRolloutPlan())
	require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err))

	good, err := ParsePlan([]byte("time_zone: Europe/Berlin\nandroid:\n  - {day: 1, percent: 5}\n  - {day: 2, percent: 50, min_duration: 30h}\n  - {day: 3, percent: 100}\n"))
	require.NoError(t, err)
	_, err = b.svc.PlanSet(b.rm, "shop", good)
	require.NoError(t, err)
	p, err = b.svc.PlanGet(b.rm, "shop")
	require.NoError(t, err)
	require.False(t, p.Default)
	require.Equal(t, good, p.Plan)
	require.Equal(t, 30*time.Hour, p.Plan.Android[1].MinDuration)
	require.Equal(t, "token:rm", p.UpdatedBy)
	entries, err := b.store.AuditList(t.Context(), storage.AuditListParams{Limit: 10, Target: "app/shop"})
	require.NoError(t, err)
	var plans []ripcord.AuditEntry
	for _, e := range entries {
		if e.Action == "app.rollout_plan" {
			plans = append(plans, e)
		}
	}
	require.Len(t, plans, 1, "one audited change; the refused plans left nothing")
	require.Contains(t, plans[0].After, "Europe/Berlin")
	require.Contains(t, plans[0].Before, `"default":true`)
}

func TestParsePlanErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"unknown field", "time_zon: UTC\n", "field time_zon not found"},
		{"bad zone", "time_zone: Mars/Olympus\n", "not an IANA time zone"},
		{"bad duration", "android:\n  - {day: 1, percent: 5, min_duration: soon}\n", `min_duration "soon" is not a duration`},
		{"ios percent", "ios:\n  - {day: 2, percent: 10}\n", "Apple's phased release can only be started"},
		{"falling percent", "android:\n  - {day: 1, percent: 50}\n  - {day: 2, percent: 20}\n", "release to more users"},
		{"not yaml", "android: [", "rollout plan file:"},
		{"holiday", "holidays: [christmas]\n", `holiday "christmas" is not a date`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePlan([]byte(tc.in))
			require.Error(t, err)
			require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
			require.Contains(t, err.Error(), tc.want)
		})
	}
	p, err := ParsePlan(nil)
	require.NoError(t, err, "an empty file is the default plan")
	require.Equal(t, ripcord.DefaultRolloutPlan(), p)
}

func FuzzParsePlan(f *testing.F) {
	for _, s := range []string{"", "time_zone: UTC\n", "android:\n  - {day: 1, percent: 5, min_duration: 2h}\n", "ios: [{day: 2, percent: 1}]", "holidays: [2026-12-24]", "{}", "[]", "due_hour: 99"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlan(data)
		if err != nil {
			var e *ripcord.Error
			if !errors.As(err, &e) || e.Code != ripcord.EINVALID {
				t.Fatalf("error %v is not an EINVALID ripcord.Error", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParsePlan returned an invalid plan: %v", err)
		}
	})
}

// TestSubmitWorker: the queued submission snoozes while App Store Connect
// processes the build, and a build processed INVALID cancels the job with
// the reason kept on the release for `release show`.
func TestSubmitWorker(t *testing.T) {
	t.Parallel()
	b := setup(t, monday)
	require.NoError(t, b.fake.SetASCBuildOutcome(b.ascAppID, "1.2.0", "42", "INVALID"))
	w := NewSubmitWorker(b.svc) // RequestSubmit's queueing is tested through the server (internal/daemon)
	job := &river.Job[SubmitArgs]{JobRow: &rivertype.JobRow{}, Args: SubmitArgs{App: "shop", Version: "1.2.0", Platform: ripcord.IOS, RequestedBy: "token:rm"}}
	err := w.Work(t.Context(), job)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze, "processing: try again later (%v)", err)

	b.advance(t, 11*time.Minute)
	err = w.Work(t.Context(), job)
	var cancel *river.JobCancelError
	require.ErrorAs(t, err, &cancel, "%v", err)
	ios := b.platform(t, ripcord.IOS)
	require.Equal(t, ripcord.StatusUploaded, ios.Status)
	require.Contains(t, ios.Reason, "submission failed: App Store Connect processed build 1.2.0 (42)")
	sched, err := b.svc.Schedule(b.rm, "shop", "1.2.0")
	require.NoError(t, err)
	require.Equal(t, ios.Reason, sched[1].Waiting)
}

// TestRolloutNotStartedByRipcord: a release marked rolling out without a
// stage of a plan (started in Play Console, or before staged rollouts
// existed) is never moved by the schedule, even on a healthy verdict, and
// a manual advance says why.
func TestRolloutNotStartedByRipcord(t *testing.T) {
	t.Parallel()
	b := setup(t, monday.Add(time.Hour))
	_, err := b.svc.Submit(b.rm, "shop", "1.2.0", ripcord.Android)
	require.NoError(t, err)
	require.NoError(t, b.pc.SetRollout(t.Context(), "com.acme.shop", play.TrackProduction, 120, 0.2))
	rp := b.platform(t, ripcord.Android)
	rp.Status = ripcord.StatusRollingOut
	id := releaseID(t, b)
	require.NoError(t, b.store.InTx(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.ReleasePlatformUpdate(ctx, id, rp) }))
	b.decide(t, ripcord.Android, health.Healthy)
	b.advance(t, 72*time.Hour)

	events := len(b.fake.Events())
	res := b.tick(t)
	require.Zero(t, res.Advanced+res.Failed)
	require.Len(t, b.fake.Events(), events, "no store call")
	require.InDelta(t, 0.2, b.production(t).UserFraction, 1e-9)
	_, err = b.svc.Advance(b.rm, "shop", "1.2.0", ripcord.Android)
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
	require.Contains(t, err.Error(), "not started with `ripcord release start`")
	sched, err := b.svc.Schedule(b.rm, "shop", "1.2.0")
	require.NoError(t, err)
	require.Contains(t, sched[0].Waiting, "outside Ripcord's plan")
}
