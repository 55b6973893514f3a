package httpapi

import (
	"net/http"
	"time"

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
	writeJSON(w, http.StatusOK, h.rollbackBuildView(app, rb))
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
	writeJSON(w, http.StatusAccepted, h.rollbackBuildView(app, rb))
}

// rollbackBuildView is the wire form with what the clock adds: how long a
// released iOS target has had no approved rollback.
func (h *handler) rollbackBuildView(app string, rb *ripcord.RollbackBuild) RollbackBuild {
	out := NewRollbackBuild(app, rb)
	out.StoreVersionID, out.StoreVersionState = rb.StoreVersionID, rb.StoreVersionState
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	out.ApprovedAt, out.TargetReleasedAt, out.SupersededAt = opt(rb.ApprovedAt), opt(rb.TargetReleasedAt), opt(rb.SupersededAt)
	out.Releasable = rb.State == ripcord.RollbackReady && rb.SupersededAt.IsZero() && (rb.Platform != ripcord.IOS || rb.ReleasableOnIOS())
	p := rb.IOSProtection(h.now())
	out.Protection = p.Sentence
	if p.Unprotected {
		out.UnprotectedSince = opt(p.Since)
	}
	if rb.SupersededAt.IsZero() {
		out.Withdrawal = rb.WithdrawalPlan(app)
	}
	return out
}

// rollbackBuildWithdraw serves POST .../rollback-build/withdraw: iOS only,
// and only with {"confirm": true}; without it the refusal says exactly
// what withdrawing would do.
func (h *handler) rollbackBuildWithdraw(w http.ResponseWriter, r *http.Request) {
	if s := r.URL.Query().Get("platform"); s != "" && s != string(ripcord.IOS) {
		h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "only iOS rollbacks are withdrawn (an App Store version blocks the next one); platform %q has nothing to withdraw", s))
		return
	}
	var req RollbackWithdrawRequest
	if r.ContentLength != 0 {
		if err := h.decodeJSON(w, r, &req); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	app, version := r.PathValue("app"), r.PathValue("version")
	if !req.Confirm {
		rb, err := h.rollbacks.RollbackBuildGet(r.Context(), app, version, ripcord.IOS)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		plan := rb.WithdrawalPlan(app)
		if plan == "" || !rb.SupersededAt.IsZero() {
			h.writeError(w, r, ripcord.Errorf(ripcord.ECONFLICT, "the iOS rollback of %s %s is %s with App Store version state %q: there is nothing to withdraw",
				app, version, rb.State, rb.StoreVersionState))
			return
		}
		h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "withdrawing is deliberate and needs {\"confirm\": true}: %s", plan))
		return
	}
	rb, err := h.rollbacks.RollbackBuildWithdraw(r.Context(), app, version)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.rollbackBuildView(app, rb))
}
