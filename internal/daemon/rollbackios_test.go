package daemon_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// TestIOSRollbackVersionThroughTheServer runs the iOS rollback's App Store
// version through a real server, its job queue and a fake App Store over
// HTTP: a rollback build 1.2.1 (126) is ready (as preparation leaves it) and
// the target 1.2.0 is released with a phased release. Asking to prepare
// again queues the follow-up, which creates, attaches and submits the
// rollback version; the API shows the unprotected window until App Review
// approves it; then a release manager withdraws it, which needs a
// confirmation and deletes the version in the store.
func TestIOSRollbackVersionThroughTheServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := httptest.NewUnstartedServer(nil)
	fakeURL := "http://" + ts.Listener.Addr().String()
	fake, err := fakestore.New(fakestore.Config{StateDir: t.TempDir(), BaseURL: fakeURL})
	require.NoError(t, err)
	ts.Config.Handler = fake.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { require.NoError(t, fake.Close()) })
	require.NoError(t, fake.SetTime(ctx, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
	ascApp, err := fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: "com.acme.shop", LiveVersion: "1.1.0", LiveBuild: "110"})
	require.NoError(t, err)
	for _, b := range [][2]string{{"1.2.0", "120"}, {"1.2.1", "126"}} {
		_, err = fake.AddASCBuild(ascApp, fakestore.ASCBuildSpec{Version: b[0], BuildNumber: b[1]})
		require.NoError(t, err)
	}
	require.NoError(t, fake.Advance(ctx, 11*time.Minute)) // processed VALID
	cr := fake.Credentials()
	asc, err := appstore.New(appstore.Config{KeyID: cr.ASCKeyID, IssuerID: cr.ASCIssuerID, PrivateKeyPEM: cr.ASCPrivateKeyPEM,
		BaseURL: fakeURL, Sleep: fake.Advance, Clock: fake.Now})
	require.NoError(t, err)

	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	// The server runs on the store's clock (App Store tokens are signed on
	// the wall clock whatever it is).
	tb := setupLogged(t, daemon.Options{Now: fake.Now}, logs, func(c *config.Config) {
		c.SecretKey = secretKey(t)
		c.Stores.AppStoreConnectURL = fakeURL
	})
	tb.createApp(t)
	local := daemon.LocalContext(ctx, "test")
	_, err = tb.d.Credentials.Put(local, "shop", credentials.KindASCAPIKey, credentials.Material{ASCKey: cr.ASCPrivateKeyPEM, ASCKeyID: cr.ASCKeyID, ASCIssuerID: cr.ASCIssuerID})
	require.NoError(t, err)
	body := make([]byte, 64)
	_, _ = rand.Read(body)
	live, _, err := tb.d.Catalog.BuildUpload(local, catalog.BuildUploadParams{App: "shop", Platform: ripcord.IOS, Version: "1.1.0", BuildNumber: "110", Body: bytes.NewReader(body)})
	require.NoError(t, err)
	// The release and its ready rollback as preparation leaves them (the
	// release is stored directly, so no preparation job races this test).
	app, err := tb.d.Store.AppGetByName(ctx, "shop")
	require.NoError(t, err)
	now := fake.Now().UTC()
	require.NoError(t, tb.d.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.ReleaseCreate(ctx, &ripcord.Release{AppID: app.ID, Version: "1.2.0", CreatedBy: "test", CreatedAt: now}); err != nil {
			return err
		}
		return tx.RollbackBuildCreate(ctx, &ripcord.RollbackBuild{AppID: app.ID, Platform: ripcord.IOS, TargetVersion: "1.2.0", Version: "1.2.1", BuildNumber: "126",
			SourceBuildID: live.ID, SourceSHA256: live.SHA256, State: ripcord.RollbackReady, CreatedAt: now, UpdatedAt: now})
	}))

	// The team releases the target with a phased release.
	b, err := asc.FindBuild(ctx, ascApp, "1.2.0", "120")
	require.NoError(t, err)
	target, err := asc.CreateVersion(ctx, appstore.CreateVersionParams{AppID: ascApp, VersionString: "1.2.0", BuildID: b.ID})
	require.NoError(t, err)
	_, err = asc.EnablePhasedRelease(ctx, target.ID)
	require.NoError(t, err)
	_, err = asc.SubmitForReview(ctx, target.ID)
	require.NoError(t, err)
	require.NoError(t, fake.Advance(ctx, 25*time.Hour))
	require.NoError(t, asc.ReleaseVersion(ctx, target.ID))
	require.NoError(t, fake.Advance(ctx, 5*time.Hour+12*time.Minute))

	viewer, rm := tb.token(t, "viewer", ripcord.RoleViewer), tb.token(t, "rm", ripcord.RoleReleaseManager)
	const path = "/api/v1/apps/shop/releases/1.2.0/rollback-build"
	resp := tb.call(t, rm, "POST", path+"?platform=ios", nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	rb := tb.waitStoreVersion(t, viewer, path+"?platform=ios", appstore.StateWaitingForReview)
	require.Equal(t, "no approved rollback for 5h 12m: the App Store reviews 1.2.1 (WAITING_FOR_REVIEW)", rb.Protection)
	require.NotNil(t, rb.UnprotectedSince)
	require.False(t, rb.Releasable)
	v, err := asc.GetVersion(ctx, rb.StoreVersionID)
	require.NoError(t, err)
	require.Equal(t, "1.2.1", v.VersionString)
	require.Equal(t, "MANUAL", v.ReleaseType)

	require.NoError(t, fake.Advance(ctx, 25*time.Hour))
	resp = tb.call(t, rm, "POST", path+"?platform=ios", nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	rb = tb.waitStoreVersion(t, viewer, path+"?platform=ios", ripcord.AppStoreApproved)
	require.True(t, rb.Releasable)
	require.NotNil(t, rb.ApprovedAt)
	require.Nil(t, rb.UnprotectedSince)
	require.Contains(t, rb.Withdrawal, "App Store version 1.2.1 (approved, PENDING_DEVELOPER_RELEASE) will be developer-rejected and then deleted")

	// Withdrawal: confirmation first, release managers only.
	var apiErr struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	resp = tb.call(t, rm, "POST", path+"/withdraw", nil, &apiErr)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, apiErr.Error.Message, `needs {"confirm": true}: App Store version 1.2.1 (approved, PENDING_DEVELOPER_RELEASE) will be developer-rejected`)
	resp = tb.call(t, viewer, "POST", path+"/withdraw", jsonBody(httpapi.RollbackWithdrawRequest{Confirm: true}), nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, err = asc.GetVersion(ctx, rb.StoreVersionID)
	require.NoError(t, err, "nothing withdrawn without confirmation")
	rb = httpapi.RollbackBuild{}
	resp = tb.call(t, rm, "POST", path+"/withdraw", jsonBody(httpapi.RollbackWithdrawRequest{Confirm: true}), &rb)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, string(ripcord.RollbackWithdrawn), rb.State)
	require.Equal(t, ripcord.AppStoreDeleted, rb.StoreVersionState)
	require.False(t, rb.Releasable)
	require.Contains(t, rb.Reason, "withdrawn by token:rm")
	_, err = asc.GetVersion(ctx, rb.StoreVersionID)
	require.ErrorIs(t, err, appstore.ErrNotFound, "the App Store version is deleted")
	_, err = asc.CreateVersion(ctx, appstore.CreateVersionParams{AppID: ascApp, VersionString: "1.3.0"})
	require.NoError(t, err, "the team's next version can be created")
	entries, err := tb.d.Store.AuditList(ctx, storage.AuditListParams{Target: "app/shop/rollbacks/ios/1.2.0"})
	require.NoError(t, err)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Actor+" "+e.Action)
	}
	require.Contains(t, actions, "token:rm rollback.withdraw")
	require.Contains(t, actions, "ripcord:rollback rollback.store_version_create")
	require.Contains(t, actions, "ripcord:rollback rollback.approved")
}

// waitStoreVersion polls the rollback build until its App Store version is
// in state, failing after a minute with the last answer.
func (tb *testBundle) waitStoreVersion(t *testing.T, token, path, state string) httpapi.RollbackBuild {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var rb httpapi.RollbackBuild // fresh: fields a later answer omits must not linger
		resp := tb.call(t, token, "GET", path, nil, &rb)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		if rb.StoreVersionState == state {
			return rb
		}
		require.True(t, time.Now().Before(deadline), "rollback's App Store version is %q (%s), not %s", rb.StoreVersionState, strings.TrimSpace(rb.Reason), state)
	}
}
