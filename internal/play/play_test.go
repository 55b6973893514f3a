package play_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/fakestore/androidpkg"
	"github.com/ripcordhq/ripcord/internal/fakestore/discovery"
	"github.com/ripcordhq/ripcord/internal/fakestore/speccheck"
	"github.com/ripcordhq/ripcord/internal/play"
)

const pkg = "com.example.exam"

type testBundle struct {
	fake   *fakestore.Server
	client *play.Client
	rec    *speccheck.Recorder
	dir    string
	url    string

	mu     sync.Mutex
	sleeps []time.Duration
}

func (b *testBundle) waits() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Duration(nil), b.sleeps...)
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	b := &testBundle{dir: t.TempDir(), url: "http://" + ts.Listener.Addr().String()}
	fake, err := fakestore.New(fakestore.Config{StateDir: b.dir, BaseURL: b.url})
	require.NoError(t, err)
	ts.Config.Handler = fake.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { require.NoError(t, fake.Close()) })
	require.NoError(t, fake.CreatePlayApp(fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{100}}))
	b.fake = fake
	b.rec = &speccheck.Recorder{}
	b.client = b.newClient(t, fake.Credentials().PlayServiceAccountJSON)
	return b
}

func (b *testBundle) newClient(t *testing.T, sa []byte) *play.Client {
	t.Helper()
	c, err := play.New(t.Context(), play.Config{
		ServiceAccountJSON: sa,
		Endpoint:           b.url + "/",
		ReportingEndpoint:  b.url + "/",
		HTTPClient:         &http.Client{Transport: b.rec, Timeout: 10 * time.Second},
		MaxAttempts:        4,
		Sleep: func(ctx context.Context, d time.Duration) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.sleeps = append(b.sleeps, d)
			return nil
		},
	})
	require.NoError(t, err)
	return c
}

func bundle(t *testing.T, code int64) []byte {
	t.Helper()
	f, err := androidpkg.BuildAAB(androidpkg.Manifest{Package: pkg, VersionCode: code, VersionName: "1.0"})
	require.NoError(t, err)
	return f
}

// openEdits counts edits left open in the fake's state.
func openEdits(t *testing.T, b *testBundle) int {
	t.Helper()
	st := fakeState(t, b)
	n := 0
	for _, app := range st.State.Play {
		for _, e := range app.Edits {
			if e.State == "open" {
				n++
			}
		}
	}
	return n
}

type fakeStateView struct {
	State struct {
		Play map[string]struct {
			Edits map[string]struct {
				State string `json:"state"`
			} `json:"edits"`
			MaxVersionCode int64 `json:"max_version_code"`
		} `json:"play"`
	} `json:"state"`
}

func fakeState(t *testing.T, b *testBundle) fakeStateView {
	t.Helper()
	var v fakeStateView
	resp, err := http.Get(b.url + "/_fake/state")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, jsonDecode(resp, &v))
	return v
}

func TestScenarioStagedRollout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	code, err := b.client.Upload(ctx, play.UploadParams{Package: pkg, File: bundle(t, 101), Track: play.TrackProduction, Status: play.StatusInProgress, UserFraction: 0.01})
	require.NoError(t, err)
	require.EqualValues(t, 101, code)

	require.NoError(t, b.client.SetRollout(ctx, pkg, play.TrackProduction, 101, 0.2))
	require.NoError(t, b.client.Halt(ctx, pkg, play.TrackProduction, 101))
	tr, err := b.client.GetTrack(ctx, pkg, play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, play.StatusHalted, tr.Find(101).Status)
	require.Equal(t, 0.2, tr.Find(101).UserFraction)
	require.Equal(t, play.StatusCompleted, tr.Find(100).Status, "the previous full release keeps serving")

	require.NoError(t, b.client.Resume(ctx, pkg, play.TrackProduction, 101, 0.5))
	require.NoError(t, b.client.Complete(ctx, pkg, play.TrackProduction, 101))
	tr, err = b.client.GetTrack(ctx, pkg, play.TrackProduction)
	require.NoError(t, err)
	require.Len(t, tr.Releases, 1)
	require.Equal(t, play.StatusCompleted, tr.Releases[0].Status)
	require.Equal(t, []int64{101}, tr.Releases[0].VersionCodes)

	high, err := b.client.HighestVersionCode(ctx, pkg)
	require.NoError(t, err)
	require.EqualValues(t, 101, high)
	require.Zero(t, openEdits(t, b), "no edit left open")

	// State survives a restart of the fake on the same directory.
	ts2 := httptest.NewUnstartedServer(nil)
	url2 := "http://" + ts2.Listener.Addr().String()
	again, err := fakestore.New(fakestore.Config{StateDir: b.dir, BaseURL: url2})
	require.NoError(t, err)
	ts2.Config.Handler = again.Handler()
	ts2.Start()
	t.Cleanup(ts2.Close)
	require.Equal(t, b.fake.Credentials().PlayClientEmail, again.Credentials().PlayClientEmail, "same key after restart")
	c2, err := play.New(ctx, play.Config{ServiceAccountJSON: again.Credentials().PlayServiceAccountJSON, Endpoint: url2 + "/"})
	require.NoError(t, err)
	tr2, err := c2.GetTrack(ctx, pkg, play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, tr, tr2)

	checkSpecs(t, b)
}

