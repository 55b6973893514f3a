package daemon_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/fleet"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/sentry"
)

// sentryApp creates "shop" (com.acme.shop on both platforms) and returns
// its DSNs parsed.
func (tb *testBundle) sentryApp(t testing.TB) (ios, android sentry.DSN) {
	t.Helper()
	tb.createApp(t)
	var a httpapi.App
	resp := tb.call(t, tb.admin, "GET", "/api/v1/apps/shop", nil, &a)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ios, err := sentry.ParseDSN(a.DSN["ios"])
	require.NoError(t, err, "dsn %v", a.DSN)
	android, err = sentry.ParseDSN(a.DSN["android"])
	require.NoError(t, err)
	return ios, android
}

type wireSession struct {
	SID       string         `json:"sid"`
	DID       string         `json:"did,omitempty"`
	Seq       int64          `json:"seq"`
	Init      bool           `json:"init,omitempty"`
	Started   string         `json:"started"`
	Timestamp string         `json:"timestamp"`
	Status    string         `json:"status"`
	Errors    int64          `json:"errors"`
	Attrs     map[string]any `json:"attrs"`
}

// session builds a session item the way SDKs do.
func session(sid, did, release string, seq int64, init bool, status string, errors int64, started time.Time) sentry.OutItem {
	b, _ := json.Marshal(wireSession{SID: sid, DID: did, Seq: seq, Init: init, Started: started.UTC().Format(time.RFC3339Nano),
		Timestamp: started.Add(time.Duration(seq) * time.Second).UTC().Format(time.RFC3339Nano), Status: status, Errors: errors,
		Attrs: map[string]any{"release": release, "environment": "production"}})
	return sentry.OutItem{Type: sentry.ItemSession, Payload: b, ImplicitSize: true}
}

func envelope(t testing.TB, sentAt time.Time, items ...sentry.OutItem) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, sentry.WriteEnvelope(&buf, map[string]any{"sent_at": sentAt.UTC().Format(time.RFC3339Nano)}, items...))
	return buf.Bytes()
}

// post sends an envelope to path with the headers given and returns the
// answer and its body.
func (tb *testBundle) post(t testing.TB, path string, body io.Reader, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", tb.url+path, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(data)
}

func auth(d sentry.DSN) map[string]string {
	return map[string]string{"X-Sentry-Auth": d.AuthHeader("test/1.0")}
}

func envelopePath(d sentry.DSN) string { return "/api/" + d.ProjectID + "/envelope/" }

// counts reads a release's counts per metric on a platform back through
// the API.
func (tb *testBundle) counts(t testing.TB, version, platform string) map[string]healthwatch.MetricReport {
	t.Helper()
	var rep healthwatch.Report
	resp := tb.call(t, tb.admin, "GET", "/api/v1/apps/shop/releases/"+version+"/health?platform="+platform, nil, &rep)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]healthwatch.MetricReport{}
	for _, p := range rep.Platforms {
		for _, m := range p.Metrics {
			out[m.Metric] = m
		}
	}
	return out
}

func TestSentryDSNInAppShow(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ios, android := tb.sentryApp(t)
	require.Equal(t, "http", ios.Scheme)
	require.Equal(t, strings.TrimPrefix(tb.url, "http://"), ios.Host)
	require.Regexp(t, `^[0-9a-f]{32}$`, ios.PublicKey)
	require.NotEqual(t, ios.PublicKey, android.PublicKey)
	require.NotEqual(t, ios.ProjectID, android.ProjectID)

	req, _ := http.NewRequest("GET", tb.url+"/api/v1/apps", nil)
	req.Header.Set("Authorization", "Bearer "+tb.admin)
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "ripcord.example.com, internal:8080")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var l httpapi.List[httpapi.App]
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&l))
	require.Len(t, l.Items, 1)
	require.Equal(t, fmt.Sprintf("https://%s@ripcord.example.com/%s", android.PublicKey, android.ProjectID), l.Items[0].DSN["android"],
		"behind a proxy the DSN names the proxy's scheme and host")
}

