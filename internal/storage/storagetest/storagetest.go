// Package storagetest is the behaviour suite every storage adapter must pass.
// internal/sqlite and internal/postgres both call Exercise, so the two
// dialects cannot drift apart. Test code only.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Harness opens stores for the suite.
type Harness struct {
	// Open returns a fresh, empty, unmigrated store of its own, closed and
	// removed at test cleanup.
	Open func(t *testing.T) storage.Store
	// Exec runs raw SQL on the store, for tests that tamper with rows.
	Exec func(t *testing.T, s storage.Store, query string, args ...any)
}

// Exercise runs the whole suite.
func Exercise(t *testing.T, h Harness) {
	t.Run("Migrations", func(t *testing.T) { t.Parallel(); testMigrations(t, h) })
	t.Run("Apps", func(t *testing.T) { t.Parallel(); testApps(t, h) })
	t.Run("Builds", func(t *testing.T) { t.Parallel(); testBuilds(t, h) })
	t.Run("Releases", func(t *testing.T) { t.Parallel(); testReleases(t, h) })
	t.Run("Tokens", func(t *testing.T) { t.Parallel(); testTokens(t, h) })
	t.Run("Users", func(t *testing.T) { t.Parallel(); testUsers(t, h) })
	t.Run("Audit", func(t *testing.T) { t.Parallel(); testAudit(t, h) })
	t.Run("AuditConcurrent", func(t *testing.T) { t.Parallel(); testAuditConcurrent(t, h) })
	t.Run("AuditTamper", func(t *testing.T) { t.Parallel(); testAuditTamper(t, h) })
	t.Run("Rollback", func(t *testing.T) { t.Parallel(); testRollback(t, h) })
	t.Run("Jobs", func(t *testing.T) { t.Parallel(); testJobs(t, h) })
	t.Run("HealthCounts", func(t *testing.T) { t.Parallel(); testHealthCounts(t, h) })
	t.Run("HealthDecisions", func(t *testing.T) { t.Parallel(); testHealthDecisions(t, h) })
	t.Run("SentryStatePrune", func(t *testing.T) { t.Parallel(); testSentryStatePrune(t, h) })
	t.Run("SentryProjects", func(t *testing.T) { t.Parallel(); testSentryProjects(t, h) })
	t.Run("SentryProjectsBackfill", func(t *testing.T) { t.Parallel(); testSentryProjectsBackfill(t, h) })
	t.Run("SentrySessions", func(t *testing.T) { t.Parallel(); testSentrySessions(t, h) })
	t.Run("SentrySessionsConcurrent", func(t *testing.T) { t.Parallel(); testSentrySessionsConcurrent(t, h) })
	t.Run("SentryDevicesAndEvents", func(t *testing.T) { t.Parallel(); testSentryDevicesAndEvents(t, h) })
	t.Run("Credentials", func(t *testing.T) { t.Parallel(); testCredentials(t, h) })
	t.Run("RollbackBuilds", func(t *testing.T) { t.Parallel(); testRollbackBuilds(t, h) })
	t.Run("RollbackSupersede", func(t *testing.T) { t.Parallel(); testRollbackSupersede(t, h) })
	t.Run("RollbackMigrationKeepsRows", func(t *testing.T) { t.Parallel(); testRollbackMigrationKeepsRows(t, h) })
	t.Run("BuildNumberReservationsConcurrent", func(t *testing.T) { t.Parallel(); testBuildNumberReservationsConcurrent(t, h) })
	t.Run("RolloutActions", func(t *testing.T) { t.Parallel(); testRolloutActions(t, h) })
	t.Run("RolloutActionsConcurrent", func(t *testing.T) { t.Parallel(); testRolloutActionsConcurrent(t, h) })
	t.Run("Incidents", func(t *testing.T) { t.Parallel(); testIncidents(t, h) })
	t.Run("Pollers", func(t *testing.T) { t.Parallel(); testPollers(t, h) })
	t.Run("IncidentsConcurrent", func(t *testing.T) { t.Parallel(); testIncidentsConcurrent(t, h) })
	t.Run("Runbooks", func(t *testing.T) { t.Parallel(); testRunbooks(t, h) })
	t.Run("Rollouts", func(t *testing.T) { t.Parallel(); testRollouts(t, h) })
	t.Run("WebSessions", func(t *testing.T) { t.Parallel(); testWebSessions(t, h) })
	t.Run("HealthSeries", func(t *testing.T) { t.Parallel(); testHealthSeries(t, h) })
	t.Run("AuditListTargets", func(t *testing.T) { t.Parallel(); testAuditListTargets(t, h) })
}

// migrated opens a store and migrates it to the latest schema.
func migrated(t *testing.T, h Harness) storage.Store {
	t.Helper()
	s := h.Open(t)
	_, err := s.Migrate(context.Background(), storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	return s
}

var t0 = time.Date(2026, 11, 23, 9, 30, 15, 123456000, time.UTC) // microseconds: PostgreSQL keeps no finer

func inTx(t *testing.T, s storage.Store, fn func(ctx context.Context, tx storage.Tx) error) {
	t.Helper()
	require.NoError(t, s.InTx(context.Background(), fn))
}

func createApp(t *testing.T, s storage.Store, name string) *ripcord.App {
	t.Helper()
	a := &ripcord.App{Name: name, IOSBundleID: "com.example." + name, AndroidPackage: "com.example." + name, CreatedAt: t0, UpdatedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.AppCreate(ctx, a) })
	return a
}

