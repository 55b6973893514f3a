package daemon_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/apk/apktest"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// signedAPK builds an APK of com.acme.shop with aapt2 and signs it with k as
// version name and code, the way a release build goes out.
func signedAPK(t *testing.T, k *apktest.Key, name string, code int) []byte {
	t.Helper()
	f, size := apktest.Open(t, apktest.APK(t, apktest.APKOptions{Package: "com.acme.shop", MinSdk: 24, VersionCode: code - 1, VersionName: name}))
	out := filepath.Join(t.TempDir(), "signed.apk")
	_, err := apk.Resign(context.Background(), f, size, out, apk.ResignOptions{VersionCode: int64(code), VersionName: name, Keys: []*signingkey.Key{k.Key}})
	require.NoError(t, err)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}

// playBundle is a daemon wired to a fake Play: Play's production track
// serves 1.1.0 (110), the target 1.2.0 (120) is on the internal track, and
// the app's Play service account and upload key are stored.
type playBundle struct {
	tb           *testBundle
	fake         *fakestore.Server
	pc           *play.Client
	key          *apktest.Key
	live, target []byte // signed APKs of 1.1.0 (110) and 1.2.0 (120)
	local        context.Context
	viewer, rm   string // tokens
}

// setupPlay builds a playBundle; logs are shown when the test fails.
// tweak changes the configuration further.
func setupPlay(t *testing.T, tweak ...func(*config.Config)) *playBundle {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	fakeURL := "http://" + ts.Listener.Addr().String()
	fake, err := fakestore.New(fakestore.Config{StateDir: t.TempDir(), BaseURL: fakeURL})
	require.NoError(t, err)
	ts.Config.Handler = fake.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { require.NoError(t, fake.Close()) })
	require.NoError(t, fake.CreatePlayApp(fakestore.PlayAppSpec{PackageName: "com.acme.shop", ExistingVersionCodes: []int64{110}}))
	pc, err := play.New(context.Background(), play.Config{ServiceAccountJSON: fake.Credentials().PlayServiceAccountJSON, Endpoint: fakeURL + "/"})
	require.NoError(t, err)

	key := apktest.NewKey(t, "rsa", "upload")
	live, target := signedAPK(t, key, "1.1.0", 110), signedAPK(t, key, "1.2.0", 120)
	_, err = pc.Upload(context.Background(), play.UploadParams{Package: "com.acme.shop", File: target, APK: true, Track: play.TrackInternal, Status: play.StatusCompleted})
	require.NoError(t, err)

	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	tb := setupLogged(t, daemon.Options{}, logs, func(c *config.Config) {
		c.SecretKey = secretKey(t)
		c.Stores.GooglePlayURL = fakeURL + "/"
		for _, f := range tweak {
			f(c)
		}
	})
	tb.createApp(t)
	local := daemon.LocalContext(context.Background(), "test")
	_, err = tb.d.Credentials.Put(local, "shop", credentials.KindPlayServiceAccount, credentials.Material{ServiceAccount: fake.Credentials().PlayServiceAccountJSON})
	require.NoError(t, err)
	_, err = tb.d.Credentials.Put(local, "shop", credentials.KindAndroidKeystore, credentials.Material{Key: key.PKCS8, Cert: key.Cert().Raw})
	require.NoError(t, err)
	return &playBundle{tb: tb, fake: fake, pc: pc, key: key, live: live, target: target, local: local,
		viewer: tb.token(t, "viewer", ripcord.RoleViewer), rm: tb.token(t, "rm", ripcord.RoleReleaseManager)}
}

// TestRollbackBuildPrepared runs the Android rollback story through a real
// server and a fake Play: Play's production track serves 1.1.0 (110), the
// target 1.2.0 (120) is on the internal track, the app's Play service
// account and upload key are stored. Creating release 1.2.0 queues the
// preparation, which first finds that Ripcord lacks the live build and says
// so; once the live APK is uploaded, asking again prepares 1.2.1 (121),
// which Play's internal track then serves.
func TestRollbackBuildPrepared(t *testing.T) {
	t.Parallel()
	pb := setupPlay(t)
	tb, pc, key, live := pb.tb, pb.pc, pb.key, pb.live
	local, viewer, rm := pb.local, pb.viewer, pb.rm
	const path = "/api/v1/apps/shop/releases/1.2.0/rollback-build"

	resp := tb.call(t, viewer, "GET", path, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no release yet")
	resp = tb.call(t, rm, "POST", "/api/v1/apps/shop/releases", jsonBody(httpapi.ReleaseCreateRequest{Version: "1.2.0"}), nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	// The job queued with the release finds 110 live but not in Ripcord.
	rb := tb.waitRollback(t, viewer, path, ripcord.RollbackLiveUnknown)
	require.Contains(t, rb.Reason, "versionCode 110")
	require.Contains(t, rb.Reason, "ripcord build upload")

	resp = tb.call(t, viewer, "POST", path, nil, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "preparing needs a release manager")
	// A request while that job is still running is the same preparation
	// (unique while not finished), so wait until River recorded its end.
	tb.waitJobs(t, "prepare_rollback", "completed", 1)
	_, _, err := tb.d.Catalog.BuildUpload(local, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.1.0", BuildNumber: "110", Body: bytes.NewReader(live)})
	require.NoError(t, err)
	var queued httpapi.RollbackBuild
	resp = tb.call(t, rm, "POST", path, nil, &queued)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Contains(t, []string{"pending", "allocated", "signed", "uploaded", "ready"}, queued.State)

	rb = tb.waitRollback(t, viewer, path, ripcord.RollbackReady)
	require.Equal(t, "1.2.1", rb.Version)
	require.Equal(t, "121", rb.BuildNumber, "above the target's 120 on Play")
	require.NotEmpty(t, rb.SHA256)
	require.Equal(t, key.CertSHA256(), rb.SignerCertSHA256)
	require.Equal(t, "play:com.acme.shop/qa/121", rb.StoreRef)
	require.JSONEq(t, "[]", string(rb.Findings))

	tr, err := pc.GetTrack(context.Background(), "com.acme.shop", play.TrackInternal)
	require.NoError(t, err)
	require.NotNil(t, tr.Find(121), "Play's internal track serves the rollback: %+v", tr.Releases)

	// Asking again once ready changes nothing.
	resp = tb.call(t, rm, "POST", path, nil, &queued)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "ready", queued.State)
}

// waitJobs waits until n jobs of kind are in state.
func (tb *testBundle) waitJobs(t *testing.T, kind, state string, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		counts, err := tb.d.Store.JobCounts(context.Background())
		require.NoError(t, err)
		for _, c := range counts {
			if c.Kind == kind && c.State == state && c.Count >= n {
				return
			}
		}
		require.True(t, time.Now().Before(deadline), "jobs: %+v", counts)
	}
}

// waitRollback polls the rollback build until it reaches state, failing
// after 15 s with the last answer.
func (tb *testBundle) waitRollback(t *testing.T, token, path string, state ripcord.RollbackState) httpapi.RollbackBuild {
	t.Helper()
	var rb httpapi.RollbackBuild
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp := tb.call(t, token, "GET", path, nil, &rb)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		if rb.State == string(state) {
			return rb
		}
		require.True(t, time.Now().Before(deadline), "rollback build is %s (%s), not %s", rb.State, rb.Reason, state)
	}
}
