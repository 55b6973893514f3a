package fakestore_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2/google"
	androidpublisher "google.golang.org/api/androidpublisher/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/fakestore/androidpkg"
)

const pkg = "com.example.rules"

type testBundle struct {
	fake *fakestore.Server
	svc  *androidpublisher.Service
	url  string
	dir  string
}

func setup(t *testing.T, spec fakestore.PlayAppSpec) *testBundle {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	b := &testBundle{url: "http://" + ts.Listener.Addr().String(), dir: t.TempDir()}
	fake, err := fakestore.New(fakestore.Config{StateDir: b.dir, BaseURL: b.url})
	require.NoError(t, err)
	ts.Config.Handler = fake.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	b.fake = fake
	if spec.PackageName != "" {
		require.NoError(t, fake.CreatePlayApp(spec))
	}
	jc, err := google.JWTConfigFromJSON(fake.Credentials().PlayServiceAccountJSON, fakestore.ScopeAndroidPublisher)
	require.NoError(t, err)
	b.svc, err = androidpublisher.NewService(t.Context(), option.WithHTTPClient(jc.Client(context.Background())), option.WithEndpoint(b.url+"/"))
	require.NoError(t, err)
	return b
}

func (b *testBundle) edit(t *testing.T) string {
	t.Helper()
	e, err := b.svc.Edits.Insert(pkg, &androidpublisher.AppEdit{}).Context(t.Context()).Do()
	require.NoError(t, err)
	return e.Id
}

func (b *testBundle) upload(t *testing.T, edit string, code int64) {
	t.Helper()
	f, err := androidpkg.BuildAAB(androidpkg.Manifest{Package: pkg, VersionCode: code})
	require.NoError(t, err)
	_, err = b.svc.Edits.Bundles.Upload(pkg, edit).Media(bytes.NewReader(f), googleapi.ContentType("application/octet-stream")).Context(t.Context()).Do()
	require.NoError(t, err)
}

func requireGoogleError(t *testing.T, err error, code int, msg string) {
	t.Helper()
	var ge *googleapi.Error
	require.ErrorAs(t, err, &ge)
	require.Equal(t, code, ge.Code)
	require.Contains(t, ge.Message, msg)
}

func TestTrackUpdateRules(t *testing.T) {
	t.Parallel()
	rel := func(status string, fraction float64, codes ...int64) *androidpublisher.TrackRelease {
		return &androidpublisher.TrackRelease{Status: status, UserFraction: fraction, VersionCodes: codes}
	}
	tests := []struct {
		name  string
		draft bool
		track string
		rels  []*androidpublisher.TrackRelease
		want  string // "" means accepted
	}{
		{"StagedOK", false, "production", []*androidpublisher.TrackRelease{rel("inProgress", 0.05, 101)}, ""},
		{"CompletedWithFraction", false, "production", []*androidpublisher.TrackRelease{rel("completed", 0.5, 101)}, "COMPLETED release must not have fraction"},
		{"HaltedWithoutFraction", false, "production", []*androidpublisher.TrackRelease{rel("halted", 0, 101)}, "HALTED release must have fraction"},
		{"FractionOne", false, "production", []*androidpublisher.TrackRelease{rel("inProgress", 1, 101)}, "User fraction must be lower than one"},
		{"FirstReleaseStaged", false, "beta", []*androidpublisher.TrackRelease{rel("inProgress", 0.5, 101)}, "The first release on a track cannot be staged"},
		{"HaltNothingInProgress", false, "production", []*androidpublisher.TrackRelease{rel("halted", 0.5, 101)}, "Cannot halt release, no matching in progress release found."},
		{"HaltFirstCompletedRelease", false, "production", []*androidpublisher.TrackRelease{rel("halted", 0.5, 100)}, "The first release on a track cannot be halted"},
		{"UnknownVersionCode", false, "production", []*androidpublisher.TrackRelease{rel("completed", 0, 999)}, "The following APK version codes could not be found: [999]"},
		{"DraftApp", true, "qa", []*androidpublisher.TrackRelease{rel("completed", 0, 101)}, "Only releases with status draft may be created on draft app."},
		{"DraftAppDraftOK", true, "qa", []*androidpublisher.TrackRelease{rel("draft", 0, 101)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := fakestore.PlayAppSpec{PackageName: pkg, Draft: tt.draft}
			if !tt.draft {
				spec.ExistingVersionCodes = []int64{100}
			}
			b := setup(t, spec)
			e := b.edit(t)
			b.upload(t, e, 101)
			_, err := b.svc.Edits.Tracks.Update(pkg, e, tt.track, &androidpublisher.Track{Track: tt.track, Releases: tt.rels}).Context(t.Context()).Do()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			requireGoogleError(t, err, 400, tt.want)
		})
	}
}