func sha(n int) string { return fmt.Sprintf("%064x", n) }

func testMigrations(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Open(t)
	for round := 0; round < 2; round++ {
		res, err := s.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
		require.NoError(t, err)
		require.NotEmpty(t, res, "round %d: up applied nothing on an empty schema", round)
		st, err := s.MigrationStatus(ctx)
		require.NoError(t, err)
		for _, m := range st {
			require.True(t, m.Applied, "migration %d %s not applied after up", m.Version, m.Name)
		}
		_, err = s.AppList(ctx)
		require.NoError(t, err)

		again, err := s.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
		require.NoError(t, err)
		require.Empty(t, again, "a second up must be a no-op")

		_, err = s.Migrate(ctx, storage.MigrateDown, 0)
		require.NoError(t, err)
		st, err = s.MigrationStatus(ctx)
		require.NoError(t, err)
		for _, m := range st {
			require.False(t, m.Applied, "migration %d %s still applied after down to 0", m.Version, m.Name)
		}
		_, err = s.AppList(ctx)
		require.Error(t, err, "apps table must be gone after down to 0")
	}
}

func testApps(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	require.NotZero(t, a.ID)

	got, err := s.AppGetByName(ctx, "shop")
	require.NoError(t, err)
	require.Equal(t, a, got)
	got, err = s.AppGetByID(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, "com.example.shop", got.IOSBundleID)

	_, err = s.AppGetByName(ctx, "nope")
	require.ErrorIs(t, err, storage.ErrNotFound)

	tests := []struct {
		name string
		app  ripcord.App
	}{
		{"ErrNameTaken", ripcord.App{Name: "shop", AndroidPackage: "com.other.a"}},
		{"ErrBundleIDTaken", ripcord.App{Name: "other", IOSBundleID: "com.example.shop"}},
		{"ErrPackageTaken", ripcord.App{Name: "other2", AndroidPackage: "com.example.shop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := tt.app
			app.CreatedAt, app.UpdatedAt = t0, t0
			err := s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.AppCreate(ctx, &app) })
			require.ErrorIs(t, err, storage.ErrConflict)
		})
	}

	// Two apps without an iOS bundle id do not clash on the empty string.
	for _, n := range []string{"droid-a", "droid-b"} {
		app := &ripcord.App{Name: n, AndroidPackage: "com.example." + n[len(n)-1:], CreatedAt: t0, UpdatedAt: t0}
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.AppCreate(ctx, app) })
	}
	list, err := s.AppList(ctx)
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.Equal(t, []string{"droid-a", "droid-b", "shop"}, []string{list[0].Name, list[1].Name, list[2].Name})
}

func testBuilds(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	mk := func(p ripcord.Platform, v, n string, shaN int) *ripcord.Build {
		return &ripcord.Build{AppID: a.ID, Platform: p, Version: v, BuildNumber: n, SHA256: sha(shaN), Size: 10, BlobKey: "k/" + sha(shaN), UploadedBy: "token:ci", CreatedAt: t0}
	}
	create := func(b *ripcord.Build) error {
		return s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.BuildCreate(ctx, b) })
	}
	and120 := mk(ripcord.Android, "1.2.0", "120", 1)
	require.NoError(t, create(and120))
	require.NoError(t, create(mk(ripcord.IOS, "1.2.0", "120", 2)))
	// Apple lets a build number repeat under a new version.
	require.NoError(t, create(mk(ripcord.IOS, "1.2.1", "120", 3)))

	// Play: a versionCode is unique whatever the version name.
	require.ErrorIs(t, create(mk(ripcord.Android, "1.3.0", "120", 4)), storage.ErrConflict)
	// Same bytes twice is one build.
	require.ErrorIs(t, create(mk(ripcord.Android, "1.3.0", "130", 1)), storage.ErrConflict)
	// iOS: same version and build number is taken.
	require.ErrorIs(t, create(mk(ripcord.IOS, "1.2.0", "120", 5)), storage.ErrConflict)

	got, err := s.BuildGetByIdentity(ctx, storage.BuildIdentityParams{AppID: a.ID, Platform: ripcord.Android, Version: "9.9.9", BuildNumber: "120"})
	require.NoError(t, err)
	require.Equal(t, and120, got)
	got, err = s.BuildGetByIdentity(ctx, storage.BuildIdentityParams{AppID: a.ID, Platform: ripcord.IOS, Version: "1.2.1", BuildNumber: "120"})
	require.NoError(t, err)
	require.Equal(t, sha(3), got.SHA256)
	_, err = s.BuildGetByIdentity(ctx, storage.BuildIdentityParams{AppID: a.ID, Platform: ripcord.IOS, Version: "1.2.2", BuildNumber: "120"})
	require.ErrorIs(t, err, storage.ErrNotFound)

	got, err = s.BuildGetBySHA256(ctx, a.ID, ripcord.Android, sha(1))
	require.NoError(t, err)
	require.Equal(t, and120.ID, got.ID)

	list, err := s.BuildList(ctx, storage.BuildListParams{AppID: a.ID, Platform: ripcord.IOS})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "1.2.1", list[0].Version, "newest first")
	list, err = s.BuildList(ctx, storage.BuildListParams{Version: "1.2.0"})
	require.NoError(t, err)
	require.Len(t, list, 2)

	ref, err := s.BuildBlobKeyReferenced(ctx, "k/"+sha(1))
	require.NoError(t, err)
	require.True(t, ref)
	ref, err = s.BuildBlobKeyReferenced(ctx, "k/"+sha(99))
	require.NoError(t, err)
	require.False(t, ref)
}

