package httpapi

import (
	"net/http"

	"github.com/ripcordhq/ripcord"
)

func (h *handler) releaseList(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	rels, err := h.catalog.ReleaseList(r.Context(), app)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[Release]{Items: mapSlice(rels, func(rel *ripcord.Release) Release { return NewRelease(app, rel) })})
}

func (h *handler) releaseCreate(w http.ResponseWriter, r *http.Request) {
	var req ReleaseCreateRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	app := r.PathValue("app")
	rel, err := h.catalog.ReleaseCreate(r.Context(), app, req.Version)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/apps/"+app+"/releases/"+rel.Version)
	writeJSON(w, http.StatusCreated, NewRelease(app, rel))
}

func (h *handler) releaseGet(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	rel, err := h.catalog.ReleaseGet(r.Context(), app, r.PathValue("version"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := NewRelease(app, rel)
	if err := h.withSchedule(r.Context(), &out); err != nil { // staged rollouts
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
