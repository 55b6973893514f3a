package httpapi

import (
	"net/http"

	"github.com/ripcordhq/ripcord"
)

func (h *handler) appList(w http.ResponseWriter, r *http.Request) {
	apps, err := h.catalog.AppList(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[App]{Items: mapSlice(apps, NewApp)})
}

func (h *handler) appCreate(w http.ResponseWriter, r *http.Request) {
	var req AppCreateRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	a, err := h.catalog.AppCreate(r.Context(), ripcord.App{Name: req.Name, IOSBundleID: req.IOSBundleID, AndroidPackage: req.AndroidPackage})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/apps/"+a.Name)
	writeJSON(w, http.StatusCreated, NewApp(a))
}

func (h *handler) appGet(w http.ResponseWriter, r *http.Request) {
	a, err := h.catalog.AppGet(r.Context(), r.PathValue("app"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewApp(a))
}
