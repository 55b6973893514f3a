package sentry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/sentry/sentrytest"
)

func TestReleaseSessionsAgainstFake(t *testing.T) {
	t.Parallel()
	fake := sentrytest.New("acme", "tok")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	fake.Set("42", "com.acme.shop@1.2.0+120", sentrytest.Counts{Healthy: 9690, Errored: 120, Crashed: 150, Abnormal: 40, Users: 4200, CrashedUsers: 130})
	fake.Set("42", "com.acme.shop@1.1.0+110", sentrytest.Counts{Healthy: 1000, Users: 800})
	fake.Set("43", "other@1.0", sentrytest.Counts{Healthy: 5, Users: 5})
	c := &sentry.SessionsClient{BaseURL: srv.URL, Token: "tok"}
	end := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	q := sentry.SessionsQuery{Org: "acme", Project: "42", Start: end.Add(-30 * 24 * time.Hour), End: end}
	got, err := c.ReleaseSessions(context.Background(), q)
	require.NoError(t, err)
	require.Equal(t, []sentry.ReleaseSessions{
		{Release: "com.acme.shop@1.1.0+110", Sessions: 1000, Users: 800},
		{Release: "com.acme.shop@1.2.0+120", Sessions: 10_000, Crashed: 150, Abnormal: 40, Errored: 120, Users: 4200, CrashedUsers: 130},
	}, got)

	bad := &sentry.SessionsClient{BaseURL: srv.URL, Token: "wrong"}
	_, err = bad.ReleaseSessions(context.Background(), q)
	var apiErr *sentry.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusUnauthorized, apiErr.Status)
	require.Contains(t, err.Error(), "org:read")

	fake.FailNext(http.StatusBadGateway)
	_, err = c.ReleaseSessions(context.Background(), q)
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadGateway, apiErr.Status)

	_, err = c.Query(context.Background(), q, []string{"crash_free_rate(session)"}, []string{"session.status"})
	require.ErrorContains(t, err, "Cannot group field crash_free_rate(session) by session.status")
}

func TestParseSessionsResponseDocumentedShape(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/sessions_by_status.json")
	require.NoError(t, err)
	r, err := sentry.ParseSessionsResponse(body)
	require.NoError(t, err)
	require.Len(t, r.Groups, 4)
	require.Equal(t, "crashed", r.Groups[2].By["session.status"])
	require.InDelta(t, 150, r.Groups[2].Totals["sum(session)"], 0)
	require.Len(t, r.Intervals, 2)
}

func TestReleaseSessionsRefusesBadAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body string }{
		{"not json", "<html>"},
		{"negative count", `{"groups":[{"by":{"release":"a@1","session.status":"crashed"},"totals":{"sum(session)":-1,"count_unique(user)":0}}]}`},
		{"fraction", `{"groups":[{"by":{"release":"a@1","session.status":"crashed"},"totals":{"sum(session)":0.5,"count_unique(user)":0}}]}`},
		{"no release", `{"groups":[{"by":{"session.status":"crashed"},"totals":{"sum(session)":1,"count_unique(user)":1}}]}`},
		{"unknown status", `{"groups":[{"by":{"release":"a@1","session.status":"zombie"},"totals":{"sum(session)":1,"count_unique(user)":1}}]}`},
		{"missing total", `{"groups":[{"by":{"release":"a@1","session.status":"crashed"},"totals":{}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(tt.body)) }))
			t.Cleanup(srv.Close)
			c := &sentry.SessionsClient{BaseURL: srv.URL, Token: "t"}
			_, err := c.ReleaseSessions(context.Background(), sentry.SessionsQuery{Org: "o", Project: "1", Start: time.Unix(0, 0), End: time.Unix(100, 0)})
			require.ErrorIs(t, err, sentry.ErrSessionsResponse)
		})
	}
}

func FuzzParseSessionsResponse(f *testing.F) {
	body, err := os.ReadFile("testdata/sessions_by_status.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Add([]byte(`{"groups":[{"by":{},"totals":{"sum(session)":1e308}}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := sentry.ParseSessionsResponse(b)
		if err != nil {
			return
		}
		rels, err := sentry.ReleaseSessionsFrom(r, r)
		if err != nil {
			return
		}
		for _, rel := range rels {
			if rel.Sessions < 0 || rel.Crashed > rel.Sessions || rel.CrashedUsers > rel.Users {
				t.Fatalf("impossible counts %+v from %s", rel, b)
			}
		}
	})
}
