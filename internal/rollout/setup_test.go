package rollout_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	androidpublisher "google.golang.org/api/androidpublisher/v3"
	"google.golang.org/api/option"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/postgres"
	"github.com/ripcordhq/ripcord/internal/rollout"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

const pkg = "com.acme.shop"

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// dialects are the databases every behaviour test runs on; PostgreSQL needs
// RIPCORD_TEST_DATABASE_URL (a failure in CI, a skip elsewhere).
var dialects = []string{"sqlite", "postgres"}

// openStore opens a migrated store of its own on dialect.
func openStore(t testing.TB, dialect string) storage.Store {
	t.Helper()
	ctx := context.Background()
	var s storage.Store
	switch dialect {
	case "sqlite":
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
		require.NoError(t, err)
		s = db
	case "postgres":
		url := testenv.Getenv(t, "RIPCORD_TEST_DATABASE_URL", "PostgreSQL for rollout tests, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "ro_" + hex.EncodeToString(b[:])
		db, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() {
			conn, err := pgx.Connect(context.Background(), url)
			if err == nil {
				_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
				conn.Close(context.Background())
			}
		})
		s = db
	}
	t.Cleanup(func() { s.Close() })
	_, err := s.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	return s
}

// setRollbackVersion changes what Ripcord knows of the iOS rollback's App
// Store version.
func (b *bundle) setRollbackVersion(t testing.TB, id, state string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, b.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		rb, err := tx.RollbackBuildGet(ctx, b.app.ID, ripcord.IOS, "1.2.0")
		if err != nil {
			return err
		}
		rb.StoreVersionID, rb.StoreVersionState = id, state
		return tx.RollbackBuildUpdate(ctx, rb)
	}))
}

// bundle is a database and fake stores with release 1.2.0 of shop rolling
// out: on Play's production track 120 staged at 20 % over 110 completed,
// 121 (the rollback) uploaded; on the App Store 1.2.0 released in phases
// (day 1) over 1.1.0, and 1.2.1 approved, waiting for its developer.
type bundle struct {
	store     storage.Store
	fake      *fakestore.Server
	url       string
	app       *ripcord.App
	rel       *ripcord.Release
	rm        context.Context // a release manager's context
	asc       *appstore.Client
	target121 string // App Store version id of 1.2.0
	// calls counts the store API requests the fake served (token fetches
	// and the fake's admin API aside).
	calls atomic.Int64
	// inFake adds up the time the fake spent serving (it persists its
	// state on every change), so benchmarks can tell Ripcord's own time.
	inFake atomic.Int64
}

