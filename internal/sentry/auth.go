package sentry

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Auth errors; the HTTP layer answers 401 for all of them, as Relay answers
// "missing authorization information" / "invalid authorization" with 401.
// An unknown or disabled key (a lookup, not a parse) is the caller's 403.
var (
	// ErrAuthMissing means neither X-Sentry-Auth nor sentry_key was given.
	ErrAuthMissing = errors.New("sentry: missing authorization information")
	// ErrAuthInvalid means the credentials given cannot be parsed or disagree.
	ErrAuthInvalid = errors.New("sentry: invalid authorization")
	// ErrInvalidDSN marks a DSN that does not have Sentry's form.
	ErrInvalidDSN = errors.New("sentry: invalid DSN")
)

// maxAuthHeader caps the X-Sentry-Auth value parsed; real ones are ~150 bytes.
const maxAuthHeader = 4 << 10

// maxKeyLen caps a public key; Sentry's are 32 hex characters.
const maxKeyLen = 64

// ParseAuth extracts the DSN public key from an X-Sentry-Auth (or
// Authorization) header value `Sentry sentry_key=..., sentry_version=7,
// sentry_client=...` and from the sentry_key query parameter, which browser
// SDKs use. The "Sentry" prefix is case-insensitive and pairs are separated
// by ',' with spaces trimmed (sentry-types auth.rs). When both forms are
// present they must agree: the envelope docs say "If multiple forms of
// authentication are given, the endpoint validates that the information
// matches and otherwise rejects the request". Keys must be 1–64 characters
// of [0-9A-Za-z]; Ripcord's DSN keys are 32 hex characters like Sentry's.
func ParseAuth(header string, query url.Values) (publicKey string, err error) {
	var fromHeader string
	if h := strings.TrimSpace(header); h != "" {
		if len(h) > maxAuthHeader {
			return "", fmt.Errorf("sentry: X-Sentry-Auth longer than %d bytes: %w", maxAuthHeader, ErrAuthInvalid)
		}
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "sentry") {
			return "", fmt.Errorf("sentry: X-Sentry-Auth must start with \"Sentry \": %w", ErrAuthInvalid)
		}
		for pair := range strings.SplitSeq(rest, ",") {
			k, v, found := strings.Cut(pair, "=")
			if !found {
				continue
			}
			if strings.TrimSpace(k) == "sentry_key" {
				fromHeader = strings.TrimSpace(v)
			}
		}
		if fromHeader == "" {
			return "", fmt.Errorf("sentry: X-Sentry-Auth has no sentry_key: %w", ErrAuthInvalid)
		}
		if !validKey(fromHeader) {
			return "", fmt.Errorf("sentry: X-Sentry-Auth sentry_key is not 1-64 alphanumerics: %w", ErrAuthInvalid)
		}
	}
	fromQuery := query.Get("sentry_key")
	if fromQuery != "" && !validKey(fromQuery) {
		return "", fmt.Errorf("sentry: query sentry_key is not 1-64 alphanumerics: %w", ErrAuthInvalid)
	}
	switch {
	case fromHeader != "" && fromQuery != "" && fromHeader != fromQuery:
		return "", fmt.Errorf("sentry: X-Sentry-Auth and sentry_key name different keys: %w", ErrAuthInvalid)
	case fromHeader != "":
		return fromHeader, nil
	case fromQuery != "":
		return fromQuery, nil
	}
	return "", fmt.Errorf("sentry: send X-Sentry-Auth or ?sentry_key=: %w", ErrAuthMissing)
}

func validKey(k string) bool {
	if k == "" || len(k) > maxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// DSN is a parsed Sentry DSN, `{scheme}://{public_key}@{host}{path}/{project_id}`,
// which Ripcord hands out per app and platform so SDKs can point at it.
type DSN struct {
	Scheme    string // Scheme is "http" or "https".
	PublicKey string // PublicKey authenticates the sender.
	Host      string // Host is host[:port].
	Path      string // Path is an optional prefix before the project id, without trailing '/'; usually "".
	ProjectID string // ProjectID is the decimal project id.
}

// ParseDSN parses a DSN. A legacy secret key (`key:secret@`) is accepted and
// dropped: Sentry deprecated it and Ripcord never needs it.
func ParseDSN(dsn string) (DSN, error) {
	if len(dsn) > 2048 {
		return DSN{}, fmt.Errorf("sentry: DSN longer than 2048 bytes: %w", ErrInvalidDSN)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return DSN{}, fmt.Errorf("sentry: parse DSN: %w", ErrInvalidDSN)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return DSN{}, fmt.Errorf("sentry: DSN scheme must be http or https: %w", ErrInvalidDSN)
	}
	if u.User == nil || !validKey(u.User.Username()) {
		return DSN{}, fmt.Errorf("sentry: DSN needs a public key before '@': %w", ErrInvalidDSN)
	}
	if u.Host == "" || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" {
		return DSN{}, fmt.Errorf("sentry: DSN needs a host and no query or fragment: %w", ErrInvalidDSN)
	}
	p := strings.TrimSuffix(u.Path, "/")
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return DSN{}, fmt.Errorf("sentry: DSN needs a project id path: %w", ErrInvalidDSN)
	}
	id := p[i+1:]
	if id == "" || len(id) > 20 || strings.Trim(id, "0123456789") != "" {
		return DSN{}, fmt.Errorf("sentry: DSN project id must be decimal: %w", ErrInvalidDSN)
	}
	return DSN{Scheme: u.Scheme, PublicKey: u.User.Username(), Host: u.Host, Path: p[:i], ProjectID: id}, nil
}

// String formats the DSN as SDKs expect it.
func (d DSN) String() string {
	return d.Scheme + "://" + d.PublicKey + "@" + d.Host + d.Path + "/" + d.ProjectID
}

// EnvelopeURL is where SDKs post envelopes for this DSN.
func (d DSN) EnvelopeURL() string {
	return d.Scheme + "://" + d.Host + d.Path + "/api/" + d.ProjectID + "/envelope/"
}

// AuthHeader is the X-Sentry-Auth value an SDK sends for this DSN.
func (d DSN) AuthHeader(client string) string {
	h := "Sentry sentry_version=7, sentry_key=" + d.PublicKey
	if client != "" {
		h += ", sentry_client=" + client
	}
	return h
}
