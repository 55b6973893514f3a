package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/ripcordhq/ripcord/internal/gate"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Gate checks releases against their app's go/no-go gate and records
// approvals and the changes CI reports (issue #10).
type Gate interface {
	Check(ctx context.Context, app, version string) (*gate.Decision, error)
	Latest(ctx context.Context, app, version string) (*gate.Decision, error)
	Approve(ctx context.Context, app, version, item, evidence string) ([]gate.Approval, error)
	Approvals(ctx context.Context, app, version string) ([]gate.Approval, error)
	RecordChanges(ctx context.Context, app, version string, p gate.ChangesParams) (*storage.ReleaseChanges, error)
}

// GateDecision is a recorded go/no-go on the wire.
type GateDecision struct {
	ID        int64             `json:"id"`
	App       string            `json:"app"`
	Version   string            `json:"version"`
	Go        bool              `json:"go"`
	Items     []gate.ItemResult `json:"items"`
	ItemsHash string            `json:"items_hash"`
	GateHash  string            `json:"gate_hash"`
	DecidedBy string            `json:"decided_by"`
	DecidedAt time.Time         `json:"decided_at"`
}

// NewGateDecision converts a decision to the wire.
func NewGateDecision(d *gate.Decision) GateDecision {
	return GateDecision{ID: d.ID, App: d.App, Version: d.Version, Go: d.Go, Items: d.Items, ItemsHash: d.ItemsHash, GateHash: d.GateHash, DecidedBy: d.DecidedBy, DecidedAt: d.DecidedAt}
}

// GateApproveRequest approves a gate item.
type GateApproveRequest struct {
	Item     string `json:"item"`
	Evidence string `json:"evidence,omitempty"`
}

// GateApproval is a recorded approval or manual check on the wire.
type GateApproval struct {
	Item       string    `json:"item"`
	Role       string    `json:"role"`
	Actor      string    `json:"actor"`
	Evidence   string    `json:"evidence,omitempty"`
	ApprovedAt time.Time `json:"approved_at"`
}

// NewGateApproval converts an approval to the wire.
func NewGateApproval(a gate.Approval) GateApproval {
	return GateApproval{Item: a.ItemID, Role: a.Role, Actor: a.Actor, Evidence: a.Evidence, ApprovedAt: a.ApprovedAt}
}

// ReleaseChangesRequest reports what a release changes.
type ReleaseChangesRequest struct {
	Paths  []string `json:"paths"`
	Flags  []string `json:"flags,omitempty"`
	Source string   `json:"source,omitempty"`
}

// ReleaseChanges is what a release changes, as recorded.
type ReleaseChanges struct {
	App        string    `json:"app"`
	Version    string    `json:"version"`
	Paths      []string  `json:"paths"`
	Flags      []string  `json:"flags"`
	Source     string    `json:"source"`
	RecordedBy string    `json:"recorded_by"`
	RecordedAt time.Time `json:"recorded_at"`
}

func (h *handler) gateCheck(w http.ResponseWriter, r *http.Request) {
	d, err := h.gate.Check(r.Context(), r.PathValue("app"), r.PathValue("version"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewGateDecision(d))
}

func (h *handler) gateLatest(w http.ResponseWriter, r *http.Request) {
	d, err := h.gate.Latest(r.Context(), r.PathValue("app"), r.PathValue("version"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewGateDecision(d))
}

func (h *handler) gateApprove(w http.ResponseWriter, r *http.Request) {
	var req GateApproveRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	as, err := h.gate.Approve(r.Context(), r.PathValue("app"), r.PathValue("version"), req.Item, req.Evidence)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[GateApproval]{Items: mapSlice(as, NewGateApproval)})
}

func (h *handler) gateApprovals(w http.ResponseWriter, r *http.Request) {
	as, err := h.gate.Approvals(r.Context(), r.PathValue("app"), r.PathValue("version"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[GateApproval]{Items: mapSlice(as, NewGateApproval)})
}

func (h *handler) releaseChanges(w http.ResponseWriter, r *http.Request) {
	var req ReleaseChangesRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	app := r.PathValue("app")
	c, err := h.gate.RecordChanges(r.Context(), app, r.PathValue("version"), gate.ChangesParams{Paths: req.Paths, Flags: req.Flags, Source: req.Source})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ReleaseChanges{App: app, Version: c.Version, Paths: c.Paths, Flags: c.Flags, Source: c.Source, RecordedBy: c.RecordedBy, RecordedAt: c.RecordedAt})
}
