package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
)

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestIDHeader carries the request id in both directions: a proxy's id is
// kept when it is sane, otherwise one is made.
const RequestIDHeader = "X-Request-Id"

func (h *handler) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !requestIDRe.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(ripcord.NewContextWithRequestID(r.Context(), id)))
	})
}

func (h *handler) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.writeError(w, r, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// requestInfo carries what inner middleware learns back out to withObserve,
// which logs it once the request is done.
type requestInfo struct{ actor string }

type infoKey struct{}

// withObserve records metrics by route pattern and logs each request.
func (h *handler) withObserve(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		route := r.Pattern // set by the mux on this request
		if route == "" {
			route = "unmatched"
		} else if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		elapsed := time.Since(start)
		h.metrics.observe(route, r.Method, status, elapsed)
		lvl := slog.LevelInfo
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			lvl = slog.LevelDebug
		}
		h.logger.Log(r.Context(), lvl, "http request", slog.String("method", r.Method), slog.String("route", route),
			slog.String("path", r.URL.Path), slog.Int("status", status), slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", elapsed), slog.String("actor", info.actor))
	})
}

// withAuth authenticates the bearer token and checks the route's role.
func (h *handler) withAuth(need ripcord.Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		secret, ok := strings.CutPrefix(authz, "Bearer ")
		if !ok || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ripcord"`)
			h.writeError(w, r, ripcord.Errorf(ripcord.EUNAUTHORIZED, "authentication required: send a token as Authorization: Bearer <token> (create one with `ripcord token create`)"))
			return
		}
		actor, err := h.access.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ripcord", error="invalid_token"`)
			h.writeError(w, r, err)
			return
		}
		ctx := ripcord.NewContextWithActor(r.Context(), actor)
		if err := ripcord.Authorize(ctx, need); err != nil {
			h.writeError(w, r.WithContext(ctx), err)
			return
		}
		if info, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
			info.actor = actor.Name
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
