package jobs_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/jobs"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

type testBundle struct {
	store     *sqlite.DB
	artifacts *blob.Store
	dir       string
	now       time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "r.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	art, err := blob.Open(ctx, filepath.Join(dir, "artifacts"))
	require.NoError(t, err)
	t.Cleanup(func() { art.Close() })
	return &testBundle{store: db, artifacts: art, dir: filepath.Join(dir, "artifacts"), now: time.Now()}
}

// put stores a blob and backdates its file by age.
func (tb *testBundle) put(t *testing.T, key string, age time.Duration) {
	t.Helper()
	_, err := tb.artifacts.Put(context.Background(), key, bytes.NewReader([]byte(key)), 1<<20)
	require.NoError(t, err)
	when := tb.now.Add(-age)
	require.NoError(t, os.Chtimes(filepath.Join(tb.dir, filepath.FromSlash(key)), when, when))
}

func (tb *testBundle) exists(key string) bool {
	_, err := os.Stat(filepath.Join(tb.dir, filepath.FromSlash(key)))
	return err == nil
}

func TestArtifactSweepRemovesOnlyOldOrphans(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	tb.put(t, "builds/shop/android/referenced", 3*time.Hour)
	tb.put(t, "builds/shop/android/orphan-old", 3*time.Hour)
	tb.put(t, "builds/shop/android/orphan-young", 10*time.Minute) // may be an upload in flight
	tb.put(t, "other/not-a-build", 3*time.Hour)                   // outside the sweep's prefix

	require.NoError(t, tb.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		a := &ripcord.App{Name: "shop", AndroidPackage: "com.acme.shop", CreatedAt: tb.now, UpdatedAt: tb.now}
		if err := tx.AppCreate(ctx, a); err != nil {
			return err
		}
		return tx.BuildCreate(ctx, &ripcord.Build{AppID: a.ID, Platform: ripcord.Android, Version: "1.0.0", BuildNumber: "1",
			SHA256: "0000000000000000000000000000000000000000000000000000000000000001", Size: 1, BlobKey: "builds/shop/android/referenced", UploadedBy: "t", CreatedAt: tb.now})
	}))

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := jobs.NewArtifactSweepWorker(jobs.Deps{Store: tb.store, Artifacts: tb.artifacts, Logger: logger, Now: func() time.Time { return tb.now }})
	require.NoError(t, w.Work(ctx, &river.Job[jobs.ArtifactSweepArgs]{JobRow: &rivertype.JobRow{}, Args: jobs.ArtifactSweepArgs{}}))

	require.True(t, tb.exists("builds/shop/android/referenced"), "a build's artifact is kept")
	require.False(t, tb.exists("builds/shop/android/orphan-old"), "an old orphan is removed")
	require.True(t, tb.exists("builds/shop/android/orphan-young"), "a young orphan may be an upload in flight")
	require.True(t, tb.exists("other/not-a-build"), "only build artifacts are swept")
}

// TestArtifactSweepIsUnique shows that enqueueing the sweep twice in one
// period (two instances, or a restart) queues it once.
func TestArtifactSweepIsUnique(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	client, err := tb.store.NewJobClient(&river.Config{}) // insert-only
	require.NoError(t, err)
	first, err := client.Insert(ctx, jobs.ArtifactSweepArgs{}, nil)
	require.NoError(t, err)
	require.False(t, first.UniqueSkippedAsDuplicate)
	second, err := client.Insert(ctx, jobs.ArtifactSweepArgs{}, nil)
	require.NoError(t, err)
	require.True(t, second.UniqueSkippedAsDuplicate)
	counts, err := tb.store.JobCounts(ctx)
	require.NoError(t, err)
	require.Equal(t, []storage.JobCount{{Kind: "artifact_sweep", State: "available", Count: 1}}, counts)
}

func TestSentryStatePruneKeepsRecentState(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	p := &storage.SentryProject{AppID: 0, Platform: ripcord.IOS, PublicKey: "0123456789abcdef0123456789abcdef", CreatedAt: tb.now}
	require.NoError(t, tb.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		a := &ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", CreatedAt: tb.now, UpdatedAt: tb.now}
		if err := tx.AppCreate(ctx, a); err != nil {
			return err
		}
		p.AppID = a.ID
		if err := tx.SentryProjectCreate(ctx, p); err != nil {
			return err
		}
		for sid, age := range map[string]time.Duration{"old": 7 * 24 * time.Hour, "fresh": 5 * 24 * time.Hour} {
			if _, err := tx.SentrySessionApply(ctx, storage.SentrySessionParams{ProjectID: p.ID, SID: sid, Seq: 1, At: tb.now.Add(-age)}); err != nil {
				return err
			}
		}
		return nil
	}))
	w := jobs.NewSentryStatePruneWorker(jobs.Deps{Store: tb.store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return tb.now }})
	require.NoError(t, w.Work(ctx, &river.Job[jobs.SentryStatePruneArgs]{JobRow: &rivertype.JobRow{}}))
	var remaining []string
	rows, err := tb.store.SQL().QueryContext(ctx, `SELECT sid FROM sentry_sessions ORDER BY sid`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var sid string
		require.NoError(t, rows.Scan(&sid))
		remaining = append(remaining, sid)
	}
	require.Equal(t, []string{"fresh"}, remaining, "state younger than the retention stays: an SDK may still retry it")
}
