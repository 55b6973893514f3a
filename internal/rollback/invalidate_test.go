package rollback_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/apk/apktest"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/rollback"
	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// requeued records the fresh preparations an Invalidator queues.
type requeued struct{ calls []string }

func (r *requeued) fn(_ context.Context, _ storage.Tx, app *ripcord.App, p ripcord.Platform, target string) error {
	r.calls = append(r.calls, app.Name+"/"+string(p)+"/"+target)
	return nil
}

func newInvalidator(db storage.Store, r *requeued) *rollback.Invalidator {
	return &rollback.Invalidator{Store: db, Requeue: r.fn}
}

func randomBytes(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 64)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// requireSuperseded checks that the target's current row is gone and the
// superseded one says why.
func requireSuperseded(t *testing.T, db storage.Store, app *ripcord.App, platform ripcord.Platform, reason string) *ripcord.RollbackBuild {
	t.Helper()
	_, err := db.RollbackBuildGet(context.Background(), app.ID, platform, "1.2.0")
	require.ErrorIs(t, err, storage.ErrNotFound, "no current rollback until the fresh preparation allocates one")
	old, err := db.RollbackBuildList(context.Background(), storage.RollbackBuildListParams{AppID: app.ID, Platform: platform, Superseded: true})
	require.NoError(t, err)
	require.Len(t, old, 1)
	require.Equal(t, ripcord.RollbackInvalid, old[0].State)
	require.Contains(t, old[0].Reason, reason)
	require.False(t, old[0].SupersededAt.IsZero())
	return old[0]
}

// TestInvalidateIOSHotfix: a hotfix 1.2.1 uploaded through Ripcord takes
// the rollback's version. The rollback (already in review) is retired and
// a fresh preparation queued; it allocates 1.2.2 and the follow-up
// withdraws the stale 1.2.1 App Store version before creating 1.2.2.
func TestInvalidateIOSHotfix(t *testing.T) {
	t.Parallel()
	fb := setupFollow(t, nil)
	fb.releaseTarget(t)
	stale := fb.run(t, fb.follow)
	require.Equal(t, appstore.StateWaitingForReview, stale.StoreVersionState)
	r := &requeued{}
	iv := newInvalidator(fb.db, r)
	done, err := iv.CheckHotfix(fb.ctx, fb.app, stale)
	require.NoError(t, err)
	require.False(t, done, "nothing takes 1.2.1 yet")

	cat := catalog.New(catalog.Config{Store: fb.db, Artifacts: fb.blobs})
	_, _, err = cat.BuildUpload(fb.ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.IOS, Version: "1.2.1", BuildNumber: "130", Body: bytes.NewReader(randomBytes(t))})
	require.NoError(t, err)
	done, err = iv.CheckHotfix(fb.ctx, fb.app, stale)
	require.NoError(t, err)
	require.True(t, done)
	requireSuperseded(t, fb.db, fb.app, ripcord.IOS, "a hotfix: ios build 1.2.1 (130) uploaded by token:admin takes the rollback's version 1.2.1")
	require.Equal(t, []string{"shop/ios/1.2.0"}, r.calls, "a fresh preparation is queued")
	require.Contains(t, fb.auditActions(t), "rollback.invalidate")
	_, shown, err := rollback.Status(fb.ctx, fb.db, "shop", ripcord.IOS, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackInvalid, shown.State, "until the fresh preparation has a row, the retired one is shown")
	require.False(t, shown.SupersededAt.IsZero())

	fresh, err := fb.newPrep(t, nil).PrepareIOS(context.Background(), fb.request)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackReady, fresh.State, fresh.Reason)
	require.Equal(t, "1.2.2", fresh.Version, "above the hotfix")
	require.Equal(t, "131", fresh.BuildNumber, "above every number used, the hotfix's included")

	rb := fb.run(t, fb.follow)
	require.Equal(t, "1.2.2", rb.Version)
	require.Equal(t, appstore.StateWaitingForReview, rb.StoreVersionState)
	_, err = fb.asc.GetVersion(fb.ctx, stale.StoreVersionID)
	require.ErrorIs(t, err, appstore.ErrNotFound, "the stale rollback version is withdrawn")
	old, err := fb.db.RollbackBuildList(fb.ctx, storage.RollbackBuildListParams{AppID: fb.app.ID, Superseded: true})
	require.NoError(t, err)
	require.Equal(t, ripcord.AppStoreDeleted, old[0].StoreVersionState, "recorded on the superseded row")
	require.NoError(t, fb.fake.Advance(fb.ctx, 25*time.Hour))
	require.True(t, fb.run(t, fb.follow).ReleasableOnIOS())
}

