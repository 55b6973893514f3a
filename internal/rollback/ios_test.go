package rollback_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/ipa/ipatest"
	"github.com/ripcordhq/ripcord/internal/rollback"
	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const (
	iosUploadEvent = "asc.buildUploads.create"
	iosTarget      = "app/shop/rollbacks/ios/1.2.0"
	p12Pass        = "secret"
)

// iosFixtures are made once per test binary: building the darwin
// executables and the RSA identities is the slow part.
type iosFixtures struct {
	team       *ipatest.Team
	stranger   *ipatest.Identity // of the team, but listed by no profile
	profiles   map[string][]byte // for team.New, per profiled bundle id
	live       []byte            // 1.1.0 (110), current SDK, signed by team.Old
	liveOldSdk []byte            // 1.1.0 (110), built with the iOS 17 SDK
}

var sharedIOS = func() func(t *testing.T) *iosFixtures {
	var mu sync.Mutex
	var f *iosFixtures
	var ferr error
	return func(t *testing.T) *iosFixtures {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if f == nil && ferr == nil {
			f, ferr = makeIOSFixtures()
		}
		ipatest.Check(t, ferr)
		return f
	}
}()

func makeIOSFixtures() (*iosFixtures, error) {
	dir, err := os.MkdirTemp("", "rollback-ios-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bins, err := ipatest.BuildBinaries(dir)
	if err != nil {
		return nil, err
	}
	team, err := ipatest.GenerateTeam()
	if err != nil {
		return nil, err
	}
	stranger, err := team.PKI.IssueIdentity(ipatest.TeamID, false, time.Now().AddDate(1, 0, 0))
	if err != nil {
		return nil, err
	}
	f := &iosFixtures{team: team, stranger: stranger}
	for _, o := range []struct {
		sdk string
		out *[]byte
	}{{"", &f.live}, {"iphoneos17.0", &f.liveOldSdk}} {
		path := filepath.Join(dir, "live"+o.sdk+".ipa")
		fx, err := ipatest.BuildIPA(context.Background(), path, bins, team, ipatest.Options{Version: "1.1.0", Build: "110", SDK: o.sdk})
		if err != nil {
			return nil, err
		}
		if *o.out, err = os.ReadFile(path); err != nil {
			return nil, err
		}
		f.profiles = fx.Profiles
	}
	return f, nil
}

type iosBundle struct {
	ctx     context.Context // acting as admin
	db      *sqlite.DB
	creds   *credentials.Service
	fake    *fakestore.Server
	asc     *appstore.Client
	ascApp  string
	blobs   *blob.Store
	fix     *iosFixtures
	app     *ripcord.App
	live    *ripcord.Build
	request rollback.PrepareRequest
	workDir string
	newPrep func(t *testing.T, hook func(step string) error) *rollback.Preparer
}

type iosSetupOptions struct {
	live     []byte            // default fixtures.live
	identity *ipatest.Identity // stored ios_identity; default team.New
	profiles map[string][]byte // stored profiles; default fixtures.profiles
	wait     time.Duration     // Config.AppStoreWait; default an hour
	fake     func(*fakestore.Config)
}

func setupIOS(t *testing.T, o iosSetupOptions) *iosBundle {
	t.Helper()
	ctx := ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "token:admin", Role: ripcord.RoleAdmin})
	fix := sharedIOS(t)
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
	fcfg := fakestore.Config{StateDir: t.TempDir(), BaseURL: url}
	if o.fake != nil {
		o.fake(&fcfg)
	}
	fake, err := fakestore.New(fcfg)
	require.NoError(t, err)
	require.NoError(t, fake.SetTime(ctx, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
	ts.Config.Handler = fake.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { require.NoError(t, fake.Close()) })
	ascApp, err := fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: ipatest.AppID, LiveVersion: "1.1.0", LiveBuild: "110"})
	require.NoError(t, err)
	// A TestFlight build of the target: the store's numbers count too.
	_, err = fake.AddASCBuild(ascApp, fakestore.ASCBuildSpec{Version: "1.2.0", BuildNumber: "125"})
	require.NoError(t, err)
	cr := fake.Credentials()
	asc, err := appstore.New(appstore.Config{
		KeyID: cr.ASCKeyID, IssuerID: cr.ASCIssuerID, PrivateKeyPEM: cr.ASCPrivateKeyPEM,
		BaseURL: url, HTTPClient: &http.Client{Timeout: 10 * time.Second}, MaxAttempts: 3,
		// Waits advance the fake store's clock instead of sleeping.
		Sleep: fake.Advance,
		Clock: fake.Now,
	})
	require.NoError(t, err)

	app, err := cat.AppCreate(ctx, ripcord.App{Name: "shop", IOSBundleID: ipatest.AppID})
	require.NoError(t, err)
	liveBytes := o.live
	if liveBytes == nil {
		liveBytes = fix.live
	}
	live, _, err := cat.BuildUpload(ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.IOS, Version: "1.1.0", BuildNumber: "110", Body: bytes.NewReader(liveBytes)})
	require.NoError(t, err)
	_, err = cat.ReleaseCreate(ctx, "shop", "1.2.0")
	require.NoError(t, err)
	// Profiles first: the identity stored after them is not checked
	// against them, so a mismatch reaches the preparation.
	profiles := o.profiles
	if profiles == nil {
		profiles = fix.profiles
	}
	for _, prof := range profiles {
		_, err = creds.Put(ctx, "shop", credentials.KindIOSProfile, credentials.Material{Profile: prof})
		require.NoError(t, err)
	}
	id := o.identity
	if id == nil {
		id = fix.team.New
	}
	_, err = creds.Put(ctx, "shop", credentials.KindIOSIdentity, credentials.Material{Identity: id.P12(t, p12Pass), IdentityPassword: p12Pass})
	require.NoError(t, err)

	tb := &iosBundle{ctx: ctx, db: db, creds: creds, fake: fake, asc: asc, ascApp: ascApp, blobs: blobs, fix: fix, app: app, live: live,
		request: rollback.PrepareRequest{App: "shop", TargetVersion: "1.2.0", AppStore: asc}, workDir: t.TempDir()}
	if o.wait == 0 {
		o.wait = time.Hour
	}
	tb.newPrep = func(t *testing.T, hook func(step string) error) *rollback.Preparer {
		t.Helper()
		p, err := rollback.New(rollback.Config{Store: db, Artifacts: blobs, Credentials: creds, WorkDir: tb.workDir, CrashHook: hook,
			IOSRoots: fix.team.PKI.Roots(), AppStoreWait: o.wait})
		require.NoError(t, err)
		return p
	}
	return tb
}

