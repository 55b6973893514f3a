package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/ripcordhq/ripcord"
)

// statusByCode is the one table from domain error codes to HTTP statuses.
var statusByCode = map[string]int{
	ripcord.EINVALID:      http.StatusBadRequest,
	ripcord.EUNAUTHORIZED: http.StatusUnauthorized,
	ripcord.EFORBIDDEN:    http.StatusForbidden,
	ripcord.ENOTFOUND:     http.StatusNotFound,
	ripcord.ECONFLICT:     http.StatusConflict,
	ripcord.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	ripcord.ERATELIMITED:  http.StatusTooManyRequests,
	ripcord.EUNAVAILABLE:  http.StatusServiceUnavailable,
	ripcord.EINTERNAL:     http.StatusInternalServerError,
}

// ErrorBody is the one error shape every endpoint answers with.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// writeError answers with err in the standard shape. Internal errors are
// logged with their detail and shown to the client only as "Internal error."
// plus the request id to quote.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() != nil {
		err = ripcord.Errorf(ripcord.EUNAVAILABLE, "the request took longer than the %s limit (http.request_timeout); try again", h.requestTimeout)
	}
	code := ripcord.ErrorCode(err)
	status := statusByCode[code]
	body := ErrorBody{Error: ErrorDetail{Code: code, Message: ripcord.ErrorMessage(err), Details: ripcord.ErrorDetails(err)}}
	if code == ripcord.EINTERNAL {
		h.logger.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		body.Error.Message = "Internal error. Quote request id " + ripcord.RequestIDFromContext(r.Context()) + " when reporting it."
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decodeJSON reads a JSON body of at most h.maxBody bytes into v, refusing
// unknown fields so typos are reported rather than ignored.
func (h *handler) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ripcord.Errorf(ripcord.ETOOLARGE, "request body is larger than the %d-byte limit (http.max_body_bytes)", mbe.Limit).
				WithDetails(map[string]any{"limit_bytes": mbe.Limit})
		}
		return ripcord.Errorf(ripcord.EINVALID, "request body is not valid JSON for this endpoint: %v", err)
	}
	if dec.More() {
		return ripcord.Errorf(ripcord.EINVALID, "request body has data after the JSON object")
	}
	return nil
}