// TestInvalidateIOSLiveChange releases a 1.1.1 hotfix of the live release
// on the store: the rollback re-signs 1.1.0 and is retired. The target
// going live instead changes nothing.
func TestInvalidateIOSLiveChange(t *testing.T) {
	t.Parallel()
	t.Run("HotfixOfTheLiveRelease", func(t *testing.T) {
		t.Parallel()
		fb := setupFollow(t, nil)
		_, err := fb.fake.AddASCBuild(fb.ascApp, fakestoreBuild("1.1.1", "111"))
		require.NoError(t, err)
		b, err := fb.asc.WaitBuildValid(fb.ctx, fb.ascApp, "1.1.1", "111", time.Hour)
		require.NoError(t, err)
		v, err := fb.asc.CreateVersion(fb.ctx, appstore.CreateVersionParams{AppID: fb.ascApp, VersionString: "1.1.1", BuildID: b.ID})
		require.NoError(t, err)
		_, err = fb.asc.SubmitForReview(fb.ctx, v.ID)
		require.NoError(t, err)
		require.NoError(t, fb.fake.Advance(fb.ctx, 25*time.Hour))
		require.NoError(t, fb.asc.ReleaseVersion(fb.ctx, v.ID))

		live, err := rollback.LiveIOS(fb.ctx, fb.asc, fb.app)
		require.NoError(t, err)
		require.Equal(t, &rollback.LiveRelease{Version: "1.1.1", BuildNumber: "111"}, live)
		r := &requeued{}
		done, err := newInvalidator(fb.db, r).CheckLive(fb.ctx, fb.app, fb.get(t), live)
		require.NoError(t, err)
		require.True(t, done)
		requireSuperseded(t, fb.db, fb.app, ripcord.IOS, "the live release changed: the store now serves 1.1.1 (111), not 1.1.0 (110)")
		require.Equal(t, []string{"shop/ios/1.2.0"}, r.calls)
	})
	t.Run("TargetReleased", func(t *testing.T) {
		t.Parallel()
		fb := setupFollow(t, nil)
		fb.releaseTarget(t)
		live, err := rollback.LiveIOS(fb.ctx, fb.asc, fb.app)
		require.NoError(t, err)
		require.Equal(t, "1.2.0", live.Version)
		r := &requeued{}
		iv := newInvalidator(fb.db, r)
		for _, l := range []*rollback.LiveRelease{live, {Version: "1.1.0", BuildNumber: "110"}, {Version: "", BuildNumber: "999"}, nil} {
			done, err := iv.CheckLive(fb.ctx, fb.app, fb.get(t), l)
			require.NoError(t, err)
			require.False(t, done, "live %+v", l)
		}
		require.Empty(t, r.calls)
	})
}

// TestInvalidateCredentialExpired retires rollbacks signed with an expired
// identity without queueing a preparation (it would need the renewal);
// store access keys sign nothing and retire nothing.
func TestInvalidateCredentialExpired(t *testing.T) {
	t.Parallel()
	fb := setupFollow(t, nil)
	iv := &rollback.Invalidator{Store: fb.db}
	expired := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	n, err := iv.CredentialExpired(fb.ctx, "shop", credentials.KindASCAPIKey, expired)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = iv.CredentialExpired(fb.ctx, "shop", credentials.KindAndroidKeystore, expired)
	require.NoError(t, err)
	require.Zero(t, n, "an Android key retires no iOS rollback")
	n, err = iv.CredentialExpired(fb.ctx, "shop", credentials.KindIOSProfile+":com.example.demo", expired)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	old := requireSuperseded(t, fb.db, fb.app, ripcord.IOS, "the ios_profile:com.example.demo credential it was signed with expired on 2026-03-01")
	require.Contains(t, old.Reason, "ripcord app credentials shop --profile FILE.mobileprovision")
	require.Contains(t, old.Reason, "ripcord release rollback-build shop 1.2.0 --platform ios --prepare")
	n, err = iv.CredentialExpired(fb.ctx, "shop", credentials.KindIOSIdentity, expired)
	require.NoError(t, err)
	require.Zero(t, n, "retired once")
}