func checkSpecs(t *testing.T, b *testBundle) {
	t.Helper()
	dir := speccheck.SpecsDir(t)
	pub, err := discovery.Load(filepath.Join(dir, "androidpublisher-v3.json"))
	require.NoError(t, err)
	rep, err := discovery.Load(filepath.Join(dir, "playdeveloperreporting-v1beta1.json"))
	require.NoError(t, err)
	seen := speccheck.CheckGoogle(t, []*discovery.Doc{pub, rep}, b.rec.Exchanges())
	require.NotEmpty(t, seen)
	t.Logf("spec-checked methods: %v", seen)
}

func TestTokenFromKeyFileTokenURI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.client.GetTrack(t.Context(), pkg, play.TrackProduction)
	require.NoError(t, err)
	var tokens int
	for _, e := range b.rec.Exchanges() {
		if e.Path == "/token" {
			tokens++
			require.Equal(t, 200, e.Status)
		}
	}
	require.Equal(t, 1, tokens, "the token comes from the key file's token_uri, once, then is reused")
}

func TestUploadRefused(t *testing.T) {
	t.Parallel()
	wrongPkg, err := androidpkg.BuildAAB(androidpkg.Manifest{Package: "com.other", VersionCode: 500})
	require.NoError(t, err)
	tests := []struct {
		name string
		file func(t *testing.T) []byte
		want error
	}{
		{"VersionCodeUsed", func(t *testing.T) []byte { return bundle(t, 100) }, play.ErrVersionCodeUsed},
		{"VersionCodeLower", func(t *testing.T) []byte { return bundle(t, 42) }, play.ErrVersionCodeUsed},
		{"WrongPackage", func(*testing.T) []byte { return wrongPkg }, play.ErrPermission},
		{"NotABundle", func(*testing.T) []byte { return []byte("hello") }, play.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.client.Upload(t.Context(), play.UploadParams{Package: pkg, File: tt.file(t), Track: play.TrackInternal})
			require.ErrorIs(t, err, tt.want)
			var pe *play.Error
			require.ErrorAs(t, err, &pe)
			require.NotEmpty(t, pe.Message, "carries the store's message")
			require.Zero(t, openEdits(t, b), "failed edit deleted")
			require.Empty(t, b.waits(), "not retried")
		})
	}
}

func TestUnknownApp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.client.GetTrack(t.Context(), "com.unknown", play.TrackProduction)
	require.ErrorIs(t, err, play.ErrNotFound)
}

func TestHaltRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	// A completed release is not halted by Halt (it is not in progress).
	err := b.client.Halt(ctx, pkg, play.TrackProduction, 100)
	require.ErrorIs(t, err, play.ErrNoReleaseToHalt)
	// The first release of the internal track cannot be staged.
	_, err = b.client.Upload(ctx, play.UploadParams{Package: pkg, File: bundle(t, 101), Track: play.TrackInternal, Status: play.StatusInProgress, UserFraction: 0.5})
	require.ErrorIs(t, err, play.ErrInvalid)
	require.ErrorContains(t, err, "The first release on a track cannot be staged")
	require.Zero(t, openEdits(t, b))
}

func TestRevokedCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.fake.SetCredentialsRevoked(true))
	_, err := b.client.GetTrack(t.Context(), pkg, play.TrackProduction)
	require.ErrorIs(t, err, play.ErrAuth)
	require.Empty(t, b.waits(), "auth failures are not retried")
}

func TestFaultsReachSameStateWithoutDuplicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault fakestore.Fault
		waits int
	}{
		{"LostCommitResponse", fakestore.Fault{Op: "androidpublisher.edits.commit", Kind: fakestore.FaultLostResponse, Count: 1}, 1},
		{"RateLimited", fakestore.Fault{Op: "androidpublisher.edits.commit", Kind: fakestore.FaultStatus, Status: 429, RetryAfterSeconds: 7, Count: 2}, 2},
		{"Unavailable", fakestore.Fault{Op: "androidpublisher.edits.tracks.update", Kind: fakestore.FaultStatus, Status: 503, Count: 1}, 1},
		{"Conflict", fakestore.Fault{Op: "androidpublisher.edits.insert", Kind: fakestore.FaultStatus, Status: 409, Count: 1}, 1},
		{"LostUploadResponse", fakestore.Fault{Op: "androidpublisher.edits.bundles.upload", Kind: fakestore.FaultLostResponse, Count: 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			require.NoError(t, b.fake.AddFault(tt.fault))
			_, err := b.client.Upload(ctx, play.UploadParams{Package: pkg, File: bundle(t, 101), Track: play.TrackProduction, Status: play.StatusInProgress, UserFraction: 0.1})
			require.NoError(t, err)
			require.NoError(t, b.client.Halt(ctx, pkg, play.TrackProduction, 101))

			tr, err := b.client.GetTrack(ctx, pkg, play.TrackProduction)
			require.NoError(t, err)
			require.Equal(t, play.StatusHalted, tr.Find(101).Status)
			require.Equal(t, 2, b.fake.CountEvents("androidpublisher.edits.commit"), "one commit per action, none doubled")
			require.Len(t, b.waits(), tt.waits)
			if tt.fault.RetryAfterSeconds > 0 {
				require.Equal(t, 7*time.Second, b.waits()[0], "Retry-After honoured")
			}
			require.Equal(t, tt.fault.Count, b.fake.Faults()[0].Hits)
			require.Zero(t, openEdits(t, b))
		})
	}
}

func TestServerErrorStormGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.fake.AddFault(fakestore.Fault{Op: "androidpublisher.edits.tracks.get", Kind: fakestore.FaultStatus, Status: 500}))
	err := b.client.Halt(t.Context(), pkg, play.TrackProduction, 100)
	require.ErrorContains(t, err, "gave up after 4 attempts")
	require.Len(t, b.waits(), 3)
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, b.waits())
	require.Zero(t, openEdits(t, b), "every attempt's edit deleted")
}

func TestVitals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	now := time.Date(2026, 6, 10, 15, 30, 0, 0, time.UTC)
	require.NoError(t, b.fake.SetTime(ctx, now))
	require.NoError(t, b.fake.SetVitals(pkg, fakestore.VitalsSpec{VersionCode: 100, CrashRate: 0.001, ANRRate: 0.002, DistinctUsers: 5000}))
	require.NoError(t, b.fake.SetVitals(pkg, fakestore.VitalsSpec{VersionCode: 101, CrashRate: 0.03, ANRRate: 0.004, DistinctUsers: 800}))

	tests := []struct {
		name      string
		q         play.VitalsQuery
		rows      int
		rate      float64
		freshness time.Time
	}{
		{"HourlyCrash", play.VitalsQuery{Package: pkg, Metric: play.MetricCrashRate, Period: play.Hourly, Start: now.Add(-6 * time.Hour), End: now, VersionCode: 101}, 3, 0.03, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)},
		{"DailyANR", play.VitalsQuery{Package: pkg, Metric: play.MetricANRRate, Period: play.Daily, Start: now.AddDate(0, 0, -4), End: now, VersionCode: 100}, 3, 0.002, time.Date(2026, 6, 9, 7, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := b.client.QueryVitals(ctx, tt.q)
			require.NoError(t, err)
			require.True(t, tt.freshness.Equal(v.FreshUntil), "fresh until %v", v.FreshUntil)
			require.Len(t, v.Rows, tt.rows)
			for _, r := range v.Rows {
				require.Equal(t, tt.q.VersionCode, r.VersionCode)
				require.Equal(t, tt.rate, r.Rate)
				require.Positive(t, r.DistinctUsers)
			}
		})
	}
	checkSpecs(t, b)
}
