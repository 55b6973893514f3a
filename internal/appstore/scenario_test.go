package appstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/fakestore"
)

const bundleID = "com.example.ios"

// iosApp creates the scenario's app: 1.0 already live, so 1.1 is an update.
func iosApp(t *testing.T, b *testBundle) string {
	t.Helper()
	id, err := b.fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: bundleID, LiveVersion: "1.0", LiveBuild: "1"})
	require.NoError(t, err)
	return id
}

func ipa(t *testing.T, n int) []byte {
	t.Helper()
	f := make([]byte, n)
	_, err := rand.Read(f)
	require.NoError(t, err)
	return f
}

// scenario runs the iOS release through the client: upload → processing →
// VALID → version → attach → phased release chosen → submit → approve →
// release → phased days → pause → resume → complete. Steps that need store
// time to pass or App Review to decide go through tg.
func scenario(t *testing.T, tg iosTarget, c *appstore.Client) *appstore.Version {
	t.Helper()
	ctx := t.Context()
	app, err := c.FindApp(ctx, tg.bundleID())
	require.NoError(t, err)

	bin := tg.build(t)
	build, err := c.UploadBuild(ctx, appstore.UploadParams{AppID: app.ID, Version: bin.version, BuildNumber: bin.number, FileName: bin.name,
		File: bin.file, Size: bin.size}, time.Hour)
	require.NoError(t, err)
	require.Equal(t, bin.version, build.Version)
	require.Equal(t, bin.number, build.BuildNumber)

	// Processing: the client polls; on the fake its waits advance the clock.
	valid, err := c.WaitBuildValid(ctx, app.ID, bin.version, bin.number, 2*time.Hour)
	require.NoError(t, err)
	require.Equal(t, appstore.BuildValid, valid.ProcessingState)

	v, err := c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: app.ID, VersionString: bin.version})
	require.NoError(t, err)
	require.Equal(t, appstore.StatePrepareForSubmission, v.State)
	require.Equal(t, "PREPARE_FOR_SUBMISSION", v.AppStoreState)
	require.Equal(t, "MANUAL", v.ReleaseType)
	require.NoError(t, c.AttachBuild(ctx, v.ID, valid.ID))

	pr, err := c.EnablePhasedRelease(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.PhasedInactive, pr.State)

	sub, err := c.SubmitForReview(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.SubmissionWaitingForReview, sub.State)
	require.Equal(t, v.ID, sub.VersionID)

	// Approval parks a MANUAL version in Pending Developer Release.
	tg.awaitReview(ctx, t, c, v.ID)
	v, err = c.GetVersion(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.StatePendingDeveloperRelease, v.State)
	require.Equal(t, "PENDING_DEVELOPER_RELEASE", v.AppStoreState)

	require.NoError(t, c.ReleaseVersion(ctx, v.ID))
	v, err = c.GetVersion(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.StateReadyForDistribution, v.State)
	require.Equal(t, "READY_FOR_SALE", v.AppStoreState)

	pr, err = c.GetPhasedRelease(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.PhasedActive, pr.State)
	require.Equal(t, 1, pr.CurrentDayNumber)
	require.Equal(t, 1, pr.Percent())

	if tg.passDays(ctx, t, 2) {
		pr, err = c.GetPhasedRelease(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, 3, pr.CurrentDayNumber)
		require.Equal(t, 5, pr.Percent())
	}

	pr, err = c.PausePhasedRelease(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.PhasedPaused, pr.State)
	paused := pr.CurrentDayNumber
	if tg.passDays(ctx, t, 3) {
		pr, err = c.GetPhasedRelease(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, paused, pr.CurrentDayNumber, "paused days do not count")
		require.Equal(t, 3, pr.TotalPauseDuration)
	}

	pr, err = c.ResumePhasedRelease(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.PhasedActive, pr.State)
	if tg.passDays(ctx, t, 1) {
		pr, err = c.GetPhasedRelease(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, paused+1, pr.CurrentDayNumber, "resume continues from the paused day")
	}

	pr, err = c.CompletePhasedRelease(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.PhasedComplete, pr.State)
	require.Equal(t, 100, pr.Percent())

	open, err := c.OpenSubmissions(ctx, app.ID, appstore.PlatformIOS)
	require.NoError(t, err)
	require.Empty(t, open, "no submission left in flight")
	return v
}

// binary is the build a target uploads.
type binary struct {
	name            string
	file            io.ReaderAt
	size            int64
	version, number string
}

