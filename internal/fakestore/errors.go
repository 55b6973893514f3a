package fakestore

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// googleError is a Google API error, written as Google's JSON envelope.
type googleError struct {
	Code    int
	Status  string // canonical status, e.g. FAILED_PRECONDITION
	Reason  string // legacy errors[].reason
	Message string
}

func (e *googleError) Error() string { return e.Message }

func (e *googleError) body() any {
	reason := e.Reason
	if reason == "" {
		reason = "badRequest"
	}
	return map[string]any{"error": map[string]any{
		"code": e.Code, "message": e.Message, "status": e.Status,
		"errors": []map[string]string{{"domain": "global", "reason": reason, "message": e.Message}},
	}}
}

func gBadRequest(reason, msg string) *googleError {
	return &googleError{Code: 400, Status: "INVALID_ARGUMENT", Reason: reason, Message: msg}
}

func gPrecondition(msg string) *googleError {
	return &googleError{Code: 400, Status: "FAILED_PRECONDITION", Reason: "failedPrecondition", Message: msg}
}

func gNotFound(reason, msg string) *googleError {
	return &googleError{Code: 404, Status: "NOT_FOUND", Reason: reason, Message: msg}
}

func gForbidden(reason, msg string) *googleError {
	return &googleError{Code: 403, Status: "PERMISSION_DENIED", Reason: reason, Message: msg}
}

// ascError is one App Store Connect error, written as {"errors":[...]}.
type ascError struct {
	Status int
	Code   string
	Title  string
	Detail string
	// Pointer names the offending request field (source.pointer), if any.
	Pointer string
}

func (e *ascError) Error() string { return e.Detail }

func (e *ascError) body(id string) any {
	m := map[string]any{"id": id, "status": strconv.Itoa(e.Status), "code": e.Code, "title": e.Title, "detail": e.Detail}
	if e.Pointer != "" {
		m["source"] = map[string]string{"pointer": e.Pointer}
	}
	return map[string]any{"errors": []any{m}}
}

func ascConflict(code, detail string) *ascError {
	return &ascError{Status: 409, Code: code, Title: "The request cannot be fulfilled because of the state of another resource.", Detail: detail}
}

func ascNotFound(typ, id string) *ascError {
	return &ascError{Status: 404, Code: "NOT_FOUND", Title: "The specified resource does not exist",
		Detail: "There is no resource of type '" + typ + "' with id '" + id + "'"}
}

func ascInvalid(pointer, detail string) *ascError {
	return &ascError{Status: 409, Code: "ENTITY_ERROR.ATTRIBUTE.INVALID", Title: "An attribute value is invalid.", Detail: detail, Pointer: pointer}
}

func ascBadRequest(detail string) *ascError {
	return &ascError{Status: 400, Code: "PARAMETER_ERROR.INVALID", Title: "A parameter has an invalid value", Detail: detail}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if status == http.StatusNoContent || v == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes err in the envelope of the API family; anything that is
// not a store error is a 500 whose detail is logged, never shown.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, fam family, err error) {
	var ge *googleError
	var ae *ascError
	switch {
	case errors.As(err, &ge):
		writeJSON(w, ge.Code, ge.body())
	case errors.As(err, &ae):
		writeJSON(w, ae.Status, ae.body(randomHex(16)))
	default:
		s.log.ErrorContext(r.Context(), "fakestore internal error", slog.String("path", r.URL.Path), slog.Any("err", err))
		if fam == famASC {
			e := &ascError{Status: 500, Code: "UNEXPECTED_ERROR", Title: "An unexpected error occurred.", Detail: "An unexpected error occurred on the server side. If this issue continues, contact us at https://developer.apple.com/contact/."}
			writeJSON(w, 500, e.body(randomHex(16)))
			return
		}
		writeJSON(w, 500, (&googleError{Code: 500, Status: "INTERNAL", Reason: "backendError", Message: "Internal error encountered."}).body())
	}
}
