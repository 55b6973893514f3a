package rollback_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/apk/apktest"
	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/rollback"
	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const (
	pkg         = "com.acme.shop"
	uploadEvent = "androidpublisher.edits.apks.upload"
)

// fixtures are made once per test binary: RSA keys and aapt2 builds are the
// slow part, and every test only reads them.
type fixtures struct {
	key, otherKey *apktest.Key
	live          []byte // 1.1.0 (110), targetSdk 36, signed with key
	liveOldSdk    []byte // 1.1.0 (110), targetSdk 33, signed with key
}

var shared = func() func(t *testing.T) *fixtures {
	var mu sync.Mutex
	var f *fixtures
	return func(t *testing.T) *fixtures {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if f == nil {
			k, other := apktest.NewKey(t, "rsa", "upload"), apktest.NewKey(t, "rsa", "someone else")
			f = &fixtures{key: k, otherKey: other,
				live:       signedAPK(t, k, apktest.APKOptions{MinSdk: 24}),
				liveOldSdk: signedAPK(t, k, apktest.APKOptions{MinSdk: 24, TargetSdk: 33}),
			}
		}
		return f
	}
}()

// signedAPK builds versionCode 109 with aapt2 and signs it as 1.1.0 (110)
// with k, the way the release build went out.
func signedAPK(t *testing.T, k *apktest.Key, o apktest.APKOptions) []byte {
	t.Helper()
	o.Package, o.VersionCode, o.VersionName = pkg, 109, "1.1.0"
	f, size := apktest.Open(t, apktest.APK(t, o))
	out := filepath.Join(t.TempDir(), "live.apk")
	_, err := apk.Resign(context.Background(), f, size, out, apk.ResignOptions{VersionCode: 110, VersionName: "1.1.0", Keys: []*signingkey.Key{k.Key}})
	require.NoError(t, err)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}

type testBundle struct {
	ctx     context.Context // acting as admin
	db      *sqlite.DB
	creds   *credentials.Service
	catalog *catalog.Service
	fake    *fakestore.Server
	play    *play.Client
	blobs   *blob.Store
	fix     *fixtures
	app     *ripcord.App
	live    *ripcord.Build
	newPrep func(t *testing.T, hook func(step string) error) *rollback.Preparer
	request rollback.PrepareRequest
	workDir string
}

type setupOptions struct {
	live       []byte       // default fixtures.live
	key        *apktest.Key // credential stored; default fixtures.key
	noKey      bool         // store no credential
	storeCodes []int64      // versionCodes Play already has; default 110, 125
}

func setup(t *testing.T, o setupOptions) *testBundle {
	t.Helper()
	ctx := ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "token:admin", Role: ripcord.RoleAdmin})
	fix := shared(t)
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	blobs, err := blob.Open(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { blobs.Close() })
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	creds, err := credentials.New(credentials.Config{Store: db, SecretKey: secret})
	require.NoError(t, err)
	cat := catalog.New(catalog.Config{Store: db, Artifacts: blobs})

	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String()
	fake, err := fakestore.New(fakestore.Config{StateDir: t.TempDir(), BaseURL: url})
	require.NoError(t, err)
	ts.Config.Handler = fake.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { require.NoError(t, fake.Close()) })
	codes := o.storeCodes
	if codes == nil {
		codes = []int64{110, 125}
	}
	require.NoError(t, fake.CreatePlayApp(fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: codes}))
	pc, err := play.New(ctx, play.Config{
		ServiceAccountJSON: fake.Credentials().PlayServiceAccountJSON,
		Endpoint:           url + "/", ReportingEndpoint: url + "/",
		HTTPClient:  &http.Client{Timeout: 10 * time.Second},
		MaxAttempts: 3,
		Sleep:       func(context.Context, time.Duration) error { return nil },
	})
	require.NoError(t, err)

	app, err := cat.AppCreate(ctx, ripcord.App{Name: "shop", AndroidPackage: pkg})
	require.NoError(t, err)
	liveBytes := o.live
	if liveBytes == nil {
		liveBytes = fix.live
	}
	live, _, err := cat.BuildUpload(ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.1.0", BuildNumber: "110", Body: bytes.NewReader(liveBytes)})
	require.NoError(t, err)
	_, err = cat.ReleaseCreate(ctx, "shop", "1.2.0")
	require.NoError(t, err)
	if !o.noKey {
		k := o.key
		if k == nil {
			k = fix.key
		}
		_, err = creds.Put(ctx, "shop", credentials.KindAndroidKeystore, credentials.Material{Key: k.PKCS8, Cert: k.Cert().Raw})
		require.NoError(t, err)
	}
	tb := &testBundle{ctx: ctx, db: db, creds: creds, catalog: cat, fake: fake, play: pc, blobs: blobs, fix: fix, app: app, live: live,
		request: rollback.PrepareRequest{App: "shop", TargetVersion: "1.2.0", LiveBuildID: live.ID}, workDir: t.TempDir()}
	tb.newPrep = func(t *testing.T, hook func(step string) error) *rollback.Preparer {
		t.Helper()
		p, err := rollback.New(rollback.Config{Store: db, Artifacts: blobs, Credentials: creds, Play: pc, WorkDir: tb.workDir, CrashHook: hook})
		require.NoError(t, err)
		return p
	}
	return tb
}

