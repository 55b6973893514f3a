package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/catalog"
)

// buildUpload takes the artifact as the raw request body, streamed straight
// to the artifact store; the build's identity comes in the query string.
func (h *handler) buildUpload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.ContentLength > h.catalog.MaxArtifactBytes() {
		h.writeError(w, r, ripcord.Errorf(ripcord.ETOOLARGE, "artifact is %d bytes, over the %d-byte limit (artifacts.max_bytes)", r.ContentLength, h.catalog.MaxArtifactBytes()).
			WithDetails(map[string]any{"limit_bytes": h.catalog.MaxArtifactBytes()}))
		return
	}
	for _, k := range []string{"platform", "version", "build_number"} {
		if q.Get(k) == "" {
			drain(r.Body)
			h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "query parameter %s is required (platform=ios|android, version, build_number)", k))
			return
		}
	}
	app := r.PathValue("app")
	b, created, err := h.catalog.BuildUpload(r.Context(), catalog.BuildUploadParams{
		App: app, Platform: ripcord.Platform(q.Get("platform")), Version: q.Get("version"),
		BuildNumber: q.Get("build_number"), SourceCommit: q.Get("source_commit"), Body: r.Body,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	status := http.StatusOK // an idempotent re-upload
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/apps/%s/builds/%d", app, b.ID))
	writeJSON(w, status, NewBuild(app, b))
}

func (h *handler) buildList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "limit %q is not a whole number", s))
			return
		}
		limit = n
	}
	app := r.PathValue("app")
	bs, err := h.catalog.BuildList(r.Context(), catalog.BuildListParams{App: app, Platform: ripcord.Platform(q.Get("platform")), Version: q.Get("version"), Limit: limit})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[Build]{Items: mapSlice(bs, func(b *ripcord.Build) Build { return NewBuild(app, b) })})
}

func (h *handler) buildGet(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "build id %q is not a number", r.PathValue("id")))
		return
	}
	app := r.PathValue("app")
	b, err := h.catalog.BuildGet(r.Context(), app, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewBuild(app, b))
}
