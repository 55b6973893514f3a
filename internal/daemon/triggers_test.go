package daemon_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/triggers"
)

// fakeIncidents records the incidents triggers open.
type fakeIncidents struct {
	mu     sync.Mutex
	opened []triggers.IncidentParams
}

func (f *fakeIncidents) Open(_ context.Context, p triggers.IncidentParams) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = append(f.opened, p)
	return int64(len(f.opened)), nil
}

func (f *fakeIncidents) list() []triggers.IncidentParams {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]triggers.IncidentParams{}, f.opened...)
}

// trafficToShop creates shop with the exam-submit runbook and returns a
// function sending one minute of exam-submit counts for a version.
func trafficToShop(t *testing.T, tb *testBundle) func(version string, minute int, bad, total int64) {
	t.Helper()
	tb.createApp(t)
	// Someone must hold every team role the runbook names before it can be pushed.
	_, err := tb.d.Access.UserCreate(daemon.LocalContext(context.Background(), "test"), access.UserParams{Email: "oncall@example.com", Role: ripcord.RoleEngineer,
		TeamRoles: []string{"oncall-mobile", "oncall-backend", "incident-lead", "release-manager", "dba", "eng-director"}})
	require.NoError(t, err)
	content, err := os.ReadFile("../runbook/testdata/good/exam-submit.md")
	require.NoError(t, err)
	var pushed httpapi.RunbookPushResult
	resp := tb.call(t, tb.admin, "POST", "/api/v1/apps/shop/runbooks/push", jsonBody(httpapi.RunbookPushRequest{GitSHA: "0123456789abcdef",
		Files: []httpapi.RunbookFile{{Path: "runbooks/exam-submit.md", Content: strings.Replace(string(content), "app: learner-app", "app: shop", 1)}}}), &pushed)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%+v", pushed)
	start := time.Now().UTC().Truncate(time.Minute).Add(-20 * time.Minute)
	return func(version string, minute int, bad, total int64) {
		t.Helper()
		resp := tb.call(t, tb.admin, "POST", "/api/v1/health/samples", jsonBody(httpapi.HealthSamplesRequest{Samples: []healthwatch.Sample{{
			App: "shop", Platform: ripcord.Android, Version: version, Metric: "flow:exam-submit",
			WindowStart: start.Add(time.Duration(minute) * time.Minute), Bad: bad, Total: total,
		}}}), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}

// TestTriggerFiresFromTraffic sends simulated exam-submit traffic, minute by
// minute, through the health API: the runbook's trigger (error rate above 5%
// for 5 consecutive one-minute windows, at least 30 events each) opens one
// incident with the runbook attached on the fifth bad minute, and only one.
func TestTriggerFiresFromTraffic(t *testing.T) {
	t.Parallel()
	inc := &fakeIncidents{}
	tb := setupWith(t, daemon.Options{Incidents: inc})
	send := trafficToShop(t, tb)
	// Healthy traffic, then four bad minutes: not yet five consecutive.
	send("1.2.0", 0, 1, 100)
	for m := 1; m <= 4; m++ {
		send("1.2.0", m, 8, 100)
	}
	require.Empty(t, inc.list(), "four bad minutes must not fire a five-minute trigger")
	// A quiet minute on another release stays "no data" however bad.
	for m := 0; m <= 5; m++ {
		send("1.1.0", m, 5, 10)
	}
	require.Empty(t, inc.list(), "windows under min_volume are no data")

	send("1.2.0", 5, 9, 120)
	opened := inc.list()
	require.Len(t, opened, 1)
	require.Equal(t, triggers.IncidentParams{App: "shop", Version: "1.2.0", Platform: ripcord.Android, RunbookID: "exam-submit", TriggerID: "T1",
		Trigger:  "T1: flow_error_rate of exam-submit > 5% over 1m for 5 consecutive window(s) (min volume 30, sev1)",
		Decision: opened[0].Decision}, opened[0])
	require.Contains(t, opened[0].Decision, "trigger T1 fired")
	require.Contains(t, opened[0].Decision, "8.00%, 8.00%, 8.00%, 8.00%, 7.50%")

	send("1.2.0", 6, 20, 100)
	require.Len(t, inc.list(), 1, "a trigger opens one incident per release")
}

// TestTriggerOpensRealIncident: wired to the incidents service, a firing
// trigger opens an incident whose trigger names the runbook and trigger.
func TestTriggerOpensRealIncident(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	send := trafficToShop(t, tb)
	for m := 0; m < 5; m++ {
		send("1.2.0", m, 10, 100)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	resp := tb.call(t, tb.admin, "GET", "/api/v1/incidents", nil, &list)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, list.Items, 1, "%+v", list.Items)
	require.Equal(t, "runbook:exam-submit/T1", list.Items[0]["trigger"])
	require.Equal(t, "exam-submit", list.Items[0]["runbook_id"], "%+v", list.Items[0])
}
