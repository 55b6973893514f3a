package play_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
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
	return b.newClientTimeout(t, sa, 10*time.Second)
}

// newClientTimeout returns a client whose every call gives up after timeout.
func (b *testBundle) newClientTimeout(t *testing.T, sa []byte, timeout time.Duration) *play.Client {
	t.Helper()
	c, err := play.New(t.Context(), play.Config{
		ServiceAccountJSON: sa,
		Endpoint:           b.url + "/",
		ReportingEndpoint:  b.url + "/",
		HTTPClient:         &http.Client{Transport: b.rec, Timeout: timeout},
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

// TestScenarioStagedRollout runs the Play release scenario (edit → upload →
// staged rollout → halt → resume → complete) through the real connector
// against every target: the fake always, Google Play when the
// RIPCORD_REAL_PLAY_* variables name a service account, an app and a bundle
// (see realPlayTarget).
func TestScenarioStagedRollout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		target func(t *testing.T) playTarget
	}{
		{"Fake", newFakePlayTarget},
		{"Real", newRealPlayTarget},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runPlayScenario(t, tt.target(t))
		})
	}
}

// runPlayScenario is the scenario every target runs.
func runPlayScenario(t *testing.T, tg playTarget) {
	t.Helper()
	ctx := t.Context()
	c, pkg, track := tg.client(t), tg.pkg(), tg.track()
	file, want := tg.bundle(t)

	code, err := c.Upload(ctx, play.UploadParams{Package: pkg, File: file, Track: track, Status: play.StatusInProgress, UserFraction: 0.01})
	require.NoError(t, err)
	require.Equal(t, want, code)

	require.NoError(t, c.SetRollout(ctx, pkg, track, code, 0.2))
	require.NoError(t, c.Halt(ctx, pkg, track, code))
	tr, err := c.GetTrack(ctx, pkg, track)
	require.NoError(t, err)
	require.Equal(t, play.StatusHalted, tr.Find(code).Status)
	require.Equal(t, 0.2, tr.Find(code).UserFraction)
	require.NotEmpty(t, otherReleases(tr, code, play.StatusCompleted), "the previous full release keeps serving")

	require.NoError(t, c.Resume(ctx, pkg, track, code, 0.5))
	tr, err = c.GetTrack(ctx, pkg, track)
	require.NoError(t, err)
	require.Equal(t, play.StatusInProgress, tr.Find(code).Status)
	require.Equal(t, 0.5, tr.Find(code).UserFraction)

	require.NoError(t, c.Complete(ctx, pkg, track, code))
	tr, err = c.GetTrack(ctx, pkg, track)
	require.NoError(t, err)
	require.Equal(t, play.StatusCompleted, tr.Find(code).Status)
	require.Empty(t, otherReleases(tr, code, play.StatusCompleted, play.StatusInProgress, play.StatusHalted), "the completed release replaced the others")

	high, err := c.HighestVersionCode(ctx, pkg)
	require.NoError(t, err)
	require.Equal(t, code, high)
	tg.afterScenario(t, tr)
}

// otherReleases returns the track's releases in one of statuses that do not
// serve versionCode.
func otherReleases(tr *play.Track, versionCode int64, statuses ...string) []play.Release {
	var out []play.Release
	for _, r := range tr.Releases {
		if !slices.Contains(r.VersionCodes, versionCode) && slices.Contains(statuses, r.Status) {
			out = append(out, r)
		}
	}
	return out
}

// playTarget is a store the Play scenario runs against. The Play scenario
// needs no store-side step (no clock, no review); what differs per target
// is where the bundle comes from and what can be checked afterwards.
type playTarget interface {
	client(t *testing.T) *play.Client
	pkg() string
	track() string
	// bundle returns the AAB to upload and the versionCode it carries.
	bundle(t *testing.T) ([]byte, int64)
	// afterScenario makes the checks only this target can make; end is the
	// track as the scenario left it.
	afterScenario(t *testing.T, end *play.Track)
}

// fakePlayTarget is the fake store, with an app whose versionCode 100 is
// live on production, so a staged rollout is allowed.
type fakePlayTarget struct{ b *testBundle }

var _ playTarget = (*fakePlayTarget)(nil)

func newFakePlayTarget(t *testing.T) playTarget { return &fakePlayTarget{b: setup(t)} }

func (f *fakePlayTarget) client(*testing.T) *play.Client { return f.b.client }
func (f *fakePlayTarget) pkg() string                    { return pkg }
func (f *fakePlayTarget) track() string                  { return play.TrackProduction }
func (f *fakePlayTarget) bundle(t *testing.T) ([]byte, int64) {
	return bundle(t, 101), 101
}

// afterScenario checks what only the fake shows: no edit left open, one
// commit per action, the state surviving a restart, and the spec.
func (f *fakePlayTarget) afterScenario(t *testing.T, end *play.Track) {
	t.Helper()
	b, ctx := f.b, t.Context()
	require.Zero(t, openEdits(t, b), "no edit left open")
	require.Equal(t, 5, b.fake.CountEvents("androidpublisher.edits.commit"), "upload, rollout, halt, resume, complete: one commit each")

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
	require.Equal(t, end, tr2)

	checkSpecs(t, b)
}

