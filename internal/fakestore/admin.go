package fakestore

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// adminRoutes registers the fake's own API under /_fake/. It has no
// authentication: the fake is meant for loopback use by tests, the demo and
// the person running it.
//
//	GET    /_fake/state                   whole state as JSON, with "now"
//	GET    /_fake/events                  applied actions, oldest first
//	POST   /_fake/clock                   {"set":"RFC3339"} or {"advance":"36h"}
//	GET    /_fake/faults                  armed faults with hit counts
//	POST   /_fake/faults                  arm a Fault
//	DELETE /_fake/faults                  disarm all
//	POST   /_fake/credentials/revoke      every token and key stops working
//	POST   /_fake/credentials/restore     undo revoke
//	POST   /_fake/play/apps               create a Play app (PlayAppSpec)
//	POST   /_fake/play/apps/{pkg}/vitals  set vitals (VitalsSpec)
//	POST   /_fake/asc/apps                create an App Store Connect app (ASCAppSpec)
//	POST   /_fake/asc/apps/{id}/builds    a build arrives, as from Transporter (ASCBuildSpec)
//	POST   /_fake/asc/apps/{id}/build-outcomes  {"version","build_number","outcome":"INVALID"} for a build yet to come
//	POST   /_fake/asc/apps/{id}/review-outcome  {"outcome":"approve"|"reject"} for the app's next reviews
//	POST   /_fake/asc/versions/{id}/remove-from-sale  the developer removes a live version from sale
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_fake/state", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.tickLocked()
		b, err := json.Marshal(s.st)
		if err != nil {
			adminErr(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, 200, map[string]any{"now": s.nowLocked(), "state": json.RawMessage(b)})
	})
	mux.HandleFunc("GET /_fake/events", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"events": s.Events()})
	})
	mux.HandleFunc("POST /_fake/clock", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Set     *time.Time `json:"set"`
			Advance *Duration  `json:"advance"`
		}
		if err := decodeAdmin(r, &req); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		var err error
		switch {
		case req.Set != nil:
			err = s.SetTime(r.Context(), *req.Set)
		case req.Advance != nil && *req.Advance >= 0:
			err = s.Advance(r.Context(), time.Duration(*req.Advance))
		default:
			err = fmt.Errorf(`clock: send {"set":"2026-01-02T15:04:05Z"} or {"advance":"36h"} (non-negative)`)
		}
		if err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, 200, map[string]any{"now": s.Now()})
	})
	mux.HandleFunc("GET /_fake/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"faults": s.Faults()})
	})
	mux.HandleFunc("POST /_fake/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := decodeAdmin(r, &f); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		if err := s.AddFault(f); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, 201, map[string]any{"faults": s.Faults()})
	})
	mux.HandleFunc("DELETE /_fake/faults", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ClearFaults(); err != nil {
			adminErr(w, http.StatusInternalServerError, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/credentials/{action}", func(w http.ResponseWriter, r *http.Request) {
		var revoke bool
		switch r.PathValue("action") {
		case "revoke":
			revoke = true
		case "restore":
		default:
			adminErr(w, http.StatusNotFound, fmt.Errorf("credentials: action must be revoke or restore"))
			return
		}
		if err := s.SetCredentialsRevoked(revoke); err != nil {
			adminErr(w, http.StatusInternalServerError, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/play/apps", func(w http.ResponseWriter, r *http.Request) {
		var spec PlayAppSpec
		if err := decodeAdmin(r, &spec); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		if err := s.CreatePlayApp(spec); err != nil {
			adminErr(w, http.StatusConflict, err)
			return
		}
		writeJSON(w, 201, spec)
	})
	mux.HandleFunc("POST /_fake/play/apps/{pkg}/vitals", func(w http.ResponseWriter, r *http.Request) {
		var v VitalsSpec
		if err := decodeAdmin(r, &v); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		if err := s.SetVitals(r.PathValue("pkg"), v); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, 200, v)
	})
	s.ascAdminRoutes(mux)
}

// Events returns the actions the fake applied, oldest first.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.st.Events...)
}

// CountEvents returns how many applied actions have the operation name op.
func (s *Server) CountEvents(op string) int {
	n := 0
	for _, e := range s.Events() {
		if e.Op == op {
			n++
		}
	}
	return n
}

// SetCredentialsRevoked makes every issued token, the service account and the
// App Store Connect key stop (or start again) working, as a revoked key does.
func (s *Server) SetCredentialsRevoked(revoked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Revoked = revoked
	return s.persistLocked()
}

func decodeAdmin(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode request body: %w", err)
	}
	return nil
}

func adminErr(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
