package httpapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// The Sentry-compatible envelope endpoint, POST /api/{project_id}/envelope/.
// It answers as Sentry (Relay) does, so SDKs back off and retry correctly:
//
//	400 the envelope cannot be parsed (or the project id is not a number)
//	401 no credentials, or credentials that cannot be parsed or disagree
//	403 a key no project has, or another project's key
//	413 a body over sentry.DefaultMaxCompressedBytes, or a limit inside it
//	415 a Content-Encoding other than gzip, deflate or identity
//	429 the project's token bucket is empty; Retry-After says when to retry
//	200 {"id": event_id} otherwise: bad items inside are dropped and counted,
//	    unknown item types skipped
//
// Credentials come from X-Sentry-Auth (or Authorization: Sentry ...), the
// sentry_key query parameter, or the envelope header's dsn; when several are
// given they must agree.

// Default per-project rate limit of the envelope endpoint.
const (
	DefaultSentryRate  = 1000 // envelopes per second per project
	DefaultSentryBurst = 2000 // envelopes at once per project
)

// ingestMetrics count envelope items by what happened to them.
type ingestMetrics struct {
	items *prometheus.CounterVec
}

func newIngestMetrics(reg prometheus.Registerer) *ingestMetrics {
	m := &ingestMetrics{items: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ripcord_ingest_items_total",
		Help: "Sentry envelope items (session updates, aggregate buckets, events) by result: accepted, duplicate, dropped or skipped.",
	}, []string{"result"})}
	for _, r := range []string{"accepted", "duplicate", "dropped", "skipped"} {
		m.items.WithLabelValues(r)
	}
	reg.MustRegister(m.items)
	return m
}

