package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/ripcordhq/ripcord"
)

// RolloutActionRequest names the platforms a halt, resume or rollback acts
// on: {"platforms": ["android", "ios"]}, or one as {"platform": "ios"};
// "all" means every platform the app ships on. ?platform= does the same.
type RolloutActionRequest struct {
	Platform  string   `json:"platform,omitempty"`
	Platforms []string `json:"platforms,omitempty"`
	// IdempotencyKey names the request (the Idempotency-Key header does
	// too): sending it again returns the actions it made.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Reason says why, for the audit.
	Reason string `json:"reason,omitempty"`
}

// rolloutAction serves POST .../halt|resume|rollback: it requests the
// action on each platform named and answers with what happened on each.
// One platform answers its action (202 while it runs, 200 once finished) or
// its error; several answer 200 with each platform's action or error, so a
// refusal on one does not hide the other.
func (h *handler) rolloutAction(kind ripcord.ActionKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, platforms, err := h.actionRequest(w, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		out, err := h.rollouts.RequestActions(r.Context(), ActionParams{App: r.PathValue("app"), Version: r.PathValue("version"), Kind: kind,
			IdempotencyKey: req.IdempotencyKey, Reason: req.Reason}, platforms)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if len(out) == 1 {
			if out[0].Err != nil {
				h.writeError(w, r, out[0].Err)
				return
			}
			status := http.StatusOK
			if out[0].Action.State.Active() {
				status = http.StatusAccepted
			}
			writeJSON(w, status, RolloutActions{Actions: []PlatformAction{h.platformAction(r, out[0])}})
			return
		}
		res := RolloutActions{Actions: make([]PlatformAction, 0, len(out))}
		for _, o := range out {
			res.Actions = append(res.Actions, h.platformAction(r, o))
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// actionRequest reads the body and the query; the platform must be named
// (a rollback on the wrong store is not a default to guess). It returns nil
// platforms for "all".
func (h *handler) actionRequest(w http.ResponseWriter, r *http.Request) (RolloutActionRequest, []ripcord.Platform, error) {
	var req RolloutActionRequest
	if r.ContentLength != 0 {
		if err := h.decodeJSON(w, r, &req); err != nil {
			return req, nil, err
		}
	}
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if req.IdempotencyKey != "" && req.IdempotencyKey != k {
			return req, nil, ripcord.Errorf(ripcord.EINVALID, "the Idempotency-Key header and idempotency_key in the body disagree; give one")
		}
		req.IdempotencyKey = k
	}
	if len(req.IdempotencyKey) > 200 {
		return req, nil, ripcord.Errorf(ripcord.EINVALID, "idempotency key is %d characters; at most 200", len(req.IdempotencyKey))
	}
	platforms, err := parseActionPlatforms(req.Platforms, req.Platform, r.URL.Query().Get("platform"))
	return req, platforms, err
}

// parseActionPlatforms reads the platforms a request names in the body's
// list, its single platform and the query; they must agree, name real
// platforms once each, and use "all" alone. nil means every platform of
// the app.
func parseActionPlatforms(list []string, single, query string) ([]ripcord.Platform, error) {
	names := slices.Clone(list)
	if single != "" {
		names = append(names, single)
	}
	if query != "" {
		if len(names) > 0 && !slices.Equal(names, []string{query}) {
			return nil, ripcord.Errorf(ripcord.EINVALID, "platforms %s in the body and %q in the query disagree; give one", strings.Join(names, ", "), query)
		}
		names = []string{query}
	}
	if len(names) == 0 {
		return nil, ripcord.Errorf(ripcord.EINVALID, `name the platforms: {"platforms": ["android", "ios"]}, {"platform": "all"} or ?platform=android`)
	}
	var out []ripcord.Platform
	for _, n := range names {
		if n == "all" {
			if len(names) > 1 {
				return nil, ripcord.Errorf(ripcord.EINVALID, "platform all already means every platform; do not name others with it")
			}
			return nil, nil
		}
		p, err := ripcord.ParsePlatform(n)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, p) {
			return nil, ripcord.Errorf(ripcord.EINVALID, "platform %s is named twice", p)
		}
		out = append(out, p)
	}
	return out, nil
}
