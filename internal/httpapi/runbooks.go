package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/rehearsal"
	"github.com/ripcordhq/ripcord/internal/runbooks"
)

// Runbooks stores, lists and renders the runbooks apps push (issue #10).
type Runbooks interface {
	Push(ctx context.Context, app string, p runbooks.PushParams) (*runbooks.PushResult, error)
	List(ctx context.Context, app, flow string) ([]*runbooks.Runbook, error)
	Get(ctx context.Context, app, id string, version int64) (*runbooks.Runbook, error)
	Versions(ctx context.Context, app, id string) ([]*runbooks.Runbook, error)
}

// Rehearsals records rehearsals step by step, timed on the server's clock.
type Rehearsals interface {
	Start(ctx context.Context, app, runbookID, env string) (*rehearsal.Rehearsal, error)
	Get(ctx context.Context, app string, id int64) (*rehearsal.Rehearsal, error)
	List(ctx context.Context, app, runbookID string) ([]*rehearsal.Rehearsal, error)
	StepStart(ctx context.Context, app string, id int64, n int) (*rehearsal.Rehearsal, error)
	StepEnd(ctx context.Context, app string, id int64, n int, outcome string) (*rehearsal.Rehearsal, error)
	RollbackStart(ctx context.Context, app string, id int64, level string) (*rehearsal.Rehearsal, error)
	RollbackEnd(ctx context.Context, app string, id int64, level string) (*rehearsal.Rehearsal, error)
	Finish(ctx context.Context, app string, id int64, outcome string) (*rehearsal.Rehearsal, error)
}

// RunbookFile is one pushed file, by its path under .ripcord/.
type RunbookFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// RunbookPushRequest is one push of an app's .ripcord/ directory.
type RunbookPushRequest struct {
	GitSHA string        `json:"git_sha"`
	Files  []RunbookFile `json:"files"`
}

// RunbookPushResult says what a push stored.
type RunbookPushResult struct {
	Runbooks []RunbookPushed `json:"runbooks"`
	Gate     string          `json:"gate,omitempty"`
}

// RunbookPushed is one runbook's outcome of a push.
type RunbookPushed struct {
	ID      string `json:"id"`
	Outcome string `json:"outcome"` // created, unchanged or removed
	Version int64  `json:"version,omitempty"`
}

// Runbook is a runbook version on the wire; Content only when one is fetched.
type Runbook struct {
	App         string             `json:"app"`
	ID          string             `json:"id"`
	Flow        string             `json:"flow"`
	Title       string             `json:"title"`
	Version     int64              `json:"version"`
	ContentHash string             `json:"content_hash"`
	GitSHA      string             `json:"git_sha"`
	PushedBy    string             `json:"pushed_by"`
	PushedAt    time.Time          `json:"pushed_at"`
	Confirmed   []RunbookConfirmed `json:"confirmed"`
	Content     string             `json:"content,omitempty"`
}

// RunbookConfirmed is a rollback level's time confirmed by a rehearsal.
type RunbookConfirmed struct {
	Level           string    `json:"level"`
	Index           int       `json:"index"`
	MeasuredSeconds float64   `json:"measured_seconds"`
	BudgetSeconds   float64   `json:"budget_seconds"`
	Within          bool      `json:"within_budget"`
	RehearsalID     int64     `json:"rehearsal_id"`
	At              time.Time `json:"at"`
}

// NewRunbook converts a runbook version to the wire, with its content when
// withContent.
func NewRunbook(rb *runbooks.Runbook, withContent bool) Runbook {
	out := Runbook{App: rb.App, ID: rb.ID, Flow: rb.Flow, Title: rb.Title, Version: rb.Version, ContentHash: rb.ContentHash, GitSHA: rb.GitSHA,
		PushedBy: rb.PushedBy, PushedAt: rb.PushedAt, Confirmed: []RunbookConfirmed{}}
	for _, c := range rb.Confirmed {
		out.Confirmed = append(out.Confirmed, RunbookConfirmed{Level: c.Level, Index: c.Index, MeasuredSeconds: c.Measured.Seconds(), BudgetSeconds: c.Budget.Seconds(),
			Within: c.Within(), RehearsalID: c.RehearsalID, At: c.At})
	}
	if withContent {
		out.Content = rb.Content
	}
	return out
}

