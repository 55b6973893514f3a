package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
)

// pageNames are the pages; each is parsed with the layout and the shared
// partials, once, at start-up.
var pageNames = []string{"login", "overview", "release", "timeline", "confirm", "admin", "error"}

type pages struct{ byName map[string]*template.Template }

func parsePages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse page %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// pageData is what every page template gets.
type pageData struct {
	Title   string
	Session *sessionView // nil when signed out
	Events  string       // live-update stream of the page; "" for none
	Flash   string
	Body    any
}

// sessionView is what templates may know of the session.
type sessionView struct {
	Actor ripcord.Actor
	CSRF  string
}

// Can reports whether the signed-in person has role, to show or hide
// buttons (the server checks again on submit).
func (s *sessionView) Can(role string) bool {
	return s != nil && s.Actor.Role.Allows(ripcord.Role(role))
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, s *session, status int, name, title string, body any) {
	d := pageData{Title: title, Body: body, Flash: r.URL.Query().Get("done")}
	if s != nil {
		d.Session = &sessionView{Actor: s.actor, CSRF: s.csrf()}
	}
	if ev, ok := body.(interface{ events() string }); ok {
		d.Events = ev.events()
	}
	var buf bytes.Buffer
	if err := h.pages.byName[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		h.logger.ErrorContext(r.Context(), "render page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "Internal error while drawing this page; the details are in the server log.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// statusByCode maps domain error codes to HTTP statuses, as the API does.
var statusByCode = map[string]int{
	ripcord.EINVALID: http.StatusBadRequest, ripcord.EUNAUTHORIZED: http.StatusUnauthorized, ripcord.EFORBIDDEN: http.StatusForbidden,
	ripcord.ENOTFOUND: http.StatusNotFound, ripcord.ECONFLICT: http.StatusConflict, ripcord.ETOOLARGE: http.StatusRequestEntityTooLarge,
	ripcord.ERATELIMITED: http.StatusTooManyRequests, ripcord.EUNAVAILABLE: http.StatusServiceUnavailable, ripcord.EINTERNAL: http.StatusInternalServerError,
}

// errorView is the error page's body.
type errorView struct {
	Status  int
	Message string
	Back    string
}

// renderError shows err as a page (or, for a script's request, as JSON).
// Internal errors are logged and shown only as a request to check the log.
func (h *handler) renderError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	code := ripcord.ErrorCode(err)
	status := statusByCode[code]
	msg := ripcord.ErrorMessage(err)
	if code == ripcord.EINTERNAL {
		h.logger.ErrorContext(r.Context(), "dashboard request failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		msg = "Something went wrong inside Ripcord; the details are in the server log. Nothing was changed by this page."
	}
	if r.Header.Get(asyncHeader) != "" {
		writeJSON(w, status, map[string]string{"error": msg, "code": code})
		return
	}
	h.render(w, r, s, status, "error", http.StatusText(status), errorView{Status: status, Message: msg, Back: "/ui/"})
}

// asyncHeader marks a request made by the page's script, which wants JSON
// instead of a page or a redirect.
const asyncHeader = "X-Ripcord-Async"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func urlValues(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// overviewView is the overview page's body.
type overviewView struct {
	Apps  []AppOverview
	since int64
}

func (v overviewView) events() string {
	return "/ui/events?" + urlValues("since", strconv.FormatInt(v.since, 10))
}

func (h *handler) overview(w http.ResponseWriter, r *http.Request, s *session) {
	since := h.head(r.Context())
	apps, err := h.src.Overview(r.Context())
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "overview", "Apps", overviewView{Apps: apps, since: since})
}

// releasePage is the release page's body.
type releasePage struct {
	*ReleaseView
	Plans map[ripcord.Platform][]Plan // per platform: stop, then roll back
	since int64
}

func (p releasePage) events() string {
	return "/ui/events?" + urlValues("app", p.App.Name, "version", p.Release.Version, "since", strconv.FormatInt(p.since, 10))
}

func (h *handler) release(w http.ResponseWriter, r *http.Request, s *session) {
	since := h.head(r.Context())
	v, err := h.src.Release(r.Context(), r.PathValue("app"), r.PathValue("version"))
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	p := newReleasePage(v)
	p.since = since
	h.render(w, r, s, http.StatusOK, "release", v.App.Name+" "+v.Release.Version, p)
}

func newReleasePage(v *ReleaseView) releasePage {
	p := releasePage{ReleaseView: v, Plans: map[ripcord.Platform][]Plan{}}
	for i := range v.Platforms {
		pv := &v.Platforms[i]
		stop := stopKind(pv.Platform)
		if pv.Status == ripcord.StatusHalted || pv.Status == ripcord.StatusPaused {
			stop = ActionResume
		}
		p.Plans[pv.Platform] = []Plan{PlanAction(stop, v.Release, pv), PlanAction(ActionRollback, v.Release, pv)}
	}
	return p
}

// timelineView is the timeline page's body.
type timelineView struct {
	App     string
	Release *ripcord.Release
	Entries []ripcord.AuditEntry
	since   int64
}

func (t timelineView) events() string {
	return "/ui/events?" + urlValues("app", t.App, "version", t.Release.Version, "since", strconv.FormatInt(t.since, 10))
}

func (h *handler) timeline(w http.ResponseWriter, r *http.Request, s *session) {
	since := h.head(r.Context())
	rel, es, err := h.src.Timeline(r.Context(), r.PathValue("app"), r.PathValue("version"))
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "timeline", "Timeline of "+r.PathValue("app")+" "+rel.Version, timelineView{App: r.PathValue("app"), Release: rel, Entries: es, since: since})
}

// confirmView is the confirmation page's body.
type confirmView struct {
	App     string
	Version string
	Plan    Plan
	Status  ripcord.ReleaseStatus
	Error   string
}

// planFor reads the release and writes the plan of an action on the
// platform in the query.
func (h *handler) planFor(ctx context.Context, r *http.Request) (*confirmView, error) {
	kind := r.PathValue("action")
	switch kind {
	case ActionHalt, ActionPause, ActionResume, ActionRollback:
	default:
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "there is no action %q; the release page offers halt, pause, resume and roll back", kind)
	}
	platform, err := ripcord.ParsePlatform(r.FormValue("platform"))
	if err != nil {
		return nil, err
	}
	v, err := h.src.Release(ctx, r.PathValue("app"), r.PathValue("version"))
	if err != nil {
		return nil, err
	}
	for i := range v.Platforms {
		if pv := &v.Platforms[i]; pv.Platform == platform {
			return &confirmView{App: v.App.Name, Version: v.Release.Version, Plan: PlanAction(kind, v.Release, pv), Status: pv.Status}, nil
		}
	}
	return nil, ripcord.Errorf(ripcord.EINVALID, "app %s is not on %s", v.App.Name, platform)
}

func (h *handler) confirm(w http.ResponseWriter, r *http.Request, s *session) {
	cv, err := h.planFor(r.Context(), r)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "confirm", cv.Plan.Title, cv)
}

