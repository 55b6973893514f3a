package ipa

import (
	"cmp"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// Severities of a Finding.
const (
	SeverityError   = "error"   // SeverityError: the store would refuse the build, or signing cannot proceed.
	SeverityWarning = "warning" // SeverityWarning: worth fixing soon; the build is accepted today.
)

// Finding is one compliance check result, shown by inspect and resign.
type Finding struct {
	Severity string `json:"severity"` // Severity is SeverityError or SeverityWarning.
	Code     string `json:"code"`     // Code is a stable machine-readable name, e.g. "profile-expired".
	Bundle   string `json:"bundle"`   // Bundle is the bundle's path in the IPA.
	Message  string `json:"message"`  // Message says what is wrong and how to fix it.
}

// Compliance holds the App Store minimums the source build is checked
// against; the store refuses uploads built with SDKs that are too old.
type Compliance struct {
	// MinSDK is the lowest accepted SDK version (DTSDKName without the
	// platform prefix). Default "26.0": Apple has required the iOS 26 SDK
	// since April 2026.
	MinSDK string
	// MinXcode is the lowest accepted DTXcode. Default "2600" (Xcode 26).
	MinXcode string
	// ExpiryWarning is how far ahead an expiring profile or certificate is
	// reported. Default 30 days.
	ExpiryWarning time.Duration
}

func (c Compliance) withDefaults() Compliance {
	c.MinSDK = cmp.Or(c.MinSDK, "26.0")
	c.MinXcode = cmp.Or(c.MinXcode, "2600")
	if c.ExpiryWarning <= 0 {
		c.ExpiryWarning = 30 * 24 * time.Hour
	}
	return c
}

// sdkVersion strips the platform from DTSDKName ("iphoneos26.0" -> "26.0").
func sdkVersion(name string) string {
	return strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz")
}

// checkBuildTools reports a source build whose SDK or Xcode is below the
// App Store minimum; re-signing cannot fix it.
func checkBuildTools(c Compliance, dir string, info *infoPlist) []Finding {
	var out []Finding
	sdk, xcode := info.str("DTSDKName"), info.str("DTXcode")
	if sdk == "" {
		out = append(out, Finding{SeverityWarning, "sdk-unknown", dir, "Info.plist has no DTSDKName; the store may reject a build it cannot date"})
	} else if compareDotted(sdkVersion(sdk), c.MinSDK) < 0 {
		out = append(out, Finding{SeverityError, "sdk-too-old", dir, fmt.Sprintf("built with SDK %s, below the App Store minimum %s; the store will refuse the upload: rebuild the rollback from source with a current Xcode", sdk, c.MinSDK)})
	}
	if xcode != "" && compareDotted(xcode, c.MinXcode) < 0 {
		out = append(out, Finding{SeverityError, "xcode-too-old", dir, fmt.Sprintf("built with Xcode %s (DTXcode), below the App Store minimum %s; rebuild with a current Xcode", xcode, c.MinXcode)})
	}
	return out
}

func checkExpiry(c Compliance, now time.Time, dir, what, code string, notAfter time.Time) []Finding {
	switch {
	case notAfter.IsZero():
		return nil
	case !now.Before(notAfter):
		return []Finding{{SeverityError, code + "-expired", dir, fmt.Sprintf("%s expired on %s; renew it in the developer portal", what, notAfter.Format(time.DateOnly))}}
	case notAfter.Sub(now) < c.ExpiryWarning:
		return []Finding{{SeverityWarning, code + "-expiring", dir, fmt.Sprintf("%s expires on %s", what, notAfter.Format(time.DateOnly))}}
	}
	return nil
}

// checkProfile reports how a profile fits a bundle and a signing
// certificate (cert may be nil when the bundle is unsigned).
func checkProfile(c Compliance, now time.Time, dir, bundleID string, p *Profile, cert *x509.Certificate, ents map[string]any) []Finding {
	out := checkExpiry(c, now, dir, fmt.Sprintf("provisioning profile %q", p.Name), "profile", p.Expires)
	if !p.Covers(bundleID) {
		out = append(out, Finding{SeverityError, "bundle-id-mismatch", dir, fmt.Sprintf("profile %q is for %q, not %q; pass a profile for this bundle id", p.Name, p.AppID(), bundleID)})
	}
	if cert != nil {
		if team := teamOf(cert); team != "" && p.TeamID != "" && team != p.TeamID {
			out = append(out, Finding{SeverityError, "team-mismatch", dir, fmt.Sprintf("profile %q belongs to team %s but the certificate to team %s", p.Name, p.TeamID, team)})
		}
		if len(p.Certificates) > 0 && !p.HasCertificate(cert) {
			out = append(out, Finding{SeverityError, "certificate-not-in-profile", dir, fmt.Sprintf("profile %q does not list certificate %q; regenerate the profile with this certificate", p.Name, cert.Subject.CommonName)})
		}
	}
	if ents != nil {
		if err := CheckEntitlements(ents, p.Entitlements); err != nil {
			out = append(out, Finding{SeverityError, "entitlement-missing", dir, err.Error()})
		}
	}
	return out
}

// teamOf is the team id Apple puts in the certificate's OU.
func teamOf(cert *x509.Certificate) string {
	if len(cert.Subject.OrganizationalUnit) > 0 {
		return cert.Subject.OrganizationalUnit[0]
	}
	return ""
}

func hasErrors(fs []Finding) *Finding {
	for i := range fs {
		if fs[i].Severity == SeverityError {
			return &fs[i]
		}
	}
	return nil
}
