package jobs_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/jobs"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// TestCredentialExpiryRetiresRollbacks: the daily check retires the iOS
// rollback builds signed with an identity that has expired (audited, with
// the reason), leaves the Android ones alone and queues no preparation.
func TestCredentialExpiryRetiresRollbacks(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	var app *ripcord.App
	require.NoError(t, tb.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		app = &ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop", CreatedAt: tb.now, UpdatedAt: tb.now}
		if err := tx.AppCreate(ctx, app); err != nil {
			return err
		}
		if err := tx.CredentialPut(ctx, &storage.Credential{AppID: app.ID, Kind: "ios_identity", Ciphertext: []byte{1}, Metadata: "{}",
			ExpiresAt: tb.now.Add(-time.Hour), CreatedBy: "t", UpdatedAt: tb.now}); err != nil {
			return err
		}
		if err := tx.ReleaseCreate(ctx, &ripcord.Release{AppID: app.ID, Version: "1.2.0", CreatedBy: "t", CreatedAt: tb.now}); err != nil {
			return err
		}
		for i, p := range []ripcord.Platform{ripcord.IOS, ripcord.Android} {
			live := &ripcord.Build{AppID: app.ID, Platform: p, Version: "1.1.0", BuildNumber: "110", SHA256: string(rune('a'+i)) + "1", Size: 1, BlobKey: "k" + string(p), UploadedBy: "t", CreatedAt: tb.now}
			made := &ripcord.Build{AppID: app.ID, Platform: p, Version: "1.2.1", BuildNumber: "126", SHA256: string(rune('a'+i)) + "2", Size: 1, BlobKey: "r" + string(p), UploadedBy: "ripcord:rollback", CreatedAt: tb.now}
			for _, b := range []*ripcord.Build{live, made} {
				if err := tx.BuildCreate(ctx, b); err != nil {
					return err
				}
			}
			if err := tx.RollbackBuildCreate(ctx, &ripcord.RollbackBuild{AppID: app.ID, Platform: p, TargetVersion: "1.2.0", Version: "1.2.1", BuildNumber: "126",
				SourceBuildID: live.ID, SourceSHA256: live.SHA256, BuildID: made.ID, State: ripcord.RollbackReady, CreatedAt: tb.now, UpdatedAt: tb.now}); err != nil {
				return err
			}
		}
		return nil
	}))
	var logs bytes.Buffer
	w := jobs.NewCredentialExpiryWorker(jobs.Deps{Store: tb.store, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return tb.now }})
	require.NoError(t, w.Work(ctx, &river.Job[jobs.CredentialExpiryArgs]{JobRow: &rivertype.JobRow{}}))

	_, err := tb.store.RollbackBuildGet(ctx, app.ID, ripcord.IOS, "1.2.0")
	require.ErrorIs(t, err, storage.ErrNotFound, "the iOS rollback is retired")
	old, err := tb.store.RollbackBuildList(ctx, storage.RollbackBuildListParams{Superseded: true})
	require.NoError(t, err)
	require.Len(t, old, 1)
	require.Equal(t, ripcord.IOS, old[0].Platform)
	require.Equal(t, ripcord.RollbackInvalid, old[0].State)
	require.Contains(t, old[0].Reason, "the ios_identity credential it was signed with expired")
	android, err := tb.store.RollbackBuildGet(ctx, app.ID, ripcord.Android, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackReady, android.State, "an iOS identity signs no Android rollback")
	entries, err := tb.store.AuditList(ctx, storage.AuditListParams{Target: "app/shop/rollbacks/ios/1.2.0"})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "rollback.invalidate", entries[0].Action)
	require.Equal(t, "ripcord:rollback", entries[0].Actor)
	require.Contains(t, logs.String(), "rollback_builds=1")

	// The next day's check finds nothing more to retire.
	require.NoError(t, w.Work(ctx, &river.Job[jobs.CredentialExpiryArgs]{JobRow: &rivertype.JobRow{}}))
	old, err = tb.store.RollbackBuildList(ctx, storage.RollbackBuildListParams{Superseded: true})
	require.NoError(t, err)
	require.Len(t, old, 1)
}