// act runs a confirmed action. It runs to its end even if the browser
// goes away (a half-made store change is worse than an unseen one), then
// sends the person back to the release page, where the result shows.
func (h *handler) act(w http.ResponseWriter, r *http.Request, s *session) {
	cv, err := h.planFor(r.Context(), r)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	if !cv.Plan.Possible {
		err = ripcord.Errorf(ripcord.ECONFLICT, "%s is not possible now: %s", cv.Plan.Title, cv.Plan.Why)
	} else {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.actionTimeout)
		defer cancel()
		_, err = h.src.Actions.Start(ctx, cv.App, cv.Version, cv.Plan.Platform, cv.Plan.Kind)
	}
	back := fmt.Sprintf("/ui/apps/%s/releases/%s", url.PathEscape(cv.App), url.PathEscape(cv.Version))
	if r.Header.Get(asyncHeader) != "" {
		if err != nil {
			h.renderError(w, r, s, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"done": cv.Plan.Title})
		return
	}
	if err != nil {
		cv.Error = ripcord.ErrorMessage(err)
		if ripcord.ErrorCode(err) == ripcord.EINTERNAL {
			h.logger.ErrorContext(r.Context(), "dashboard action failed", slog.String("action", cv.Plan.Kind), slog.String("error", err.Error()))
			cv.Error = "Ripcord could not finish this; the details are in the server log. Check the release's state below before trying again."
		}
		h.render(w, r, s, statusByCode[ripcord.ErrorCode(err)], "confirm", cv.Plan.Title, cv)
		return
	}
	http.Redirect(w, r, back+"?"+urlValues("done", cv.Plan.Title+": done."), http.StatusSeeOther)
}

func (h *handler) admin(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := h.src.Admin(r.Context())
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "admin", "Tokens and users", v)
}

// funcs are the template helpers: formatting only, no data access.
var funcs = template.FuncMap{
	"pct":      pct,
	"time":     func(t time.Time) string { return formatTime(t) },
	"status":   statusLabel,
	"outcome":  outcomeLabel,
	"chart":    healthChart,
	"lower":    strings.ToLower,
	"platform": platformLabel,
}

func pct(f float64) string {
	if math.IsNaN(f) {
		return "–"
	}
	return fmt.Sprintf("%.2f %%", f*100)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// statusLabel is a release status in words.
func statusLabel(s ripcord.ReleaseStatus) string {
	switch s {
	case "":
		return "no release"
	case ripcord.StatusRollingOut:
		return "rolling out"
	case ripcord.StatusInReview:
		return "in review"
	case ripcord.StatusRolledBack:
		return "rolled back"
	}
	return string(s)
}

func outcomeLabel(o string) string {
	switch o {
	case "fix_forward":
		return "fix forward"
	case "no_data":
		return "no data"
	case "rollback":
		return "roll back"
	}
	return o
}

func platformLabel(p ripcord.Platform) string {
	if p == ripcord.IOS {
		return "iOS"
	}
	return "Android"
}
