// Package ripcord holds Ripcord's domain: the types a release team talks about
// (apps, builds, releases, tokens, audit entries) and the rules that hold for
// them whatever stores them. Nothing here does I/O, so the rules are tested
// fast and every adapter and transport shares one meaning of each word.
package ripcord

import "fmt"

// Platform is a mobile store platform. Each platform has its own build
// identity rules, store and rollout.
type Platform string

// The platforms Ripcord ships to.
const (
	IOS     Platform = "ios"
	Android Platform = "android"
)

// Platforms lists every platform in display order (Android first: it rolls out
// ahead of iOS).
var platforms = [...]Platform{Android, IOS}

// Platforms returns every platform in display order.
func Platforms() []Platform { return platforms[:] }

// ParsePlatform turns user input into a Platform, naming the allowed values on
// failure.
func ParsePlatform(s string) (Platform, error) {
	switch Platform(s) {
	case IOS, Android:
		return Platform(s), nil
	}
	return "", Errorf(EINVALID, "platform %q is not known; use ios or android", s)
}

// Valid reports whether p is one of the known platforms.
func (p Platform) Valid() bool { return p == IOS || p == Android }

// String returns the platform's wire name.
func (p Platform) String() string { return string(p) }

// StoreName is the store a platform ships through, for messages.
func (p Platform) StoreName() string {
	switch p {
	case IOS:
		return "App Store"
	case Android:
		return "Google Play"
	}
	return fmt.Sprintf("unknown store (%s)", string(p))
}