func setup(t testing.TB, dialect string) *bundle {
	t.Helper()
	ctx := context.Background()
	ts := httptest.NewUnstartedServer(nil)
	b := &bundle{url: "http://" + ts.Listener.Addr().String()}
	fake, err := fakestore.New(fakestore.Config{StateDir: t.TempDir(), BaseURL: b.url})
	require.NoError(t, err)
	h := fake.Handler()
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/_fake") && !strings.Contains(r.URL.Path, "token") {
			b.calls.Add(1)
		}
		start := time.Now()
		h.ServeHTTP(w, r)
		b.inFake.Add(int64(time.Since(start)))
	})
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { fake.Close() })
	b.fake = fake
	require.NoError(t, fake.SetTime(ctx, t0))

	// Play: the edit a staged rollout of 120 would have left.
	require.NoError(t, fake.CreatePlayApp(fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{110, 120, 121}}))
	pub := publisher(t, b)
	e, err := pub.Edits.Insert(pkg, &androidpublisher.AppEdit{}).Do()
	require.NoError(t, err)
	_, err = pub.Edits.Tracks.Update(pkg, e.Id, "production", &androidpublisher.Track{Track: "production", Releases: []*androidpublisher.TrackRelease{
		{Name: "110", VersionCodes: []int64{110}, Status: "completed"},
		{Name: "120", VersionCodes: []int64{120}, Status: "inProgress", UserFraction: 0.2},
	}}).Do()
	require.NoError(t, err)
	_, err = pub.Edits.Commit(pkg, e.Id).Do()
	require.NoError(t, err)

	// App Store: 1.2.0 released in phases, 1.2.1 approved.
	ascID, err := fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: pkg, LiveVersion: "1.1.0", LiveBuild: "110"})
	require.NoError(t, err)
	b.asc = b.ascClient(t, 3)
	build120, err := fake.AddASCBuild(ascID, fakestore.ASCBuildSpec{Version: "1.2.0", BuildNumber: "120"})
	require.NoError(t, err)
	require.NoError(t, fake.Advance(ctx, time.Hour))
	v120, err := b.asc.CreateVersion(ctx, appstore.CreateVersionParams{AppID: ascID, VersionString: "1.2.0", BuildID: build120})
	require.NoError(t, err)
	_, err = b.asc.EnablePhasedRelease(ctx, v120.ID)
	require.NoError(t, err)
	_, err = b.asc.SubmitForReview(ctx, v120.ID)
	require.NoError(t, err)
	require.NoError(t, fake.Advance(ctx, 24*time.Hour))
	require.NoError(t, b.asc.ReleaseVersion(ctx, v120.ID))
	b.target121 = v120.ID
	build121, err := fake.AddASCBuild(ascID, fakestore.ASCBuildSpec{Version: "1.2.1", BuildNumber: "121"})
	require.NoError(t, err)
	require.NoError(t, fake.Advance(ctx, time.Hour))
	v121, err := b.asc.CreateVersion(ctx, appstore.CreateVersionParams{AppID: ascID, VersionString: "1.2.1", BuildID: build121})
	require.NoError(t, err)
	_, err = b.asc.SubmitForReview(ctx, v121.ID)
	require.NoError(t, err)
	require.NoError(t, fake.Advance(ctx, 24*time.Hour))
	got, err := b.asc.GetVersion(ctx, v121.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.StatePendingDeveloperRelease, got.State)

	// Ripcord's database: the app, its builds, the release rolling out on
	// both platforms and both rollback builds ready.
	b.store = openStore(t, dialect)
	b.app = &ripcord.App{Name: "shop", IOSBundleID: pkg, AndroidPackage: pkg, CreatedAt: t0, UpdatedAt: t0}
	b.rel = &ripcord.Release{Version: "1.2.0", CreatedBy: "token:rm", CreatedAt: t0}
	require.NoError(t, b.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.AppCreate(ctx, b.app); err != nil {
			return err
		}
		b.rel.AppID = b.app.ID
		for _, p := range ripcord.Platforms() {
			live := &ripcord.Build{AppID: b.app.ID, Platform: p, Version: "1.1.0", BuildNumber: "110", SHA256: sha(p, 1), Size: 1, BlobKey: "k1" + string(p), UploadedBy: "x", CreatedAt: t0}
			tgt := &ripcord.Build{AppID: b.app.ID, Platform: p, Version: "1.2.0", BuildNumber: "120", SHA256: sha(p, 2), Size: 1, BlobKey: "k2" + string(p), UploadedBy: "x", CreatedAt: t0}
			for _, bd := range []*ripcord.Build{live, tgt} {
				if err := tx.BuildCreate(ctx, bd); err != nil {
					return err
				}
			}
			b.rel.Platforms = append(b.rel.Platforms, ripcord.ReleasePlatform{Platform: p, BuildID: tgt.ID, Status: ripcord.StatusRollingOut, UpdatedAt: t0})
			rb := &ripcord.RollbackBuild{AppID: b.app.ID, Platform: p, TargetVersion: "1.2.0", Version: "1.2.1", BuildNumber: "121", SourceBuildID: live.ID,
				SourceSHA256: live.SHA256, State: ripcord.RollbackReady, CreatedAt: t0, UpdatedAt: t0}
			if p == ripcord.IOS {
				rb.StoreVersionID, rb.StoreVersionState, rb.ApprovedAt = v121.ID, ripcord.AppStoreApproved, t0
			}
			if err := tx.RollbackBuildCreate(ctx, rb); err != nil {
				return err
			}
		}
		return tx.ReleaseCreate(ctx, b.rel)
	}))
	b.rm = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:rm", Role: ripcord.RoleReleaseManager})
	return b
}

func sha(p ripcord.Platform, n int) string {
	s := hex.EncodeToString([]byte(p))
	for len(s) < 62 {
		s += "0"
	}
	return s + hex.EncodeToString([]byte{byte(n)})
}

// publisher is a raw Play Developer API client of the fake, for setting
// tracks up as Play Console would have.
func publisher(t testing.TB, b *bundle) *androidpublisher.Service {
	t.Helper()
	cfg, err := google.JWTConfigFromJSON(b.fake.Credentials().PlayServiceAccountJSON, "https://www.googleapis.com/auth/androidpublisher")
	require.NoError(t, err)
	hc := oauth2.NewClient(context.Background(), cfg.TokenSource(context.Background()))
	pub, err := androidpublisher.NewService(context.Background(), option.WithHTTPClient(hc), option.WithEndpoint(b.url+"/"))
	require.NoError(t, err)
	return pub
}

