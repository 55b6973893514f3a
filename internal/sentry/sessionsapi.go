package sentry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The sessions API client reads release health that SDKs reported to a
// Sentry server (for teams that keep Sentry as their only DSN):
// GET /api/0/organizations/{org}/sessions/ with token auth. Rates are not
// asked for: they cannot be grouped by session.status and do not add up,
// so the client asks for counts — sum(session) and count_unique(user) by
// release and session.status, and count_unique(user) by release alone,
// because distinct users of several statuses do not add up either.

// SessionsClient reads a Sentry organization's sessions API.
type SessionsClient struct {
	// BaseURL is the Sentry server, e.g. https://sentry.io.
	BaseURL string
	// Token is an auth token with org:read.
	Token string
	// HTTP sends the requests. Default: a client with a 30 s timeout.
	HTTP *http.Client
	// MaxBody bounds a response. Default 16 MiB.
	MaxBody int64
}

// SessionsQuery selects one project's sessions over [Start, End).
type SessionsQuery struct {
	Org         string // organization slug
	Project     string // numeric project id
	Environment string // optional
	Start, End  time.Time
	Interval    string // e.g. "1d"; default "1d" (the totals are what is read)
}

// SessionsResponse is the documented answer: the range, the interval
// starts, and one group per combination of the groupBy values with the
// fields' totals (and series, which this client does not ask for).
type SessionsResponse struct {
	Start     time.Time       `json:"start"`
	End       time.Time       `json:"end"`
	Intervals []time.Time     `json:"intervals"`
	Groups    []SessionsGroup `json:"groups"`
}

// SessionsGroup is one group's values.
type SessionsGroup struct {
	By     map[string]any     `json:"by"`
	Totals map[string]float64 `json:"totals"`
}

// ReleaseSessions are one release's counts over the queried range.
type ReleaseSessions struct {
	Release  string
	Sessions int64 // all sessions
	Crashed  int64 // sessions with status crashed
	Abnormal int64 // sessions with status abnormal (unknown fate; ANRs on Android)
	Errored  int64 // sessions with errors that did not crash ("errored" status)
	Users    int64 // distinct users
	// CrashedUsers are distinct users with a crashed session.
	CrashedUsers int64
}

// APIError is a refusal by the sessions API, with what to do about it.
type APIError struct {
	Status  int
	Message string
}

// Error says what the API answered, with the hint for a fix.
func (e *APIError) Error() string {
	return fmt.Sprintf("sentry sessions API: %d: %s", e.Status, e.Message)
}

// ErrSessionsResponse wraps an answer the client cannot read.
var ErrSessionsResponse = errors.New("sentry sessions API: unreadable response")

// ReleaseSessions reads the project's counts per release over the range.
func (c *SessionsClient) ReleaseSessions(ctx context.Context, q SessionsQuery) ([]ReleaseSessions, error) {
	byStatus, err := c.Query(ctx, q, []string{"sum(session)", "count_unique(user)"}, []string{"release", "session.status"})
	if err != nil {
		return nil, err
	}
	byRelease, err := c.Query(ctx, q, []string{"count_unique(user)"}, []string{"release"})
	if err != nil {
		return nil, err
	}
	return ReleaseSessionsFrom(byStatus, byRelease)
}