// TestSentryEnvelopeStatusCodes answers every case as Sentry does.
func TestSentryEnvelopeStatusCodes(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ios, android := tb.sentryApp(t)
	now := time.Now().UTC()
	good := func() []byte {
		return envelope(t, now, session("0b7b2b51-7f7d-4b59-9a4a-6f0e1f2a3b4c", "dev-1", "com.acme.shop@1.2.0+120", 0, true, "ok", 0, now.Add(-time.Minute)))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(good())
	require.NoError(t, zw.Close())
	wrong := ios
	wrong.PublicKey = strings.Repeat("ab", 16)

	tests := []struct {
		name    string
		path    string
		body    []byte
		headers map[string]string
		status  int
	}{
		{"OK", envelopePath(ios), good(), auth(ios), http.StatusOK},
		{"OKGzip", envelopePath(ios), gz.Bytes(), map[string]string{"X-Sentry-Auth": ios.AuthHeader("t"), "Content-Encoding": "gzip"}, http.StatusOK},
		{"OKQueryKey", envelopePath(ios) + "?sentry_key=" + ios.PublicKey, good(), nil, http.StatusOK},
		{"OKEnvelopeDSN", envelopePath(ios), append([]byte(`{"dsn":"`+ios.String()+`"}`+"\n"), good()[bytes.IndexByte(good(), '\n')+1:]...), nil, http.StatusOK},
		{"ErrUnparseable", envelopePath(ios), []byte("{not json\n"), auth(ios), http.StatusBadRequest},
		{"ErrProjectIDNotANumber", "/api/shop/envelope/", good(), auth(ios), http.StatusBadRequest},
		{"ErrAuthMissing", envelopePath(ios), good(), nil, http.StatusUnauthorized},
		{"ErrAuthInvalid", envelopePath(ios), good(), map[string]string{"X-Sentry-Auth": "Sentry sentry_key=not!hex"}, http.StatusUnauthorized},
		{"ErrAuthDisagrees", envelopePath(ios) + "?sentry_key=" + android.PublicKey, good(), auth(ios), http.StatusUnauthorized},
		{"ErrEnvelopeDSNDisagrees", envelopePath(ios), append([]byte(`{"dsn":"`+android.String()+`"}`+"\n"), good()[bytes.IndexByte(good(), '\n')+1:]...), auth(ios), http.StatusUnauthorized},
		{"ErrUnknownKey", envelopePath(ios), good(), auth(wrong), http.StatusForbidden},
		{"ErrOtherProjectsKey", envelopePath(ios), good(), auth(android), http.StatusForbidden},
		{"ErrUnsupportedEncoding", envelopePath(ios), good(), map[string]string{"X-Sentry-Auth": ios.AuthHeader("t"), "Content-Encoding": "br"}, http.StatusUnsupportedMediaType},
		{"ErrTooLarge", envelopePath(ios), append(append([]byte("{}\n"+`{"type":"attachment","length":`+fmt.Sprint(sentry.DefaultMaxCompressedBytes)+"}\n"),
			bytes.Repeat([]byte("x"), sentry.DefaultMaxCompressedBytes)...), '\n'), auth(ios), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := tb.post(t, tt.path, bytes.NewReader(tt.body), tt.headers)
			require.Equal(t, tt.status, resp.StatusCode, body)
			if tt.status == http.StatusOK {
				require.JSONEq(t, `{"id":null}`, body, "Sentry's answer shape")
			} else {
				var eb httpapi.ErrorBody
				require.NoError(t, json.Unmarshal([]byte(body), &eb), body)
				require.NotEmpty(t, eb.Error.Message)
			}
		})
	}

	// A bad item in a good envelope is dropped and counted; unknown types
	// are skipped; the rest is stored.
	body := envelope(t, now,
		session("1b7b2b51-7f7d-4b59-9a4a-6f0e1f2a3b4c", "dev-2", "com.acme.shop@1.2.0+120", 0, true, "ok", 0, now.Add(-time.Minute)),
		session("2b7b2b51-7f7d-4b59-9a4a-6f0e1f2a3b4c", "dev-3", "com.other.app@1.2.0+120", 0, true, "ok", 0, now.Add(-time.Minute)),
		sentry.OutItem{Type: sentry.ItemSession, Payload: []byte(`{"sid":42}`)},
		sentry.OutItem{Type: "profile_chunk", Payload: []byte(`{}`)},
		sentry.OutItem{Type: sentry.ItemEvent, Payload: []byte(`{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","level":"error","release":"com.acme.shop@1.2.0+120","tags":{"flow":"checkout","outcome":"failure"}}`)},
	)
	resp, out := tb.post(t, envelopePath(ios), bytes.NewReader(body), auth(ios))
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	c := tb.counts(t, "1.2.0", "ios")
	require.Equal(t, int64(2), c[healthwatch.CrashFreeSessions].Counts.Total, "one session from the accepted envelopes above (one sid), one here; not the other app's")
	require.Equal(t, int64(1), c["flow:checkout"].Counts.Bad)
	require.Equal(t, int64(1), c[healthwatch.FatalEvents].Counts.Total)
	require.Zero(t, c[healthwatch.FatalEvents].Counts.Bad)

	metrics := tb.metrics(t)
	require.Contains(t, metrics, `ripcord_ingest_items_total{result="dropped"} 2`, "the other app's session and the malformed one")
	require.Contains(t, metrics, `ripcord_ingest_items_total{result="skipped"} 1`)
	require.Contains(t, metrics, `ripcord_ingest_items_total{result="duplicate"} 3`, "the same init resent by three accepted requests")
}

