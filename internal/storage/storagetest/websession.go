package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// testWebSessions checks the dashboard's session rows: they round-trip
// (team roles included), a duplicate id hash conflicts, deletion is exact,
// and pruning removes only sessions expired before the cut-off.
func testWebSessions(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	ana := storage.WebSession{IDHash: sha(1), UserEmail: "ana@example.com", Actor: "user:ana@example.com", Role: ripcord.RoleReleaseManager,
		TeamRoles: []string{"payments-owner", "ios-lead"}, Method: "password", CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}
	bo := storage.WebSession{IDHash: sha(2), UserEmail: "bo@example.com", Actor: "user:bo@example.com", Role: ripcord.RoleViewer,
		Method: "oidc", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, ws := range []storage.WebSession{ana, bo} {
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.WebSessionCreate(ctx, &ws) })
	}
	got, err := s.WebSessionGet(ctx, ana.IDHash)
	require.NoError(t, err)
	require.Equal(t, &ana, got)
	got, err = s.WebSessionGet(ctx, bo.IDHash)
	require.NoError(t, err)
	require.Empty(t, got.TeamRoles, "no team roles read back as none")
	require.Equal(t, ripcord.RoleViewer, got.Role)

	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { dup := ana; return tx.WebSessionCreate(ctx, &dup) })
	require.ErrorIs(t, err, storage.ErrConflict)
	_, err = s.WebSessionGet(ctx, sha(3))
	require.ErrorIs(t, err, storage.ErrNotFound)

	var pruned int64
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		pruned, err = tx.WebSessionDeleteExpired(ctx, t0.Add(2*time.Hour))
		return err
	})
	require.EqualValues(t, 1, pruned, "only bo's session had expired")
	_, err = s.WebSessionGet(ctx, bo.IDHash)
	require.ErrorIs(t, err, storage.ErrNotFound)

	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.WebSessionDelete(ctx, ana.IDHash) })
	_, err = s.WebSessionGet(ctx, ana.IDHash)
	require.ErrorIs(t, err, storage.ErrNotFound)
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.WebSessionDelete(ctx, ana.IDHash) })
	require.ErrorIs(t, err, storage.ErrNotFound, "a second sign-out finds nothing")
}

// testHealthSeries checks the chart's windows: equal windows from a
// release's first minute to its last, summing only that release and
// metric, never more windows than minutes, none without data.
func testHealthSeries(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	app := createApp(t, s, "shop")
	base := t0.Truncate(time.Minute)
	var deltas []storage.HealthCountDelta
	for i := 4; i >= 0; i-- {
		deltas = append(deltas, storage.HealthCountDelta{AppID: app.ID, Platform: ripcord.Android, Version: "1.2.0", Metric: "crash_free_sessions",
			Bucket: base.Add(time.Duration(i) * time.Minute), Counts: health.Counts{Bad: int64(i), Total: 100}})
	}
	deltas = append(deltas,
		storage.HealthCountDelta{AppID: app.ID, Platform: ripcord.Android, Version: "1.1.0", Metric: "crash_free_sessions", Bucket: base.Add(-time.Hour), Counts: health.Counts{Bad: 9, Total: 9}},
		storage.HealthCountDelta{AppID: app.ID, Platform: ripcord.IOS, Version: "1.2.0", Metric: "crash_free_sessions", Bucket: base, Counts: health.Counts{Bad: 9, Total: 9}},
		storage.HealthCountDelta{AppID: app.ID, Platform: ripcord.Android, Version: "1.2.0", Metric: "crash_free_users", Bucket: base.Add(time.Hour), Counts: health.Counts{Bad: 9, Total: 9}})
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.HealthCountsAdd(ctx, deltas) })

	p := storage.HealthSumParams{AppID: app.ID, Platform: ripcord.Android, Version: "1.2.0", Metric: "crash_free_sessions"}
	desc := func(n int) []string {
		t.Helper()
		got, err := s.HealthSeries(ctx, p, n)
		require.NoError(t, err)
		var out []string
		for _, b := range got {
			out = append(out, fmt.Sprintf("%s %d/%d", b.Bucket.Sub(base), b.Counts.Bad, b.Counts.Total))
		}
		return out
	}
	require.Equal(t, []string{"2m0s 1/200", "5m0s 9/300"}, desc(2))
	require.Equal(t, []string{"1m0s 0/100", "2m0s 1/100", "3m0s 2/100", "4m0s 3/100", "5m0s 4/100"}, desc(50), "at most one window a minute")
	p.Version = "9.9.9"
	require.Empty(t, desc(10))
}

// testAuditListTargets checks the several-target audit read: only the
// named targets, the newest limit of them, oldest first.
func testAuditListTargets(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	targets := []string{"release/shop/1.2.0", "release/shop/1.2.0/android", "release/shop/1.3.0", "app/shop/rollbacks/android/1.2.0"}
	for i := range 12 {
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
			return tx.AuditAppend(ctx, &ripcord.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "token:ci", Action: fmt.Sprintf("a%d", i), Target: targets[i%4]})
		})
	}
	got, err := s.AuditListTargets(ctx, []string{targets[0], targets[1], targets[3]}, 5)
	require.NoError(t, err)
	var desc []string
	for _, e := range got {
		desc = append(desc, e.Action+" "+e.Target)
		require.True(t, e.At.Equal(t0.Add(time.Duration(e.Seq-1)*time.Second)), "time round-trips")
	}
	require.Equal(t, []string{"a5 release/shop/1.2.0/android", "a7 app/shop/rollbacks/android/1.2.0", "a8 release/shop/1.2.0",
		"a9 release/shop/1.2.0/android", "a11 app/shop/rollbacks/android/1.2.0"}, desc)
	got, err = s.AuditListTargets(ctx, nil, 5)
	require.NoError(t, err)
	require.Empty(t, got)
}
