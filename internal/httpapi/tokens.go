package httpapi

import (
	"net/http"
	"strconv"

	"github.com/ripcordhq/ripcord"
)

func (h *handler) tokenList(w http.ResponseWriter, r *http.Request) {
	ts, err := h.access.TokenList(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[Token]{Items: mapSlice(ts, NewToken)})
}

func (h *handler) tokenCreate(w http.ResponseWriter, r *http.Request) {
	var req TokenCreateRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	role, err := ripcord.ParseRole(req.Role)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	secret, t, err := h.access.TokenCreateForUser(r.Context(), req.Name, role, req.User)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := TokenCreated{Token: NewToken(t), Secret: secret}
	if t.UserID != 0 {
		out.User, _ = ripcord.NormalizeEmail(req.User) // the service accepted it
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

func (h *handler) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	t, err := h.access.TokenRevoke(r.Context(), r.PathValue("name"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewToken(t))
}

func (h *handler) auditList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after int64
	limit := 100
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "after %q is not a sequence number", s))
			return
		}
		after = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "limit %q is out of range; use 1 to 1000", s))
			return
		}
		limit = n
	}
	es, err := h.audit.AuditList(r.Context(), after, limit, q.Get("target"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[AuditEntry]{Items: mapSlice(es, func(e ripcord.AuditEntry) AuditEntry {
		return AuditEntry{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Target: e.Target, Before: e.Before, After: e.After, RequestID: e.RequestID, Hash: e.Hash}
	})})
}

func (h *handler) auditVerify(w http.ResponseWriter, r *http.Request) {
	rep, err := h.access.AuditVerify(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := AuditVerifyResult{OK: rep.Break == nil, Entries: rep.Entries}
	if rep.Break != nil {
		out.BrokenSeq, out.Reason = rep.Break.Seq, rep.Break.Reason
	}
	writeJSON(w, http.StatusOK, out)
}
