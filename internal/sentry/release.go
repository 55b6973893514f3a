package sentry

import (
	"strings"
)

// maxReleaseLen and maxEnvironmentLen are Sentry's caps
// (sentry-release-parser validate_release / validate_environment).
const (
	maxReleaseLen     = 200
	maxEnvironmentLen = 64
)

// ParseRelease splits a Sentry release name in the mobile convention
// `bundle-id@version+build` (also `bundle@version` and `version+build`) so
// ingest can map it to an app and version. The package is everything before
// the first '@' that is not the leading character (npm scopes such as
// "@org/pkg@1.0" keep their '@'), as sentry-release-parser's
// `^(@?[^@]+)@(.+?)$`; the build is what follows the first '+' of the
// version. ok is false for names Sentry refuses (over 200 bytes, ".", "..",
// "latest", or containing '/', '\r', '\n', '\t', '\f'), for an empty version
// and for an empty build after '+'.
func ParseRelease(release string) (pkg, version, build string, ok bool) {
	release = strings.TrimSpace(release)
	if !validRelease(release) {
		return "", "", "", false
	}
	rest := release
	if i := strings.IndexByte(release[min(1, len(release)):], '@'); i >= 0 {
		at := i + min(1, len(release))
		pkg, rest = release[:at], release[at+1:]
		if rest == "" {
			return "", "", "", false
		}
	}
	version = rest
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		version, build = rest[:i], rest[i+1:]
		if build == "" {
			return "", "", "", false
		}
	}
	if version == "" {
		return "", "", "", false
	}
	return pkg, version, build, true
}

// validRelease is sentry-release-parser's validate_release.
func validRelease(s string) bool {
	if s == "" || len(s) > maxReleaseLen || s == "." || s == ".." || strings.EqualFold(s, "latest") {
		return false
	}
	return !strings.ContainsAny(s, "/\r\n\t\f")
}

// validEnvironment is sentry-release-parser's validate_environment.
func validEnvironment(s string) bool {
	if len(s) > maxEnvironmentLen || s == "." || s == ".." || strings.EqualFold(s, "none") {
		return false
	}
	return !strings.ContainsAny(s, "/\r\n\t\f")
}