func (tb *iosBundle) auditActions(t *testing.T) []string {
	t.Helper()
	entries, err := tb.db.AuditList(tb.ctx, storage.AuditListParams{Target: iosTarget})
	require.NoError(t, err)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	return actions
}

// requireReady checks the end state of a preparation without crashes.
func (tb *iosBundle) requireReady(t *testing.T, rb *ripcord.RollbackBuild) {
	t.Helper()
	require.Equal(t, ripcord.RollbackReady, rb.State, rb.Reason)
	require.Equal(t, "1.2.1", rb.Version, "the next patch above the target")
	require.Equal(t, "126", rb.BuildNumber, "above the store's highest (125), not only Ripcord's (110)")
	require.Equal(t, tb.live.ID, rb.SourceBuildID, "the live build, discovered from the version READY_FOR_DISTRIBUTION")
	require.Equal(t, tb.live.SHA256, rb.SourceSHA256)
	require.Equal(t, signingkey.CertDigest(tb.fix.team.New.Chain[0].Raw), rb.SignerCertSHA256)
	require.Equal(t, "appstore:"+ipatest.AppID+"/1.2.1/126", rb.StoreRef)
	require.Equal(t, 1, tb.fake.CountEvents(iosUploadEvent), "exactly one upload reached the store")
	b, err := tb.asc.FindBuild(tb.ctx, tb.ascApp, "1.2.1", "126")
	require.NoError(t, err)
	require.Equal(t, appstore.BuildValid, b.ProcessingState)
	res, err := tb.db.BuildNumberReservationList(tb.ctx, tb.app.ID, ripcord.IOS)
	require.NoError(t, err)
	require.Len(t, res, 1, "one reservation")
	builds, err := tb.db.BuildList(tb.ctx, storage.BuildListParams{AppID: tb.app.ID, Platform: ripcord.IOS})
	require.NoError(t, err)
	require.Len(t, builds, 2, "the live build and one rollback build")
	require.Equal(t, []string{"rollback.allocate", "rollback.sign", "rollback.upload", "rollback.ready"}, tb.auditActions(t))

	// The produced artifact is a build with its provenance, and verifies.
	rbuild, err := tb.db.BuildGetByID(tb.ctx, rb.BuildID)
	require.NoError(t, err)
	require.Equal(t, rollback.Actor, rbuild.UploadedBy)
	require.Equal(t, rb.SHA256, rbuild.SHA256)
	require.Equal(t, "1.2.1 (126)", rbuild.Label())
	r, err := tb.blobs.Open(tb.ctx, rbuild.BlobKey)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "rollback.ipa")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = f.ReadFrom(r)
	r.Close()
	require.NoError(t, err)
	require.NoError(t, f.Close())
	id, err := ipa.ReadAppIdentity(tb.ctx, path, ipa.Limits{})
	require.NoError(t, err)
	require.Equal(t, ipa.AppIdentity{BundleID: ipatest.AppID, Version: "1.2.1", Build: "126"}, *id)
	_, err = ipa.Verify(tb.ctx, path, ipa.VerifyOptions{Roots: tb.fix.team.PKI.Roots()})
	require.NoError(t, err)
}