// iosTarget is a store the iOS scenario runs against. The steps the fake
// takes on command — store time passing, App Review deciding — go through
// it; the real store waits for them, or cannot take them and says so.
type iosTarget interface {
	bundleID() string
	// build returns the IPA to upload with the version and build number
	// it carries.
	build(t *testing.T) binary
	// awaitReview returns once App Review has approved the submitted version.
	awaitReview(ctx context.Context, t *testing.T, c *appstore.Client, versionID string)
	// passDays lets days of phased release pass and reports whether it
	// could; when it cannot, the caller skips the checks of those days.
	passDays(ctx context.Context, t *testing.T, days int) bool
}

// fakeIOSTarget is the fake store, whose app has 1.0 live so 1.1 is an
// update (phased release needs one).
type fakeIOSTarget struct{ b *testBundle }

var _ iosTarget = (*fakeIOSTarget)(nil)

func (f *fakeIOSTarget) bundleID() string { return bundleID }

func (f *fakeIOSTarget) build(t *testing.T) binary {
	t.Helper()
	file := ipa(t, 20<<10) // three parts of 8 KiB
	return binary{name: "App.ipa", file: bytes.NewReader(file), size: int64(len(file)), version: "1.1", number: "7"}
}

// awaitReview lets the default 12 h waiting plus 12 h in review pass; the
// fake approves unless told otherwise.
func (f *fakeIOSTarget) awaitReview(ctx context.Context, t *testing.T, _ *appstore.Client, _ string) {
	t.Helper()
	require.NoError(t, f.b.fake.Advance(ctx, 24*time.Hour))
}

func (f *fakeIOSTarget) passDays(ctx context.Context, t *testing.T, days int) bool {
	t.Helper()
	require.NoError(t, f.b.fake.Advance(ctx, time.Duration(days)*24*time.Hour))
	return true
}

// Environment of the real App Store Connect run; see realIOSTarget.
const (
	envASCKey           = "RIPCORD_REAL_ASC_KEY"
	envASCKeyID         = "RIPCORD_REAL_ASC_KEY_ID"
	envASCIssuerID      = "RIPCORD_REAL_ASC_ISSUER_ID"
	envASCBundleID      = "RIPCORD_REAL_ASC_BUNDLE_ID"
	envASCIPA           = "RIPCORD_REAL_ASC_IPA"
	envASCVersion       = "RIPCORD_REAL_ASC_VERSION"
	envASCBuildNumber   = "RIPCORD_REAL_ASC_BUILD_NUMBER"
	envASCReviewTimeout = "RIPCORD_REAL_ASC_REVIEW_TIMEOUT"
)

// realIOSTarget runs the scenario against App Store Connect itself. It runs
// only when these variables are set, and is skipped otherwise (real stores
// are never part of CI):
//
//	RIPCORD_REAL_ASC_KEY             path to the API key's AuthKey_<id>.p8 (App Manager role)
//	RIPCORD_REAL_ASC_KEY_ID          the key's id
//	RIPCORD_REAL_ASC_ISSUER_ID       the team's issuer id
//	RIPCORD_REAL_ASC_BUNDLE_ID       bundle id of a test app whose latest iOS version
//	                                 is live (phased release needs an update)
//	RIPCORD_REAL_ASC_IPA             path to a signed IPA of that app
//	RIPCORD_REAL_ASC_VERSION         the IPA's CFBundleShortVersionString, above the live one
//	RIPCORD_REAL_ASC_BUILD_NUMBER    the IPA's CFBundleVersion, new for that version
//	RIPCORD_REAL_ASC_REVIEW_TIMEOUT  how long to wait for App Review (Go duration); default 72h
//
// The run really submits the version to App Review and releases it to the
// public in phases, so use a test app, and give go test a long enough
// -timeout (-timeout 0). Store time cannot be advanced: the checks of
// phased-release days are skipped with a logged note.
type realIOSTarget struct {
	c             *appstore.Client
	bundle        string
	bin           binary
	reviewTimeout time.Duration
}

var _ iosTarget = (*realIOSTarget)(nil)

