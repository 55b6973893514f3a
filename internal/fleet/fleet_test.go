package fleet

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/sentry"
)

const testKey = "e12d836b15bb49d7bbf99e64295d995b"

var epoch = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

// fakeClock is the simulated clock shared by the fleet and the server.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type crashSeen struct {
	did            string
	crashed        time.Time // crash time, device clock (drift-corrected)
	received       time.Time // simulated receive time
	sameEnvelopeEv bool
}

type initSeen struct {
	started, received time.Time
}

// tally is a minimal ingest: it parses with internal/sentry, deduplicates
// updates by (sid, seq) and events by event_id, and counts per release.
type tally struct {
	clock *fakeClock

	mu        sync.Mutex
	releases  map[string]ReleaseStats
	seen      map[string]bool
	events    map[string]bool
	dids      map[string]map[string]bool // release -> distinct devices
	inits     map[string][]initSeen      // did -> init updates
	crashes   []crashSeen
	bodies    [][]byte
	dropped   int
	rejected  int
	maxInFlow atomic.Int32
	inFlight  atomic.Int32
}

func newTally(clock *fakeClock) *tally {
	return &tally{clock: clock, releases: map[string]ReleaseStats{}, seen: map[string]bool{}, events: map[string]bool{},
		dids: map[string]map[string]bool{}, inits: map[string][]initSeen{}}
}

func (s *tally) add(release string, rs ReleaseStats) {
	cur := s.releases[release]
	cur.add(rs)
	s.releases[release] = cur
}

