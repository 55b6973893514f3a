package appstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinels for answers callers act on; match with errors.Is.
var (
	// ErrAuth means the token was refused: revoked key, wrong key id or issuer.
	ErrAuth = errors.New("appstore: credentials refused")
	// ErrForbidden means the key's role lacks permission, or an agreement is missing.
	ErrForbidden = errors.New("appstore: forbidden")
	// ErrNotFound means the resource does not exist (or the key cannot see it).
	ErrNotFound = errors.New("appstore: not found")
	// ErrConflict means the resource's state forbids the change (409).
	ErrConflict = errors.New("appstore: state conflict")
	// ErrRateLimited means the hourly request budget is spent.
	ErrRateLimited = errors.New("appstore: rate limited")
	// ErrTimeout means a wait (build processing, upload import, withdrawal)
	// did not end within its timeout.
	ErrTimeout = errors.New("appstore: timed out waiting")
	// ErrBuildNotValid means the build's processing ended INVALID or FAILED.
	ErrBuildNotValid = errors.New("appstore: build not valid")
	// ErrSubmissionInFlight means another review submission of the app is
	// open or in review for the platform, with another version in it.
	ErrSubmissionInFlight = errors.New("appstore: another review submission is in flight")
	// ErrWrongState means a version or phased release is not in a state the
	// operation accepts (e.g. releasing a version not pending release).
	ErrWrongState = errors.New("appstore: wrong state for this operation")
)

// stateError is a refusal the client decides itself after reading state,
// before any write, matching one of the sentinels.
func stateError(op string, kind error, detail, hint string) *Error {
	return &Error{Op: op, Status: http.StatusConflict, kind: kind, Hint: hint,
		Errors: []APIError{{Status: "409", Code: "STATE_ERROR.ENTITY_STATE_INVALID", Title: kind.Error(), Detail: detail}}}
}

// APIError is one entry of Apple's errors[] array.
type APIError struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Code is hierarchical, e.g. "STATE_ERROR.ENTITY_STATE_INVALID": branch on it.
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Source *struct {
		Pointer   string `json:"pointer,omitempty"`
		Parameter string `json:"parameter,omitempty"`
	} `json:"source,omitempty"`
}

// Error is a non-2xx App Store Connect answer with Apple's errors and what to
// do next.
type Error struct {
	// Op names the client operation, e.g. "find app".
	Op string
	// Status is the HTTP status.
	Status int
	// Errors is Apple's errors[] array, verbatim.
	Errors []APIError
	// Hint says what to do next.
	Hint string
	// kind is a sentinel the client chose, beside the status-based ones.
	kind error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "appstore %s: %d", e.Op, e.Status)
	for _, a := range e.Errors {
		fmt.Fprintf(&b, " %s: %s", a.Code, cmpOr(a.Detail, a.Title))
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Is maps the status to the package's sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrAuth:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return e.kind != nil && target == e.kind
}

// HasCode reports whether any entry's code is code or starts with code + ".".
func (e *Error) HasCode(code string) bool {
	for _, a := range e.Errors {
		if a.Code == code || strings.HasPrefix(a.Code, code+".") {
			return true
		}
	}
	return false
}

func parseError(op string, status int, body []byte) *Error {
	e := &Error{Op: op, Status: status}
	var env struct {
		Errors []APIError `json:"errors"`
	}
	if json.Unmarshal(body, &env) == nil {
		e.Errors = env.Errors
	}
	switch {
	case status == http.StatusUnauthorized:
		e.Hint = "check the key id, issuer id and .p8 file, and that the key is not revoked in App Store Connect"
	case status == http.StatusForbidden:
		e.Hint = "give the key a role with access to this app, or accept pending agreements in App Store Connect"
	case status == http.StatusTooManyRequests:
		e.Hint = "the key's hourly request budget is spent; wait and retry"
	case status >= 500:
		e.Hint = "App Store Connect failed; retry later"
	case status == http.StatusNotFound:
		e.Hint = "check the id, and that the key can see this app"
	case status == http.StatusUnprocessableEntity:
		e.Hint = "wait until the build has finished processing (WaitBuildValid), then retry"
	case status == http.StatusConflict:
		e.Hint = conflictHint(e.Errors)
	}
	return e
}

// conflictHint says what to do about a 409, from Apple's detail.
func conflictHint(errs []APIError) string {
	for _, a := range errs {
		d := a.Detail
		switch {
		case strings.Contains(d, "cannot create a new version"):
			return "release, remove from sale or delete the app's latest version first (a version parked in Pending Developer Release blocks new ones: withdraw it)"
		case strings.Contains(d, "previously used"), strings.Contains(d, "higher version"), strings.Contains(d, "train version"):
			return "use a versionString above the last approved version"
		case strings.Contains(d, "one submission at a time"), strings.Contains(d, "another reviewSubmission"):
			return "wait for the other review submission to finish, or cancel it"
		case strings.Contains(d, "pre-release build could not be added"):
			return "a build can change only before submission: withdraw the version from review first"
		case strings.Contains(d, "Redundant Binary Upload"):
			return "increment the build number (CFBundleVersion) and upload again"
		}
	}
	return "read the resource's current state and retry only if it still applies"
}