func newRealIOSTarget(t *testing.T) (*realIOSTarget, *appstore.Client) {
	t.Helper()
	vars := []string{envASCKey, envASCKeyID, envASCIssuerID, envASCBundleID, envASCIPA, envASCVersion, envASCBuildNumber}
	for _, v := range vars {
		if os.Getenv(v) == "" {
			t.Skipf("skipping the real App Store Connect run: set %s to run it against a test app (%s is unset)", strings.Join(vars, ", "), v)
		}
	}
	key, err := os.ReadFile(os.Getenv(envASCKey))
	require.NoError(t, err, "%s", envASCKey)
	c, err := appstore.New(appstore.Config{KeyID: os.Getenv(envASCKeyID), IssuerID: os.Getenv(envASCIssuerID), PrivateKeyPEM: key})
	require.NoError(t, err)
	f, err := os.Open(os.Getenv(envASCIPA))
	require.NoError(t, err, "%s", envASCIPA)
	t.Cleanup(func() { _ = f.Close() })
	fi, err := f.Stat()
	require.NoError(t, err)
	timeout := 72 * time.Hour
	if v := os.Getenv(envASCReviewTimeout); v != "" {
		timeout, err = time.ParseDuration(v)
		require.NoError(t, err, "%s must be a Go duration such as 48h", envASCReviewTimeout)
	}
	tg := &realIOSTarget{c: c, bundle: os.Getenv(envASCBundleID), reviewTimeout: timeout,
		bin: binary{name: filepath.Base(f.Name()), file: f, size: fi.Size(), version: os.Getenv(envASCVersion), number: os.Getenv(envASCBuildNumber)}}
	return tg, c
}

func (r *realIOSTarget) bundleID() string        { return r.bundle }
func (r *realIOSTarget) build(*testing.T) binary { return r.bin }

// awaitReview polls the version every 10 minutes until App Review decides,
// failing on a rejection or after the review timeout.
func (r *realIOSTarget) awaitReview(ctx context.Context, t *testing.T, c *appstore.Client, versionID string) {
	t.Helper()
	deadline := time.Now().Add(r.reviewTimeout)
	for {
		v, err := c.GetVersion(ctx, versionID)
		require.NoError(t, err)
		switch v.State {
		case appstore.StatePendingDeveloperRelease:
			return
		case appstore.StateRejected, appstore.StateDeveloperRejected:
			t.Fatalf("App Review did not approve version %s: %s", versionID, v.State)
		}
		if time.Now().After(deadline) {
			t.Fatalf("version %s still %s after %v; raise %s", versionID, v.State, r.reviewTimeout, envASCReviewTimeout)
		}
		t.Logf("waiting for App Review: version %s is %s", versionID, v.State)
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for App Review: %v", ctx.Err())
		case <-time.After(10 * time.Minute):
		}
	}
}

func (r *realIOSTarget) passDays(_ context.Context, t *testing.T, days int) bool {
	t.Logf("real App Store Connect: store time cannot be advanced; skipping the checks after %d phased-release day(s)", days)
	return false
}

// requireEndState checks the store after the scenario, through the API.
func requireEndState(t *testing.T, b *testBundle, c *appstore.Client, versionID string) {
	t.Helper()
	ctx := t.Context()
	app, err := c.FindApp(ctx, bundleID)
	require.NoError(t, err)
	vs, err := c.ListVersions(ctx, app.ID, appstore.PlatformIOS)
	require.NoError(t, err)
	require.Len(t, vs, 2)
	states := map[string]string{}
	for _, v := range vs {
		states[v.VersionString] = v.State
	}
	require.Equal(t, map[string]string{"1.0": appstore.StateReplacedWithNewVersion, "1.1": appstore.StateReadyForDistribution}, states)
	builds, err := c.ListBuilds(ctx, appstore.BuildFilter{AppID: app.ID})
	require.NoError(t, err)
	require.Len(t, builds, 2)
	pr, err := c.GetPhasedRelease(ctx, versionID)
	require.NoError(t, err)
	require.Equal(t, appstore.PhasedComplete, pr.State)
	open, err := c.OpenSubmissions(ctx, app.ID, appstore.PlatformIOS)
	require.NoError(t, err)
	require.Empty(t, open)
	for op, n := range map[string]int{
		"asc.buildUploads.create": 1, "asc.buildUploadFiles.create": 1, "asc.buildUploadFiles.uploaded": 1,
		"asc.appStoreVersions.create": 1, "asc.appStoreVersions.build.update": 1, "asc.appStoreVersionPhasedReleases.create": 1,
		"asc.reviewSubmissions.create": 1, "asc.reviewSubmissionItems.create": 1, "asc.reviewSubmissions.submit": 1,
		"asc.appStoreVersionReleaseRequests.create": 1, "asc.appStoreVersionPhasedReleases.update": 3,
	} {
		require.Equal(t, n, b.fake.CountEvents(op), "%s applied exactly %d times", op, n)
	}
}

