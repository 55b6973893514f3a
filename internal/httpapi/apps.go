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
	dsns, err := h.dsns(r, 0)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[App]{Items: mapSlice(apps, func(a *ripcord.App) App { return newAppDSN(a, dsns) })})
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
	h.writeApp(w, r, http.StatusCreated, a)
}

func (h *handler) appGet(w http.ResponseWriter, r *http.Request) {
	a, err := h.catalog.AppGet(r.Context(), r.PathValue("app"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeApp(w, r, http.StatusOK, a)
}

func (h *handler) writeApp(w http.ResponseWriter, r *http.Request, status int, a *ripcord.App) {
	dsns, err := h.dsns(r, a.ID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/api/v1/apps/"+a.Name)
	}
	writeJSON(w, status, newAppDSN(a, dsns))
}

func newAppDSN(a *ripcord.App, dsns map[int64]map[string]string) App {
	out := NewApp(a)
	out.DSN = dsns[a.ID]
	return out
}