func (s *tally) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxInFlow.Load()
		if n <= m || s.maxInFlow.CompareAndSwap(m, n) {
			break
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/api/42/envelope/" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if key, err := sentry.ParseAuth(r.Header.Get("X-Sentry-Auth"), r.URL.Query()); err != nil || key != testKey {
		http.Error(w, "bad key", http.StatusUnauthorized)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, sentry.DefaultMaxCompressedBytes))
	if err != nil {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := sentry.DecodeBody(bytes.NewReader(raw), r.Header.Get("Content-Encoding"), 0)
	if err != nil {
		http.Error(w, "encoding", http.StatusUnsupportedMediaType)
		return
	}
	env, err := sentry.ParseEnvelope(body, sentry.Limits{})
	if err != nil {
		s.mu.Lock()
		s.rejected++
		s.mu.Unlock()
		http.Error(w, "bad envelope", http.StatusBadRequest)
		return
	}
	now := s.clock.Now()
	res := env.DecodeAt(now)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies = append(s.bodies, raw)
	s.dropped += len(res.Dropped)
	hasFatal := false
	for _, ev := range res.Events {
		if s.events[ev.EventID] {
			continue
		}
		s.events[ev.EventID] = true
		rs := ReleaseStats{}
		if ev.Crash() {
			rs.CrashEvents = 1
			hasFatal = true
		}
		if flow := ev.Tags["flow"]; flow != "" {
			fs := FlowStats{}
			if ev.Tags["outcome"] == "failure" {
				fs.Failure = 1
			} else {
				fs.Success = 1
			}
			rs.Flows = map[string]FlowStats{flow: fs}
		}
		s.add(ev.Release, rs)
	}
	for _, u := range res.Sessions {
		k := u.SID + "/" + time.UnixMilli(u.Seq).String()
		if s.seen[k] {
			s.add(u.Release, ReleaseStats{DuplicateUpdates: 1})
			continue
		}
		s.seen[k] = true
		if s.dids[u.Release] == nil {
			s.dids[u.Release] = map[string]bool{}
		}
		s.dids[u.Release][u.DID] = true
		switch {
		case u.Init:
			s.add(u.Release, ReleaseStats{SessionsStarted: 1})
			s.inits[u.DID] = append(s.inits[u.DID], initSeen{started: u.Started, received: now})
		case u.Status == sentry.StatusCrashed:
			s.add(u.Release, ReleaseStats{Crashed: 1})
			s.crashes = append(s.crashes, crashSeen{did: u.DID, crashed: u.Timestamp, received: now, sameEnvelopeEv: hasFatal})
		case u.Status == sentry.StatusAbnormal:
			s.add(u.Release, ReleaseStats{Abnormal: 1})
		case u.Status == sentry.StatusExited && u.Errored():
			s.add(u.Release, ReleaseStats{Errored: 1})
		case u.Status == sentry.StatusExited:
			s.add(u.Release, ReleaseStats{Exited: 1})
		}
	}
	for _, a := range res.Aggregates {
		for _, b := range a.Buckets {
			s.add(a.Release, ReleaseStats{SessionsStarted: b.Total(), Exited: b.Exited, Errored: b.Errored, Crashed: b.Crashed, Abnormal: b.Abnormal})
			if s.dids[a.Release] == nil {
				s.dids[a.Release] = map[string]bool{}
			}
			s.dids[a.Release][b.DID] = true
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"id":"x"}`))
}

type testBundle struct {
	clock  *fakeClock
	server *httptest.Server
	tally  *tally
	fleet  *Fleet
}

func baseConfig(clock *fakeClock) Config {
	return Config{
		ProjectID: "42", PublicKey: testKey, Now: clock.Now, Seed: 7, Devices: 150,
		Releases: []Release{
			{Name: "com.acme.app@1.0.0+100", CrashRate: 0.01, AbnormalRate: 0.01, ErrorRate: 0.05,
				FlowFailure: map[string]float64{"checkout": 0.02, "login": 0.01}},
			{Name: "com.acme.app@1.1.0+110", Rollout: Ramp(epoch.Add(time.Hour), 4*time.Hour, 0, 0.5),
				CrashRate: 0.08, AbnormalRate: 0.02, ErrorRate: 0.1,
				FlowFailure: map[string]float64{"checkout": 0.3}},
		},
		Flows:           []string{"checkout", "login"},
		LaunchesPerHour: 3, DuplicateRate: 0.1, GzipRate: 0.3, AggregateShare: 0.25,
	}
}

func setup(t *testing.T, mutate func(*Config)) *testBundle {
	t.Helper()
	clock := &fakeClock{t: epoch}
	tl := newTally(clock)
	srv := httptest.NewServer(tl)
	t.Cleanup(srv.Close)
	cfg := baseConfig(clock)
	cfg.BaseURL = srv.URL
	if mutate != nil {
		mutate(&cfg)
	}
	f, err := New(cfg)
	require.NoError(t, err)
	return &testBundle{clock: clock, server: srv, tally: tl, fleet: f}
}

// run advances the shared clock step by step and returns the last Stats.
func (b *testBundle) run(t *testing.T, steps int, d time.Duration) []Stats {
	t.Helper()
	var all []Stats
	for range steps {
		b.clock.Advance(d)
		st, err := b.fleet.Step(context.Background(), d)
		require.NoError(t, err)
		all = append(all, st)
	}
	return all
}

func TestFleetTalliesEqualStats(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.run(t, 60, 5*time.Minute)
	tot := b.fleet.Totals()

	require.Empty(t, tot.Failed)
	require.Zero(t, tot.Pending)
	require.Equal(t, tot.Requests, tot.Accepted)
	require.Zero(t, b.tally.dropped, "every item the fleet sends is valid")
	require.Zero(t, b.tally.rejected)
	require.Equal(t, tot.Releases, b.tally.releases)

	// The scenario exercises every feature, or the equality above is weak.
	old, next := tot.Releases["com.acme.app@1.0.0+100"], tot.Releases["com.acme.app@1.1.0+110"]
	require.Positive(t, old.SessionsStarted)
	require.Positive(t, next.SessionsStarted)
	require.Positive(t, next.Crashed)
	require.Positive(t, next.CrashEvents)
	require.Positive(t, next.Abnormal)
	require.Positive(t, next.Errored)
	require.Positive(t, old.Exited)
	require.Positive(t, next.Flows["checkout"].Failure)
	require.Positive(t, old.Flows["login"].Success)
	require.Positive(t, tot.Duplicates)
	require.Positive(t, old.DuplicateUpdates+next.DuplicateUpdates)
	require.Positive(t, tot.Gzipped)
	require.Less(t, tot.Gzipped, tot.Requests)
	// The crash rate shows: 1.1 crashes several times more often than 1.0.
	require.Greater(t, float64(next.Crashed)/float64(next.SessionsStarted), 2*float64(old.Crashed+1)/float64(old.SessionsStarted))
	require.LessOrEqual(t, int(b.tally.maxInFlow.Load()), 4, "bounded concurrency")
}

func TestFleetCrashReportedOnNextLaunch(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.AggregateShare = -1 })
	b.run(t, 48, 5*time.Minute)
	require.NotEmpty(t, b.tally.crashes)
	for _, c := range b.tally.crashes {
		require.True(t, c.sameEnvelopeEv, "the crash event travels with the crashed update")
		// The next launch is the device's first init after the crash; the
		// crash report arrives with it, not earlier.
		var next *initSeen
		for i, in := range b.tally.inits[c.did] {
			if in.started.After(c.crashed) && (next == nil || in.started.Before(next.started)) {
				next = &b.tally.inits[c.did][i]
			}
		}
		require.NotNil(t, next, "crash at %v reported without a next launch", c.crashed)
		require.Equal(t, next.received, c.received, "crash at %v: reported in the step of the next launch", c.crashed)
		require.True(t, c.received.After(c.crashed))
	}
}

func TestFleetDeterministic(t *testing.T) {
	t.Parallel()
	bodies := func(seed uint64) [][]byte {
		b := setup(t, func(c *Config) { c.Seed = seed; c.Devices = 60 })
		b.run(t, 8, 15*time.Minute)
		out := slices.Clone(b.tally.bodies)
		slices.SortFunc(out, bytes.Compare)
		return out
	}
	a, again, other := bodies(1), bodies(1), bodies(2)
	require.NotEmpty(t, a)
	require.Equal(t, a, again)
	require.NotEqual(t, a, other)
}

func TestFleetAdoptionFollowsRollout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.Devices = 400
		c.Flows = nil
		c.Releases[1].Rollout = Constant(0.3)
	})
	b.run(t, 2, 30*time.Minute)
	// Eligibility is fixed from the start, so no device is on both releases.
	onNew := float64(len(b.tally.dids["com.acme.app@1.1.0+110"]))
	onOld := float64(len(b.tally.dids["com.acme.app@1.0.0+100"]))
	require.Greater(t, onNew+onOld, 300.0)
	require.InDelta(t, 0.3, onNew/(onNew+onOld), 0.07)
}

func TestFleetRequestCap(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.MaxRequestsPerStep = 20; c.Devices = 80 })
	steps := b.run(t, 3, time.Hour)
	require.Positive(t, steps[0].Pending, "a busy hour exceeds 20 requests")
	for _, st := range steps {
		require.LessOrEqual(t, st.Requests, 20)
	}
	// Quiet steps (no new launches) drain the backlog.
	b.fleet.cfg.MaxRequestsPerStep = 1_000_000
	b.run(t, 1, time.Nanosecond)
	tot := b.fleet.Totals()
	require.Zero(t, tot.Pending)
	require.Equal(t, tot.Releases, b.tally.releases)
}

func TestFleetServerFailuresNotCounted(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	clock := &fakeClock{t: epoch}
	cfg := baseConfig(clock)
	cfg.BaseURL = srv.URL
	f, err := New(cfg)
	require.NoError(t, err)
	clock.Advance(time.Hour)
	st, err := f.Step(context.Background(), time.Hour)
	require.NoError(t, err)
	require.Positive(t, st.Failed[http.StatusServiceUnavailable])
	require.Zero(t, st.Accepted)
	require.Empty(t, st.Releases)
}

func TestFleetNeverFollowsRedirects(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	clock := &fakeClock{t: epoch}
	cfg := baseConfig(clock)
	cfg.BaseURL = redirect.URL
	cfg.Devices = 20
	f, err := New(cfg)
	require.NoError(t, err)
	clock.Advance(time.Hour)
	st, err := f.Step(context.Background(), time.Hour)
	require.NoError(t, err)
	require.Positive(t, st.Failed[http.StatusTemporaryRedirect])
	require.Zero(t, elsewhere.Load())
}

func TestFleetStepErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, err := b.fleet.Step(context.Background(), 0)
	require.ErrorContains(t, err, "must be positive")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.clock.Advance(2 * time.Hour)
	_, err = b.fleet.Step(ctx, 2*time.Hour)
	require.ErrorIs(t, err, context.Canceled)

	b.clock.Advance(-3 * time.Hour)
	_, err = b.fleet.Step(context.Background(), time.Minute)
	require.ErrorContains(t, err, "clock went back")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: epoch}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"bad base", func(c *Config) { c.BaseURL = "ftp://x" }, "BaseURL"},
		{"query in base", func(c *Config) { c.BaseURL = "http://127.0.0.1?x=1" }, "BaseURL"},
		{"project", func(c *Config) { c.ProjectID = "abc" }, "ProjectID"},
		{"key", func(c *Config) { c.PublicKey = "" }, "PublicKey"},
		{"clock", func(c *Config) { c.Now = nil }, "Now"},
		{"releases", func(c *Config) { c.Releases = nil }, "release"},
		{"release name", func(c *Config) { c.Releases[0].Name = "latest" }, "not a valid"},
		{"rate", func(c *Config) { c.Releases[0].CrashRate = 1.5 }, "rates"},
		{"rates sum", func(c *Config) { c.Releases[0].CrashRate, c.Releases[0].AbnormalRate = 0.6, 0.6 }, "over 1"},
		{"devices", func(c *Config) { c.Devices = -1 }, "Devices"},
		{"launches", func(c *Config) { c.LaunchesPerHour = -1 }, "LaunchesPerHour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(clock)
			cfg.BaseURL = "http://127.0.0.1:1"
			cfg.Releases = slices.Clone(cfg.Releases)
			tt.mutate(&cfg)
			_, err := New(cfg)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRamp(t *testing.T) {
	t.Parallel()
	r := Ramp(epoch, time.Hour, 0.1, 0.5)
	tests := []struct {
		at   time.Duration
		want float64
	}{{-time.Minute, 0.1}, {0, 0.1}, {30 * time.Minute, 0.3}, {time.Hour, 0.5}, {5 * time.Hour, 0.5}}
	for _, tt := range tests {
		require.InDelta(t, tt.want, r(epoch.Add(tt.at)), 1e-9, tt.at)
	}
	require.InDelta(t, 0.7, Constant(0.7)(epoch), 0)
}

// TestFleetRetriesFailedEnvelopes has the server refuse every third
// request for a while: with RetryFailed the refused envelopes are sent
// again at the next Step, so in the end the server has everything once
// and the ground truth still equals what it acknowledged.
func TestFleetRetriesFailedEnvelopes(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: epoch}
	tl := newTally(clock)
	var n, failing atomic.Int64
	failing.Store(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() == 1 && n.Add(1)%3 == 0 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		tl.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := baseConfig(clock)
	cfg.BaseURL, cfg.RetryFailed = srv.URL, true
	f, err := New(cfg)
	require.NoError(t, err)
	b := &testBundle{clock: clock, server: srv, tally: tl, fleet: f}
	b.run(t, 20, 5*time.Minute)
	require.Positive(t, f.Totals().Failed[http.StatusServiceUnavailable])
	require.Positive(t, f.Totals().Pending, "refused envelopes wait for the next step")
	failing.Store(0)
	b.run(t, 2, 5*time.Minute)
	tot := f.Totals()
	require.Zero(t, tot.Pending)
	require.Equal(t, tot.Releases, tl.releases, "everything arrived once")
}