// TestScenarioIOSRelease runs the iOS release scenario through the client
// against every target: the fake always, App Store Connect when the
// RIPCORD_REAL_ASC_* variables are set (see realIOSTarget).
func TestScenarioIOSRelease(t *testing.T) {
	t.Parallel()
	t.Run("Fake", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		iosApp(t, b)
		c := b.client(t, nil)
		v := scenario(t, &fakeIOSTarget{b: b}, c)
		requireEndState(t, b, c, v.ID)

		// The fake keeps everything across a restart on the same state dir.
		require.NoError(t, b.fake.Close())
		ts2 := httptest.NewUnstartedServer(nil)
		url2 := "http://" + ts2.Listener.Addr().String()
		again, err := fakestore.New(fakestore.Config{StateDir: b.dir, BaseURL: url2})
		require.NoError(t, err)
		ts2.Config.Handler = again.Handler()
		ts2.Start()
		t.Cleanup(ts2.Close)
		b2 := &testBundle{fake: again, rec: b.rec, url: url2, dir: b.dir}
		requireEndState(t, b2, b2.client(t, nil), v.ID)
		parts, err := os.ReadDir(filepath.Join(b.dir, "uploads"))
		require.NoError(t, err)
		require.Empty(t, parts, "committed upload parts are deleted")

		seen := ascSpec.Get(t).Check(t, b.rec.Exchanges())
		for _, op := range []string{"builds_getCollection", "appStoreVersions_createInstance", "appStoreVersions_build_updateToOneRelationship",
			"reviewSubmissions_createInstance", "reviewSubmissionItems_createInstance", "reviewSubmissions_updateInstance",
			"appStoreVersionReleaseRequests_createInstance", "appStoreVersionPhasedReleases_createInstance",
			"appStoreVersionPhasedReleases_updateInstance", "appStoreVersions_appStoreVersionPhasedRelease_getToOneRelated",
			"4.2 POST /v1/buildUploads", "4.2 POST /v1/buildUploadFiles", "4.2 PATCH /v1/buildUploadFiles/{id}", "4.2 GET /v1/buildUploads/{id}", "upload part"} {
			require.Positive(t, seen[op], "spec-checked %s", op)
		}
		t.Logf("spec-checked operations: %v", seen)
	})
	t.Run("Real", func(t *testing.T) {
		t.Parallel()
		tg, c := newRealIOSTarget(t)
		v := scenario(t, tg, c)
		t.Logf("real App Store Connect: version %s released; not checked (the fake alone shows them): event counts, restart, spec validation", v.ID)
	})
}

func TestFaultsReachSameStateWithoutDuplicates(t *testing.T) {
	t.Parallel()
	lost := func(op string) fakestore.Fault {
		return fakestore.Fault{Op: op, Kind: fakestore.FaultLostResponse, Count: 1}
	}
	tests := []struct {
		name  string
		fault fakestore.Fault
	}{
		{"RateLimitedCreateVersion", fakestore.Fault{Op: "asc.appStoreVersions.create", Kind: fakestore.FaultStatus, Status: 429, RetryAfterSeconds: 9, Count: 1}},
		{"UnavailableCreateSubmission", fakestore.Fault{Op: "asc.reviewSubmissions.create", Kind: fakestore.FaultStatus, Status: 503, Count: 1}},
		{"ServerErrorOnRead", fakestore.Fault{Op: "asc.appStoreVersions.get", Kind: fakestore.FaultStatus, Status: 500, Count: 2}},
		{"ConflictOnPause", fakestore.Fault{Op: "asc.appStoreVersionPhasedReleases.update", Kind: fakestore.FaultStatus, Status: 409, Count: 1}},
		{"LostCreateVersion", lost("asc.appStoreVersions.create")},
		{"LostCreateSubmission", lost("asc.reviewSubmissions.create")},
		{"LostAddItem", lost("asc.reviewSubmissionItems.create")},
		{"LostSubmit", lost("asc.reviewSubmissions.update")},
		{"LostReleaseRequest", lost("asc.appStoreVersionReleaseRequests.create")},
		{"LostPhasedCreate", lost("asc.appStoreVersionPhasedReleases.create")},
		{"LostBuildUpload", lost("asc.buildUploads.create")},
		{"LostUploadCommit", lost("asc.buildUploadFiles.update")},
		{"UnavailablePart", fakestore.Fault{Op: "asc.buildUploadParts.put", Kind: fakestore.FaultStatus, Status: 503, Count: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			iosApp(t, b)
			require.NoError(t, b.fake.AddFault(tt.fault))
			c := b.client(t, nil)
			v := scenario(t, &fakeIOSTarget{b: b}, c)
			requireEndState(t, b, c, v.ID)
			require.Equal(t, max(1, tt.fault.Count), b.fake.Faults()[0].Hits, "the fault fired")
			if tt.fault.RetryAfterSeconds > 0 {
				b.mu.Lock()
				require.Contains(t, b.sleeps, 9*time.Second, "Retry-After honoured")
				b.mu.Unlock()
			}
			ascSpec.Get(t).Check(t, b.rec.Exchanges())
		})
	}
}

