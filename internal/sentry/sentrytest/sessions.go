// Package sentrytest is a fake of the Sentry sessions API
// (GET /api/0/organizations/{org}/sessions/) answering in its documented
// shape — {start, end, intervals, groups: [{by, totals, series}]} — from
// counts a test sets per project and release. Test code and demos only.
package sentrytest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Counts are one release's sessions as the fake reports them.
type Counts struct {
	Healthy, Errored, Crashed, Abnormal int64 // sessions by status
	Users, CrashedUsers                 int64 // distinct users, and those with a crash
}

// Server is the fake.
type Server struct {
	Org, Token string

	mu       sync.Mutex
	releases map[string]map[string]Counts // project → release → counts
	failures []int                        // statuses to answer with next, in turn
	queries  int
}

// New returns a fake for one organization and token.
func New(org, token string) *Server {
	return &Server{Org: org, Token: token, releases: map[string]map[string]Counts{}}
}

// Set sets a release's cumulative counts in a project.
func (s *Server) Set(project, release string, c Counts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.releases[project] == nil {
		s.releases[project] = map[string]Counts{}
	}
	s.releases[project][release] = c
}

// FailNext makes the next requests answer with these statuses, in turn.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, statuses...)
}

// Queries counts the requests answered with data.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP answers the sessions endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	want := "/api/0/organizations/" + s.Org + "/sessions/"
	switch {
	case r.URL.Path != want:
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "The requested resource does not exist"})
		return
	case r.Header.Get("Authorization") != "Bearer "+s.Token:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Invalid token"})
		return
	}
	s.mu.Lock()
	if len(s.failures) > 0 {
		status := s.failures[0]
		s.failures = s.failures[1:]
		s.mu.Unlock()
		writeJSON(w, status, map[string]string{"detail": "fake failure"})
		return
	}
	s.mu.Unlock()
	q := r.URL.Query()
	fields, groupBy := q["field"], q["groupBy"]
	if len(fields) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Request is missing a \"field\""})
		return
	}
	for _, f := range fields {
		if f != "sum(session)" && f != "count_unique(user)" {
			if slices.Contains(groupBy, "session.status") {
				writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Cannot group field " + f + " by session.status"})
				return
			}
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Invalid field: " + f})
			return
		}
	}
	start, err1 := time.Parse(time.RFC3339, q.Get("start"))
	end, err2 := time.Parse(time.RFC3339, q.Get("end"))
	if err1 != nil || err2 != nil || !end.After(start) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "start and end must be ISO 8601 times with start before end"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries++
	rels := s.releases[q.Get("project")]
	names := make([]string, 0, len(rels))
	for n := range rels {
		names = append(names, n)
	}
	slices.Sort(names)
	byStatus := slices.Contains(groupBy, "session.status")
	groups := []map[string]any{}
	for _, name := range names {
		c := rels[name]
		if !byStatus {
			groups = append(groups, group(map[string]any{"release": name}, fields, c.Healthy+c.Errored+c.Crashed+c.Abnormal, c.Users))
			continue
		}
		for _, st := range []struct {
			name  string
			n, us int64
		}{{"healthy", c.Healthy, c.Users - c.CrashedUsers}, {"errored", c.Errored, 0}, {"crashed", c.Crashed, c.CrashedUsers}, {"abnormal", c.Abnormal, 0}} {
			by := map[string]any{"release": name, "session.status": st.name}
			groups = append(groups, group(by, fields, st.n, st.us))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"start": start.UTC().Format(time.RFC3339), "end": end.UTC().Format(time.RFC3339),
		"intervals": []string{start.UTC().Format(time.RFC3339)}, "groups": groups, "query": strings.TrimSpace(q.Get("query"))})
}

func group(by map[string]any, fields []string, sessions, users int64) map[string]any {
	totals := map[string]any{}
	for _, f := range fields {
		if f == "sum(session)" {
			totals[f] = sessions
		} else {
			totals[f] = users
		}
	}
	return map[string]any{"by": by, "totals": totals, "series": map[string]any{}}
}
