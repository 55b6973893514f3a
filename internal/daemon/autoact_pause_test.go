package daemon_test

import (
	"bytes"
	"context"
	"net/http"
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
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// TestAutoPauseOnIOSBreach: a crash spike on 1.2.0 while its App Store
// phased release runs makes Ripcord pause the phased release on its own,
// as ripcord:health with the verdict's sentence, through a durable action
// (the App Store has no halt; the app did not opt in to rollbacks).
func TestAutoPauseOnIOSBreach(t *testing.T) {
	t.Parallel()
	pb := setupPlay(t, func(c *config.Config) { c.Stores.AppStoreConnectURL = strings.TrimSuffix(c.Stores.GooglePlayURL, "/") })
	tb, ctx := pb.tb, context.Background()
	resp := tb.call(t, pb.rm, "POST", "/api/v1/apps/shop/releases", jsonBody(httpapi.ReleaseCreateRequest{Version: "1.2.0"}), nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	tb.waitJobs(t, "prepare_rollback", "completed", 1)

	// The App Store: 1.1.0 live, 1.2.0 released in phases (day 1).
	cr := pb.fake.Credentials()
	asc, err := appstore.New(appstore.Config{KeyID: cr.ASCKeyID, IssuerID: cr.ASCIssuerID, PrivateKeyPEM: cr.ASCPrivateKeyPEM,
		BaseURL: strings.TrimSuffix(tb.d.Config().Stores.AppStoreConnectURL, "/"),
		Sleep:   func(ctx context.Context, d time.Duration) error { return pb.fake.Advance(ctx, d) }, Clock: pb.fake.Now})
	require.NoError(t, err)
	ascID, err := pb.fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: shopPkg, LiveVersion: "1.1.0", LiveBuild: "110"})
	require.NoError(t, err)
	build, err := pb.fake.AddASCBuild(ascID, fakestore.ASCBuildSpec{Version: "1.2.0", BuildNumber: "120"})
	require.NoError(t, err)
	require.NoError(t, pb.fake.Advance(ctx, time.Hour))
	v, err := asc.CreateVersion(ctx, appstore.CreateVersionParams{AppID: ascID, VersionString: "1.2.0", BuildID: build})
	require.NoError(t, err)
	_, err = asc.EnablePhasedRelease(ctx, v.ID)
	require.NoError(t, err)
	_, err = asc.SubmitForReview(ctx, v.ID)
	require.NoError(t, err)
	require.NoError(t, pb.fake.Advance(ctx, 24*time.Hour))
	require.NoError(t, asc.ReleaseVersion(ctx, v.ID))

	// Ripcord: the App Store key stored, 1.2.0's iOS build attached and its
	// rollout under way.
	_, err = tb.d.Credentials.Put(pb.local, "shop", credentials.KindASCAPIKey, credentials.Material{ASCKey: cr.ASCPrivateKeyPEM, ASCKeyID: cr.ASCKeyID, ASCIssuerID: cr.ASCIssuerID})
	require.NoError(t, err)
	_, _, err = tb.d.Catalog.BuildUpload(pb.local, catalog.BuildUploadParams{App: "shop", Platform: ripcord.IOS, Version: "1.2.0", BuildNumber: "120", Body: bytes.NewReader([]byte("ipa"))})
	require.NoError(t, err)
	app, err := tb.d.Store.AppGetByName(ctx, "shop")
	require.NoError(t, err)
	rel, err := tb.d.Store.ReleaseGetByVersion(ctx, app.ID, "1.2.0")
	require.NoError(t, err)
	rp := *rel.Platform(ripcord.IOS)
	require.NotZero(t, rp.BuildID)
	rp.Status = ripcord.StatusRollingOut
	require.NoError(t, tb.d.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.ReleasePlatformUpdate(ctx, rel.ID, rp) }))

	var res healthwatch.IngestResult
	resp = tb.call(t, pb.rm, "POST", "/api/v1/health/samples", jsonBody(httpapi.HealthSamplesRequest{Samples: []healthwatch.Sample{{
		App: "shop", Platform: ripcord.IOS, Version: "1.2.0", Metric: healthwatch.CrashFreeSessions,
		WindowStart: time.Now().UTC().Truncate(time.Minute), Bad: 300, Total: 10_000,
	}}}), &res)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, health.Rollback, res.Verdicts[0].Decision.Outcome)

	var entries []ripcord.AuditEntry
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		entries, err = tb.d.Store.AuditList(ctx, storage.AuditListParams{Limit: 100, Target: "release/shop/1.2.0/ios"})
		require.NoError(t, err)
		if len(entries) >= 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no automatic pause: %+v", entries)
	}
	require.Equal(t, "release.halt_requested", entries[0].Action)
	require.Equal(t, "release.pause", entries[1].Action)
	require.Equal(t, daemon.HealthActor, entries[1].Actor)
	require.Contains(t, entries[1].After, res.Verdicts[0].Decision.Sentence)
	pr, err := asc.GetPhasedRelease(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.PhasedPaused, pr.State)
	rel, err = tb.d.Store.ReleaseGetByVersion(ctx, app.ID, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, ripcord.StatusPaused, rel.Platform(ripcord.IOS).Status)
	require.Equal(t, ripcord.StatusDraft, rel.Platform(ripcord.Android).Status, "Android is another release's business")
}