func TestWithdrawInReview(t *testing.T) {
	t.Parallel()
	b := setup(t)
	appID := iosApp(t, b)
	c := b.client(t, nil)
	ctx := t.Context()
	_, err := b.fake.AddASCBuild(appID, fakestore.ASCBuildSpec{Version: "1.1", BuildNumber: "3"})
	require.NoError(t, err)
	build, err := c.WaitBuildValid(ctx, appID, "1.1", "3", time.Hour)
	require.NoError(t, err)
	v, err := c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: "1.1", BuildID: build.ID})
	require.NoError(t, err)
	_, err = c.SubmitForReview(ctx, v.ID)
	require.NoError(t, err)
	require.NoError(t, b.fake.Advance(ctx, 13*time.Hour)) // in review now
	v, err = c.GetVersion(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.StateInReview, v.State)

	// The build cannot change once submitted: the store's 409 and a hint.
	_, err = b.fake.AddASCBuild(appID, fakestore.ASCBuildSpec{Version: "1.1", BuildNumber: "4"})
	require.NoError(t, err)
	other, err := c.WaitBuildValid(ctx, appID, "1.1", "4", time.Hour)
	require.NoError(t, err)
	err = c.AttachBuild(ctx, v.ID, other.ID)
	require.ErrorIs(t, err, appstore.ErrConflict)
	require.ErrorContains(t, err, "The specified pre-release build could not be added.")
	require.ErrorContains(t, err, "withdraw the version from review first")

	require.NoError(t, c.WithdrawVersion(ctx, v.ID, time.Hour))
	_, err = c.GetVersion(ctx, v.ID)
	require.ErrorIs(t, err, appstore.ErrNotFound)
	require.NoError(t, c.WithdrawVersion(ctx, v.ID, time.Hour), "withdrawing again is a no-op")
	require.Equal(t, 1, b.fake.CountEvents("asc.reviewSubmissions.cancel"))
	require.Equal(t, 1, b.fake.CountEvents("asc.appStoreVersions.delete"))

	// The app is back to its live version: a new one can be created.
	_, err = c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: "1.1", BuildID: other.ID})
	require.NoError(t, err)
	ascSpec.Get(t).Check(t, b.rec.Exchanges())
}

func TestWithdrawParkedVersionUnblocksNext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	appID := iosApp(t, b)
	c := b.client(t, nil)
	ctx := t.Context()
	v := approvedVersion(t, b, c, appID, "1.1", "3")

	_, err := c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: "1.2"})
	require.ErrorIs(t, err, appstore.ErrConflict)
	require.ErrorContains(t, err, "You cannot create a new version of the App in the current state.")
	require.ErrorContains(t, err, "withdraw it")

	require.NoError(t, c.WithdrawVersion(ctx, v.ID, time.Hour))
	require.Equal(t, 1, b.fake.CountEvents("asc.appStoreVersionSubmissions.delete"))
	_, err = c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: "1.2"})
	require.NoError(t, err)
	ascSpec.Get(t).Check(t, b.rec.Exchanges())
}

// approvedVersion takes a version through review to Pending Developer Release.
func approvedVersion(t *testing.T, b *testBundle, c *appstore.Client, appID, version, number string) *appstore.Version {
	t.Helper()
	ctx := t.Context()
	_, err := b.fake.AddASCBuild(appID, fakestore.ASCBuildSpec{Version: version, BuildNumber: number})
	require.NoError(t, err)
	build, err := c.WaitBuildValid(ctx, appID, version, number, time.Hour)
	require.NoError(t, err)
	v, err := c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: version, BuildID: build.ID})
	require.NoError(t, err)
	_, err = c.SubmitForReview(ctx, v.ID)
	require.NoError(t, err)
	require.NoError(t, b.fake.Advance(ctx, 24*time.Hour))
	v, err = c.GetVersion(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, appstore.StatePendingDeveloperRelease, v.State)
	return v
}

// raw sends one App Store Connect request with a valid token, for rules the
// client's read-first logic never lets reach the store.
func (b *testBundle) raw(t *testing.T, method, path string, body any) (int, string) {
	t.Helper()
	cr := b.fake.Credentials()
	key, err := jwt.ParseECPrivateKeyFromPEM(cr.ASCPrivateKeyPEM)
	require.NoError(t, err)
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": cr.ASCIssuerID, "aud": "appstoreconnect-v1", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
	tok.Header["kid"] = cr.ASCKeyID
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.rec.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(out)
}

