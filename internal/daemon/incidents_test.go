package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/notify"
	"github.com/ripcordhq/ripcord/internal/sentry/sentrytest"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const hookSecret = "test-signing-secret-0123456789"

// hookReceiver is a webhook endpoint that keeps what it received and
// whether each signature verified.
type hookReceiver struct {
	mu   sync.Mutex
	msgs []notify.Message
	errs []error
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var m notify.Message
	err := notify.Verify([]byte(hookSecret), r.Header.Get(notify.SignatureHeader), body, time.Now(), 5*time.Minute)
	if err == nil {
		err = json.Unmarshal(body, &m)
	}
	h.mu.Lock()
	h.msgs, h.errs = append(h.msgs, m), append(h.errs, err)
	h.mu.Unlock()
}

func (h *hookReceiver) wait(t *testing.T, n int) []notify.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		got := len(h.msgs)
		h.mu.Unlock()
		if got >= n {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d of %d alerts arrived", got, n)
		time.Sleep(10 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, err := range h.errs {
		require.NoError(t, err)
	}
	return append([]notify.Message(nil), h.msgs...)
}

// TestBreachOpensIncidentAndAlerts: a rollback-tier crash spike on a
// rolling-out release halts it, opens one incident (mitigated once the
// halt is audited, with the halt in its timeline) and sends a signed
// webhook carrying the one-click rollback; a repeat breach appends to the
// incident; a release manager resolves it.
func TestBreachOpensIncidentAndAlerts(t *testing.T) {
	t.Parallel()
	hook := &hookReceiver{}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	pb := setupPlay(t, func(c *config.Config) {
		c.Notify.Webhooks = []string{srv.URL + "/ripcord"}
		c.Notify.SigningSecret = hookSecret
		c.Notify.PublicURL = "https://ripcord.example"
	})
	tb := pb.tb
	// Wait for the rollback build: its preparation edits Play, and an
	// upload racing it gets "This Edit has been deleted" from the fake.
	startRollout(t, pb, true)

	verdicts := reportCrashes(t, pb, 300, 10_000)
	require.Equal(t, health.Rollback, verdicts[0].Decision.Outcome)
	haltedSoon(t, pb)

	msgs := hook.wait(t, 1)
	m := msgs[0]
	require.Equal(t, notify.EventIncidentOpened, m.Event)
	require.NotEmpty(t, m.DeliveryID)
	require.Equal(t, "shop", m.Incident.App)
	require.Equal(t, verdicts[0].Decision.Sentence, m.Incident.Decision)
	require.Equal(t, "ripcord release rollback shop 1.2.0 --platform android", m.Rollback.CLI)
	require.Equal(t, "https://ripcord.example/api/v1/apps/shop/releases/1.2.0/rollback?platform=android", m.Rollback.APIURL)

	reportCrashes(t, pb, 0, 100_000) // pause tier now: a changed verdict, appended
	var list httpapi.List[httpapi.Incident]
	resp := tb.call(t, pb.viewer, "GET", "/api/v1/incidents?open=true&app=shop", nil, &list)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, list.Items, 1)
	in := list.Items[0]
	require.Equal(t, "health:crash_free_sessions", in.Trigger)
	require.Equal(t, daemon.HealthActor, in.OpenedBy)
	require.Equal(t, "mitigated", in.State)
	require.NotNil(t, in.MitigatedAt)

	var got httpapi.Incident
	tb.call(t, pb.viewer, "GET", "/api/v1/incidents/"+itoa(in.ID), nil, &got)
	var kinds []string
	for _, e := range got.Timeline {
		kinds = append(kinds, e.Kind)
	}
	require.Contains(t, kinds, "release.halt")
	require.Contains(t, kinds, "breach")

	resp = tb.call(t, pb.viewer, "POST", "/api/v1/incidents/"+itoa(in.ID)+"/resolve", jsonBody(httpapi.IncidentResolveRequest{Summary: "x"}), nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp = tb.call(t, pb.rm, "POST", "/api/v1/incidents/"+itoa(in.ID)+"/resolve", jsonBody(httpapi.IncidentResolveRequest{Summary: "halted; 1.2.1 fixes it"}), &got)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "resolved", got.State)
	resp = tb.call(t, pb.viewer, "GET", "/api/v1/incidents/abc", nil, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSentryPollerWiredAndShownInHealth: with pollers.sentry_projects set,
// the daemon polls the (fake) Sentry sessions API at start, files the
// counts, and `release health` shows the source's freshness.
func TestSentryPollerWiredAndShownInHealth(t *testing.T) {
	t.Parallel()
	fake := sentrytest.New("acme", "tok")
	fake.Set("42", "com.acme.shop@1.2.0+120", sentrytest.Counts{Healthy: 4_990, Crashed: 10, Users: 2_000, CrashedUsers: 9})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	tb := setup(t, func(c *config.Config) {
		c.Pollers.SentryURL, c.Pollers.SentryToken, c.Pollers.SentryOrg = srv.URL, "tok", "acme"
		c.Pollers.SentryProjects = map[string]string{"shop:ios": "42"}
		// The app exists before the server starts, so the poll at start
		// finds it.
		ctx := context.Background()
		db, err := sqlite.Open(ctx, c.DatabaseURL, nil)
		require.NoError(t, err)
		_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
		require.NoError(t, err)
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
			now := time.Now()
			return tx.AppCreate(ctx, &ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", CreatedAt: now, UpdatedAt: now})
		}))
		require.NoError(t, db.Close())
	})
	var rep healthwatch.Report
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := tb.call(t, tb.admin, "GET", "/api/v1/apps/shop/releases/1.2.0/health?platform=ios", nil, &rep)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		if len(rep.Platforms[0].Sources) > 0 && len(rep.Platforms[0].Metrics) > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no poll within 10 s: %+v", rep)
		time.Sleep(20 * time.Millisecond)
	}
	p := rep.Platforms[0]
	require.Equal(t, "sentry", p.Sources[0].Source)
	require.NotNil(t, p.Sources[0].LastSuccessAt)
	require.Zero(t, p.Sources[0].ConsecutiveErrors)
	for _, m := range p.Metrics {
		if m.Metric == healthwatch.CrashFreeSessions {
			require.Equal(t, health.Counts{Bad: 10, Total: 5_000}, m.Counts)
		}
	}
}

