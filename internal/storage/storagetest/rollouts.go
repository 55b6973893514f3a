package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// testRollouts checks staged-rollout storage: an app's plan (unset, set,
// replaced) and a release's progress per platform, which survives status
// updates and is loaded with the release on reads and listings.
func testRollouts(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")

	_, err := s.RolloutPlanGet(ctx, a.ID)
	require.ErrorIs(t, err, storage.ErrNotFound, "an app without a plan uses the default")

	plan := ripcord.DefaultRolloutPlan()
	plan.TimeZone, plan.Holidays = "Europe/Berlin", []string{"2026-12-24", "2026-12-25"}
	plan.Android[1].MinDuration = 36 * time.Hour
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		return tx.RolloutPlanPut(ctx, &storage.RolloutPlan{AppID: a.ID, Plan: plan, UpdatedBy: "token:rm", UpdatedAt: t0})
	})
	got, err := s.RolloutPlanGet(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, &storage.RolloutPlan{AppID: a.ID, Plan: plan, UpdatedBy: "token:rm", UpdatedAt: t0}, got)

	plan2 := ripcord.DefaultRolloutPlan()
	plan2.HoldWeekends = false
	t1 := t0.Add(time.Hour)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		return tx.RolloutPlanPut(ctx, &storage.RolloutPlan{AppID: a.ID, Plan: plan2, UpdatedBy: "token:admin", UpdatedAt: t1})
	})
	got, err = s.RolloutPlanGet(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, plan2, got.Plan, "a second put replaces the plan")
	require.Equal(t, "token:admin", got.UpdatedBy)

	r := &ripcord.Release{AppID: a.ID, Version: "1.2.0", CreatedBy: "x", CreatedAt: t0, Platforms: []ripcord.ReleasePlatform{
		{Platform: ripcord.Android, Status: ripcord.StatusApproved, UpdatedAt: t0},
		{Platform: ripcord.IOS, Status: ripcord.StatusInReview, UpdatedAt: t0},
	}}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.ReleaseCreate(ctx, r) })

	rel, err := s.ReleaseGetByVersion(ctx, a.ID, "1.2.0")
	require.NoError(t, err)
	require.Zero(t, rel.Platform(ripcord.Android).Stage, "no progress before the start")
	require.Nil(t, rel.Platform(ripcord.Android).Plan)

	android := ripcord.ReleasePlatform{Platform: ripcord.Android, Status: ripcord.StatusRollingOut, UpdatedAt: t1,
		Stage: 1, StageStartedAt: t1, RolloutStartedAt: t1, Plan: &plan, StoreRef: "120"}
	ios := ripcord.ReleasePlatform{Platform: ripcord.IOS, Status: ripcord.StatusUploaded, UpdatedAt: t1,
		StoreRef: "asc-version-7", Reason: "App Review rejected version 1.2.0"}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.ReleasePlatformUpdate(ctx, r.ID, android); err != nil {
			return err
		}
		if err := tx.ReleaseRolloutPut(ctx, r.ID, android); err != nil {
			return err
		}
		if err := tx.ReleasePlatformUpdate(ctx, r.ID, ios); err != nil {
			return err
		}
		return tx.ReleaseRolloutPut(ctx, r.ID, ios)
	})
	rel, err = s.ReleaseGetByVersion(ctx, a.ID, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, []ripcord.ReleasePlatform{android, ios}, rel.Platforms)

	// Advancing replaces the progress; a status-only update keeps it.
	t2 := t1.Add(24 * time.Hour)
	android.Stage, android.StageStartedAt = 2, t2
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.ReleaseRolloutPut(ctx, r.ID, android) })
	halted := android
	halted.Status, halted.UpdatedAt = ripcord.StatusHalted, t2.Add(time.Minute)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.ReleasePlatformUpdate(ctx, r.ID, halted) })
	list, err := s.ReleaseList(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, halted, *list[0].Platform(ripcord.Android), "a status update keeps the stage")

	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.ReleaseRolloutPut(ctx, r.ID+100, android)
	})
	require.ErrorIs(t, err, storage.ErrNotFound)
}
