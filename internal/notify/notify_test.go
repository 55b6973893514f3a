package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/notify"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// receiver is a webhook endpoint that verifies signatures and answers
// with the scripted statuses in turn (200 once they run out).
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []received
}

type received struct {
	body     []byte
	delivery string
	sigErr   error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, received{body: body, delivery: r.Header.Get(notify.DeliveryHeader),
		sigErr: notify.Verify(secret, r.Header.Get(notify.SignatureHeader), body, time.Now(), 5*time.Minute)})
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	w.WriteHeader(status)
}

// queue captures the jobs Enqueue inserts.
type queue struct{ jobs []notify.DeliverArgs }

func (q *queue) JobInsert(_ context.Context, args river.JobArgs, _ *river.InsertOpts) error {
	q.jobs = append(q.jobs, args.(notify.DeliverArgs))
	return nil
}

func job(args notify.DeliverArgs, attempt int) *river.Job[notify.DeliverArgs] {
	return &river.Job[notify.DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: attempt}, Args: args}
}

func rollbackMessage() notify.Message {
	return notify.Message{Event: notify.EventIncidentOpened, Text: "shop 1.2.0 on android: rollback tier",
		Incident: &notify.IncidentRef{ID: 7, App: "shop", Version: "1.2.0", Platform: "android", Trigger: "health:crash_free_sessions", Outcome: "rollback", Decision: "98.1 %: rollback tier"},
		Rollback: &notify.Rollback{CLI: "ripcord release rollback shop 1.2.0 --platform android", APIMethod: "POST",
			APIURL: "https://ripcord.example/api/v1/apps/shop/releases/1.2.0/rollback?platform=android", Note: "roll back in one step"}}
}

func TestDeliverSignedWebhookAndSlack(t *testing.T) {
	t.Parallel()
	hook, slack := &receiver{}, &receiver{}
	hookSrv, slackSrv := httptest.NewServer(hook), httptest.NewServer(slack)
	t.Cleanup(hookSrv.Close)
	t.Cleanup(slackSrv.Close)
	n, err := notify.New(notify.Config{Secret: secret, Destinations: []notify.Destination{{Kind: notify.KindWebhook, URL: hookSrv.URL}, {Kind: notify.KindSlack, URL: slackSrv.URL}}})
	require.NoError(t, err)
	var q queue
	require.NoError(t, n.Enqueue(context.Background(), &q, rollbackMessage()))
	require.Len(t, q.jobs, 2, "one job per destination")
	require.Equal(t, q.jobs[0].DeliveryID, q.jobs[1].DeliveryID)
	require.NotContains(t, string(q.jobs[1].Destination), "http", "the Slack URL is a secret and stays out of the job table")
	for _, j := range q.jobs {
		require.NoError(t, n.Worker().Work(context.Background(), job(j, 1)))
	}

	require.Len(t, hook.got, 1)
	require.NoError(t, hook.got[0].sigErr)
	require.Equal(t, q.jobs[0].DeliveryID, hook.got[0].delivery)
	var m notify.Message
	require.NoError(t, json.Unmarshal(hook.got[0].body, &m))
	require.Equal(t, q.jobs[0].DeliveryID, m.DeliveryID, "the payload carries the delivery id")
	require.Equal(t, "ripcord release rollback shop 1.2.0 --platform android", m.Rollback.CLI)
	require.Contains(t, m.Rollback.APIURL, "/api/v1/apps/shop/releases/1.2.0/rollback")

	require.Len(t, slack.got, 1)
	require.NoError(t, slack.got[0].sigErr)
	var sm map[string]string
	require.NoError(t, json.Unmarshal(slack.got[0].body, &sm))
	require.Contains(t, sm["text"], "shop 1.2.0 on android: rollback tier")
	require.Contains(t, sm["text"], "`ripcord release rollback shop 1.2.0 --platform android`")
}