// Environment of the real Google Play run; see realPlayTarget.
const (
	envPlayServiceAccount = "RIPCORD_REAL_PLAY_SERVICE_ACCOUNT"
	envPlayPackage        = "RIPCORD_REAL_PLAY_PACKAGE"
	envPlayAAB            = "RIPCORD_REAL_PLAY_AAB"
	envPlayTrack          = "RIPCORD_REAL_PLAY_TRACK"
)

// realPlayTarget runs the scenario against Google Play itself. It runs only
// when these variables are set, and is skipped otherwise (real stores are
// never part of CI):
//
//	RIPCORD_REAL_PLAY_SERVICE_ACCOUNT  path to the service account's JSON key; the
//	                                   account needs release permissions on the app
//	RIPCORD_REAL_PLAY_PACKAGE          package name of a test app that already has a
//	                                   completed release on the track (Play refuses
//	                                   to stage a track's first release)
//	RIPCORD_REAL_PLAY_AAB              path to a signed AAB of that package whose
//	                                   versionCode exceeds every code ever uploaded
//	RIPCORD_REAL_PLAY_TRACK            track to release on; default production
//
// The run really publishes: it rolls the bundle out to 1 %, 20 %, halts,
// resumes at 50 % and completes. Use a test app. Each run needs a new AAB
// with a higher versionCode.
type realPlayTarget struct {
	c     *play.Client
	pack  string
	trk   string
	file  []byte
	vcode int64
}

var _ playTarget = (*realPlayTarget)(nil)

func newRealPlayTarget(t *testing.T) playTarget {
	t.Helper()
	saPath, pack, aabPath := os.Getenv(envPlayServiceAccount), os.Getenv(envPlayPackage), os.Getenv(envPlayAAB)
	if saPath == "" || pack == "" || aabPath == "" {
		t.Skipf("skipping the real Google Play run: set %s (service-account key file), %s and %s (a signed AAB with a new versionCode) to run it against a test app",
			envPlayServiceAccount, envPlayPackage, envPlayAAB)
	}
	sa, err := os.ReadFile(saPath)
	require.NoError(t, err, "%s", envPlayServiceAccount)
	file, err := os.ReadFile(aabPath)
	require.NoError(t, err, "%s", envPlayAAB)
	m, err := androidpkg.ReadAAB(bytes.NewReader(file), int64(len(file)), androidpkg.Limits{})
	require.NoError(t, err, "%s must be an Android App Bundle", envPlayAAB)
	require.Equal(t, pack, m.Package, "%s must be a bundle of %s", envPlayAAB, envPlayPackage)
	c, err := play.New(t.Context(), play.Config{ServiceAccountJSON: sa})
	require.NoError(t, err)
	return &realPlayTarget{c: c, pack: pack, trk: cmp.Or(os.Getenv(envPlayTrack), play.TrackProduction), file: file, vcode: m.VersionCode}
}

func (r *realPlayTarget) client(*testing.T) *play.Client    { return r.c }
func (r *realPlayTarget) pkg() string                       { return r.pack }
func (r *realPlayTarget) track() string                     { return r.trk }
func (r *realPlayTarget) bundle(*testing.T) ([]byte, int64) { return r.file, r.vcode }
func (r *realPlayTarget) afterScenario(t *testing.T, _ *play.Track) {
	t.Logf("real Google Play: not checked (the fake alone shows them): open edits, commit counts, restart, spec validation")
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

// TestConcurrentEditsRedone runs two clients of one service account at
// once, as two Ripcord jobs reading and moving one app's tracks do: each
// new edit supersedes the other's open one ("This Edit has been deleted."),
// and the connector redoes the superseded operation, so every call
// succeeds and no edit is left open.
func TestConcurrentEditsRedone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var superseded atomic.Int64
	newClient := func() *play.Client {
		c, err := play.New(t.Context(), play.Config{
			ServiceAccountJSON: b.fake.Credentials().PlayServiceAccountJSON, Endpoint: b.url + "/", MaxAttempts: 50,
			Sleep: func(ctx context.Context, d time.Duration) error {
				superseded.Add(1)
				time.Sleep(time.Duration(rand.IntN(3)+1) * time.Millisecond) // desynchronise the two
				return nil
			},
		})
		require.NoError(t, err)
		return c
	}
	clients := []*play.Client{newClient(), newClient()}
	var wg sync.WaitGroup
	errs := make(chan error, 2*20)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				tr, err := c.GetTrack(t.Context(), pkg, play.TrackProduction)
				if err == nil && tr.Find(100) == nil {
					err = fmt.Errorf("production lost 100: %+v", tr)
				}
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Zero(t, openEdits(t, b))
	t.Logf("%d superseded edits redone", superseded.Load())
}
