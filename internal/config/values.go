package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Texts describing allowed values, shared by Option.Allowed and the error
// messages so that both always say the same thing.
const (
	addrAllowed      = "HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:8080 or :8080"
	databaseAllowed  = "a SQLite file path (ripcord.db), sqlite:///absolute/path.db, sqlite://relative/path.db, postgres://user:password@host/dbname or postgresql://..."
	artifactsAllowed = "a directory path (artifacts) or a URL with a scheme (file:///var/lib/ripcord/artifacts, s3://bucket?region=eu-west-1)"
	boolAllowed      = "true or false"
	durationAllowed  = "a duration greater than 0 with a unit, e.g. 500ms, 30s, 10m or 1h30m"
	sizeAllowed      = "a number of bytes greater than 0, optionally with a unit: KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 512MiB or 1.5GB"
	httpURLAllowed   = "an http:// or https:// URL with a host, e.g. https://androidpublisher.googleapis.com/"
	secretKeyAllowed = "empty, or 32 bytes in base64 (standard or URL alphabet); generate one with: openssl rand -base64 32"
)

// The drivers Database returns.
const (
	// DriverSQLite selects the SQLite adapter; the DSN is a file path.
	DriverSQLite = "sqlite"
	// DriverPostgres selects the PostgreSQL adapter; the DSN is a postgres:// URL.
	DriverPostgres = "postgres"
)

// maxQuoted bounds how much of a bad value an error message repeats.
const maxQuoted = 80

// quote returns s in Go quotes for an error message, shortened if long.
func quote(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

// isRuneStart reports whether b begins a UTF-8 sequence.
func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// oneOf formats a list of allowed words.
func oneOf(values []string) string { return "one of " + strings.Join(values, ", ") }

// notAllowed is the error for a value outside a fixed list.
func notAllowed(s string, values []string) error {
	return fmt.Errorf("%s is not allowed; use %s", quote(s), oneOf(values))
}

// intAllowed describes the whole numbers from lo to hi.
func intAllowed(lo, hi int) string { return fmt.Sprintf("a whole number from %d to %d", lo, hi) }

// parseInt accepts a decimal integer in [lo, hi].
func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s is not %s", quote(s), intAllowed(lo, hi))
	}
	return n, nil
}

// parseBool accepts the spellings people write in YAML and environment files.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s is not allowed; use %s", quote(s), boolAllowed)
}

// parseDuration accepts a Go duration greater than zero.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s is not a duration; use %s", quote(s), durationAllowed)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s is not allowed; use %s", quote(s), durationAllowed)
	}
	return d, nil
}

// formatDuration writes d the way people do: 10m rather than 10m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// sizeUnits maps a lower-cased unit to its number of bytes.
func sizeUnits() map[string]int64 {
	return map[string]int64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}
}

// maxSizeText bounds the length of a size before any arithmetic is done.
const maxSizeText = 64

// parseSize accepts a whole number of bytes, optionally written as a decimal
// number with a unit ("1.5GB", "512 MiB"); the result must be a whole number
// of bytes greater than zero that fits in an int64.
func parseSize(s string) (int64, error) {
	bad := fmt.Errorf("%s is not a size; use %s", quote(s), sizeAllowed)
	if len(s) > maxSizeText {
		return 0, bad
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("%s is negative; use %s", quote(s), sizeAllowed)
	}
	end := 0
	dots := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.') {
		if s[end] == '.' {
			dots++
		}
		end++
	}
	num, unit := s[:end], strings.TrimSpace(s[end:])
	mult, ok := sizeUnits()[strings.ToLower(unit)]
	if !ok || num == "" || dots > 1 || num[0] == '.' || num[len(num)-1] == '.' {
		return 0, bad
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, bad
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("%s is not a whole number of bytes; use %s", quote(s), sizeAllowed)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("%s is too large; the largest size is %d bytes (8EiB)", quote(s), int64(1<<63-1))
	}
	n := r.Num().Int64()
	if n <= 0 {
		return 0, fmt.Errorf("%s is not allowed; use %s", quote(s), sizeAllowed)
	}
	return n, nil
}