func testReleases(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	b := &ripcord.Build{AppID: a.ID, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", SHA256: sha(1), Size: 1, BlobKey: "k", UploadedBy: "x", CreatedAt: t0}
	r := &ripcord.Release{AppID: a.ID, Version: "1.2.0", CreatedBy: "token:rm", CreatedAt: t0, Platforms: []ripcord.ReleasePlatform{
		{Platform: ripcord.Android, Status: ripcord.StatusDraft, UpdatedAt: t0},
		{Platform: ripcord.IOS, Status: ripcord.StatusDraft, UpdatedAt: t0},
	}}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.BuildCreate(ctx, b); err != nil {
			return err
		}
		return tx.ReleaseCreate(ctx, r)
	})
	require.NotZero(t, r.ID)

	dup := &ripcord.Release{AppID: a.ID, Version: "1.2.0", CreatedBy: "x", CreatedAt: t0}
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.ReleaseCreate(ctx, dup) }), storage.ErrConflict)

	t1 := t0.Add(time.Hour)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		return tx.ReleasePlatformUpdate(ctx, r.ID, ripcord.ReleasePlatform{Platform: ripcord.Android, BuildID: b.ID, Status: ripcord.StatusUploaded, UpdatedAt: t1})
	})
	err := s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.ReleasePlatformUpdate(ctx, r.ID+100, ripcord.ReleasePlatform{Platform: ripcord.Android, Status: ripcord.StatusUploaded, UpdatedAt: t1})
	})
	require.ErrorIs(t, err, storage.ErrNotFound)

	got, err := s.ReleaseGetByVersion(ctx, a.ID, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, []ripcord.ReleasePlatform{
		{Platform: ripcord.Android, BuildID: b.ID, Status: ripcord.StatusUploaded, UpdatedAt: t1},
		{Platform: ripcord.IOS, Status: ripcord.StatusDraft, UpdatedAt: t0},
	}, got.Platforms)
	require.Equal(t, ripcord.StatusDraft, got.Status())

	r2 := &ripcord.Release{AppID: a.ID, Version: "1.3.0", CreatedBy: "x", CreatedAt: t1, Platforms: []ripcord.ReleasePlatform{{Platform: ripcord.Android, Status: ripcord.StatusDraft, UpdatedAt: t1}}}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.ReleaseCreate(ctx, r2) })
	list, err := s.ReleaseList(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "1.3.0", list[0].Version)
	require.Len(t, list[0].Platforms, 1)
	require.Len(t, list[1].Platforms, 2)

	_, err = s.ReleaseGetByVersion(ctx, a.ID, "9.9.9")
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func testTokens(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	tok := &ripcord.Token{Name: "ci", Role: ripcord.RoleEngineer, Prefix: "rcd_abcd", Hash: ripcord.HashTokenSecret("secret"), CreatedBy: "local:root", CreatedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.TokenCreate(ctx, tok) })
	dup := *tok
	dup.Hash = ripcord.HashTokenSecret("other")
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.TokenCreate(ctx, &dup) }), storage.ErrConflict)

	got, err := s.TokenGetByHash(ctx, ripcord.HashTokenSecret("secret"))
	require.NoError(t, err)
	require.Equal(t, tok, got)
	require.False(t, got.Revoked())

	used, revoked := t0.Add(time.Minute), t0.Add(time.Hour)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.TokenTouch(ctx, tok.ID, used); err != nil {
			return err
		}
		return tx.TokenRevoke(ctx, tok.ID, revoked)
	})
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		return tx.TokenRevoke(ctx, tok.ID, revoked.Add(time.Hour))
	})
	got, err = s.TokenGetByName(ctx, "ci")
	require.NoError(t, err)
	require.True(t, got.Revoked())
	require.True(t, got.RevokedAt.Equal(revoked), "the first revocation time is kept: %v", got.RevokedAt)
	require.WithinDuration(t, used, got.LastUsedAt, time.Microsecond)

	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.TokenRevoke(ctx, 999, t0) }), storage.ErrNotFound)
	_, err = s.TokenGetByHash(ctx, ripcord.HashTokenSecret("wrong"))
	require.ErrorIs(t, err, storage.ErrNotFound)
	list, err := s.TokenList(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func appendEntry(t *testing.T, s storage.Store, i int) ripcord.AuditEntry {
	t.Helper()
	e := ripcord.AuditEntry{At: t0.Add(time.Duration(i) * time.Nanosecond), Actor: "token:ci", Action: "app.create", Target: fmt.Sprintf("app/a%d", i), After: "{}", RequestID: fmt.Sprintf("req-%d", i)}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.AuditAppend(ctx, &e) })
	return e
}