func TestDeliverRetriesServerErrorsAndStopsOnRefusal(t *testing.T) {
	t.Parallel()
	rc := &receiver{statuses: []int{http.StatusInternalServerError, http.StatusBadGateway}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	n, err := notify.New(notify.Config{Secret: secret, Destinations: []notify.Destination{{Kind: notify.KindWebhook, URL: srv.URL}}, RetryBase: time.Second})
	require.NoError(t, err)
	var q queue
	require.NoError(t, n.Enqueue(context.Background(), &q, rollbackMessage()))
	w := n.Worker()
	err = w.Work(context.Background(), job(q.jobs[0], 1))
	require.ErrorContains(t, err, "500")
	var cancel *river.JobCancelError
	require.NotErrorAs(t, err, &cancel, "a 500 is retried, not cancelled")
	require.Error(t, w.Work(context.Background(), job(q.jobs[0], 2)))
	require.NoError(t, w.Work(context.Background(), job(q.jobs[0], 3)))
	require.Len(t, rc.got, 3)
	for _, g := range rc.got {
		require.Equal(t, q.jobs[0].DeliveryID, g.delivery, "every retry carries the same delivery id")
		require.NoError(t, g.sigErr)
	}
	// Backoff doubles from the base.
	d1 := time.Until(w.NextRetry(job(q.jobs[0], 1)))
	d3 := time.Until(w.NextRetry(job(q.jobs[0], 3)))
	require.InDelta(t, time.Second.Seconds(), d1.Seconds(), 0.5)
	require.InDelta(t, (4 * time.Second).Seconds(), d3.Seconds(), 0.5)

	gone := &receiver{statuses: []int{http.StatusNotFound}}
	goneSrv := httptest.NewServer(gone)
	t.Cleanup(goneSrv.Close)
	var logs syncBuf
	n2, err := notify.New(notify.Config{Secret: secret, Destinations: []notify.Destination{{Kind: notify.KindSlack, URL: goneSrv.URL}},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	q = queue{}
	require.NoError(t, n2.Enqueue(context.Background(), &q, rollbackMessage()))
	err = n2.Worker().Work(context.Background(), job(q.jobs[0], 1))
	require.ErrorAs(t, err, &cancel, "a 404 stops retries")
	require.Contains(t, logs.String(), "level=ERROR")
	require.Contains(t, logs.String(), "404")
}

func TestNewNeedsSecretWithDestinations(t *testing.T) {
	t.Parallel()
	_, err := notify.New(notify.Config{Destinations: []notify.Destination{{Kind: notify.KindWebhook, URL: "https://x.example"}}})
	require.ErrorContains(t, err, "signing secret")
	_, err = notify.New(notify.Config{Secret: secret, Destinations: []notify.Destination{{Kind: "email", URL: "x"}}})
	require.ErrorContains(t, err, "webhook or slack")
	n, err := notify.New(notify.Config{})
	require.NoError(t, err)
	var q queue
	require.NoError(t, n.Enqueue(context.Background(), &q, rollbackMessage()))
	require.Empty(t, q.jobs, "nothing to send to")
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"event":"incident.opened"}`)
	good := notify.Sign(secret, now, body)
	tests := []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"valid", good, body, now, true},
		{"within tolerance", good, body, now.Add(4 * time.Minute), true},
		{"too old", good, body, now.Add(6 * time.Minute), false},
		{"body changed", good, []byte(`{"event":"x"}`), now, false},
		{"wrong secret", notify.Sign([]byte("other"), now, body), body, now, false},
		{"no v1", "t=1800000000", body, now, false},
		{"garbage", "nonsense", body, now, false},
		{"bad timestamp", "t=abc,v1=00", body, now, false},
		{"second signature matches", "t=1800000000,v1=00," + good[len("t=1800000000,"):], body, now, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := notify.Verify(secret, tt.header, tt.body, tt.now, 5*time.Minute)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, notify.ErrSignature)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add(notify.Sign(secret, now, []byte("{}")), []byte("{}"))
	f.Add("t=,v1=", []byte(""))
	f.Add("t=1,v1=zz,v1", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := notify.Verify(secret, header, body, now, time.Hour)
		if err == nil && notify.Verify([]byte("another key"), header, body, now, time.Hour) == nil {
			t.Fatalf("header %q verifies under two keys", header)
		}
	})
}

type syncBuf struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