func TestEditLifecycle(t *testing.T) {
	t.Parallel()
	t.Run("Expires", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{1}})
		e := b.edit(t)
		require.NoError(t, b.fake.Advance(t.Context(), 7*24*time.Hour))
		_, err := b.svc.Edits.Commit(pkg, e).Context(t.Context()).Do()
		requireGoogleError(t, err, 400, "This edit has expired please create a new Edit.")
	})
	t.Run("NewEditSupersedesSameUsers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{1}})
		first := b.edit(t)
		b.edit(t)
		_, err := b.svc.Edits.Get(pkg, first).Context(t.Context()).Do()
		requireGoogleError(t, err, 400, "This Edit has been deleted")
	})
	t.Run("OutdatedByConsoleChange", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{1}})
		e := b.edit(t)
		require.NoError(t, b.fake.SimulateConsoleChange(pkg))
		_, err := b.svc.Edits.Commit(pkg, e).Context(t.Context()).Do()
		requireGoogleError(t, err, 409, "another edit of this app was committed")
	})
	t.Run("UploadsDieWithTheEdit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{1}})
		e := b.edit(t)
		b.upload(t, e, 5)
		require.NoError(t, b.svc.Edits.Delete(pkg, e).Context(t.Context()).Do())
		e2 := b.edit(t)
		b.upload(t, e2, 5) // code 5 was never committed, so it is not burned
		_, err := b.svc.Edits.Commit(pkg, e2).Context(t.Context()).Do()
		require.NoError(t, err)
		e3 := b.edit(t)
		f, err := androidpkg.BuildAAB(androidpkg.Manifest{Package: pkg, VersionCode: 5})
		require.NoError(t, err)
		_, err = b.svc.Edits.Bundles.Upload(pkg, e3).Media(bytes.NewReader(f), googleapi.ContentType("application/octet-stream")).Context(t.Context()).Do()
		requireGoogleError(t, err, 403, "APK specifies a version code that has already been used.")
	})
}

func TestCommitReviewGating(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		gating  string
		notSent bool
		want    string
	}{
		{"RequiredMissing", fakestore.GatingRequired, false, "Please set the query parameter changesNotSentForReview to true"},
		{"RequiredSet", fakestore.GatingRequired, true, ""},
		{"ForbiddenSet", fakestore.GatingForbidden, true, "changesNotSentForReview must not be set"},
		{"ForbiddenMissing", fakestore.GatingForbidden, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakestore.PlayAppSpec{PackageName: pkg, ReviewGating: tt.gating, ExistingVersionCodes: []int64{1}})
			e := b.edit(t)
			call := b.svc.Edits.Commit(pkg, e)
			if tt.notSent {
				call = call.ChangesNotSentForReview(true)
			}
			_, err := call.Context(t.Context()).Do()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			requireGoogleError(t, err, 400, tt.want)
		})
	}
}

func TestOAuthOnlyForOwnServiceAccount(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{1}})
	other := setup(t, fakestore.PlayAppSpec{})
	// A key from another fake (another service account) signs an assertion
	// this fake's token endpoint must refuse.
	jc, err := google.JWTConfigFromJSON(other.fake.Credentials().PlayServiceAccountJSON, fakestore.ScopeAndroidPublisher)
	require.NoError(t, err)
	jc.TokenURL = b.url + "/token"
	_, err = jc.TokenSource(context.Background()).Token()
	require.ErrorContains(t, err, "invalid_grant")

	// No token at all: Google's 401 envelope.
	resp, err := http.Post(b.url+"/androidpublisher/v3/applications/"+pkg+"/edits", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