func rel(typ, id string) map[string]any {
	return map[string]any{"data": map[string]string{"type": typ, "id": id}}
}

func TestStoreRules(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("VersionStringMustExceedApproved", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		for vs, msg := range map[string]string{"1.0": "The version number has been previously used.", "0.9": "must contain a higher version than that of the previously approved version [1.0]"} {
			_, err := c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: vs})
			require.ErrorIs(t, err, appstore.ErrConflict)
			require.ErrorContains(t, err, msg)
		}
		ascSpec.Get(t).Check(t, b.rec.Exchanges())
	})

	t.Run("OneSubmissionInFlightPerPlatform", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		approvedVersion(t, b, c, appID, "1.1", "2")
		body := map[string]any{"data": map[string]any{"type": "reviewSubmissions", "attributes": map[string]any{"platform": "IOS"},
			"relationships": map[string]any{"app": rel("apps", appID)}}}
		status, out := b.raw(t, http.MethodPost, "/v1/reviewSubmissions", body)
		require.Equal(t, 201, status, out)
		var created struct {
			Data struct{ ID string } `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &created))
		status, out = b.raw(t, http.MethodPost, "/v1/reviewSubmissions", body)
		require.Equal(t, 409, status)
		require.Contains(t, out, "You can only send one submission at a time per platform. The reviewSubmission with id '"+created.Data.ID+"'")
		ascSpec.Get(t).Check(t, b.rec.Exchanges())
	})

	t.Run("VersionInOneSubmissionOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		v, err := c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: "1.1"})
		require.NoError(t, err)
		mk := func() string {
			status, out := b.raw(t, http.MethodPost, "/v1/reviewSubmissions", map[string]any{"data": map[string]any{"type": "reviewSubmissions",
				"attributes": map[string]any{"platform": "IOS"}, "relationships": map[string]any{"app": rel("apps", appID)}}})
			require.Equal(t, 201, status, out)
			var d struct {
				Data struct{ ID string } `json:"data"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &d))
			return d.Data.ID
		}
		s1 := mk()
		item := func(sub string) (int, string) {
			return b.raw(t, http.MethodPost, "/v1/reviewSubmissionItems", map[string]any{"data": map[string]any{"type": "reviewSubmissionItems",
				"relationships": map[string]any{"reviewSubmission": rel("reviewSubmissions", sub), "appStoreVersion": rel("appStoreVersions", v.ID)}}})
		}
		status, out := item(s1)
		require.Equal(t, 201, status, out)
		status, out = item(s1)
		require.Equal(t, 409, status)
		require.Contains(t, out, "appStoreVersions with id '"+v.ID+"' was already added to another reviewSubmission with id '"+s1+"'")
		// Submitting without a build is refused.
		status, out = b.raw(t, http.MethodPatch, "/v1/reviewSubmissions/"+s1, map[string]any{"data": map[string]any{"type": "reviewSubmissions", "id": s1, "attributes": map[string]any{"submitted": true}}})
		require.Equal(t, 409, status, out)
		require.Contains(t, out, "has no build")
		ascSpec.Get(t).Check(t, b.rec.Exchanges())
	})

	t.Run("SubmitNeedsValidBuild", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		bid, err := b.fake.AddASCBuild(appID, fakestore.ASCBuildSpec{Version: "1.1", BuildNumber: "5"})
		require.NoError(t, err)
		v, err := c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: "1.1", BuildID: bid})
		require.NoError(t, err)
		_, err = c.SubmitForReview(ctx, v.ID)
		var ae *appstore.Error
		require.ErrorAs(t, err, &ae)
		require.Equal(t, 422, ae.Status)
		require.ErrorContains(t, err, "The build is not in a valid processing state for this operation")
		ascSpec.Get(t).Check(t, b.rec.Exchanges())
	})

	t.Run("BuildInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		require.NoError(t, b.fake.SetASCBuildOutcome(appID, "1.1", "9", fakestore.BuildInvalid))
		_, err := b.fake.AddASCBuild(appID, fakestore.ASCBuildSpec{Version: "1.1", BuildNumber: "9"})
		require.NoError(t, err)
		_, err = c.WaitBuildValid(ctx, appID, "1.1", "9", time.Hour)
		require.ErrorIs(t, err, appstore.ErrBuildNotValid)
		require.ErrorContains(t, err, "INVALID")
	})

	t.Run("WaitTimesOutOnStoreClock", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		start := b.fake.Now()
		_, err := c.WaitBuildValid(ctx, appID, "1.1", "404", 5*time.Minute)
		require.ErrorIs(t, err, appstore.ErrTimeout)
		require.Equal(t, 5*time.Minute, b.fake.Now().Sub(start), "waited exactly the timeout, on the fake clock")
	})

	t.Run("ProcessingTakesTheConfiguredDelay", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		start := b.fake.Now()
		_, err := b.fake.AddASCBuild(appID, fakestore.ASCBuildSpec{Version: "1.1", BuildNumber: "2"})
		require.NoError(t, err)
		bs, err := c.ListBuilds(ctx, appstore.BuildFilter{AppID: appID, Version: "1.1", ProcessingState: appstore.BuildProcessing})
		require.NoError(t, err)
		require.Len(t, bs, 1)
		_, err = c.WaitBuildValid(ctx, appID, "1.1", "2", time.Hour)
		require.NoError(t, err)
		require.Equal(t, 10*time.Minute, b.fake.Now().Sub(start), "VALID after BuildProcessingDelay, polled every 30 s")
	})

	t.Run("RedundantUploadAndClosedTrain", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		up := func(short, num string) (int, string) {
			return b.raw(t, http.MethodPost, "/v1/buildUploads", map[string]any{"data": map[string]any{"type": "buildUploads",
				"attributes":    map[string]any{"cfBundleShortVersionString": short, "cfBundleVersion": num, "platform": "IOS"},
				"relationships": map[string]any{"app": rel("apps", appID)}}})
		}
		status, out := up("1.0", "2")
		require.Equal(t, 409, status)
		require.Contains(t, out, "The train version '1.0' is closed for new build submissions")
		status, out = up("1.1", "2")
		require.Equal(t, 201, status, out)
		status, out = up("1.1", "2")
		require.Equal(t, 409, status)
		require.Contains(t, out, "Redundant Binary Upload")
		ascSpec.Get(t).Check(t, b.rec.Exchanges())
	})

	t.Run("ReleaseOnlyWhenPending", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		v, err := c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: "1.1"})
		require.NoError(t, err)
		require.ErrorIs(t, c.ReleaseVersion(ctx, v.ID), appstore.ErrWrongState)
		status, out := b.raw(t, http.MethodPost, "/v1/appStoreVersionReleaseRequests", map[string]any{"data": map[string]any{
			"type": "appStoreVersionReleaseRequests", "relationships": map[string]any{"appStoreVersion": rel("appStoreVersions", v.ID)}}})
		require.Equal(t, 409, status)
		require.Contains(t, out, "only a version in PENDING_DEVELOPER_RELEASE can be released")
		ascSpec.Get(t).Check(t, b.rec.Exchanges())
	})

	t.Run("NoPhasedReleaseForFirstVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID, err := b.fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: "com.example.new"})
		require.NoError(t, err)
		c := b.client(t, nil)
		v, err := c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: "1.0"})
		require.NoError(t, err)
		_, err = c.EnablePhasedRelease(ctx, v.ID)
		require.ErrorIs(t, err, appstore.ErrConflict)
		require.ErrorContains(t, err, "only available for version updates")
		ascSpec.Get(t).Check(t, b.rec.Exchanges())
	})

	t.Run("PauseBudgetReleasesToAll", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		v := approvedVersion(t, b, c, appID, "1.1", "2")
		_, err := c.EnablePhasedRelease(ctx, v.ID)
		require.NoError(t, err)
		require.NoError(t, c.ReleaseVersion(ctx, v.ID))
		_, err = c.PausePhasedRelease(ctx, v.ID)
		require.NoError(t, err)
		require.NoError(t, b.fake.Advance(ctx, 29*24*time.Hour))
		pr, err := c.GetPhasedRelease(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, appstore.PhasedPaused, pr.State)
		require.Equal(t, 29, pr.TotalPauseDuration)
		require.NoError(t, b.fake.Advance(ctx, 2*24*time.Hour))
		pr, err = c.GetPhasedRelease(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, appstore.PhasedComplete, pr.State, "30 paused days used: released to all")
		require.Equal(t, 30, pr.TotalPauseDuration)
		require.Equal(t, 1, pr.CurrentDayNumber)
		_, err = c.ResumePhasedRelease(ctx, v.ID)
		require.ErrorIs(t, err, appstore.ErrWrongState)
		ascSpec.Get(t).Check(t, b.rec.Exchanges())
	})

	t.Run("PhasedDaysEndAtSeven", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		v := approvedVersion(t, b, c, appID, "1.1", "2")
		_, err := c.EnablePhasedRelease(ctx, v.ID)
		require.NoError(t, err)
		require.NoError(t, c.ReleaseVersion(ctx, v.ID))
		for day, pct := range []int{1, 2, 5, 10, 20, 50} {
			pr, err := c.GetPhasedRelease(ctx, v.ID)
			require.NoError(t, err)
			require.Equal(t, day+1, pr.CurrentDayNumber)
			require.Equal(t, pct, pr.Percent())
			require.NoError(t, b.fake.Advance(ctx, 24*time.Hour))
		}
		pr, err := c.GetPhasedRelease(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, appstore.PhasedComplete, pr.State)
		require.Equal(t, 7, pr.CurrentDayNumber)
	})

	t.Run("RejectThenResubmitSameSubmission", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		require.NoError(t, b.fake.SetASCReviewOutcome(appID, fakestore.ReviewReject))
		_, err := b.fake.AddASCBuild(appID, fakestore.ASCBuildSpec{Version: "1.1", BuildNumber: "2"})
		require.NoError(t, err)
		build, err := c.WaitBuildValid(ctx, appID, "1.1", "2", time.Hour)
		require.NoError(t, err)
		v, err := c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: "1.1", BuildID: build.ID})
		require.NoError(t, err)
		s1, err := c.SubmitForReview(ctx, v.ID)
		require.NoError(t, err)
		require.NoError(t, b.fake.Advance(ctx, 24*time.Hour))
		v, err = c.GetVersion(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, appstore.StateRejected, v.State)
		require.NoError(t, b.fake.SetASCReviewOutcome(appID, fakestore.ReviewApprove))
		s2, err := c.SubmitForReview(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, s1.ID, s2.ID, "the UNRESOLVED_ISSUES submission is resubmitted, not duplicated")
		require.Equal(t, 1, b.fake.CountEvents("asc.reviewSubmissions.create"))
		ascSpec.Get(t).Check(t, b.rec.Exchanges())
	})

	t.Run("RemovedFromSaleAllowsNewVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		appID := iosApp(t, b)
		c := b.client(t, nil)
		vs, err := c.ListVersions(ctx, appID, "")
		require.NoError(t, err)
		require.NoError(t, b.fake.RemoveASCVersionFromSale(vs[0].ID))
		live, err := c.GetVersion(ctx, vs[0].ID)
		require.NoError(t, err)
		require.Equal(t, "DEVELOPER_REMOVED_FROM_SALE", live.AppStoreState)
		require.Equal(t, appstore.StateReadyForDistribution, live.State)
		_, err = c.CreateVersion(ctx, appstore.CreateVersionParams{AppID: appID, VersionString: "2.0"})
		require.NoError(t, err)
		ascSpec.Get(t).Check(t, b.rec.Exchanges())
	})

	t.Run("UnknownAppVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.client(t, nil)
		_, err := c.GetVersion(ctx, "999")
		require.ErrorIs(t, err, appstore.ErrNotFound)
		var ae *appstore.Error
		require.ErrorAs(t, err, &ae)
		require.True(t, strings.Contains(ae.Errors[0].Detail, "appStoreVersions"))
		require.NotEmpty(t, ae.Hint)
	})
}

