package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/ripcordhq/ripcord"
)

// ActionParams is a request for an action, before it is split per
// platform.
type ActionParams struct {
	App, Version   string
	Kind           ripcord.ActionKind
	IdempotencyKey string
	Reason         string
}

// ActionOutcome is what a request did on one platform: its action, or the
// error that refused it.
type ActionOutcome struct {
	Platform ripcord.Platform
	Action   *ripcord.RolloutAction
	Err      error
}

// Rollouts requests durable rollout actions and reports their progress.
type Rollouts interface {
	// RequestActions requests the action on each platform (nil: every
	// platform of the app), each independently. The error is for a request
	// that reached no platform (authorisation, an unknown app).
	RequestActions(ctx context.Context, p ActionParams, platforms []ripcord.Platform) ([]ActionOutcome, error)
	// ActionGet returns one action of a release.
	ActionGet(ctx context.Context, app, version string, id int64) (*ripcord.RolloutAction, error)
}

// RolloutActions is the answer to a halt, resume or rollback request: what
// happened on each platform.
type RolloutActions struct {
	Actions []PlatformAction `json:"actions"`
}

// PlatformAction is one platform's part of a request: its action, or the
// error that refused it there.
type PlatformAction struct {
	Platform string       `json:"platform"`
	Action   *Action      `json:"action,omitempty"`
	Error    *ErrorDetail `json:"error,omitempty"`
}

// Action is a rollout action on the wire, with its completed steps.
type Action struct {
	ID          int64        `json:"id"`
	App         string       `json:"app"`
	Platform    string       `json:"platform"`
	Kind        string       `json:"kind"`
	State       string       `json:"state"`
	Actor       string       `json:"actor"`
	Reason      string       `json:"reason,omitempty"`
	Steps       []ActionStep `json:"steps"`
	PendingStep string       `json:"pending_step,omitempty"`
	Error       string       `json:"error,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// ActionStep is a completed step on the wire.
type ActionStep struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
	Note string    `json:"note,omitempty"`
}

// NewAction converts a rollout action for the wire.
func NewAction(app string, a *ripcord.RolloutAction) *Action {
	out := &Action{ID: a.ID, App: app, Platform: string(a.Platform), Kind: string(a.Kind), State: string(a.State), Actor: a.Actor, Reason: a.Reason,
		Steps: make([]ActionStep, 0, len(a.Steps)), PendingStep: a.PendingStep, Error: a.Error, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	for _, s := range a.Steps {
		out.Steps = append(out.Steps, ActionStep{Name: s.Name, At: s.At, Note: s.Note})
	}
	return out
}

func (h *handler) platformAction(r *http.Request, o ActionOutcome) PlatformAction {
	pa := PlatformAction{Platform: string(o.Platform)}
	if o.Err != nil {
		code := ripcord.ErrorCode(o.Err)
		pa.Error = &ErrorDetail{Code: code, Message: ripcord.ErrorMessage(o.Err), Details: ripcord.ErrorDetails(o.Err)}
		if code == ripcord.EINTERNAL {
			h.logger.ErrorContext(r.Context(), "rollout action request failed", "platform", string(o.Platform), "error", o.Err.Error())
			pa.Error.Message = "Internal error. Quote request id " + ripcord.RequestIDFromContext(r.Context()) + " when reporting it."
		}
		return pa
	}
	pa.Action = NewAction(r.PathValue("app"), o.Action)
	return pa
}

// actionGet serves GET .../actions/{id}: the action's live progress.
func (h *handler) actionGet(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "action id %q is not a positive number", r.PathValue("id")))
		return
	}
	a, err := h.rollouts.ActionGet(r.Context(), r.PathValue("app"), r.PathValue("version"), id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewAction(r.PathValue("app"), a))
}
