// Package web is Ripcord's dashboard: server-rendered pages for the
// on-call engineer (apps overview, release page with Halt and Roll back
// side by side, timeline, admin), signed in with a local account or OIDC,
// kept live by server-sent events. No JavaScript build step: html/template,
// embedded CSS and one small hand-written script; every page works with
// JavaScript off.
package web

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ripcordhq/ripcord"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Accounts signs people in (internal/access).
type Accounts interface {
	// PasswordLogin returns the actor of the user with this email and
	// password; an unknown email and a wrong password fail alike.
	PasswordLogin(ctx context.Context, email, password string) (ripcord.Actor, error)
	// ActorForUser returns the actor of the enabled user with this email,
	// for OIDC sign-in and to re-check a session's account on each request
	// (a disabled user is signed out at once, a new role applies at once);
	// EUNAUTHORIZED when there is none.
	ActorForUser(ctx context.Context, email string) (ripcord.Actor, error)
}

// Config holds the dashboard's dependencies and settings.
type Config struct {
	Sources  Sources      // required
	Accounts Accounts     // required
	Sessions SessionStore // required
	// OIDC signs people in with an identity provider; nil offers only
	// local accounts.
	OIDC *OIDC
	// SessionTTL is how long a sign-in lasts. Default 12h.
	SessionTTL time.Duration
	// SecureCookies sets the Secure flag on every cookie, for a server
	// behind a TLS proxy that does not send X-Forwarded-Proto. Requests
	// over TLS get it anyway.
	SecureCookies bool
	// PollInterval is how often live updates read the audit head. Default
	// 200ms: one small query shared by every open page.
	PollInterval time.Duration
	// ActionTimeout bounds a rollout action started from the dashboard; it
	// runs on even if the browser goes away. Default 2m.
	ActionTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
}

type handler struct {
	src           Sources
	accounts      Accounts
	sessions      SessionStore
	oidc          *OIDC
	ttl           time.Duration
	forceSecure   bool
	actionTimeout time.Duration
	now           func() time.Time
	logger        *slog.Logger
	pages         *pages
	hub           *hub
}

// Handler is the dashboard. Close stops its live-update poller.
type Handler struct {
	http.Handler
	h *handler
}

// Close stops live updates; open event streams end.
func (h *Handler) Close() { h.h.hub.close() }

// New builds the dashboard handler; it serves "/" and everything under
// /ui/, and nothing else.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Sources.validate(); err != nil {
		return nil, err
	}
	switch {
	case cfg.Accounts == nil:
		return nil, errors.New("web: Config.Accounts is required")
	case cfg.Sessions == nil:
		return nil, errors.New("web: Config.Sessions is required")
	}
	pg, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &handler{src: cfg.Sources, accounts: cfg.Accounts, sessions: cfg.Sessions, oidc: cfg.OIDC,
		ttl: cmp.Or(cfg.SessionTTL, 12*time.Hour), forceSecure: cfg.SecureCookies, actionTimeout: cmp.Or(cfg.ActionTimeout, 2*time.Minute),
		now: cfg.Now, logger: cmp.Or(cfg.Logger, slog.Default()), pages: pg}
	if h.now == nil {
		h.now = time.Now
	}
	h.hub = newHub(cfg.Sources.Records, cmp.Or(cfg.PollInterval, 200*time.Millisecond), h.logger)
	mux := http.NewServeMux()
	for _, rt := range h.routes() {
		mux.Handle(rt.method+" "+rt.pattern, h.wrap(rt))
	}
	mux.Handle("GET /ui/static/", http.StripPrefix("/ui/", http.FileServerFS(staticFS)))
	mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, ripcord.Errorf(ripcord.ENOTFOUND, "there is no page %s; start from the overview", r.URL.Path))
	})
	return &Handler{Handler: h.withHeaders(mux), h: h}, nil
}

func (h *handler) clock() time.Time { return h.now().UTC().Truncate(time.Microsecond) }

// route is one page or form target. A role means a signed-in session with
// at least that role; POST routes with a role also need the CSRF token.
type route struct {
	method, pattern string
	role            ripcord.Role // "" for the sign-in pages
	fn              func(w http.ResponseWriter, r *http.Request, s *session)
}

func (h *handler) routes() []route {
	return []route{
		{method: "GET", pattern: "/{$}", fn: h.root},
		{method: "GET", pattern: "/ui/login", fn: h.loginPage},
		{method: "POST", pattern: "/ui/login", fn: h.loginSubmit},
		{method: "GET", pattern: "/ui/oidc/start", fn: h.oidcStart},
		{method: "GET", pattern: "/ui/oidc/callback", fn: h.oidcCallback},
		{method: "POST", pattern: "/ui/logout", role: ripcord.RoleViewer, fn: h.logout},
		{method: "GET", pattern: "/ui/{$}", role: ripcord.RoleViewer, fn: h.overview},
		{method: "GET", pattern: "/ui/events", role: ripcord.RoleViewer, fn: h.events},
		{method: "GET", pattern: "/ui/apps/{app}/releases/{version}", role: ripcord.RoleViewer, fn: h.release},
		{method: "GET", pattern: "/ui/apps/{app}/releases/{version}/audit", role: ripcord.RoleViewer, fn: h.timeline},
		{method: "GET", pattern: "/ui/apps/{app}/releases/{version}/confirm/{action}", role: ripcord.RoleReleaseManager, fn: h.confirm},
		{method: "POST", pattern: "/ui/apps/{app}/releases/{version}/actions/{action}", role: ripcord.RoleReleaseManager, fn: h.act},
		{method: "GET", pattern: "/ui/admin", role: ripcord.RoleAdmin, fn: h.admin},
	}
}

// wrap authenticates the session, checks the role (the same
// ripcord.Authorize as the API) and, on state-changing requests, the CSRF
// token.
func (h *handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.role == "" {
			rt.fn(w, r, nil)
			return
		}
		s, err := h.session(r)
		if err != nil {
			var none errNoSession
			if errors.As(err, &none) {
				h.toLogin(w, r, none.why)
				return
			}
			h.renderError(w, r, nil, err)
			return
		}
		ctx := ripcord.NewContextWithActor(r.Context(), s.actor)
		r = r.WithContext(ctx)
		if err := ripcord.Authorize(ctx, rt.role); err != nil {
			h.renderError(w, r, s, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := checkCSRF(r, s); err != nil {
				h.renderError(w, r, s, err)
				return
			}
		}
		rt.fn(w, r, s)
	})
}

// withHeaders sets the headers every dashboard response carries: no
// framing (clickjacking a Roll back button), a strict content security
// policy (only our own script and styles), no caching of signed-in pages.
func (h *handler) withHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		if h.secure(r) {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

func (h *handler) root(w http.ResponseWriter, r *http.Request, _ *session) {
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// toLogin sends a signed-out person to the sign-in page, remembering where
// they were going (a GET page only).
func (h *handler) toLogin(w http.ResponseWriter, r *http.Request, why string) {
	if r.Header.Get("Accept") == "text/event-stream" || r.Header.Get(asyncHeader) != "" {
		http.Error(w, why, http.StatusUnauthorized)
		return
	}
	next := "/ui/"
	if r.Method == http.MethodGet {
		next = r.URL.RequestURI()
	}
	http.Redirect(w, r, "/ui/login?"+urlValues("next", next, "why", why), http.StatusSeeOther)
}