// TestInvalidateAndroid: the same triggers on Android. A hotfix build
// taking the version retires the ready rollback; so does a live release
// older than the target that is not the source; a live build Ripcord
// cannot place does not.
func TestInvalidateAndroid(t *testing.T) {
	t.Parallel()
	for _, trigger := range []string{"hotfix", "live"} {
		t.Run(trigger, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, setupOptions{})
			rb, err := tb.newPrep(t, nil).PrepareAndroid(context.Background(), tb.request)
			require.NoError(t, err)
			require.Equal(t, ripcord.RollbackReady, rb.State)
			r := &requeued{}
			iv := newInvalidator(tb.db, r)
			switch trigger {
			case "hotfix":
				_, _, err = tb.catalog.BuildUpload(tb.ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: rb.Version, BuildNumber: "140",
					Body: bytes.NewReader(randomBytes(t))})
				require.NoError(t, err)
				done, err := iv.CheckHotfix(tb.ctx, tb.app, rb)
				require.NoError(t, err)
				require.True(t, done)
				requireSuperseded(t, tb.db, tb.app, ripcord.Android, "takes the rollback's version "+rb.Version)
			case "live":
				live, err := rollback.LiveAndroid(tb.ctx, tb.db, tb.play, tb.app)
				require.NoError(t, err)
				done, err := iv.CheckLive(tb.ctx, tb.app, rb, live)
				require.NoError(t, err)
				require.False(t, done, "live %+v is the source or unknown to Ripcord", live)
				done, err = iv.CheckLive(tb.ctx, tb.app, rb, &rollback.LiveRelease{Version: "1.1.1", BuildNumber: "111"})
				require.NoError(t, err)
				require.True(t, done)
				requireSuperseded(t, tb.db, tb.app, ripcord.Android, "the store now serves 1.1.1 (111), not 1.1.0 (110)")
			}
			require.Equal(t, []string{"shop/android/1.2.0"}, r.calls)
			fresh, err := tb.newPrep(t, nil).PrepareAndroid(context.Background(), tb.request)
			require.NoError(t, err)
			require.Equal(t, ripcord.RollbackReady, fresh.State, fresh.Reason)
			require.NotEqual(t, rb.Version, fresh.Version)
			require.NotEqual(t, rb.BuildNumber, fresh.BuildNumber)
		})
	}
}

func fakestoreBuild(version, number string) fakestore.ASCBuildSpec {
	return fakestore.ASCBuildSpec{Version: version, BuildNumber: number}
}

// TestRepareAndroidAfterTargetLive retires an Android rollback after the
// target completed on Play (the production track now serves only the
// target): the fresh preparation still re-signs the release before the
// target, which the retired row recorded, not the target itself.
func TestRepareAndroidAfterTargetLive(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOptions{})
	rb, err := tb.newPrep(t, nil).PrepareAndroid(context.Background(), tb.request)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackReady, rb.State)

	f, size := apktest.Open(t, apktest.APK(t, apktest.APKOptions{Package: pkg, MinSdk: 24, VersionCode: 129, VersionName: "1.2.0"}))
	out := filepath.Join(t.TempDir(), "target.apk")
	_, err = apk.Resign(context.Background(), f, size, out, apk.ResignOptions{VersionCode: 130, VersionName: "1.2.0", Keys: []*signingkey.Key{tb.fix.key.Key}})
	require.NoError(t, err)
	target, err := os.ReadFile(out)
	require.NoError(t, err)
	_, _, err = tb.catalog.BuildUpload(tb.ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "130", Body: bytes.NewReader(target)})
	require.NoError(t, err)
	_, err = tb.play.Upload(tb.ctx, play.UploadParams{Package: pkg, File: target, APK: true, Track: play.TrackProduction, Status: play.StatusCompleted})
	require.NoError(t, err)
	live, err := rollback.LiveAndroid(tb.ctx, tb.db, tb.play, tb.app)
	require.NoError(t, err)
	require.Equal(t, &rollback.LiveRelease{Version: "1.2.0", BuildNumber: "130"}, live, "the target is what production serves")

	_, _, err = tb.catalog.BuildUpload(tb.ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.2.1", BuildNumber: "140", Body: bytes.NewReader(randomBytes(t))})
	require.NoError(t, err)
	done, err := newInvalidator(tb.db, &requeued{}).CheckHotfix(tb.ctx, tb.app, rb)
	require.NoError(t, err)
	require.True(t, done)

	req := tb.request
	req.LiveBuildID = 0 // discover it, as the queued job does
	fresh, err := tb.newPrep(t, nil).PrepareAndroid(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackReady, fresh.State, fresh.Reason)
	require.Equal(t, tb.live.ID, fresh.SourceBuildID, "the release before the target, not the target")
	require.Equal(t, "1.2.2", fresh.Version)
	require.Equal(t, "141", fresh.BuildNumber)
}