func (tb *testBundle) metrics(t testing.TB) string {
	t.Helper()
	resp, err := http.Get(tb.url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestSentryEnvelopeRateLimited(t *testing.T) {
	t.Parallel()
	tb := setupWith(t, daemon.Options{SentryRate: 0.01, SentryBurst: 2})
	ios, android := tb.sentryApp(t)
	now := time.Now().UTC()
	send := func(d sentry.DSN) *http.Response {
		resp, _ := tb.post(t, envelopePath(d), bytes.NewReader(envelope(t, now)), auth(d))
		return resp
	}
	require.Equal(t, http.StatusOK, send(ios).StatusCode)
	require.Equal(t, http.StatusOK, send(ios).StatusCode)
	resp := send(ios)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "100", resp.Header.Get("Retry-After"), "one token at 0.01/s")
	require.Equal(t, "100::project", resp.Header.Get("X-Sentry-Rate-Limits"))
	require.Equal(t, http.StatusOK, send(android).StatusCode, "each project has its own bucket")
}

// TestSentrySessionRetriedCountedOnce sends every update of a session twice,
// as an SDK retry does, and finds it counted once.
func TestSentrySessionRetriedCountedOnce(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, android := tb.sentryApp(t)
	now := time.Now().UTC()
	started := now.Add(-10 * time.Minute)
	const sid, rel = "3b7b2b51-7f7d-4b59-9a4a-6f0e1f2a3b4c", "com.acme.shop@2.0.0+200"
	crashEvent := sentry.OutItem{Type: sentry.ItemEvent, Payload: []byte(`{"event_id":"aec79c33ec9942ab8353589fcb2e04dc","level":"fatal","release":"` + rel + `"}`)}
	for _, items := range [][]sentry.OutItem{
		{session(sid, "dev-1", rel, 0, true, "ok", 0, started)},
		{session(sid, "dev-1", rel, 1, false, "ok", 1, started)},
		{session(sid, "dev-1", rel, 2, false, "crashed", 1, started), crashEvent},
	} {
		for range 2 {
			resp, body := tb.post(t, envelopePath(android), bytes.NewReader(envelope(t, now, items...)), auth(android))
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
		}
	}
	c := tb.counts(t, "2.0.0", "android")
	for metric, want := range map[string][2]int64{
		healthwatch.CrashFreeSessions: {1, 1}, healthwatch.ErroredSessions: {1, 1}, healthwatch.AbnormalSessions: {0, 1},
		healthwatch.CrashFreeUsers: {1, 1}, healthwatch.FatalEvents: {1, 1},
	} {
		require.Equal(t, want, [2]int64{c[metric].Counts.Bad, c[metric].Counts.Total}, metric)
	}
}

// simClock is the simulated time shared by the fleet and the server.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestSentryFleetMatchesStats drives the simulated fleet for hours against
// a real server on SQLite: the server's counts equal the fleet's ground
// truth exactly, and a crash spike on the new version is caught.
func TestSentryFleetMatchesStats(t *testing.T) {
	t.Parallel()
	clock := &simClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	tb := setupWith(t, daemon.Options{Now: clock.Now, SentryRate: -1})
	ios, _ := tb.sentryApp(t)
	start := clock.Now()
	f, err := fleet.New(fleet.Config{
		BaseURL: tb.url, ProjectID: ios.ProjectID, PublicKey: ios.PublicKey, Now: clock.Now, Seed: 11, Devices: 150,
		Releases: []fleet.Release{
			{Name: "com.acme.shop@1.0.0+100", CrashRate: 0.002, AbnormalRate: 0.01, ErrorRate: 0.05, FlowFailure: map[string]float64{"checkout": 0.02}},
			{Name: "com.acme.shop@1.1.0+110", Rollout: fleet.Ramp(start.Add(time.Hour), 2*time.Hour, 0, 0.6),
				CrashRate: 0.15, AbnormalRate: 0.02, ErrorRate: 0.1, FlowFailure: map[string]float64{"checkout": 0.3}},
		},
		Flows: []string{"checkout", "login"}, LaunchesPerHour: 3, DuplicateRate: 0.1,
	})
	require.NoError(t, err)
	ctx := context.Background()
	for range 4 * 6 { // four simulated hours in 10-minute steps
		clock.Advance(10 * time.Minute)
		_, err := f.Step(ctx, 10*time.Minute)
		require.NoError(t, err)
	}
	st := f.Totals()
	require.Empty(t, st.Failed, "every envelope is accepted")
	require.Positive(t, st.Duplicates, "the fleet retried some envelopes")
	for v, name := range map[string]string{"1.0.0": "com.acme.shop@1.0.0+100", "1.1.0": "com.acme.shop@1.1.0+110"} {
		rs := st.Releases[name]
		require.Positive(t, rs.SessionsStarted, v)
		c := tb.counts(t, v, "ios")
		require.Equal(t, [2]int64{rs.Crashed, rs.SessionsStarted}, [2]int64{c[healthwatch.CrashFreeSessions].Counts.Bad, c[healthwatch.CrashFreeSessions].Counts.Total}, "%s crash-free sessions", v)
		require.Equal(t, [2]int64{rs.Abnormal, rs.SessionsStarted}, [2]int64{c[healthwatch.AbnormalSessions].Counts.Bad, c[healthwatch.AbnormalSessions].Counts.Total}, "%s abnormal", v)
		// Errored is counted from any update with errors > 0, as Sentry
		// does, so sessions still open at the end whose init update
		// already carried errors count here but not yet in the fleet's
		// tally of ended sessions.
		ended := rs.Exited + rs.Errored + rs.Crashed + rs.Abnormal
		errored := c[healthwatch.ErroredSessions].Counts.Bad
		require.GreaterOrEqual(t, errored, rs.Errored+rs.Crashed+rs.Abnormal, "%s errored", v)
		require.LessOrEqual(t, errored, rs.Errored+rs.Crashed+rs.Abnormal+rs.SessionsStarted-ended, "%s errored", v)
		require.Equal(t, rs.CrashEvents, c[healthwatch.FatalEvents].Counts.Bad, "%s fatal events", v)
		users := c[healthwatch.CrashFreeUsers].Counts
		require.True(t, users.Total > 0 && users.Total <= 150 && users.Bad <= users.Total, "%s users %+v: distinct devices of 150", v, users)
		for flow, fs := range rs.Flows {
			m := c["flow:"+flow]
			require.Equal(t, [2]int64{fs.Failure, fs.Success + fs.Failure}, [2]int64{m.Counts.Bad, m.Counts.Total}, "%s flow %s", v, flow)
		}
	}
	c := tb.counts(t, "1.1.0", "ios")[healthwatch.CrashFreeSessions]
	require.Contains(t, []string{"pause", "rollback"}, string(c.Decision.Outcome), c.Decision.Sentence)
	require.Contains(t, []string{"pause", "rollback"}, string(c.RecordedState), "the verdict was recorded")
}