// TestPrepareIOSCrashAtEveryStep prepares once without crashes, then stops
// preparation after each step as a crash would and prepares again with a
// new Preparer: every run ends ready with one upload in the store's log.
func TestPrepareIOSCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	t.Run("NoCrash", func(t *testing.T) {
		t.Parallel()
		tb := setupIOS(t, iosSetupOptions{})
		p := tb.newPrep(t, nil)
		rb, err := p.PrepareIOS(context.Background(), tb.request)
		require.NoError(t, err)
		tb.requireReady(t, rb)
		// Preparing again changes nothing and calls no store write.
		events := len(tb.fake.Events())
		again, err := p.PrepareIOS(context.Background(), tb.request)
		require.NoError(t, err)
		require.Equal(t, rb, again)
		require.Len(t, tb.fake.Events(), events)
	})
	steps := []string{rollback.StepAllocated, rollback.StepArtifactStored, rollback.StepSigned,
		rollback.StepUploadedToStore, rollback.StepUploaded, rollback.StepReady}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			tb := setupIOS(t, iosSetupOptions{})
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
			_, err := tb.newPrep(t, hook).PrepareIOS(context.Background(), tb.request)
			require.ErrorIs(t, err, errCrash)
			require.True(t, crashed, "the hook saw step %s (steps seen: %v)", step, seen)
			rb, err := tb.newPrep(t, hook).PrepareIOS(context.Background(), tb.request)
			require.NoError(t, err)
			tb.requireReady(t, rb)
		})
	}
}

// TestPrepareIOSProcessingOutlastsTheWait leaves the build uploaded while the
// store still processes it; the next run finds it VALID without uploading
// again.
func TestPrepareIOSProcessingOutlastsTheWait(t *testing.T) {
	t.Parallel()
	tb := setupIOS(t, iosSetupOptions{wait: 5 * time.Minute, fake: func(c *fakestore.Config) { c.BuildProcessingDelay = time.Hour }})
	p := tb.newPrep(t, nil)
	rb, err := p.PrepareIOS(context.Background(), tb.request)
	require.ErrorIs(t, err, appstore.ErrTimeout)
	require.ErrorContains(t, err, "still processing on App Store Connect")
	require.Equal(t, ripcord.RollbackUploaded, rb.State)
	got, err := tb.db.RollbackBuildGet(tb.ctx, tb.app.ID, ripcord.IOS, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackUploaded, got.State, "the upload is recorded")

	require.NoError(t, tb.fake.Advance(tb.ctx, time.Hour))
	rb, err = p.PrepareIOS(context.Background(), tb.request)
	require.NoError(t, err)
	tb.requireReady(t, rb)
}