func testAudit(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	seq, hash, err := s.AuditHead(ctx)
	require.NoError(t, err)
	require.Zero(t, seq)
	require.Empty(t, hash)

	var written []ripcord.AuditEntry
	for i := 1; i <= 5; i++ {
		written = append(written, appendEntry(t, s, i))
	}
	require.Equal(t, written[3].Hash, written[4].PrevHash)
	got, err := s.AuditList(ctx, storage.AuditListParams{})
	require.NoError(t, err)
	require.Equal(t, written, got, "entries round-trip exactly, nanoseconds included")
	require.Nil(t, ripcord.VerifyAuditChain(0, "", got))

	page, err := s.AuditList(ctx, storage.AuditListParams{AfterSeq: 2, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{3, 4}, []int64{page[0].Seq, page[1].Seq})
	byTarget, err := s.AuditList(ctx, storage.AuditListParams{Target: "app/a3"})
	require.NoError(t, err)
	require.Len(t, byTarget, 1)

	seq, hash, err = s.AuditHead(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(5), seq)
	require.Equal(t, written[4].Hash, hash)
}

// testAuditConcurrent appends from many goroutines at once; the chain must
// come out linear, with no forks or gaps.
func testAuditConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := ripcord.AuditEntry{At: t0, Actor: "a", Action: "x", Target: fmt.Sprint(i)}
			errs <- s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.AuditAppend(ctx, &e) })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := s.AuditList(ctx, storage.AuditListParams{})
	require.NoError(t, err)
	require.Len(t, got, n)
	require.Nil(t, ripcord.VerifyAuditChain(0, "", got))
}

func testAuditTamper(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	for i := 1; i <= 4; i++ {
		appendEntry(t, s, i)
	}
	h.Exec(t, s, `UPDATE audit_log SET after_state = '{"role":"admin"}' WHERE seq = 3`)
	got, err := s.AuditList(ctx, storage.AuditListParams{})
	require.NoError(t, err)
	br := ripcord.VerifyAuditChain(0, "", got)
	require.NotNil(t, br)
	require.Equal(t, int64(3), br.Seq)
}

// testRollback shows a failed transaction leaves nothing behind, audit
// entry included.
func testRollback(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	boom := fmt.Errorf("boom")
	err := s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		a := &ripcord.App{Name: "gone", AndroidPackage: "com.example.gone", CreatedAt: t0, UpdatedAt: t0}
		if err := tx.AppCreate(ctx, a); err != nil {
			return err
		}
		e := ripcord.AuditEntry{At: t0, Actor: "a", Action: "app.create", Target: "app/gone"}
		if err := tx.AuditAppend(ctx, &e); err != nil {
			return err
		}
		_, err := tx.AppGetByName(ctx, "gone")
		require.NoError(t, err, "the transaction sees its own write")
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = s.AppGetByName(ctx, "gone")
	require.ErrorIs(t, err, storage.ErrNotFound)
	seq, _, err := s.AuditHead(ctx)
	require.NoError(t, err)
	require.Zero(t, seq)
}

type noopArgs struct{ N int }

func (noopArgs) Kind() string { return "storagetest_noop" }

func testJobs(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	_, err := s.NewJobClient(&river.Config{}) // insert-only client
	require.NoError(t, err)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.JobInsert(ctx, noopArgs{N: 1}, nil) })
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.JobInsert(ctx, noopArgs{N: 2}, nil); err != nil {
			return err
		}
		return fmt.Errorf("abort")
	})
	require.Error(t, err)
	counts, err := s.JobCounts(ctx)
	require.NoError(t, err)
	require.Equal(t, []storage.JobCount{{Kind: "storagetest_noop", State: "available", Count: 1}}, counts,
		"the job of the committed transaction is queued, the rolled-back one is not")
}

func testHealthCounts(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	m0 := t0.Truncate(time.Minute)
	delta := func(version string, minute int, bad, total int64) storage.HealthCountDelta {
		return storage.HealthCountDelta{AppID: a.ID, Platform: ripcord.Android, Version: version, Metric: "crash_free_sessions",
			Bucket: m0.Add(time.Duration(minute) * time.Minute), Counts: health.Counts{Bad: bad, Total: total}}
	}
	// Concurrent writers to the same buckets add up.
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
				return tx.HealthCountsAdd(ctx, []storage.HealthCountDelta{delta("1.2.0", 0, 1, 100), delta("1.2.0", 5, 0, 50)})
			}))
		}()
	}
	wg.Wait()
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		return tx.HealthCountsAdd(ctx, []storage.HealthCountDelta{delta("1.1.0", -60, 2, 1000)})
	})

	sum, err := s.HealthSum(ctx, storage.HealthSumParams{AppID: a.ID, Platform: ripcord.Android, Version: "1.2.0", Metric: "crash_free_sessions", From: m0})
	require.NoError(t, err)
	require.Equal(t, health.Counts{Bad: 10, Total: 1500}, sum)
	first, err := s.HealthSum(ctx, storage.HealthSumParams{AppID: a.ID, Platform: ripcord.Android, Version: "1.2.0", Metric: "crash_free_sessions", From: m0, To: m0.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, health.Counts{Bad: 10, Total: 1000}, first, "the range is [From, To)")
	none, err := s.HealthSum(ctx, storage.HealthSumParams{AppID: a.ID, Platform: ripcord.IOS, Version: "1.2.0", Metric: "crash_free_sessions", From: m0})
	require.NoError(t, err)
	require.Zero(t, none.Total)

	spans, err := s.HealthSpans(ctx, a.ID, ripcord.Android)
	require.NoError(t, err)
	require.Len(t, spans, 2)
	require.Equal(t, "1.1.0", spans[0].Version)
	require.Equal(t, health.Counts{Bad: 2, Total: 1000}, spans[0].Counts)
	require.True(t, spans[1].First.Equal(m0), "first bucket %v", spans[1].First)
	require.True(t, spans[1].Last.Equal(m0.Add(5*time.Minute)), "last bucket %v", spans[1].Last)
}

