package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/incident"
)

// Incidents opens, lists, shows and resolves incident records.
type Incidents interface {
	Open(ctx context.Context, p incident.IncidentParams) (int64, error)
	List(ctx context.Context, p incident.ListParams) ([]*ripcord.Incident, error)
	Get(ctx context.Context, id int64) (*incident.Detail, error)
	Resolve(ctx context.Context, id int64, summary string) (*ripcord.Incident, error)
}

// Incident is an incident on the wire; Timeline is only in a single
// incident's answer.
type Incident struct {
	ID          int64                    `json:"id"`
	App         string                   `json:"app"`
	Version     string                   `json:"version"`
	Platform    string                   `json:"platform"`
	Trigger     string                   `json:"trigger"`
	Decision    string                   `json:"decision"`
	Outcome     string                   `json:"outcome,omitempty"`
	RunbookID   string                   `json:"runbook_id,omitempty"`
	State       string                   `json:"state"`
	OpenedBy    string                   `json:"opened_by"`
	OpenedAt    time.Time                `json:"opened_at"`
	MitigatedAt *time.Time               `json:"mitigated_at,omitempty"`
	ResolvedAt  *time.Time               `json:"resolved_at,omitempty"`
	ResolvedBy  string                   `json:"resolved_by,omitempty"`
	Summary     string                   `json:"summary,omitempty"`
	Timeline    []incident.TimelineEntry `json:"timeline,omitempty"`
}

// NewIncident converts an incident for the wire.
func NewIncident(in *ripcord.Incident) Incident {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return Incident{ID: in.ID, App: in.App, Version: in.Version, Platform: string(in.Platform), Trigger: in.Trigger, Decision: in.Decision,
		Outcome: in.Outcome, RunbookID: in.RunbookID, State: string(in.State), OpenedBy: in.OpenedBy, OpenedAt: in.OpenedAt,
		MitigatedAt: opt(in.MitigatedAt), ResolvedAt: opt(in.ResolvedAt), ResolvedBy: in.ResolvedBy, Summary: in.Summary}
}

// IncidentOpenRequest declares an incident by hand (or from a runbook
// trigger); a repeat for an open incident appends to it.
type IncidentOpenRequest struct {
	App       string `json:"app"`
	Version   string `json:"version"`
	Platform  string `json:"platform"`
	Trigger   string `json:"trigger,omitempty"` // default "manual"
	Decision  string `json:"decision"`
	RunbookID string `json:"runbook_id,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
}

// IncidentResolveRequest closes an incident.
type IncidentResolveRequest struct {
	Summary string `json:"summary"`
}

func (h *handler) incidentList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := incident.ListParams{App: q.Get("app")}
	if s := q.Get("open"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "open=%q must be true or false", s))
			return
		}
		p.OpenOnly = b
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "limit=%q must be a whole number from 1 to 1000", s))
			return
		}
		p.Limit = n
	}
	list, err := h.incidents.List(r.Context(), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[Incident]{Items: mapSlice(list, NewIncident)})
}

func (h *handler) incidentOpen(w http.ResponseWriter, r *http.Request) {
	var req IncidentOpenRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	if req.Trigger == "" {
		req.Trigger = "manual"
	}
	id, err := h.incidents.Open(r.Context(), incident.IncidentParams{App: req.App, Version: req.Version, Platform: ripcord.Platform(req.Platform),
		Trigger: req.Trigger, Decision: req.Decision, RunbookID: req.RunbookID, Outcome: req.Outcome})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeIncident(w, r, http.StatusCreated, id)
}

func (h *handler) incidentGet(w http.ResponseWriter, r *http.Request) {
	id, err := incidentID(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeIncident(w, r, http.StatusOK, id)
}

func (h *handler) writeIncident(w http.ResponseWriter, r *http.Request, status int, id int64) {
	d, err := h.incidents.Get(r.Context(), id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := NewIncident(d.Incident)
	out.Timeline = d.Timeline
	writeJSON(w, status, out)
}

func (h *handler) incidentResolve(w http.ResponseWriter, r *http.Request) {
	id, err := incidentID(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var req IncidentResolveRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	in, err := h.incidents.Resolve(r.Context(), id, req.Summary)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewIncident(in))
}

func incidentID(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, ripcord.Errorf(ripcord.EINVALID, "incident id %q must be a positive whole number", s)
	}
	return id, nil
}