func (tb *testBundle) reservations(t *testing.T) []storage.BuildNumberReservation {
	t.Helper()
	res, err := tb.db.BuildNumberReservationList(tb.ctx, tb.app.ID, ripcord.Android)
	require.NoError(t, err)
	return res
}

func (tb *testBundle) auditActions(t *testing.T) []string {
	t.Helper()
	entries, err := tb.db.AuditList(tb.ctx, storage.AuditListParams{Target: "app/shop/rollbacks/android/1.2.0"})
	require.NoError(t, err)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	return actions
}

func (tb *testBundle) internalTrackServes(t *testing.T, vc int64) bool {
	t.Helper()
	tr, err := tb.play.GetTrack(tb.ctx, pkg, play.TrackInternal)
	require.NoError(t, err)
	return tr.Find(vc) != nil
}

func TestPrepareAndroid(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOptions{})
	p := tb.newPrep(t, nil)
	rb, err := p.PrepareAndroid(context.Background(), tb.request)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackReady, rb.State, rb.Reason)
	require.Equal(t, "1.2.1", rb.Version, "the next patch above the target")
	require.Equal(t, "126", rb.BuildNumber, "above Play's highest ever (125), not only Ripcord's (110)")
	require.Equal(t, tb.live.ID, rb.SourceBuildID)
	require.Equal(t, tb.live.SHA256, rb.SourceSHA256)
	require.Equal(t, tb.fix.key.CertSHA256(), rb.SignerCertSHA256)
	require.Equal(t, "[]", rb.Findings)
	require.Equal(t, "play:"+pkg+"/qa/126", rb.StoreRef)
	require.Equal(t, 1, tb.fake.CountEvents(uploadEvent))
	require.True(t, tb.internalTrackServes(t, 126))

	// The produced artifact is a build with its provenance, and verifies.
	b, err := tb.db.BuildGetByID(tb.ctx, rb.BuildID)
	require.NoError(t, err)
	require.Equal(t, "ripcord:rollback", b.UploadedBy)
	require.Equal(t, rb.SHA256, b.SHA256)
	require.Equal(t, "1.2.1 (126)", b.Label())
	r, err := tb.blobs.Open(tb.ctx, b.BlobKey)
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = buf.ReadFrom(r)
	r.Close()
	require.NoError(t, err)
	info, err := apk.Inspect(tb.ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), apk.InspectOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(126), info.VersionCode)
	require.Equal(t, "1.2.1", info.VersionName)
	vr, err := apk.Verify(tb.ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), apk.VerifyOptions{})
	require.NoError(t, err)
	require.True(t, vr.Verified)

	require.Equal(t, []string{"rollback.allocate", "rollback.sign", "rollback.upload", "rollback.ready"}, tb.auditActions(t))
	require.Len(t, tb.reservations(t), 1)

	// Preparing again changes nothing and calls no store write.
	events := len(tb.fake.Events())
	again, err := p.PrepareAndroid(context.Background(), tb.request)
	require.NoError(t, err)
	require.Equal(t, rb, again)
	require.Len(t, tb.fake.Events(), events)
	require.Len(t, tb.auditActions(t), 4)
}