// TestRollbackWatchQueuesFollowUps queues one follow-up per current
// rollback that is not withdrawn, and no second one while it waits.
func TestRollbackWatchQueuesFollowUps(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	require.NoError(t, tb.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		app := &ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop", CreatedAt: tb.now, UpdatedAt: tb.now}
		if err := tx.AppCreate(ctx, app); err != nil {
			return err
		}
		for i, target := range []string{"1.2.0", "1.3.0", "1.4.0"} {
			live := &ripcord.Build{AppID: app.ID, Platform: ripcord.IOS, Version: "1.1." + string(rune('0'+i)), BuildNumber: "11" + string(rune('0'+i)),
				SHA256: "s" + target, Size: 1, BlobKey: "k" + target, UploadedBy: "t", CreatedAt: tb.now}
			if err := tx.BuildCreate(ctx, live); err != nil {
				return err
			}
			state := ripcord.RollbackReady
			if target == "1.3.0" {
				state = ripcord.RollbackWithdrawn
			}
			if err := tx.RollbackBuildCreate(ctx, &ripcord.RollbackBuild{AppID: app.ID, Platform: ripcord.IOS, TargetVersion: target, Version: target[:3] + ".1",
				BuildNumber: "20" + string(rune('0'+i)), SourceBuildID: live.ID, SourceSHA256: live.SHA256, State: state, CreatedAt: tb.now, UpdatedAt: tb.now}); err != nil {
				return err
			}
		}
		return nil
	}))
	_, err := tb.store.NewJobClient(&river.Config{}) // insert-only
	require.NoError(t, err)
	w := jobs.NewRollbackWatchWorker(jobs.Deps{Store: tb.store, Logger: slog.New(slog.DiscardHandler)})
	for range 2 {
		require.NoError(t, w.Work(ctx, &river.Job[jobs.RollbackWatchArgs]{JobRow: &rivertype.JobRow{}}))
	}
	counts, err := tb.store.JobCounts(ctx)
	require.NoError(t, err)
	require.Equal(t, []storage.JobCount{{Kind: "rollback_follow", State: "available", Count: 2}}, counts, "1.2.0 and 1.4.0, once each")
}

// TestRollbackFollowLeavesPlayAloneDuringRollout: while a release rolls
// out on Play, the Android follow-up does not read Play (a read opens an
// edit, which would delete a halt's edit in flight); otherwise it does.
// The app's Play key cannot be opened here, so reaching Play is an error.
func TestRollbackFollowLeavesPlayAloneDuringRollout(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	var rel *ripcord.Release
	require.NoError(t, tb.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		app := &ripcord.App{Name: "shop", AndroidPackage: "com.acme.shop", CreatedAt: tb.now, UpdatedAt: tb.now}
		if err := tx.AppCreate(ctx, app); err != nil {
			return err
		}
		rel = &ripcord.Release{AppID: app.ID, Version: "1.2.0", CreatedBy: "t", CreatedAt: tb.now,
			Platforms: []ripcord.ReleasePlatform{{Platform: ripcord.Android, Status: ripcord.StatusUploaded, UpdatedAt: tb.now}}}
		if err := tx.ReleaseCreate(ctx, rel); err != nil {
			return err
		}
		live := &ripcord.Build{AppID: app.ID, Platform: ripcord.Android, Version: "1.1.0", BuildNumber: "110", SHA256: "s", Size: 1, BlobKey: "k", UploadedBy: "t", CreatedAt: tb.now}
		if err := tx.BuildCreate(ctx, live); err != nil {
			return err
		}
		return tx.RollbackBuildCreate(ctx, &ripcord.RollbackBuild{AppID: app.ID, Platform: ripcord.Android, TargetVersion: "1.2.0", Version: "1.2.1", BuildNumber: "121",
			SourceBuildID: live.ID, SourceSHA256: live.SHA256, State: ripcord.RollbackReady, CreatedAt: tb.now, UpdatedAt: tb.now})
	}))
	creds, err := credentials.New(credentials.Config{Store: tb.store})
	require.NoError(t, err)
	w, err := jobs.NewRollbackFollowWorker(jobs.Deps{Store: tb.store, Artifacts: tb.artifacts, Credentials: creds, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	job := &river.Job[jobs.RollbackFollowArgs]{JobRow: &rivertype.JobRow{}, Args: jobs.RollbackFollowArgs{App: "shop", Platform: ripcord.Android, TargetVersion: "1.2.0"}}
	err = w.Work(ctx, job)
	require.ErrorContains(t, err, "Play service account", "not rolling out: the follow-up reads Play")

	require.NoError(t, tb.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.ReleasePlatformUpdate(ctx, rel.ID, ripcord.ReleasePlatform{Platform: ripcord.Android, Status: ripcord.StatusRollingOut, UpdatedAt: tb.now})
	}))
	require.NoError(t, w.Work(ctx, job), "rolling out: Play is left alone")
}