func testHealthDecisions(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	_, err := s.HealthDecisionLatest(ctx, a.ID, ripcord.IOS, "1.2.0", "crash_free_sessions")
	require.ErrorIs(t, err, storage.ErrNotFound)
	for i, o := range []health.Outcome{health.Inconclusive, health.Pause} {
		d := &storage.HealthDecision{AppID: a.ID, Platform: ripcord.IOS, Version: "1.2.0", Metric: "crash_free_sessions",
			DecidedAt: t0.Add(time.Duration(i) * time.Minute), Outcome: o, Sentence: string(o), Inputs: "{}"}
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.HealthDecisionAppend(ctx, d) })
		require.NotZero(t, d.ID)
	}
	got, err := s.HealthDecisionLatest(ctx, a.ID, ripcord.IOS, "1.2.0", "crash_free_sessions")
	require.NoError(t, err)
	require.Equal(t, health.Pause, got.Outcome)
	require.True(t, got.DecidedAt.Equal(t0.Add(time.Minute)))
}

func sentryProject(t *testing.T, s storage.Store, a *ripcord.App, p ripcord.Platform, key string) *storage.SentryProject {
	t.Helper()
	sp := &storage.SentryProject{AppID: a.ID, Platform: p, PublicKey: key, CreatedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.SentryProjectCreate(ctx, sp) })
	require.NotZero(t, sp.ID)
	return sp
}

func testSentryProjects(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	b := createApp(t, s, "blog")
	ios := sentryProject(t, s, a, ripcord.IOS, fmt.Sprintf("%032x", 1))
	droid := sentryProject(t, s, a, ripcord.Android, fmt.Sprintf("%032x", 2))
	other := sentryProject(t, s, b, ripcord.Android, fmt.Sprintf("%032x", 3))
	require.NotEqual(t, ios.ID, droid.ID)

	got, err := s.SentryProjectGetByKey(ctx, droid.PublicKey)
	require.NoError(t, err)
	require.Equal(t, droid, got)
	_, err = s.SentryProjectGetByKey(ctx, fmt.Sprintf("%032x", 9))
	require.ErrorIs(t, err, storage.ErrNotFound)

	list, err := s.SentryProjectList(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, []storage.SentryProject{*droid, *ios}, list, "ordered by platform")
	all, err := s.SentryProjectList(ctx, 0)
	require.NoError(t, err)
	require.Len(t, all, 3)
	require.Contains(t, all, *other)

	for name, p := range map[string]storage.SentryProject{
		"ErrPlatformTaken": {AppID: a.ID, Platform: ripcord.IOS, PublicKey: fmt.Sprintf("%032x", 4), CreatedAt: t0},
		"ErrKeyTaken":      {AppID: b.ID, Platform: ripcord.IOS, PublicKey: ios.PublicKey, CreatedAt: t0},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.SentryProjectCreate(ctx, &p) })
			require.ErrorIs(t, err, storage.ErrConflict)
		})
	}
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.SentryProjectCreate(ctx, &storage.SentryProject{AppID: b.ID, Platform: ripcord.IOS, PublicKey: "short", CreatedAt: t0})
	})
	require.Error(t, err, "a key must be 32 characters")
}

func testSentrySessions(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	p := sentryProject(t, s, a, ripcord.IOS, fmt.Sprintf("%032x", 1))
	q := sentryProject(t, s, a, ripcord.Android, fmt.Sprintf("%032x", 2))
	apply := func(pid int64, sid string, seq int64, f storage.SessionFlags) storage.SentrySessionResult {
		t.Helper()
		var res storage.SentrySessionResult
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
			var err error
			res, err = tx.SentrySessionApply(ctx, storage.SentrySessionParams{ProjectID: pid, SID: sid, Seq: seq, Flags: f, At: t0})
			return err
		})
		return res
	}
	require.Equal(t, storage.SentrySessionResult{New: true}, apply(p.ID, "s1", 0, 0), "init")
	require.Equal(t, storage.SentrySessionResult{Duplicate: true}, apply(p.ID, "s1", 0, 0), "a retried init")
	require.Equal(t, storage.SentrySessionResult{}, apply(p.ID, "s1", 5, 0), "a newer ok update adds nothing")
	require.Equal(t, storage.SentrySessionResult{Added: storage.SessionErrored}, apply(p.ID, "s1", 6, storage.SessionErrored))
	require.Equal(t, storage.SentrySessionResult{Added: storage.SessionCrashed}, apply(p.ID, "s1", 7, storage.SessionCrashed|storage.SessionErrored),
		"errored was counted already; crashed is new")
	require.Equal(t, storage.SentrySessionResult{Duplicate: true}, apply(p.ID, "s1", 7, storage.SessionCrashed|storage.SessionErrored), "a retried crash")
	require.Equal(t, storage.SentrySessionResult{Duplicate: true}, apply(p.ID, "s1", 3, storage.SessionAbnormal), "an older update")
	require.Equal(t, storage.SentrySessionResult{}, apply(p.ID, "s1", 8, storage.SessionCrashed), "crashed stays counted once")

	require.Equal(t, storage.SentrySessionResult{New: true, Added: storage.SessionAbnormal | storage.SessionErrored},
		apply(p.ID, "s2", 9, storage.SessionAbnormal|storage.SessionErrored), "a first update that is already final")
	require.Equal(t, storage.SentrySessionResult{New: true}, apply(q.ID, "s1", 0, 0), "sids are per project")

	// A rolled-back transaction claims nothing.
	err := s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		_, err := tx.SentrySessionApply(ctx, storage.SentrySessionParams{ProjectID: p.ID, SID: "s3", Seq: 1, At: t0})
		require.NoError(t, err)
		return fmt.Errorf("roll back")
	})
	require.Error(t, err)
	require.Equal(t, storage.SentrySessionResult{New: true}, apply(p.ID, "s3", 1, 0))
}

func testSentrySessionsConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	p := sentryProject(t, s, a, ripcord.IOS, fmt.Sprintf("%032x", 1))
	var mu sync.Mutex
	var news, crashes, dups int
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, u := range []storage.SentrySessionParams{{Seq: 0}, {Seq: 10, Flags: storage.SessionCrashed}} {
				u.ProjectID, u.SID, u.At = p.ID, "shared", t0
				var res storage.SentrySessionResult
				err := s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
					var err error
					res, err = tx.SentrySessionApply(ctx, u)
					return err
				})
				if !assertNoError(t, err) {
					return
				}
				mu.Lock()
				if res.New {
					news++
				}
				if res.Added&storage.SessionCrashed != 0 {
					crashes++
				}
				if res.Duplicate {
					dups++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, news, "exactly one writer starts the session")
	require.Equal(t, 1, crashes, "exactly one writer counts the crash")
	require.GreaterOrEqual(t, dups, 7)
}

// assertNoError reports err from a goroutine without stopping it mid-way.
func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

func testSentryDevicesAndEvents(t *testing.T, h Harness) {
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	p := sentryProject(t, s, a, ripcord.IOS, fmt.Sprintf("%032x", 1))
	dev := func(version, did string, crashed bool) storage.SentryDeviceResult {
		t.Helper()
		var res storage.SentryDeviceResult
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
			var err error
			res, err = tx.SentryDeviceApply(ctx, storage.SentryDeviceParams{ProjectID: p.ID, Version: version, DID: did, Crashed: crashed})
			return err
		})
		return res
	}
	require.Equal(t, storage.SentryDeviceResult{New: true}, dev("1.2.0", "d1", false))
	require.Equal(t, storage.SentryDeviceResult{}, dev("1.2.0", "d1", false))
	require.Equal(t, storage.SentryDeviceResult{FirstCrash: true}, dev("1.2.0", "d1", true))
	require.Equal(t, storage.SentryDeviceResult{}, dev("1.2.0", "d1", true), "a device crashes once per release")
	require.Equal(t, storage.SentryDeviceResult{New: true, FirstCrash: true}, dev("1.2.0", "d2", true))
	require.Equal(t, storage.SentryDeviceResult{New: true}, dev("1.3.0", "d1", false), "sets are per release")

	record := func(id string) bool {
		t.Helper()
		var first bool
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
			var err error
			first, err = tx.SentryEventRecord(ctx, p.ID, id, t0)
			return err
		})
		return first
	}
	require.True(t, record("e1"))
	require.False(t, record("e1"))
	require.True(t, record("e2"))
}

// testSentryProjectsBackfill checks that apps registered before migration
// 3 get a project per platform with a fresh 32-hex key.
func testSentryProjectsBackfill(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Open(t)
	_, err := s.Migrate(ctx, storage.MigrateUp, 2)
	require.NoError(t, err)
	a := createApp(t, s, "shop")
	droid := &ripcord.App{Name: "droid", AndroidPackage: "com.example.droid", CreatedAt: t0, UpdatedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.AppCreate(ctx, droid) })
	_, err = s.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)

	list, err := s.SentryProjectList(ctx, 0)
	require.NoError(t, err)
	require.Len(t, list, 3)
	keys := map[string]bool{}
	for _, p := range list {
		require.Regexp(t, `^[0-9a-f]{32}$`, p.PublicKey)
		keys[p.PublicKey] = true
		require.True(t, p.CreatedAt.Equal(t0), "created_at %v", p.CreatedAt)
	}
	require.Len(t, keys, 3, "keys are distinct")
	require.Equal(t, []ripcord.Platform{ripcord.Android, ripcord.IOS}, []ripcord.Platform{list[0].Platform, list[1].Platform})
	require.Equal(t, a.ID, list[0].AppID)
	require.Equal(t, droid.ID, list[2].AppID)
}

// testSentryStatePrune shows old dedupe state goes and recent state stays,
// so a pruned session is one no SDK can update any more.
func testSentryStatePrune(t *testing.T, h Harness) {
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	p := sentryProject(t, s, a, ripcord.IOS, fmt.Sprintf("%032x", 1))
	old, recent := t0.Add(-7*24*time.Hour), t0.Add(-time.Hour)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		for _, x := range []struct {
			sid string
			at  time.Time
		}{{"old", old}, {"recent", recent}} {
			if _, err := tx.SentrySessionApply(ctx, storage.SentrySessionParams{ProjectID: p.ID, SID: x.sid, Seq: 1, At: x.at}); err != nil {
				return err
			}
			if _, err := tx.SentryEventRecord(ctx, p.ID, x.sid+"-event", x.at); err != nil {
				return err
			}
		}
		return nil
	})
	var sessions, events int64
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		var err error
		sessions, events, err = tx.SentryStatePrune(ctx, t0.Add(-6*24*time.Hour))
		return err
	})
	require.Equal(t, int64(1), sessions)
	require.Equal(t, int64(1), events)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		res, err := tx.SentrySessionApply(ctx, storage.SentrySessionParams{ProjectID: p.ID, SID: "recent", Seq: 1, At: t0})
		require.True(t, res.Duplicate, "recent state is kept")
		return err
	})
}