var errCrash = errors.New("simulated crash")

// TestPrepareAndroidCrashAtEveryStep stops preparation after each step as a
// crash would, prepares again, and expects the end state of a run without
// crashes: ready, one upload recorded by the store, one reservation, one
// produced build.
func TestPrepareAndroidCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	steps := []string{rollback.StepAllocated, rollback.StepArtifactStored, rollback.StepSigned,
		rollback.StepUploadedToStore, rollback.StepUploaded, rollback.StepReady}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, setupOptions{})
			var seen []string
			crashed := false
			hook := func(s string) error {
				seen = append(seen, s)
				if s == step && !crashed {
					crashed = true
					return errCrash
				}
				return nil
			}
			_, err := tb.newPrep(t, hook).PrepareAndroid(context.Background(), tb.request)
			require.ErrorIs(t, err, errCrash)
			require.True(t, crashed, "the hook saw step %s (steps seen: %v)", step, seen)

			// A new process: a new Preparer over the same database and store.
			rb, err := tb.newPrep(t, hook).PrepareAndroid(context.Background(), tb.request)
			require.NoError(t, err)
			require.Equal(t, ripcord.RollbackReady, rb.State, rb.Reason)
			require.Equal(t, "1.2.1", rb.Version)
			require.Equal(t, "126", rb.BuildNumber)
			require.Equal(t, "play:"+pkg+"/qa/126", rb.StoreRef)
			require.Equal(t, tb.fix.key.CertSHA256(), rb.SignerCertSHA256)
			require.Equal(t, 1, tb.fake.CountEvents(uploadEvent), "exactly one upload reached the store")
			require.True(t, tb.internalTrackServes(t, 126))
			require.Len(t, tb.reservations(t), 1, "no second reservation")
			builds, err := tb.db.BuildList(tb.ctx, storage.BuildListParams{AppID: tb.app.ID, Platform: ripcord.Android})
			require.NoError(t, err)
			require.Len(t, builds, 2, "the live build and one rollback build")
			require.Equal(t, []string{"rollback.allocate", "rollback.sign", "rollback.upload", "rollback.ready"}, tb.auditActions(t))
			b, err := tb.db.BuildGetByID(tb.ctx, rb.BuildID)
			require.NoError(t, err)
			require.Equal(t, rb.SHA256, b.SHA256)
		})
	}
}

func TestPrepareAndroidNoCredential(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOptions{noKey: true})
	p := tb.newPrep(t, nil)
	rb, err := p.PrepareAndroid(context.Background(), tb.request)
	require.NoError(t, err, "a refusal is a recorded state")
	require.Equal(t, ripcord.RollbackInvalid, rb.State)
	require.Contains(t, rb.Reason, "no android_keystore credential")
	require.Contains(t, rb.Reason, "ripcord app credentials shop")
	require.Zero(t, rb.BuildID)
	require.Zero(t, tb.fake.CountEvents(uploadEvent))

	// Still invalid on a retry, without a second audit entry.
	rb, err = p.PrepareAndroid(context.Background(), tb.request)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackInvalid, rb.State)
	require.Equal(t, []string{"rollback.allocate", "rollback.invalid"}, tb.auditActions(t))

	// Once the key is stored, preparing again finishes with the same
	// version and number.
	_, err = tb.creds.Put(tb.ctx, "shop", credentials.KindAndroidKeystore, credentials.Material{Key: tb.fix.key.PKCS8, Cert: tb.fix.key.Cert().Raw})
	require.NoError(t, err)
	rb, err = p.PrepareAndroid(context.Background(), tb.request)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackReady, rb.State, rb.Reason)
	require.Empty(t, rb.Reason)
	require.Equal(t, "126", rb.BuildNumber)
	require.Len(t, tb.reservations(t), 1)
}