// rateLimiter is a token bucket per project.
type rateLimiter struct {
	rate  float64 // tokens per second; <= 0 means unlimited
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[int64]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

// take spends a token of project's bucket; when there is none it returns
// false and how long until there is one.
func (l *rateLimiter) take(project int64) (bool, time.Duration) {
	if l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[project]
	if !ok {
		b = &tokenBucket{tokens: l.burst, last: now}
		l.buckets[project] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// envelopeResponse is Sentry's answer to a stored envelope.
type envelopeResponse struct {
	ID *string `json:"id"`
}

func (h *handler) sentryEnvelope(w http.ResponseWriter, r *http.Request) {
	pid, err := strconv.ParseInt(r.PathValue("project_id"), 10, 64)
	if err != nil || pid <= 0 {
		drain(r.Body)
		h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "project id %q in the path is not a positive number; copy the DSN from `ripcord app show APP`", r.PathValue("project_id")))
		return
	}
	auth := r.Header.Get("X-Sentry-Auth")
	if a := r.Header.Get("Authorization"); auth == "" && len(a) > 7 && strings.EqualFold(a[:7], "sentry ") {
		auth = a
	}
	key, err := sentry.ParseAuth(auth, r.URL.Query())
	if err != nil && !errors.Is(err, sentry.ErrAuthMissing) {
		drain(r.Body)
		h.writeError(w, r, ripcord.Errorf(ripcord.EUNAUTHORIZED, "invalid authorization: %v", err))
		return
	}
	var project *storage.SentryProject
	if key != "" {
		if project = h.sentryAuthorize(w, r, pid, key); project == nil {
			drain(r.Body)
			return
		}
	}
	body, err := sentry.DecodeBody(http.MaxBytesReader(w, r.Body, sentry.DefaultMaxCompressedBytes), r.Header.Get("Content-Encoding"), 0)
	if err != nil {
		if errors.Is(err, sentry.ErrUnsupportedEncoding) {
			drain(r.Body)
			writeJSON(w, http.StatusUnsupportedMediaType, ErrorBody{Error: ErrorDetail{Code: "unsupported_encoding",
				Message: fmt.Sprintf("Content-Encoding %q is not supported; send gzip, deflate or no encoding", r.Header.Get("Content-Encoding"))}})
			return
		}
		h.writeError(w, r, envelopeError(err))
		return
	}
	env, err := sentry.ParseEnvelope(body, sentry.Limits{})
	if err != nil {
		h.writeError(w, r, envelopeError(err))
		return
	}
	if env.Header.DSN != "" {
		dsn, err := sentry.ParseDSN(env.Header.DSN)
		switch {
		case err != nil:
			h.writeError(w, r, ripcord.Errorf(ripcord.EUNAUTHORIZED, "invalid authorization: the envelope header's dsn: %v", err))
			return
		case key != "" && dsn.PublicKey != key:
			h.writeError(w, r, ripcord.Errorf(ripcord.EUNAUTHORIZED, "invalid authorization: the envelope header's dsn has another key than the request"))
			return
		case key == "":
			key = dsn.PublicKey
			if project = h.sentryAuthorize(w, r, pid, key); project == nil {
				return
			}
		}
	}
	if project == nil {
		h.writeError(w, r, ripcord.Errorf(ripcord.EUNAUTHORIZED, "missing authorization information: send X-Sentry-Auth, sentry_key or a dsn in the envelope header"))
		return
	}
	res, err := h.health.IngestEnvelope(r.Context(), project, env)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.ingest.items.WithLabelValues("accepted").Add(float64(res.Accepted))
	h.ingest.items.WithLabelValues("duplicate").Add(float64(res.Duplicates))
	h.ingest.items.WithLabelValues("dropped").Add(float64(len(res.Dropped)))
	h.ingest.items.WithLabelValues("skipped").Add(float64(res.Skipped))
	if len(res.Dropped) > 0 {
		h.logger.DebugContext(r.Context(), "envelope items dropped", "project_id", project.ID, "dropped", len(res.Dropped), "first_reason", res.Dropped[0].Reason)
	}
	out := envelopeResponse{}
	if id := env.Header.EventID; id != "" {
		out.ID = &id
	}
	writeJSON(w, http.StatusOK, out)
}

// sentryAuthorize finds key's project and checks it is the path's and has
// tokens left; otherwise it answers 403 or 429 and returns nil.
func (h *handler) sentryAuthorize(w http.ResponseWriter, r *http.Request, pid int64, key string) *storage.SentryProject {
	p, err := h.health.SentryProject(r.Context(), key)
	if ripcord.ErrorCode(err) == ripcord.ENOTFOUND || (err == nil && p.ID != pid) {
		h.writeError(w, r, ripcord.Errorf(ripcord.EFORBIDDEN, "this DSN key does not belong to project %d; copy the DSN from `ripcord app show APP`", pid))
		return nil
	}
	if err != nil {
		h.writeError(w, r, err)
		return nil
	}
	if ok, wait := h.limiter.take(p.ID); !ok {
		secs := max(1, int64(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		w.Header().Set("X-Sentry-Rate-Limits", strconv.FormatInt(secs, 10)+"::project")
		h.writeError(w, r, ripcord.Errorf(ripcord.ERATELIMITED, "project %d sends more than %g envelopes per second; retry after %d s", p.ID, h.limiter.rate, secs))
		return nil
	}
	return p
}

// envelopeError maps a body or parse error to 413 or 400.
func envelopeError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return ripcord.Errorf(ripcord.ETOOLARGE, "envelope body is larger than the %d-byte limit", mbe.Limit).WithDetails(map[string]any{"limit_bytes": mbe.Limit})
	case errors.Is(err, sentry.ErrTooLarge):
		return ripcord.Errorf(ripcord.ETOOLARGE, "envelope over a limit: %v", err)
	}
	return ripcord.Errorf(ripcord.EINVALID, "envelope cannot be parsed: %v", err)
}

var hostRe = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

// publicBase returns the scheme and host clients reach this server by:
// X-Forwarded-Proto and X-Forwarded-Host from a proxy when they are sane,
// otherwise the request's own.
func publicBase(r *http.Request) (scheme, host string) {
	scheme = "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0])); p == "http" || p == "https" {
		scheme = p
	}
	host = r.Host
	if fh := strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Host"), ",")[0]); hostRe.MatchString(fh) {
		host = fh
	}
	return scheme, host
}

// dsns returns each app's DSN per platform, keyed by app id.
func (h *handler) dsns(r *http.Request, appID int64) (map[int64]map[string]string, error) {
	ps, err := h.health.SentryProjects(r.Context(), appID)
	if err != nil {
		return nil, err
	}
	scheme, host := publicBase(r)
	out := map[int64]map[string]string{}
	for _, p := range ps {
		if out[p.AppID] == nil {
			out[p.AppID] = map[string]string{}
		}
		out[p.AppID][string(p.Platform)] = sentry.DSN{Scheme: scheme, PublicKey: p.PublicKey, Host: host, ProjectID: strconv.FormatInt(p.ID, 10)}.String()
	}
	return out, nil
}