// testCredentials checks the upsert, listings (per app and across apps),
// a nullable expiry, binary ciphertexts with every byte value, deletion,
// and that an app's credentials go with it.
func testCredentials(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	shop, other := createApp(t, s, "shop"), createApp(t, s, "other")
	blob := make([]byte, 256)
	for i := range blob {
		blob[i] = byte(i)
	}
	put := func(c storage.Credential) {
		t.Helper()
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.CredentialPut(ctx, &c) })
	}
	asc := storage.Credential{AppID: shop.ID, Kind: "asc_api_key", Ciphertext: blob, Metadata: `{"key_id":"ABC"}`, CreatedBy: "token:admin", UpdatedAt: t0}
	put(asc)
	profile := storage.Credential{AppID: shop.ID, Kind: "ios_profile:com.example.shop", Ciphertext: []byte{1, 2, 3}, Metadata: `{}`,
		ExpiresAt: t0.Add(30 * 24 * time.Hour), CreatedBy: "token:admin", UpdatedAt: t0}
	put(profile)
	put(storage.Credential{AppID: other.ID, Kind: "play_service_account", Ciphertext: []byte{9}, Metadata: `{}`, CreatedBy: "local:root", UpdatedAt: t0})

	got, err := s.CredentialGet(ctx, shop.ID, "asc_api_key")
	require.NoError(t, err)
	require.Equal(t, &asc, got, "every byte value round-trips; no expiry reads back as zero")
	got, err = s.CredentialGet(ctx, shop.ID, profile.Kind)
	require.NoError(t, err)
	require.True(t, got.ExpiresAt.Equal(profile.ExpiresAt), "expires_at %v", got.ExpiresAt)
	_, err = s.CredentialGet(ctx, shop.ID, "play_service_account")
	require.ErrorIs(t, err, storage.ErrNotFound, "credentials are per app")

	replaced := asc
	replaced.Ciphertext, replaced.Metadata, replaced.CreatedBy, replaced.UpdatedAt = []byte{7, 7}, `{"key_id":"DEF"}`, "token:other", t0.Add(time.Hour)
	replaced.ExpiresAt = t0.Add(time.Hour)
	put(replaced)
	got, err = s.CredentialGet(ctx, shop.ID, "asc_api_key")
	require.NoError(t, err)
	require.Equal(t, &replaced, got, "a second put of the same kind replaces the first")

	list, err := s.CredentialList(ctx, shop.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []string{"asc_api_key", "ios_profile:com.example.shop"}, []string{list[0].Kind, list[1].Kind})
	all, err := s.CredentialList(ctx, 0)
	require.NoError(t, err)
	require.Len(t, all, 3)

	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		return tx.CredentialDelete(ctx, shop.ID, "asc_api_key")
	})
	_, err = s.CredentialGet(ctx, shop.ID, "asc_api_key")
	require.ErrorIs(t, err, storage.ErrNotFound)
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.CredentialDelete(ctx, shop.ID, "asc_api_key")
	})
	require.ErrorIs(t, err, storage.ErrNotFound)

	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.CredentialPut(ctx, &storage.Credential{AppID: 9999, Kind: "asc_api_key", Ciphertext: []byte{1}, Metadata: `{}`, CreatedBy: "x", UpdatedAt: t0})
	})
	require.Error(t, err, "a credential needs an existing app")
}

