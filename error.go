package ripcord

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. Transports map them to statuses in one
// table; adapters translate their own failures into them.
const (
	EINTERNAL     = "internal"     // a bug or an outside failure the user cannot fix
	EINVALID      = "invalid"      // the request is malformed or breaks a rule
	ENOTFOUND     = "not_found"    // the named thing does not exist
	ECONFLICT     = "conflict"     // the request conflicts with existing state
	EUNAUTHORIZED = "unauthorized" // no valid credentials
	EFORBIDDEN    = "forbidden"    // valid credentials without the needed role
	ETOOLARGE     = "too_large"    // a body or upload exceeds its limit
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retry later
	ERATELIMITED  = "rate_limited" // too many requests; retry later
)

// Error is a domain error with a code the transports understand, a message
// written for the person who has to act on it, and optional structured details
// (for example the conflicting build).
type Error struct {
	Code    string
	Message string
	Details map[string]any
}

// Error returns the message, so a domain error reads well when wrapped.
func (e *Error) Error() string { return e.Message }

// Errorf builds a domain error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetails returns e with structured details attached, for machines.
func (e *Error) WithDetails(d map[string]any) *Error {
	e.Details = d
	return e
}

// ErrorCode returns the code of the first domain error in err's chain, or
// EINTERNAL for anything else (so unknown failures never leak as user errors).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the domain message, or
// a generic text for internal errors (whose detail belongs in logs only).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorDetails returns the structured details of err's domain error, if any.
func ErrorDetails(err error) map[string]any {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}