// TestPrepareIOSIdentityNotInProfiles stores an identity the stored
// profiles do not list: the rollback is invalid with the reason, nothing is
// kept or uploaded, and it is retried from signing once fixed.
func TestPrepareIOSIdentityNotInProfiles(t *testing.T) {
	t.Parallel()
	fix := sharedIOS(t)
	tb := setupIOS(t, iosSetupOptions{identity: fix.stranger})
	p := tb.newPrep(t, nil)
	rb, err := p.PrepareIOS(context.Background(), tb.request)
	require.NoError(t, err, "a refusal is a recorded state")
	require.Equal(t, ripcord.RollbackInvalid, rb.State)
	require.Contains(t, rb.Reason, "the ios_identity credential (certificate sha256 "+signingkey.CertDigest(fix.stranger.Chain[0].Raw))
	require.Contains(t, rb.Reason, "do not fit live build 1.1.0 (110)")
	require.Contains(t, rb.Reason, "ripcord app credentials shop --profile")
	require.Zero(t, rb.BuildID)
	require.Zero(t, tb.fake.CountEvents(iosUploadEvent))
	builds, err := tb.db.BuildList(tb.ctx, storage.BuildListParams{AppID: tb.app.ID})
	require.NoError(t, err)
	require.Len(t, builds, 1, "no artifact signed with the wrong identity is kept")
	require.Equal(t, []string{"rollback.allocate", "rollback.invalid"}, tb.auditActions(t))

	// With the identity the profiles list, preparing again finishes with
	// the same version and number.
	_, err = tb.creds.Put(tb.ctx, "shop", credentials.KindIOSIdentity, credentials.Material{Identity: fix.team.New.P12(t, p12Pass), IdentityPassword: p12Pass})
	require.NoError(t, err)
	rb, err = p.PrepareIOS(context.Background(), tb.request)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackReady, rb.State, rb.Reason)
	require.Equal(t, "126", rb.BuildNumber)
}

func TestPrepareIOSNotShippable(t *testing.T) {
	t.Parallel()
	tb := setupIOS(t, iosSetupOptions{live: sharedIOS(t).liveOldSdk})
	rb, err := tb.newPrep(t, nil).PrepareIOS(context.Background(), tb.request)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackNotShippable, rb.State)
	require.Contains(t, rb.Reason, "below the App Store minimum 26.0")
	var findings []ipa.Finding
	require.NoError(t, json.Unmarshal([]byte(rb.Findings), &findings))
	require.NotEmpty(t, findings)
	require.Equal(t, "sdk-too-old", findings[0].Code)
	require.NotZero(t, rb.BuildID, "the artifact and its checks are recorded")
	require.Zero(t, tb.fake.CountEvents(iosUploadEvent), "nothing the store would refuse is uploaded")
	require.Equal(t, []string{"rollback.allocate", "rollback.not_shippable"}, tb.auditActions(t))
}

// TestPrepareIOSLiveUnknown removes the live build from Ripcord: the report
// says which build to upload, and preparation reserves nothing.
func TestPrepareIOSLiveUnknown(t *testing.T) {
	t.Parallel()
	tb := setupIOS(t, iosSetupOptions{})
	_, err := tb.fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: "com.example.other", LiveVersion: "3.0", LiveBuild: "300"})
	require.NoError(t, err)
	cat := catalog.New(catalog.Config{Store: tb.db, Artifacts: tb.blobs})
	other, err := cat.AppCreate(tb.ctx, ripcord.App{Name: "other", IOSBundleID: "com.example.other"})
	require.NoError(t, err)
	_, err = cat.ReleaseCreate(tb.ctx, "other", "3.1.0")
	require.NoError(t, err)
	req := tb.request
	req.App, req.TargetVersion = "other", "3.1.0"
	rb, err := tb.newPrep(t, nil).PrepareIOS(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, ripcord.RollbackLiveUnknown, rb.State)
	require.Contains(t, rb.Reason, "App Store version 3.0 is live with build 3.0 (300), which Ripcord does not hold")
	require.Contains(t, rb.Reason, "ripcord build upload --app other --platform ios --file FILE --version 3.0 --build-number 300")
	_, err = tb.db.RollbackBuildGet(tb.ctx, other.ID, ripcord.IOS, "3.1.0")
	require.ErrorIs(t, err, storage.ErrNotFound)
	res, err := tb.db.BuildNumberReservationList(tb.ctx, other.ID, ripcord.IOS)
	require.NoError(t, err)
	require.Empty(t, res, "nothing is reserved")
}
