package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// actionRelease creates an app and a release of it on both platforms for
// the rollout action tests.
func actionRelease(t *testing.T, s storage.Store) (*ripcord.App, *ripcord.Release) {
	t.Helper()
	a := createApp(t, s, "shop")
	r := &ripcord.Release{AppID: a.ID, Version: "1.2.0", CreatedBy: "token:rm", CreatedAt: t0, Platforms: []ripcord.ReleasePlatform{
		{Platform: ripcord.Android, Status: ripcord.StatusRollingOut, UpdatedAt: t0},
		{Platform: ripcord.IOS, Status: ripcord.StatusRollingOut, UpdatedAt: t0},
	}}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.ReleaseCreate(ctx, r) })
	return a, r
}

func newAction(a *ripcord.App, r *ripcord.Release, p ripcord.Platform, kind ripcord.ActionKind, key string) *ripcord.RolloutAction {
	return &ripcord.RolloutAction{AppID: a.ID, ReleaseID: r.ID, Platform: p, Kind: kind, State: ripcord.ActionQueued,
		IdempotencyKey: key, Actor: "token:rm", Reason: "a crash spike", CreatedAt: t0, UpdatedAt: t0}
}

// testRolloutActions checks the rules the rollout service relies on: one
// active action per release and platform, idempotency keys unique per app,
// a lost race leaves the transaction usable, and steps round-trip.
func testRolloutActions(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a, r := actionRelease(t, s)

	halt := newAction(a, r, ripcord.Android, ripcord.ActionHalt, "k1")
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RolloutActionCreate(ctx, halt) })
	require.NotZero(t, halt.ID)

	// A second active action on the same release and platform loses, and
	// the same transaction can still read the winner and write.
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		err := tx.RolloutActionCreate(ctx, newAction(a, r, ripcord.Android, ripcord.ActionRollback, "k2"))
		require.ErrorIs(t, err, storage.ErrConflict)
		cur, err := tx.RolloutActionActive(ctx, r.ID, ripcord.Android)
		require.NoError(t, err)
		require.Equal(t, halt.ID, cur.ID)
		return tx.AuditAppend(ctx, &ripcord.AuditEntry{At: t0, Actor: "x", Action: "test", Target: "t"})
	})
	// The key is unique per app even when the first action finished.
	err := s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.RolloutActionCreate(ctx, newAction(a, r, ripcord.IOS, ripcord.ActionHalt, "k1"))
	})
	require.ErrorIs(t, err, storage.ErrConflict)
	// Another platform of the same release is independent.
	pause := newAction(a, r, ripcord.IOS, ripcord.ActionHalt, "k3")
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RolloutActionCreate(ctx, pause) })

	t1 := t0.Add(time.Minute)
	halt.State, halt.UpdatedAt, halt.PendingStep = ripcord.ActionSucceeded, t1, ""
	halt.Steps = []ripcord.ActionStep{{Name: "edit: halt 120", At: t1, Note: "found done", Ref: "x"}, {Name: "recorded", At: t1}}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RolloutActionUpdate(ctx, halt) })
	got, err := s.RolloutActionGet(ctx, halt.ID)
	require.NoError(t, err)
	require.Equal(t, halt, got)
	byKey, err := s.RolloutActionGetByKey(ctx, a.ID, "k1")
	require.NoError(t, err)
	require.Equal(t, halt.ID, byKey.ID)
	_, err = s.RolloutActionActive(ctx, r.ID, ripcord.Android)
	require.ErrorIs(t, err, storage.ErrNotFound, "a succeeded action is not active")

	// Once it finished, a new action may start.
	rb := newAction(a, r, ripcord.Android, ripcord.ActionRollback, "k4")
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RolloutActionCreate(ctx, rb) })
	list, err := s.RolloutActionList(ctx, r.ID, ripcord.Android, 0)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []int64{rb.ID, halt.ID}, []int64{list[0].ID, list[1].ID}, "newest first")
	require.Empty(t, list[0].Steps)

	_, err = s.RolloutActionGet(ctx, 99999)
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.RolloutActionUpdate(ctx, &ripcord.RolloutAction{ID: 99999, State: ripcord.ActionFailed, UpdatedAt: t1})
	}), storage.ErrNotFound)
}

// testRolloutActionsConcurrent races creators on one release and platform,
// as two instances behind a load balancer would: exactly one wins.
func testRolloutActionsConcurrent(t *testing.T, h Harness) {
	s := migrated(t, h)
	a, r := actionRelease(t, s)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.InTx(context.Background(), func(ctx context.Context, tx storage.Tx) error {
				return tx.RolloutActionCreate(ctx, newAction(a, r, ripcord.Android, ripcord.ActionRollback, fmt.Sprintf("key-%d", i)))
			})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			require.ErrorIs(t, err, storage.ErrConflict)
		}
	}
	require.Equal(t, 1, won)
}
