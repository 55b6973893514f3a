package httpapi

import (
	"net/http"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
)

// HealthSamplesRequest is a batch of counts from a source other than the
// Sentry endpoint.
type HealthSamplesRequest struct {
	Samples []healthwatch.Sample `json:"samples"`
}

func (h *handler) healthSamples(w http.ResponseWriter, r *http.Request) {
	var req HealthSamplesRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.health.Ingest(r.Context(), req.Samples)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *handler) releaseHealth(w http.ResponseWriter, r *http.Request) {
	var p ripcord.Platform
	if s := r.URL.Query().Get("platform"); s != "" {
		var err error
		if p, err = ripcord.ParsePlatform(s); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	rep, err := h.health.Report(r.Context(), r.PathValue("app"), r.PathValue("version"), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