func TestPrepareAndroidWrongKey(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOptions{key: shared(t).otherKey})
	rb, err := tb.newPrep(t, nil).PrepareAndroid(context.Background(), tb.request)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackInvalid, rb.State)
	require.Contains(t, rb.Reason, "is not the key live build 1.1.0 (110) was signed with")
	require.Contains(t, rb.Reason, tb.fix.otherKey.CertSHA256())
	require.Zero(t, rb.BuildID)
	require.Zero(t, tb.fake.CountEvents(uploadEvent))
	builds, err := tb.db.BuildList(tb.ctx, storage.BuildListParams{AppID: tb.app.ID})
	require.NoError(t, err)
	require.Len(t, builds, 1, "no artifact signed with the wrong key is kept")
}

func TestPrepareAndroidNotShippable(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOptions{live: shared(t).liveOldSdk})
	rb, err := tb.newPrep(t, nil).PrepareAndroid(context.Background(), tb.request)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackNotShippable, rb.State)
	require.Contains(t, rb.Reason, "targetSdk 33 is below Play's minimum 36")
	var findings []apk.Finding
	require.NoError(t, json.Unmarshal([]byte(rb.Findings), &findings))
	require.Len(t, findings, 1)
	require.Equal(t, "target_sdk_below_play_minimum", findings[0].Code)
	require.NotZero(t, rb.BuildID, "the artifact and its checks are recorded")
	require.Zero(t, tb.fake.CountEvents(uploadEvent), "nothing Play would refuse is uploaded")
	require.Equal(t, []string{"rollback.allocate", "rollback.not_shippable"}, tb.auditActions(t))
}

func TestPrepareAndroidRefusesBadRequests(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOptions{})
	tests := []struct {
		name string
		req  rollback.PrepareRequest
		code string
		msg  string
	}{
		{"ErrTargetNotFound", rollback.PrepareRequest{App: "shop", TargetVersion: "9.9.9", LiveBuildID: tb.live.ID}, ripcord.ENOTFOUND, "has no release 9.9.9"},
		{"ErrLiveBuildNotFound", rollback.PrepareRequest{App: "shop", TargetVersion: "1.2.0", LiveBuildID: tb.live.ID + 100}, ripcord.ENOTFOUND, "has no Android build"},
		{"ErrAppNotFound", rollback.PrepareRequest{App: "nope", TargetVersion: "1.2.0", LiveBuildID: tb.live.ID}, ripcord.ENOTFOUND, `app "nope" does not exist`},
		{"ErrBadVersion", rollback.PrepareRequest{App: "shop", TargetVersion: "1.x", LiveBuildID: tb.live.ID}, ripcord.EINVALID, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tb.newPrep(t, nil).PrepareAndroid(context.Background(), tt.req)
			require.Error(t, err)
			require.Equal(t, tt.code, ripcord.ErrorCode(err), err.Error())
			require.ErrorContains(t, err, tt.msg)
		})
	}
	require.Empty(t, tb.reservations(t), "a refused request reserves nothing")
	_, err := tb.db.RollbackBuildGet(tb.ctx, tb.app.ID, ripcord.Android, "9.9.9")
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.Zero(t, tb.fake.CountEvents(uploadEvent))
}

// TestPrepareAndroidConcurrentTargets prepares rollbacks for two targets at
// once in one process: each gets its own version and its own build number,
// and the Play calls do not delete each other's edits.
func TestPrepareAndroidConcurrentTargets(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOptions{})
	_, err := tb.catalog.ReleaseCreate(tb.ctx, "shop", "1.3.0")
	require.NoError(t, err)
	p := tb.newPrep(t, nil)
	var wg sync.WaitGroup
	got := make([]*ripcord.RollbackBuild, 2)
	errs := make([]error, 2)
	for i, target := range []string{"1.2.0", "1.3.0"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := tb.request
			req.TargetVersion = target
			got[i], errs[i] = p.PrepareAndroid(context.Background(), req)
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, ripcord.RollbackReady, got[0].State, got[0].Reason)
	require.Equal(t, ripcord.RollbackReady, got[1].State, got[1].Reason)
	require.ElementsMatch(t, []string{"126", "127"}, []string{got[0].BuildNumber, got[1].BuildNumber})
	// A new version must sort above every one used, 1.3.0 included.
	require.ElementsMatch(t, []string{"1.3.1", "1.3.2"}, []string{got[0].Version, got[1].Version})
	require.Len(t, tb.reservations(t), 2)
	require.Equal(t, 2, tb.fake.CountEvents(uploadEvent))
}
