package httpapi

import (
	"context"
	"net/http"

	"github.com/ripcordhq/ripcord"
)

// RolloutActionRequest names the platform a halt, resume or rollback acts
// on; ?platform= does the same. Android only for now.
type RolloutActionRequest struct {
	Platform string `json:"platform,omitempty"`
}

// rolloutAction serves POST .../halt|resume|rollback with act, answering
// the release as recorded.
func (h *handler) rolloutAction(act func(Rollouts, context.Context, string, string, ripcord.Platform) (*ripcord.Release, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.actionPlatform(w, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		app := r.PathValue("app")
		rel, err := act(h.rollouts, r.Context(), app, r.PathValue("version"), p)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, NewRelease(app, rel))
	}
}

// actionPlatform reads the platform from the body or ?platform=; it must be
// given (a rollback on the wrong store is not a default to guess), and iOS
// is refused until the App Store side exists.
func (h *handler) actionPlatform(w http.ResponseWriter, r *http.Request) (ripcord.Platform, error) {
	var req RolloutActionRequest
	if r.ContentLength != 0 {
		if err := h.decodeJSON(w, r, &req); err != nil {
			return "", err
		}
	}
	s := req.Platform
	if q := r.URL.Query().Get("platform"); q != "" {
		if s != "" && s != q {
			return "", ripcord.Errorf(ripcord.EINVALID, "platform %q in the body and %q in the query disagree; give one", s, q)
		}
		s = q
	}
	if s == "" {
		return "", ripcord.Errorf(ripcord.EINVALID, `name the platform: {"platform": "android"} or ?platform=android`)
	}
	if s == "ios" || s == "all" {
		return "", ripcord.Errorf(ripcord.EINVALID, "platform %s is not yet supported for halt, resume and rollback; only android is for now", s)
	}
	return ripcord.ParsePlatform(s)
}
