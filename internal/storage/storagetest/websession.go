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

// testHealthBuckets checks that a release's minutes come back in order,
// within [From, To), for that release and metric only.
func testHealthBuckets(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	app := createApp(t, s, "shop")
	base := t0.Truncate(time.Minute)
	var deltas []storage.HealthCountDelta
	for i := 4; i >= 0; i-- { // written newest first: the order must come from the query
		deltas = append(deltas, storage.HealthCountDelta{AppID: app.ID, Platform: ripcord.Android, Version: "1.2.0", Metric: "crash_free_sessions",
			Bucket: base.Add(time.Duration(i) * time.Minute), Counts: health.Counts{Bad: int64(i), Total: 100}})
	}
	deltas = append(deltas,
		storage.HealthCountDelta{AppID: app.ID, Platform: ripcord.Android, Version: "1.1.0", Metric: "crash_free_sessions", Bucket: base, Counts: health.Counts{Bad: 9, Total: 9}},
		storage.HealthCountDelta{AppID: app.ID, Platform: ripcord.IOS, Version: "1.2.0", Metric: "crash_free_sessions", Bucket: base, Counts: health.Counts{Bad: 9, Total: 9}},
		storage.HealthCountDelta{AppID: app.ID, Platform: ripcord.Android, Version: "1.2.0", Metric: "crash_free_users", Bucket: base, Counts: health.Counts{Bad: 9, Total: 9}})
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.HealthCountsAdd(ctx, deltas) })

	p := storage.HealthSumParams{AppID: app.ID, Platform: ripcord.Android, Version: "1.2.0", Metric: "crash_free_sessions", From: base.Add(time.Minute)}
	got, err := s.HealthBuckets(ctx, p)
	require.NoError(t, err)
	var desc []string
	for _, b := range got {
		desc = append(desc, fmt.Sprintf("%s %d/%d", b.Bucket.Sub(base), b.Counts.Bad, b.Counts.Total))
		require.Equal(t, time.UTC, b.Bucket.Location())
	}
	require.Equal(t, []string{"1m0s 1/100", "2m0s 2/100", "3m0s 3/100", "4m0s 4/100"}, desc)
	p.To = base.Add(3 * time.Minute)
	got, err = s.HealthBuckets(ctx, p)
	require.NoError(t, err)
	require.Len(t, got, 2, "To is exclusive")
	p.Version = "9.9.9"
	got, err = s.HealthBuckets(ctx, p)
	require.NoError(t, err)
	require.Empty(t, got)
}