// TestLatencyAndTimeoutFaults runs the scenario with a per-call timeout: a
// slow answer within it is only slow; a call that never answers is given
// up on, retried from its read, and acts once.
func TestLatencyAndTimeoutFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault fakestore.Fault
	}{
		{"LatencyOnSubmit", fakestore.Fault{Op: "asc.reviewSubmissions.update", Kind: fakestore.FaultLatency, Latency: fakestore.Duration(100 * time.Millisecond), Count: 1}},
		{"TimeoutOnCreateVersion", fakestore.Fault{Op: "asc.appStoreVersions.create", Kind: fakestore.FaultTimeout, Count: 1}},
		{"TimeoutOnReleaseRequest", fakestore.Fault{Op: "asc.appStoreVersionReleaseRequests.create", Kind: fakestore.FaultTimeout, Count: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			iosApp(t, b)
			require.NoError(t, b.fake.AddFault(tt.fault))
			c := b.client(t, func(cfg *appstore.Config) {
				cfg.HTTPClient = &http.Client{Transport: b.rec, Timeout: 400 * time.Millisecond}
			})
			v := scenario(t, &fakeIOSTarget{b: b}, c)
			requireEndState(t, b, c, v.ID)
			require.Equal(t, 1, b.fake.Faults()[0].Hits, "the fault fired")
		})
	}
}