func (h *handler) runbookPush(w http.ResponseWriter, r *http.Request) {
	var req RunbookPushRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	p := runbooks.PushParams{GitSHA: req.GitSHA}
	for _, f := range req.Files {
		p.Files = append(p.Files, runbooks.File{Path: f.Path, Content: f.Content})
	}
	res, err := h.runbooks.Push(r.Context(), r.PathValue("app"), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := RunbookPushResult{Gate: res.Gate, Runbooks: mapSlice(res.Runbooks, func(p runbooks.PushedRunbook) RunbookPushed {
		return RunbookPushed{ID: p.ID, Outcome: p.Outcome, Version: p.Version}
	})}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) runbookList(w http.ResponseWriter, r *http.Request) {
	rbs, err := h.runbooks.List(r.Context(), r.PathValue("app"), r.URL.Query().Get("flow"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[Runbook]{Items: mapSlice(rbs, func(rb *runbooks.Runbook) Runbook { return NewRunbook(rb, false) })})
}

// versionParam reads ?version=, 0 (the current one) when absent.
func versionParam(r *http.Request) (int64, error) {
	s := r.URL.Query().Get("version")
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 {
		return 0, ripcord.Errorf(ripcord.EINVALID, "version %q is not a runbook version number", s)
	}
	return v, nil
}

func (h *handler) runbookGet(w http.ResponseWriter, r *http.Request) {
	v, err := versionParam(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rb, err := h.runbooks.Get(r.Context(), r.PathValue("app"), r.PathValue("id"), v)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewRunbook(rb, true))
}

func (h *handler) runbookVersions(w http.ResponseWriter, r *http.Request) {
	rbs, err := h.runbooks.Versions(r.Context(), r.PathValue("app"), r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[Runbook]{Items: mapSlice(rbs, func(rb *runbooks.Runbook) Runbook { return NewRunbook(rb, false) })})
}

// runbookHTML serves the rendered runbook as an HTML fragment for the
// dashboard; Render escapes every piece of the runbook's text.
func (h *handler) runbookHTML(w http.ResponseWriter, r *http.Request) {
	v, err := versionParam(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rb, err := h.runbooks.Get(r.Context(), r.PathValue("app"), r.PathValue("id"), v)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(runbooks.Render(rb)))
}

// Rehearsal is a rehearsal on the wire.
type Rehearsal struct {
	ID          int64                 `json:"id"`
	App         string                `json:"app"`
	Runbook     string                `json:"runbook"`
	Version     int64                 `json:"runbook_version"`
	ContentHash string                `json:"content_hash"`
	Env         string                `json:"env"`
	State       string                `json:"state"`
	Outcome     string                `json:"outcome,omitempty"`
	Result      string                `json:"result,omitempty"`
	StartedBy   string                `json:"started_by"`
	StartedAt   time.Time             `json:"started_at"`
	FinishedAt  *time.Time            `json:"finished_at,omitempty"`
	Steps       []rehearsal.StepMark  `json:"steps"`
	Levels      []rehearsal.LevelMark `json:"levels"`
	// Missing lists what the rehearsal still lacks before it can finish.
	Missing []string `json:"missing"`
}

// NewRehearsal converts a rehearsal to the wire.
func NewRehearsal(r *rehearsal.Rehearsal) Rehearsal {
	out := Rehearsal{ID: r.ID, App: r.App, Runbook: r.RunbookID, Version: r.Version, ContentHash: r.ContentHash, Env: r.Env, State: r.State,
		Outcome: r.Outcome, Result: r.Result, StartedBy: r.StartedBy, StartedAt: r.StartedAt, Steps: r.Record.Steps, Levels: r.Record.Levels,
		Missing: r.Record.Missing(r.ID)}
	if !r.FinishedAt.IsZero() {
		t := r.FinishedAt
		out.FinishedAt = &t
	}
	if out.Missing == nil {
		out.Missing = []string{}
	}
	return out
}

// RehearsalStartRequest starts a rehearsal.
type RehearsalStartRequest struct {
	Runbook string `json:"runbook"`
	Env     string `json:"env"`
}

// RehearsalOutcomeRequest ends a step or finishes a rehearsal.
type RehearsalOutcomeRequest struct {
	Outcome string `json:"outcome"`
}

func (h *handler) rehearsalStart(w http.ResponseWriter, r *http.Request) {
	var req RehearsalStartRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	out, err := h.rehearsals.Start(r.Context(), r.PathValue("app"), req.Runbook, req.Env)
	h.writeRehearsal(w, r, http.StatusCreated, out, err)
}

func (h *handler) writeRehearsal(w http.ResponseWriter, r *http.Request, status int, out *rehearsal.Rehearsal, err error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, status, NewRehearsal(out))
}

func (h *handler) rehearsalList(w http.ResponseWriter, r *http.Request) {
	rs, err := h.rehearsals.List(r.Context(), r.PathValue("app"), r.URL.Query().Get("runbook"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[Rehearsal]{Items: mapSlice(rs, NewRehearsal)})
}

// rehearsalID reads the {id} path value.
func rehearsalID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, ripcord.Errorf(ripcord.EINVALID, "rehearsal id %q is not a number", r.PathValue("id"))
	}
	return id, nil
}

func (h *handler) rehearsalGet(w http.ResponseWriter, r *http.Request) {
	id, err := rehearsalID(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out, err := h.rehearsals.Get(r.Context(), r.PathValue("app"), id)
	h.writeRehearsal(w, r, http.StatusOK, out, err)
}

// rehearsalStep marks a step started (end false) or ended with an outcome.
func (h *handler) rehearsalStep(end bool) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := rehearsalID(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil {
			h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "step %q is not a step number", r.PathValue("n")))
			return
		}
		var out *rehearsal.Rehearsal
		if end {
			var req RehearsalOutcomeRequest
			if err := h.decodeJSON(w, r, &req); err != nil {
				h.writeError(w, r, err)
				return
			}
			out, err = h.rehearsals.StepEnd(r.Context(), r.PathValue("app"), id, n, req.Outcome)
		} else {
			out, err = h.rehearsals.StepStart(r.Context(), r.PathValue("app"), id, n)
		}
		h.writeRehearsal(w, r, http.StatusOK, out, err)
	}
}

// rehearsalLevel marks a rollback level's start or end on the server clock.
func (h *handler) rehearsalLevel(end bool) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := rehearsalID(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		mark := h.rehearsals.RollbackStart
		if end {
			mark = h.rehearsals.RollbackEnd
		}
		out, err := mark(r.Context(), r.PathValue("app"), id, r.PathValue("level"))
		h.writeRehearsal(w, r, http.StatusOK, out, err)
	}
}

func (h *handler) rehearsalFinish(w http.ResponseWriter, r *http.Request) {
	id, err := rehearsalID(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var req RehearsalOutcomeRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	out, err := h.rehearsals.Finish(r.Context(), r.PathValue("app"), id, req.Outcome)
	h.writeRehearsal(w, r, http.StatusOK, out, err)
}
