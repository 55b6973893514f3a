package triggers_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/runbooks"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/triggers"
)

type opener struct {
	calls int
	err   error
}

func (o *opener) Open(context.Context, triggers.IncidentParams) (int64, error) {
	o.calls++
	if o.err != nil {
		return 0, o.err
	}
	return 42, nil
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// setup makes an app with the exam-submit runbook and five bad minutes of
// exam-submit traffic on 1.2.0 ending at t0+5m.
func setup(tb testing.TB) (storage.Store, *ripcord.App) {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "r.db"), nil)
	require.NoError(tb, err)
	tb.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(tb, err)
	app := &ripcord.App{Name: "learner-app", AndroidPackage: "com.acme.learner", CreatedAt: t0, UpdatedAt: t0}
	require.NoError(tb, db.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.AppCreate(ctx, app) }))
	content, err := os.ReadFile("../runbook/testdata/good/exam-submit.md")
	require.NoError(tb, err)
	ci := ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:ci", Role: ripcord.RoleEngineer})
	_, err = runbooks.New(runbooks.Config{Store: db}).Push(ci, "learner-app", runbooks.PushParams{GitSHA: "abcdef0",
		Files: []runbooks.File{{Path: "runbooks/exam-submit.md", Content: strings.TrimSpace(string(content)) + "\n"}}})
	require.NoError(tb, err)
	var deltas []storage.HealthCountDelta
	for m := range 5 {
		deltas = append(deltas, storage.HealthCountDelta{AppID: app.ID, Platform: ripcord.Android, Version: "1.2.0", Metric: "flow:exam-submit",
			Bucket: t0.Add(time.Duration(m) * time.Minute), Counts: health.Counts{Bad: 10, Total: 100}})
	}
	require.NoError(tb, db.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.HealthCountsAdd(ctx, deltas) }))
	return db, app
}

// TestOpenFailureRetries: when the incident cannot be opened the firing is
// forgotten, so the next evaluation opens it; once opened it never repeats.
func TestOpenFailureRetries(t *testing.T) {
	t.Parallel()
	db, app := setup(t)
	o := &opener{err: errors.New("incidents down")}
	w := triggers.New(triggers.Config{Store: db, Incidents: o})
	end := t0.Add(5 * time.Minute)
	_, err := w.Observe(context.Background(), app, ripcord.Android, "1.2.0", end)
	require.ErrorContains(t, err, "incidents down")
	o.err = nil
	fired, err := w.Observe(context.Background(), app, ripcord.Android, "1.2.0", end)
	require.NoError(t, err)
	require.Len(t, fired, 1)
	require.Equal(t, int64(42), fired[0].IncidentID)
	fired, err = w.Observe(context.Background(), app, ripcord.Android, "1.2.0", end)
	require.NoError(t, err)
	require.Empty(t, fired)
	require.Equal(t, 2, o.calls)
	_, err = w.Observe(context.Background(), app, ripcord.Android, "1.2.0", end.Add(-time.Minute))
	require.NoError(t, err)
	require.Equal(t, 2, o.calls, "four bad windows do not fire")
}

// BenchmarkObserve measures what the trigger hook adds to one ingest: read
// the app's runbooks, sum five windows, find the firing already claimed.
func BenchmarkObserve(b *testing.B) {
	db, app := setup(b)
	w := triggers.New(triggers.Config{Store: db, Incidents: &opener{}})
	end := t0.Add(5 * time.Minute)
	ctx := context.Background()
	for b.Loop() {
		if _, err := w.Observe(ctx, app, ripcord.Android, "1.2.0", end); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObserveQuiet is the common case: nothing fires.
func BenchmarkObserveQuiet(b *testing.B) {
	db, app := setup(b)
	w := triggers.New(triggers.Config{Store: db, Incidents: &opener{}})
	end := t0.Add(4 * time.Minute)
	ctx := context.Background()
	for b.Loop() {
		if _, err := w.Observe(ctx, app, ripcord.Android, "1.2.0", end); err != nil {
			b.Fatal(err)
		}
	}
}
