package storagetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// testIncidents checks the incident rows: one open incident per release,
// platform and trigger (a second is a conflict, also after a resolve opens
// the way again), listing filters, resolving once, and the timeline.
func testIncidents(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	shop, blog := createApp(t, s, "shop"), createApp(t, s, "blog")
	open := func(app *ripcord.App, version, trigger string) (*ripcord.Incident, error) {
		in := &ripcord.Incident{AppID: app.ID, Version: version, Platform: ripcord.Android, Trigger: trigger,
			Decision: "99.41 %: pause tier", Outcome: "pause", OpenedBy: "ripcord:health", OpenedAt: t0}
		err := s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.IncidentCreate(ctx, in) })
		return in, err
	}
	first, err := open(shop, "1.2.0", "health:crash_free_sessions")
	require.NoError(t, err)
	require.NotZero(t, first.ID)
	_, err = open(shop, "1.2.0", "health:crash_free_sessions")
	require.ErrorIs(t, err, storage.ErrConflict, "a second open incident for the same release and trigger")
	other, err := open(shop, "1.2.0", "health:crash_free_users")
	require.NoError(t, err, "another trigger opens its own incident")
	_, err = open(blog, "1.2.0", "health:crash_free_sessions")
	require.NoError(t, err)

	got, err := s.IncidentGetOpen(ctx, shop.ID, "1.2.0", ripcord.Android, "health:crash_free_sessions")
	require.NoError(t, err)
	require.Equal(t, first.ID, got.ID)
	require.Equal(t, "shop", got.App)
	require.Equal(t, ripcord.IncidentOpen, got.State)
	require.Equal(t, t0, got.OpenedAt)
	require.True(t, got.MitigatedAt.IsZero() && got.ResolvedAt.IsZero())

	ev := &ripcord.IncidentEvent{IncidentID: first.ID, At: t0.Add(time.Minute), Actor: "ripcord:health", Kind: ripcord.IncidentEventBreach, Message: "98.9 %: rollback tier"}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.IncidentEventAppend(ctx, ev) })
	require.NotZero(t, ev.ID)
	evs, err := s.IncidentEventList(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, []ripcord.IncidentEvent{*ev}, evs)

	list, err := s.IncidentList(ctx, storage.IncidentListParams{AppID: shop.ID})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, other.ID, list[0].ID, "newest first")

	resolvedAt, mitigatedAt := t0.Add(time.Hour), t0.Add(2*time.Minute)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		return tx.IncidentResolve(ctx, first.ID, resolvedAt, mitigatedAt, "user:ana@example.com", "halted; fixed in 1.2.1")
	})
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.IncidentResolve(ctx, first.ID, resolvedAt, time.Time{}, "x", "again")
	})
	require.ErrorIs(t, err, storage.ErrNotFound, "resolving twice")
	got, err = s.IncidentGet(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, ripcord.IncidentResolved, got.State)
	require.Equal(t, resolvedAt, got.ResolvedAt)
	require.Equal(t, mitigatedAt, got.MitigatedAt)
	require.Equal(t, "halted; fixed in 1.2.1", got.Summary)
	require.Equal(t, "user:ana@example.com", got.ResolvedBy)

	openOnly, err := s.IncidentList(ctx, storage.IncidentListParams{OpenOnly: true})
	require.NoError(t, err)
	require.Len(t, openOnly, 2)
	for _, in := range openOnly {
		require.NotEqual(t, first.ID, in.ID)
	}
	again, err := open(shop, "1.2.0", "health:crash_free_sessions")
	require.NoError(t, err, "after a resolve the trigger can open a new incident")
	require.NotEqual(t, first.ID, again.ID)

	_, err = s.IncidentGet(ctx, 999999)
	require.True(t, errors.Is(err, storage.ErrNotFound))
}

// testPollers checks poller status and cursor upserts.
func testPollers(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	shop := createApp(t, s, "shop")
	st := storage.PollerStatus{Source: "sentry", AppID: shop.ID, Platform: ripcord.IOS, LastAttemptAt: t0, ConsecutiveErrors: 2, LastError: "sentry answered 502"}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.PollerStatusPut(ctx, st) })
	st.LastSuccessAt, st.DataThrough, st.ConsecutiveErrors, st.LastError, st.AlertedAt = t0.Add(time.Minute), t0, 0, "", t0
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.PollerStatusPut(ctx, st) })
	list, err := s.PollerStatusList(ctx, shop.ID)
	require.NoError(t, err)
	st.App = "shop"
	require.Equal(t, []storage.PollerStatus{st}, list)
	all, err := s.PollerStatusList(ctx, 0)
	require.NoError(t, err)
	require.Len(t, all, 1)

	c := storage.PollerCursor{Source: "sentry", AppID: shop.ID, Platform: ripcord.IOS, Version: "1.2.0", Metric: "crash_free_sessions", Counts: health.Counts{Bad: 1, Total: 10}}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.PollerCursorPut(ctx, c) })
	c.Counts = health.Counts{Bad: 3, Total: 40}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.PollerCursorPut(ctx, c) })
	cs, err := s.PollerCursorList(ctx, "sentry", shop.ID, ripcord.IOS)
	require.NoError(t, err)
	require.Equal(t, []storage.PollerCursor{c}, cs)
	none, err := s.PollerCursorList(ctx, "sentry", shop.ID, ripcord.Android)
	require.NoError(t, err)
	require.Empty(t, none)
}

// testIncidentsConcurrent: transactions racing to open the same incident
// each either create it or get ErrConflict — exactly one wins — which is
// what the incident service's retry-and-append relies on.
func testIncidentsConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	shop := createApp(t, s, "shop")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
				if _, err := tx.IncidentGetOpen(ctx, shop.ID, "1.2.0", ripcord.Android, "health:crash_free_sessions"); err == nil {
					return storage.ErrConflict // another one committed first
				}
				return tx.IncidentCreate(ctx, &ripcord.Incident{AppID: shop.ID, Version: "1.2.0", Platform: ripcord.Android, Trigger: "health:crash_free_sessions",
					Decision: "x", OpenedBy: "ripcord:health", OpenedAt: t0})
			})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, storage.ErrConflict)
	}
	require.Equal(t, 1, won)
	list, err := s.IncidentList(ctx, storage.IncidentListParams{AppID: shop.ID})
	require.NoError(t, err)
	require.Len(t, list, 1)
}