// ascClient is an App Store Connect client of the fake whose waits advance
// the fake's clock instead of sleeping.
func (b *bundle) ascClient(t testing.TB, attempts int) *appstore.Client {
	t.Helper()
	cr := b.fake.Credentials()
	c, err := appstore.New(appstore.Config{KeyID: cr.ASCKeyID, IssuerID: cr.ASCIssuerID, PrivateKeyPEM: cr.ASCPrivateKeyPEM, BaseURL: b.url,
		MaxAttempts: attempts, Sleep: func(ctx context.Context, d time.Duration) error { return b.fake.Advance(ctx, d) }, Clock: b.fake.Now})
	require.NoError(t, err)
	return c
}

// service builds a rollout service on the bundle, as a (re)started process
// would: its own connectors, no memory of earlier runs. Connectors retry
// transient faults at most attempts times without sleeping.
func (b *bundle) service(t testing.TB, attempts int, hook rollout.Hook) *rollout.Service {
	t.Helper()
	cr := b.fake.Credentials()
	svc, err := rollout.New(rollout.Config{Store: b.store, Hook: hook, Logger: slog.New(slog.DiscardHandler),
		Play: func(ctx context.Context, _ *ripcord.App) (rollout.Play, error) {
			return play.New(ctx, play.Config{ServiceAccountJSON: cr.PlayServiceAccountJSON, Endpoint: b.url + "/", MaxAttempts: attempts,
				Sleep: func(context.Context, time.Duration) error { return nil }})
		},
		AppStore: func(context.Context, *ripcord.App) (rollout.AppStore, error) { return b.ascClient(t, attempts), nil },
	})
	require.NoError(t, err)
	// Jobs are inserted with the action; this test runs them by calling
	// Run, as the worker does, so the queue is never started.
	workers := river.NewWorkers()
	river.AddWorker(workers, rollout.NewWorker(svc))
	_, err = b.store.NewJobClient(&river.Config{Workers: workers})
	require.NoError(t, err)
	return svc
}

// productionTrack returns Play's committed production releases as
// "code:status" strings.
func (b *bundle) productionTrack(t testing.TB) []string {
	t.Helper()
	pc, err := play.New(context.Background(), play.Config{ServiceAccountJSON: b.fake.Credentials().PlayServiceAccountJSON, Endpoint: b.url + "/"})
	require.NoError(t, err)
	tr, err := pc.GetTrack(context.Background(), pkg, "production")
	require.NoError(t, err)
	var out []string
	for _, r := range tr.Releases {
		for _, c := range r.VersionCodes {
			out = append(out, formatRelease(c, r))
		}
	}
	return out
}

func formatRelease(code int64, r play.Release) string {
	if r.UserFraction != 0 {
		return fmt.Sprintf("%d:%s@%g", code, r.Status, r.UserFraction)
	}
	return fmt.Sprintf("%d:%s", code, r.Status)
}

// appStoreState returns each App Store version's state and, for 1.2.0, its
// phased release's state.
func (b *bundle) appStoreState(t testing.TB) map[string]string {
	t.Helper()
	ctx := context.Background()
	c := b.ascClient(t, 3)
	app, err := c.FindApp(ctx, pkg)
	require.NoError(t, err)
	vs, err := c.ListVersions(ctx, app.ID, appstore.PlatformIOS)
	require.NoError(t, err)
	out := map[string]string{}
	for _, v := range vs {
		out[v.VersionString] = v.State
	}
	pr, err := c.GetPhasedRelease(ctx, b.target121)
	require.NoError(t, err)
	out["1.2.0 phased"] = pr.State
	return out
}

// status reads the release's recorded status on p.
func (b *bundle) status(t testing.TB, p ripcord.Platform) ripcord.ReleaseStatus {
	t.Helper()
	rel, err := b.store.ReleaseGetByVersion(context.Background(), b.app.ID, "1.2.0")
	require.NoError(t, err)
	return rel.Platform(p).Status
}

// audit lists the actions audited on the release on p.
func (b *bundle) audit(t testing.TB, p ripcord.Platform) []ripcord.AuditEntry {
	t.Helper()
	es, err := b.store.AuditList(context.Background(), storage.AuditListParams{Limit: 100, Target: "release/shop/1.2.0/" + string(p)})
	require.NoError(t, err)
	return es
}