// testRollbackBuilds checks a rollback build's round trip, its uniqueness
// per app, platform and target, progress updates (the nullable produced
// build included), the used versions and build numbers, and reservations.
func testRollbackBuilds(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	live := &ripcord.Build{AppID: a.ID, Platform: ripcord.Android, Version: "1.1.0", BuildNumber: "110", SHA256: sha(1), Size: 1, BlobKey: "k1", UploadedBy: "x", CreatedAt: t0}
	ios := &ripcord.Build{AppID: a.ID, Platform: ripcord.IOS, Version: "1.2.1", BuildNumber: "300", SHA256: sha(2), Size: 1, BlobKey: "k2", UploadedBy: "x", CreatedAt: t0}
	rel := &ripcord.Release{AppID: a.ID, Version: "1.2.0", CreatedBy: "x", CreatedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		for _, b := range []*ripcord.Build{live, ios} {
			if err := tx.BuildCreate(ctx, b); err != nil {
				return err
			}
		}
		return tx.ReleaseCreate(ctx, rel)
	})

	rb := &ripcord.RollbackBuild{AppID: a.ID, Platform: ripcord.Android, TargetVersion: "1.2.0", Version: "1.2.2", BuildNumber: "121",
		SourceBuildID: live.ID, SourceSHA256: live.SHA256, State: ripcord.RollbackAllocated, CreatedAt: t0, UpdatedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.RollbackBuildCreate(ctx, rb); err != nil {
			return err
		}
		return tx.BuildNumberReserve(ctx, storage.BuildNumberReservation{AppID: a.ID, Platform: ripcord.Android, BuildNumber: "121", ReservedFor: rb.ID, CreatedAt: t0})
	})
	require.NotZero(t, rb.ID)
	got, err := s.RollbackBuildGet(ctx, a.ID, ripcord.Android, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, rb, got, "a fresh row reads back with no produced build and no findings")
	require.Equal(t, "[]", got.Findings)
	_, err = s.RollbackBuildGet(ctx, a.ID, ripcord.IOS, "1.2.0")
	require.ErrorIs(t, err, storage.ErrNotFound, "rollback builds are per platform")

	dup := *rb
	dup.ID, dup.Version, dup.BuildNumber = 0, "1.2.3", "122"
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildCreate(ctx, &dup) }), storage.ErrConflict,
		"one rollback build per app, platform and target")
	dup.TargetVersion, dup.Version = "1.2.1", rb.Version
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildCreate(ctx, &dup) }), storage.ErrConflict,
		"two rollback builds never share a version")
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.BuildNumberReserve(ctx, storage.BuildNumberReservation{AppID: a.ID, Platform: ripcord.Android, BuildNumber: "121", ReservedFor: rb.ID, CreatedAt: t0})
	})
	require.ErrorIs(t, err, storage.ErrConflict, "a build number is reserved once")

	produced := &ripcord.Build{AppID: a.ID, Platform: ripcord.Android, Version: "1.2.2", BuildNumber: "121", SHA256: sha(3), Size: 1, BlobKey: "k3", UploadedBy: "ripcord:rollback", CreatedAt: t0}
	rb.State, rb.SHA256, rb.SignerCertSHA256, rb.Findings, rb.StoreRef = ripcord.RollbackUploaded, sha(3), sha(4), `[{"code":"x"}]`, "play:com.example.shop/qa/121"
	rb.UpdatedAt = t0.Add(time.Minute)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.BuildCreate(ctx, produced); err != nil {
			return err
		}
		rb.BuildID = produced.ID
		return tx.RollbackBuildUpdate(ctx, rb)
	})
	got, err = s.RollbackBuildGet(ctx, a.ID, ripcord.Android, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, rb, got)

	missing := *rb
	missing.ID = rb.ID + 100
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildUpdate(ctx, &missing) }), storage.ErrNotFound)

	versions, err := s.RollbackVersionsUsed(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"1.1.0", "1.2.0", "1.2.1", "1.2.2"}, versions, "builds of every platform, releases and rollback builds")
	numbers, err := s.RollbackBuildNumbersUsed(ctx, a.ID, ripcord.Android)
	require.NoError(t, err)
	require.Equal(t, []string{"110", "121"}, numbers, "android only, each number once")
	res, err := s.BuildNumberReservationList(ctx, a.ID, ripcord.Android)
	require.NoError(t, err)
	require.Equal(t, []storage.BuildNumberReservation{{AppID: a.ID, Platform: ripcord.Android, BuildNumber: "121", ReservedFor: rb.ID, CreatedAt: t0}}, res)
	res, err = s.BuildNumberReservationList(ctx, a.ID, ripcord.IOS)
	require.NoError(t, err)
	require.Empty(t, res)
}

// testBuildNumberReservationsConcurrent has many jobs allocate a build number
// at once the way the rollback service does (read what is used, take the
// next, reserve it), retrying on ErrConflict. Every job must end with its own
// number: the reservation's uniqueness, not luck, keeps them apart.
func testBuildNumberReservationsConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	live := &ripcord.Build{AppID: a.ID, Platform: ripcord.Android, Version: "1.1.0", BuildNumber: "110", SHA256: sha(1), Size: 1, BlobKey: "k1", UploadedBy: "x", CreatedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.BuildCreate(ctx, live) })
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	conflicts := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; attempt < 4*n; attempt++ {
				var number string
				err := s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
					used, err := tx.RollbackBuildNumbersUsed(ctx, a.ID, ripcord.Android)
					if err != nil {
						return err
					}
					number, err = ripcord.NextBuildNumber(ripcord.Android, used)
					if err != nil {
						return err
					}
					rb := &ripcord.RollbackBuild{AppID: a.ID, Platform: ripcord.Android, TargetVersion: fmt.Sprintf("2.%d.0", i), Version: fmt.Sprintf("2.%d.1", i),
						BuildNumber: number, SourceBuildID: live.ID, SourceSHA256: live.SHA256, State: ripcord.RollbackAllocated, CreatedAt: t0, UpdatedAt: t0}
					if err := tx.RollbackBuildCreate(ctx, rb); err != nil {
						return err
					}
					return tx.BuildNumberReserve(ctx, storage.BuildNumberReservation{AppID: a.ID, Platform: ripcord.Android, BuildNumber: number, ReservedFor: rb.ID, CreatedAt: t0})
				})
				if errors.Is(err, storage.ErrConflict) {
					mu.Lock()
					conflicts++
					mu.Unlock()
					continue
				}
				if !assertNoError(t, err) {
					return
				}
				mu.Lock()
				got[number]++
				mu.Unlock()
				return
			}
			t.Errorf("job %d found no free build number in %d attempts", i, 4*n)
		}()
	}
	wg.Wait()
	t.Logf("conflicts retried: %d", conflicts)
	require.Len(t, got, n, "every job holds a distinct number (conflicts retried: %d)", conflicts)
	for number, count := range got {
		require.Equal(t, 1, count, "build number %s taken by %d jobs", number, count)
	}
	res, err := s.BuildNumberReservationList(ctx, a.ID, ripcord.Android)
	require.NoError(t, err)
	require.Len(t, res, n)
	numbers, err := s.RollbackBuildNumbersUsed(ctx, a.ID, ripcord.Android)
	require.NoError(t, err)
	next, err := ripcord.NextBuildNumber(ripcord.Android, numbers)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(111+n), next, "the numbers are 111..%d with no gap", 110+n)
}
