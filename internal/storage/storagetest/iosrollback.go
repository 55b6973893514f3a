package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// testRollbackSupersede checks what iOS rollback versions and
// re-preparation need from storage: the App Store version fields round-trip,
// the withdrawn state is accepted, a superseded row frees its target for a
// fresh row but keeps its version, and listings tell current rows from
// superseded ones.
func testRollbackSupersede(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	live := &ripcord.Build{AppID: a.ID, Platform: ripcord.IOS, Version: "1.1.0", BuildNumber: "110", SHA256: sha(1), Size: 1, BlobKey: "k1", UploadedBy: "x", CreatedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.BuildCreate(ctx, live); err != nil {
			return err
		}
		return tx.ReleaseCreate(ctx, &ripcord.Release{AppID: a.ID, Version: "1.2.0", CreatedBy: "x", CreatedAt: t0})
	})
	first := &ripcord.RollbackBuild{AppID: a.ID, Platform: ripcord.IOS, TargetVersion: "1.2.0", Version: "1.2.1", BuildNumber: "126",
		SourceBuildID: live.ID, SourceSHA256: live.SHA256, State: ripcord.RollbackReady, CreatedAt: t0, UpdatedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildCreate(ctx, first) })
	got, err := s.RollbackBuildGet(ctx, a.ID, ripcord.IOS, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, first, got, "a row without an App Store version reads back with zero times")

	first.StoreVersionID, first.StoreVersionState, first.ApprovedAt = "v-9", ripcord.AppStoreApproved, t0.Add(time.Hour)
	first.TargetReleasedAt = t0.Add(time.Minute)
	first.UpdatedAt = t0.Add(time.Hour)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildUpdate(ctx, first) })
	got, err = s.RollbackBuildGet(ctx, a.ID, ripcord.IOS, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, first, got, "the App Store version, its state, the approval and release times are stored")
	require.True(t, got.ReleasableOnIOS())

	first.State, first.StoreVersionState, first.Reason = ripcord.RollbackWithdrawn, "", "withdrawn by token:rm"
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildUpdate(ctx, first) })
	got, err = s.RollbackBuildGet(ctx, a.ID, ripcord.IOS, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackWithdrawn, got.State, "the withdrawn state is accepted")

	// Superseding frees the target for a fresh row and keeps the old one.
	fresh := *first
	fresh.ID, fresh.Version, fresh.BuildNumber, fresh.State, fresh.StoreVersionID, fresh.StoreVersionState, fresh.ApprovedAt, fresh.TargetReleasedAt =
		0, "1.2.2", "127", ripcord.RollbackAllocated, "", "", time.Time{}, time.Time{}
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildCreate(ctx, &fresh) }), storage.ErrConflict,
		"one current rollback build per app, platform and target")
	at := t0.Add(2 * time.Hour)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildSupersede(ctx, first.ID, at) })
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildSupersede(ctx, first.ID, at) }), storage.ErrNotFound,
		"a superseded row is not superseded twice")
	_, err = s.RollbackBuildGet(ctx, a.ID, ripcord.IOS, "1.2.0")
	require.ErrorIs(t, err, storage.ErrNotFound, "a superseded row is not the current one")
	reuse := fresh
	reuse.Version = first.Version
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildCreate(ctx, &reuse) }), storage.ErrConflict,
		"a superseded row's version is never handed out again")
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RollbackBuildCreate(ctx, &fresh) })
	got, err = s.RollbackBuildGet(ctx, a.ID, ripcord.IOS, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, &fresh, got)

	current, err := s.RollbackBuildList(ctx, storage.RollbackBuildListParams{})
	require.NoError(t, err)
	require.Equal(t, []*ripcord.RollbackBuild{&fresh}, current)
	old, err := s.RollbackBuildList(ctx, storage.RollbackBuildListParams{AppID: a.ID, Platform: ripcord.IOS, TargetVersion: "1.2.0", Superseded: true})
	require.NoError(t, err)
	require.Len(t, old, 1)
	first.SupersededAt = at
	require.Equal(t, first, old[0], "the superseded row keeps everything it recorded")
	none, err := s.RollbackBuildList(ctx, storage.RollbackBuildListParams{Platform: ripcord.Android})
	require.NoError(t, err)
	require.Empty(t, none)
	versions, err := s.RollbackVersionsUsed(ctx, a.ID)
	require.NoError(t, err)
	require.Contains(t, versions, "1.2.1", "superseded rows' versions stay used")
}

// testRollbackMigrationKeepsRows fills the rollback tables as migration
// 00005 left them, migrates up and checks that rows and reservations
// survive the table rebuild of 00010 (SQLite rebuilds; a careless rebuild
// cascades the reservations away).
func testRollbackMigrationKeepsRows(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Open(t)
	_, err := s.Migrate(ctx, storage.MigrateUp, 5)
	require.NoError(t, err)
	h.Exec(t, s, `INSERT INTO apps (id, name, ios_bundle_id, android_package, created_at, updated_at) VALUES (1, 'shop', 'com.example.shop', 'com.example.shop', $1, $1)`, t0)
	h.Exec(t, s, `INSERT INTO builds (id, app_id, platform, version, build_number, identity_key, sha256, size, blob_key, uploaded_by, created_at)
		VALUES (1, 1, 'ios', '1.1.0', '110', '1.1.0/110', $1, 1, 'k', 'x', $2)`, sha(1), t0)
	h.Exec(t, s, `INSERT INTO rollback_builds (id, app_id, platform, target_version, version, build_number, source_build_id, source_sha256, state, created_at, updated_at)
		VALUES (7, 1, 'ios', '1.2.0', '1.2.1', '126', 1, $1, 'ready', $2, $2)`, sha(1), t0)
	h.Exec(t, s, `INSERT INTO build_number_reservations (app_id, platform, build_number, reserved_for, created_at) VALUES (1, 'ios', '126', 7, $1)`, t0)
	_, err = s.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	rb, err := s.RollbackBuildGet(ctx, 1, ripcord.IOS, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, int64(7), rb.ID)
	require.Equal(t, ripcord.RollbackReady, rb.State)
	require.Empty(t, rb.StoreVersionID)
	require.True(t, rb.ApprovedAt.IsZero())
	res, err := s.BuildNumberReservationList(ctx, 1, ripcord.IOS)
	require.NoError(t, err)
	require.Equal(t, []storage.BuildNumberReservation{{AppID: 1, Platform: ripcord.IOS, BuildNumber: "126", ReservedFor: 7, CreatedAt: t0}}, res,
		"the reservation survives the rebuild")
}
