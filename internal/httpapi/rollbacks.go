package httpapi

import (
	"net/http"

	"github.com/ripcordhq/ripcord"
)

// rollbackPlatform reads ?platform=, android when absent (Android's
// rollback is the one that needs no store review, so it is the default).
func rollbackPlatform(r *http.Request) (ripcord.Platform, error) {
	s := r.URL.Query().Get("platform")
	if s == "" {
		return ripcord.Android, nil
	}
	return ripcord.ParsePlatform(s)
}

func (h *handler) rollbackBuildGet(w http.ResponseWriter, r *http.Request) {
	p, err := rollbackPlatform(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	app := r.PathValue("app")
	rb, err := h.rollbacks.RollbackBuildGet(r.Context(), app, r.PathValue("version"), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewRollbackBuild(app, rb))
}

func (h *handler) rollbackBuildPrepare(w http.ResponseWriter, r *http.Request) {
	p, err := rollbackPlatform(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	app := r.PathValue("app")
	rb, err := h.rollbacks.RollbackBuildPrepare(r.Context(), app, r.PathValue("version"), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, NewRollbackBuild(app, rb))
}
