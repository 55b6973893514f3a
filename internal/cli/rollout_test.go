package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	androidpublisher "google.golang.org/api/androidpublisher/v3"
	"google.golang.org/api/option"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/cli"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// TestReleaseHaltFollowsSteps runs `ripcord release halt` against a real
// server and the fake Play, with 1.2.0 (120) staged at 20 %: the command
// prints each step of the action as it completes, then the result, and
// exits 0 once Play shows 120 halted.
func TestReleaseHaltFollowsSteps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := httptest.NewUnstartedServer(nil)
	fakeURL := "http://" + ts.Listener.Addr().String()
	fake, err := fakestore.New(fakestore.Config{StateDir: t.TempDir(), BaseURL: fakeURL})
	require.NoError(t, err)
	ts.Config.Handler = fake.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { fake.Close() })
	require.NoError(t, fake.CreatePlayApp(fakestore.PlayAppSpec{PackageName: "com.acme.shop", ExistingVersionCodes: []int64{110, 120, 121}}))
	jwt, err := google.JWTConfigFromJSON(fake.Credentials().PlayServiceAccountJSON, "https://www.googleapis.com/auth/androidpublisher")
	require.NoError(t, err)
	pub, err := androidpublisher.NewService(ctx, option.WithHTTPClient(oauth2.NewClient(ctx, jwt.TokenSource(ctx))), option.WithEndpoint(fakeURL+"/"))
	require.NoError(t, err)
	e, err := pub.Edits.Insert("com.acme.shop", &androidpublisher.AppEdit{}).Do()
	require.NoError(t, err)
	_, err = pub.Edits.Tracks.Update("com.acme.shop", e.Id, "production", &androidpublisher.Track{Track: "production", Releases: []*androidpublisher.TrackRelease{
		{VersionCodes: []int64{110}, Status: "completed"}, {VersionCodes: []int64{120}, Status: "inProgress", UserFraction: 0.2}}}).Do()
	require.NoError(t, err)
	_, err = pub.Edits.Commit("com.acme.shop", e.Id).Do()
	require.NoError(t, err)

	dir := t.TempDir()
	cfg := config.Default()
	cfg.Addr, cfg.DatabaseURL, cfg.Artifacts.URL = "127.0.0.1:0", filepath.Join(dir, "r.db"), filepath.Join(dir, "artifacts")
	cfg.Stores.GooglePlayURL = fakeURL + "/"
	cfg.SecretKey = make([]byte, 32)
	_, _ = rand.Read(cfg.SecretKey)
	rctx, cancel := context.WithCancel(ctx)
	d, err := daemon.Open(rctx, cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, d.Listen())
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done; d.Close() })

	local := daemon.LocalContext(ctx, "test")
	token, _, err := d.Access.TokenCreate(local, "rm", ripcord.RoleReleaseManager)
	require.NoError(t, err)
	_, err = d.Catalog.AppCreate(local, ripcord.App{Name: "shop", AndroidPackage: "com.acme.shop"})
	require.NoError(t, err)
	_, err = d.Credentials.Put(local, "shop", credentials.KindPlayServiceAccount, credentials.Material{ServiceAccount: fake.Credentials().PlayServiceAccountJSON})
	require.NoError(t, err)
	_, err = d.Catalog.ReleaseCreate(local, "shop", "1.2.0")
	require.NoError(t, err)
	_, _, err = d.Catalog.BuildUpload(local, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", Body: bytes.NewReader([]byte("target apk"))})
	require.NoError(t, err)
	rel, err := d.Catalog.ReleaseGet(local, "shop", "1.2.0")
	require.NoError(t, err)
	rp := *rel.Platform(ripcord.Android)
	require.NotZero(t, rp.BuildID)
	rp.Status = ripcord.StatusRollingOut
	require.NoError(t, d.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.ReleasePlatformUpdate(ctx, rel.ID, rp) }))

	var stdout, stderr bytes.Buffer
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	code := cli.New(cli.Env{Stdout: &stdout, Stderr: &stderr}).Run(cctx,
		[]string{"release", "halt", "shop", "1.2.0", "--platform", "android", "--server", d.URL(), "--token", token})
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	out := stdout.String()
	require.Regexp(t, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3}  android  edit: halt 120$`), out)
	require.Regexp(t, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3}  android  recorded: halted$`), out)
	require.Regexp(t, regexp.MustCompile(`(?m)^android\s+halt \d+\s+succeeded\s+recorded: halted$`), out)
	require.Less(t, regexp.MustCompile(`edit: halt 120`).FindStringIndex(out)[0], regexp.MustCompile(`recorded: halted`).FindStringIndex(out)[0], "steps in order")
	require.Equal(t, 1, fake.CountEvents("androidpublisher.edits.commit")-1, "one halt edit after the set-up edit")
}