// ReleaseSessionsFrom combines the two answers ReleaseSessions asks for:
// sum(session) and count_unique(user) by release and session.status, and
// count_unique(user) by release. Totals must be whole, non-negative counts.
func ReleaseSessionsFrom(byStatus, byRelease *SessionsResponse) ([]ReleaseSessions, error) {
	idx := map[string]*ReleaseSessions{}
	var order []string
	get := func(g SessionsGroup) (*ReleaseSessions, error) {
		rel, ok := g.By["release"].(string)
		if !ok || rel == "" {
			return nil, fmt.Errorf("%w: a group has no release in %v", ErrSessionsResponse, g.By)
		}
		r := idx[rel]
		if r == nil {
			r = &ReleaseSessions{Release: rel}
			idx[rel] = r
			order = append(order, rel)
		}
		return r, nil
	}
	for _, g := range byStatus.Groups {
		r, err := get(g)
		if err != nil {
			return nil, err
		}
		n, err1 := count(g, "sum(session)")
		u, err2 := count(g, "count_unique(user)")
		if err := cmp.Or(err1, err2); err != nil {
			return nil, err
		}
		r.Sessions += n
		switch status, _ := g.By["session.status"].(string); status {
		case "crashed":
			r.Crashed += n
			r.CrashedUsers += u
		case "abnormal":
			r.Abnormal += n
		case "errored":
			r.Errored += n
		case "unhandled": // newer SDKs: an unhandled error that did not crash
			r.Errored += n
		case "healthy":
		default:
			return nil, fmt.Errorf("%w: unknown session.status %q", ErrSessionsResponse, status)
		}
	}
	for _, g := range byRelease.Groups {
		r, err := get(g)
		if err != nil {
			return nil, err
		}
		if r.Users, err = count(g, "count_unique(user)"); err != nil {
			return nil, err
		}
	}
	out := make([]ReleaseSessions, 0, len(order))
	for _, rel := range order {
		r := idx[rel]
		// Users come from another query; a user may appear between the
		// two. Never report more crashed users than users.
		r.Users = max(r.Users, r.CrashedUsers)
		out = append(out, *r)
	}
	return out, nil
}

func count(g SessionsGroup, field string) (int64, error) {
	v, ok := g.Totals[field]
	if !ok {
		return 0, fmt.Errorf("%w: a group has no %s total", ErrSessionsResponse, field)
	}
	// A trillion per group is far beyond any real release and keeps sums
	// over every group a 16 MiB answer can hold inside int64.
	if v < 0 || v > 1e12 || v != math.Trunc(v) {
		return 0, fmt.Errorf("%w: %s total %v is not a count", ErrSessionsResponse, field, v)
	}
	return int64(v), nil
}

// Query runs one sessions query for totals only.
func (c *SessionsClient) Query(ctx context.Context, q SessionsQuery, fields, groupBy []string) (*SessionsResponse, error) {
	if q.Org == "" || q.Project == "" {
		return nil, errors.New("sentry sessions API: organization and project are required")
	}
	v := url.Values{}
	for _, f := range fields {
		v.Add("field", f)
	}
	for _, g := range groupBy {
		v.Add("groupBy", g)
	}
	v.Set("project", q.Project)
	if q.Environment != "" {
		v.Set("environment", q.Environment)
	}
	v.Set("start", q.Start.UTC().Format(time.RFC3339))
	v.Set("end", q.End.UTC().Format(time.RFC3339))
	v.Set("interval", cmp.Or(q.Interval, "1d"))
	v.Set("includeSeries", "0")
	v.Set("includeTotals", "1")
	u := strings.TrimSuffix(c.BaseURL, "/") + "/api/0/organizations/" + url.PathEscape(q.Org) + "/sessions/?" + v.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("sentry sessions API: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sentry sessions API: %w", err)
	}
	defer resp.Body.Close()
	limit := cmp.Or(c.MaxBody, 16<<20)
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("sentry sessions API: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, apiError(resp.StatusCode, body)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: over %d bytes", ErrSessionsResponse, limit)
	}
	return ParseSessionsResponse(body)
}

// ParseSessionsResponse reads a sessions API answer.
func ParseSessionsResponse(body []byte) (*SessionsResponse, error) {
	var r SessionsResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSessionsResponse, err)
	}
	return &r, nil
}

func apiError(status int, body []byte) error {
	var d struct {
		Detail string `json:"detail"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &d) == nil && d.Detail != "" {
		msg = d.Detail
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (check pollers.sentry_token: it needs the org:read scope on the organization)"
	case http.StatusNotFound:
		msg += " (check pollers.sentry_org and pollers.sentry_url)"
	}
	return &APIError{Status: status, Message: msg}
}