// formatSize writes n with the largest binary unit that divides it exactly.
func formatSize(n int64) string {
	for _, u := range []struct {
		name  string
		bytes int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.bytes == 0 {
			return strconv.FormatInt(n/u.bytes, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// checkAddr accepts HOST:PORT with a numeric port; the host may be empty.
func checkAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		reason := err.Error()
		var ae *net.AddrError
		if errors.As(err, &ae) {
			reason = ae.Err
		}
		return fmt.Errorf("%s is not HOST:PORT (%s); use %s", quote(s), reason, addrAllowed)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || strings.ContainsAny(port, "+-") {
		return fmt.Errorf("%s has port %s; use %s", quote(s), quote(port), addrAllowed)
	}
	return nil
}

// splitScheme reports whether s starts with a URL scheme ("postgres:") and
// splits it off. Single letters are not schemes so that C:\dir stays a path.
func splitScheme(s string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i < 2 {
		return "", s, false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", s, false
		}
	}
	return s[:i], s[i+1:], true
}

// parseDatabaseURL splits a database_url value into driver and DSN. A value
// without a scheme is a SQLite file path. "sqlite://" is followed by the path
// verbatim, so sqlite:///abs/x.db is absolute and sqlite://x.db relative.
// Messages never repeat the value, which may hold a password.
func parseDatabaseURL(s string) (driver, dsn string, err error) {
	if s == "" {
		return "", "", fmt.Errorf("is empty; use %s", databaseAllowed)
	}
	scheme, rest, isURL := splitScheme(s)
	if !isURL {
		return DriverSQLite, s, nil
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		path, ok := strings.CutPrefix(rest, "//")
		switch {
		case !ok:
			return "", "", fmt.Errorf("a sqlite URL starts with sqlite://; use %s", databaseAllowed)
		case path == "":
			return "", "", errors.New("sqlite:// needs a file path after it, e.g. sqlite:///var/lib/ripcord/ripcord.db")
		case strings.ContainsAny(path, "?#"):
			return "", "", errors.New("a sqlite:// URL takes no query or fragment; write only the file path")
		}
		return DriverSQLite, path, nil
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return "", "", fmt.Errorf("a %s URL starts with %s://; use %s", scheme, scheme, databaseAllowed)
		}
		if _, err := url.Parse(s); err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // url.Error repeats the URL, password included
			}
			return "", "", fmt.Errorf("not a valid %s URL: %v", scheme, err)
		}
		return DriverPostgres, s, nil
	}
	return "", "", fmt.Errorf("scheme %s is not supported; use %s", quote(scheme), databaseAllowed)
}

// Database splits DatabaseURL into the storage driver to open (DriverSQLite
// or DriverPostgres) and the DSN to give it: a SQLite file path, or the
// postgres URL unchanged. It fails only for a Config built by hand, since
// Load rejects the same values.
func (c *Config) Database() (driver, dsn string, err error) {
	driver, dsn, err = parseDatabaseURL(c.DatabaseURL)
	if err != nil {
		return "", "", &Error{Key: "database_url", Msg: err.Error()}
	}
	return driver, dsn, nil
}

// checkArtifactsURL accepts a path or a URL written scheme://...; the blob
// layer judges the rest.
func checkArtifactsURL(s string) error {
	if s == "" {
		return fmt.Errorf("is empty; use %s", artifactsAllowed)
	}
	scheme, rest, isURL := splitScheme(s)
	if !isURL {
		return nil
	}
	shown := quote(redactURL(s))
	if !strings.HasPrefix(rest, "//") {
		return fmt.Errorf("%s looks like a URL but lacks // after %s; use %s", shown, quote(scheme+":"), artifactsAllowed)
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s is not a valid URL (%v); use %s", shown, err, artifactsAllowed)
	}
	if u.Scheme == "file" && (u.Host != "" || u.Path == "") {
		return fmt.Errorf("%s: a file URL needs an absolute path after file://, e.g. file:///var/lib/ripcord/artifacts", shown)
	}
	return nil
}

// checkHTTPURL accepts an absolute http or https URL with a host and no
// query or fragment: the root a store client appends its paths to.
func checkHTTPURL(s string) error {
	shown := quote(redactURL(s))
	u, err := url.Parse(s)
	switch {
	case s == "":
		return fmt.Errorf("is empty; use %s", httpURLAllowed)
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s is not a valid URL (%v); use %s", shown, err, httpURLAllowed)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%s is not an http or https URL; use %s", shown, httpURLAllowed)
	case u.Host == "":
		return fmt.Errorf("%s has no host; use %s", shown, httpURLAllowed)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%s has a query or fragment; give only the API root, e.g. https://androidpublisher.googleapis.com/", shown)
	}
	return nil
}

// sensitiveParams are query parameters whose values redactURL hides.
func sensitiveParams() []string {
	return []string{"password", "passwd", "pwd", "secret", "token", "sslpassword"}
}

// redactURL hides the password in a URL's user info and in query parameters
// such as password=, keeping the rest readable. Paths pass unchanged; a URL
// that does not parse is hidden whole.
func redactURL(v string) string {
	if _, _, isURL := splitScheme(v); !isURL {
		return v
	}
	u, err := url.Parse(v)
	if err != nil {
		return redacted
	}
	changed := false
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			k, _, found := strings.Cut(p, "=")
			if !found {
				continue
			}
			name, err := url.QueryUnescape(k)
			if err != nil {
				name = k
			}
			for _, s := range sensitiveParams() {
				if strings.EqualFold(name, s) {
					parts[i] = k + "=" + redacted
					changed = true
				}
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	if _, has := u.User.Password(); has {
		u.User = url.User(u.User.Username())
		s := u.String()
		head := u.Scheme + "://" + u.User.String()
		if !strings.HasPrefix(s, head) {
			return redacted
		}
		return head + ":" + redacted + s[len(head):]
	}
	if !changed {
		return v
	}
	return u.String()
}

// parseSecretKey accepts "" (no key) or base64, standard or URL alphabet,
// padded or not, of exactly 32 bytes. Messages never repeat the value.
func parseSecretKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	encodings := []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}
	for _, enc := range encodings {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != 32 {
			return nil, fmt.Errorf("the value decodes to %d bytes, not 32; use %s", len(k), secretKeyAllowed)
		}
		return k, nil
	}
	return nil, fmt.Errorf("the value is not valid base64; use %s", secretKeyAllowed)
}