// statusReceiver answers with the scripted statuses in turn (then 200) and
// keeps the delivery ids it saw.
type statusReceiver struct {
	mu         sync.Mutex
	statuses   []int
	deliveries []string
}

func (s *statusReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, r.Header.Get(notify.DeliveryHeader))
	status := http.StatusOK
	if len(s.statuses) > 0 {
		status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	w.WriteHeader(status)
}

func (s *statusReceiver) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deliveries...)
}

// TestAlertRetriedThroughTheQueue: a receiver's 500 is retried by the job
// queue with the same delivery id until it answers 200; a receiver that
// refuses with 404 gets the message once.
func TestAlertRetriedThroughTheQueue(t *testing.T) {
	t.Parallel()
	flaky := &statusReceiver{statuses: []int{http.StatusInternalServerError}}
	gone := &statusReceiver{statuses: []int{http.StatusNotFound, http.StatusNotFound}}
	fs, gs := httptest.NewServer(flaky), httptest.NewServer(gone)
	t.Cleanup(fs.Close)
	t.Cleanup(gs.Close)
	tb := setupWith(t, daemon.Options{NotifyRetryBase: 50 * time.Millisecond}, func(c *config.Config) {
		c.Notify.Webhooks = []string{fs.URL, gs.URL}
		c.Notify.SigningSecret = hookSecret
	})
	tb.createApp(t)
	resp := tb.call(t, tb.admin, "POST", "/api/v1/incidents", jsonBody(httpapi.IncidentOpenRequest{App: "shop", Version: "1.2.0", Platform: "android",
		Decision: "checkout crashes"}), nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	deadline := time.Now().Add(30 * time.Second)
	for len(flaky.seen()) < 2 || len(gone.seen()) < 1 {
		require.True(t, time.Now().Before(deadline), "the 500 was not retried within 30 s")
		time.Sleep(20 * time.Millisecond)
	}
	got := flaky.seen()
	require.Equal(t, got[0], got[1], "the retry carries the same delivery id")
	require.Len(t, gone.seen(), 1, "a 404 is not retried")
}

// TestResumeKeepsBreachVerdictUntilFreshEvidence: after the automatic
// halt, a person may resume, but the verdict (stored, which rollout stages
// read, and shown) stays at the breach tier while the only new data is in
// the breach's own minute; nothing resumes on its own.
func TestResumeKeepsBreachVerdictUntilFreshEvidence(t *testing.T) {
	t.Parallel()
	pb := setupPlay(t)
	tb := pb.tb
	startRollout(t, pb, true)
	verdicts := reportCrashes(t, pb, 300, 10_000)
	require.Equal(t, health.Rollback, verdicts[0].Decision.Outcome)
	haltedSoon(t, pb)

	const base = "/api/v1/apps/shop/releases/1.2.0/"
	var out httpapi.RolloutActions
	resp := tb.call(t, pb.rm, "POST", base+"resume?platform=android", nil, &out)
	require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, resp.StatusCode, "a person may resume")
	require.Equal(t, "succeeded", tb.waitAction(t, pb.viewer, base, out.Actions[0].Action.ID).State)
	require.Equal(t, ripcord.StatusRollingOut, androidStatus(t, tb))

	// A flood of clean sessions filed in the breach's minute: the whole
	// data is far better, but none of it is after the breach.
	verdicts = reportCrashes(t, pb, 0, 3_000_000)
	require.False(t, verdicts[0].Changed)
	require.Equal(t, health.Rollback, verdicts[0].Decision.Outcome)
	var rep healthwatch.Report
	tb.call(t, pb.viewer, "GET", "/api/v1/apps/shop/releases/1.2.0/health?platform=android", nil, &rep)
	var d health.Decision
	for _, m := range rep.Platforms[0].Metrics {
		if m.Metric == healthwatch.CrashFreeSessions {
			d = m.Decision
		}
	}
	require.Equal(t, health.Rollback, d.Outcome)
	require.Contains(t, d.Sentence, "held at rollback tier")
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, ripcord.StatusRollingOut, androidStatus(t, tb), "no automatic action on a held verdict that did not change")
}

// haltedSoon waits for the automatic halt of shop 1.2.0 on Android; when
// it failed (the fake Play deletes an edit that a background job's edit
// overtook, and the automatic action then says "act by hand"), a release
// manager halts by hand, as the log asks. These tests are about what
// follows the halt; TestAutoHaltOnBreach is about the halt itself.
func haltedSoon(t *testing.T, pb *playBundle) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for androidStatus(t, pb.tb) != ripcord.StatusHalted {
		if time.Now().After(deadline) {
			for try := 0; try < 5 && androidStatus(t, pb.tb) != ripcord.StatusHalted; try++ {
				pb.tb.call(t, pb.rm, "POST", "/api/v1/apps/shop/releases/1.2.0/halt?platform=android", nil, nil)
			}
			require.Equal(t, ripcord.StatusHalted, androidStatus(t, pb.tb))
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
