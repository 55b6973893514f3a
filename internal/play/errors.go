package play

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
)

// Sentinels for the store answers callers act on; match with errors.Is.
var (
	// ErrAuth means the credentials were refused (revoked or wrong key).
	ErrAuth = errors.New("play: credentials refused")
	// ErrPermission means the service account lacks access to the app or scope.
	ErrPermission = errors.New("play: permission denied")
	// ErrNotFound means the app, edit or track does not exist.
	ErrNotFound = errors.New("play: not found")
	// ErrVersionCodeUsed means the versionCode is not above every code ever
	// uploaded for the package.
	ErrVersionCodeUsed = errors.New("play: version code already used")
	// ErrNoReleaseToHalt means no release of that versionCode is in
	// progress (or haltable) on the track.
	ErrNoReleaseToHalt = errors.New("play: no matching release to halt")
	// ErrInvalid means Play refused the request's content.
	ErrInvalid = errors.New("play: request refused")
)

// Error is a Play answer with the store's own message, what Ripcord was doing,
// and what to do next.
type Error struct {
	// Op names the connector operation, e.g. "halt".
	Op string
	// Package is the app's package name.
	Package string
	// HTTPStatus is the response status, 0 for transport failures.
	HTTPStatus int
	// Reason is Google's errors[].reason, e.g. "releaseToHaltNotFound".
	Reason string
	// Message is Google's message, verbatim.
	Message string
	// Hint says what to do next.
	Hint string
	// Err is the underlying error (*googleapi.Error or a transport error).
	Err  error
	kind error
	// superseded: the edit was replaced by another of the same account.
	superseded bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "play %s %s: ", e.Op, e.Package)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, "%d ", e.HTTPStatus)
	}
	if e.Message != "" {
		b.WriteString(e.Message)
	} else if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

// Unwrap exposes the sentinel kind and the underlying error.
func (e *Error) Unwrap() []error {
	out := []error{e.Err}
	if e.kind != nil {
		out = append(out, e.kind)
	}
	return out
}

// retryable reports whether trying the whole operation again may succeed:
// rate limits, server errors, conflicts with a concurrent edit, and transport
// failures. Operations are idempotent, so a retry after an unknown outcome
// is safe.
func (e *Error) retryable() bool {
	switch {
	case e.superseded:
		return true
	case e.kind != nil, e.Err == nil:
		return false // a refusal with a known meaning, or one of ours
	case e.HTTPStatus == 0:
		var ne net.Error
		var ue *url.Error
		return errors.As(e.Err, &ne) || errors.As(e.Err, &ue) || strings.Contains(e.Err.Error(), "EOF")
	case e.HTTPStatus == http.StatusTooManyRequests, e.HTTPStatus == http.StatusConflict, e.HTTPStatus >= 500:
		return true
	}
	return false
}

func (e *Error) retryAfter() time.Duration {
	var ge *googleapi.Error
	if !errors.As(e.Err, &ge) || ge.Header == nil {
		return 0
	}
	v := ge.Header.Get("Retry-After")
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// classify wraps err from a Play call into *Error.
func classify(op, pkg string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Op: op, Package: pkg, Err: err}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			e.HTTPStatus, e.Message = re.Response.StatusCode, re.ErrorDescription
			e.kind, e.Hint = ErrAuth, "the token endpoint refused the service-account key; create a new key or restore its access"
		}
		return e
	}
	e.HTTPStatus, e.Message = ge.Code, ge.Message
	if len(ge.Errors) > 0 {
		e.Reason = ge.Errors[0].Reason
	}
	switch {
	case ge.Code == http.StatusUnauthorized:
		e.kind, e.Hint = ErrAuth, "the access token was refused; check the service account still exists and has a valid key"
	case e.Reason == "apkUpgradeVersionConflict" || strings.Contains(e.Message, "version code that has already been used"):
		e.kind, e.Hint = ErrVersionCodeUsed, "rebuild with a versionCode above the highest ever uploaded (see HighestVersionCode)"
	case e.Reason == "releaseToHaltNotFound":
		e.kind, e.Hint = ErrNoReleaseToHalt, "read the track: only a release in progress (or a completed one that is not the track's first, outside the internal track) can be halted"
	case ge.Code == http.StatusForbidden:
		e.kind, e.Hint = ErrPermission, "grant the service account access to this app in Play Console (Users and permissions)"
	case ge.Code == http.StatusNotFound:
		e.kind, e.Hint = ErrNotFound, "check the package name and that the app exists in Play Console"
	case ge.Code == http.StatusBadRequest && strings.Contains(e.Message, "This Edit has been deleted"):
		// Another client of the same service account (another Ripcord job,
		// a person's script) opened an edit, which superseded ours. Nothing
		// of ours was applied, so the whole edit is safely done again.
		e.superseded, e.Hint = true, "another client of this service account opened an edit; retried"
	case ge.Code == http.StatusBadRequest:
		e.kind = ErrInvalid
	case ge.Code == http.StatusTooManyRequests:
		e.Hint = "quota exhausted; retried with backoff"
	case ge.Code >= 500:
		e.Hint = "Google Play failed; retried with backoff"
	}
	return e
}
