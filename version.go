package ripcord

import (
	"strconv"
	"strings"
)

// Version is a release's user-visible version (iOS CFBundleShortVersionString,
// Android versionName). Ripcord releases one version on both stores, so it
// takes Apple's stricter rule: one to three period-separated non-negative
// integers, which Play's free-form versionName also accepts.
type Version struct {
	parts [3]uint32
	n     int // how many parts were written, kept so "1.2" prints as given
}

// maxVersionLen bounds version and build-number strings; Apple documents 18
// characters for CFBundleVersion and processing fails silently past it.
const maxVersionLen = 18

// ParseVersion validates a release version string. The message names the rule
// so the person fixing CI knows what the stores accept.
func ParseVersion(s string) (Version, error) {
	parts, err := parseDotted(s, "version")
	if err != nil {
		return Version{}, err
	}
	var v Version
	copy(v.parts[:], parts)
	v.n = len(parts)
	return v, nil
}

// MustParseVersion parses a version known to be valid (constants in tests and
// demos); it panics on bad input and must never see user input.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// String returns the version as written, e.g. "1.2.0".
func (v Version) String() string {
	var b strings.Builder
	for i := 0; i < v.n; i++ {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(uint64(v.parts[i]), 10))
	}
	return b.String()
}

// IsZero reports whether v was never set.
func (v Version) IsZero() bool { return v.n == 0 }

// Compare orders versions as both stores do: numerically part by part, with
// missing parts counting as 0 (so 1.2 == 1.2.0).
func (v Version) Compare(o Version) int {
	for i := range v.parts {
		switch {
		case v.parts[i] < o.parts[i]:
			return -1
		case v.parts[i] > o.parts[i]:
			return 1
		}
	}
	return 0
}

// NextPatch returns the next patch version (1.2 → 1.2.1, 1.2.0 → 1.2.1): where
// a rollback build goes, just above the target.
func (v Version) NextPatch() Version {
	n := Version{parts: v.parts, n: 3}
	n.parts[2]++
	return n
}

// ValidateBuildNumber checks a build number against the platform's store rule:
// Android versionCode is an integer from 1 to 2100000000 (Play's cap); iOS
// CFBundleVersion is one to three period-separated integers.
func ValidateBuildNumber(p Platform, s string) error {
	switch p {
	case Android:
		_, err := ParseVersionCode(s)
		return err
	case IOS:
		_, err := parseDotted(s, "build number (CFBundleVersion)")
		return err
	}
	return Errorf(EINVALID, "platform %q is not known; use ios or android", p)
}

// MaxVersionCode is the highest versionCode Google Play accepts.
const MaxVersionCode = 2100000000

// ParseVersionCode parses an Android versionCode.
func ParseVersionCode(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > MaxVersionCode {
		return 0, Errorf(EINVALID, "build number %q is not a valid Android versionCode: use a whole number from 1 to %d", s, MaxVersionCode)
	}
	return n, nil
}

// CompareBuildNumbers orders two valid build numbers of one platform.
func CompareBuildNumbers(p Platform, a, b string) int {
	if p == Android {
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	pa, _ := parseDotted(a, "")
	pb, _ := parseDotted(b, "")
	for i := 0; i < 3; i++ {
		var x, y uint32
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

// parseDotted parses one to three period-separated non-negative integers, each
// below 2^32, as Apple requires for both version keys.
func parseDotted(s, what string) ([]uint32, error) {
	bad := func(why string) error {
		return Errorf(EINVALID, "%s %q is not valid: %s; use one to three period-separated whole numbers such as 1.2.0", what, s, why)
	}
	if s == "" {
		return nil, bad("it is empty")
	}
	if len(s) > maxVersionLen {
		return nil, bad("it is longer than 18 characters")
	}
	fields := strings.Split(s, ".")
	if len(fields) > 3 {
		return nil, bad("it has more than three parts")
	}
	out := make([]uint32, len(fields))
	for i, f := range fields {
		if f == "" {
			return nil, bad("it has an empty part")
		}
		for _, c := range f {
			if c < '0' || c > '9' {
				return nil, bad("it has a character that is not a digit or a period")
			}
		}
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, bad("a part is 2^32 or more")
		}
		out[i] = uint32(n)
	}
	return out, nil
}
