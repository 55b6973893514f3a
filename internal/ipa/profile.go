package ipa

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"howett.net/plist"

	"github.com/ripcordhq/ripcord/internal/macho"
)

// Profile is a parsed provisioning profile (embedded.mobileprovision): a
// CMS SignedData, signed by Apple, around an XML plist.
type Profile struct {
	Name         string         `json:"name"`         // Name is the profile's name in the developer portal.
	UUID         string         `json:"uuid"`         // UUID identifies the profile.
	TeamID       string         `json:"team_id"`      // TeamID is the first TeamIdentifier.
	TeamName     string         `json:"team_name"`    // TeamName is the team's display name.
	AppIDName    string         `json:"app_id_name"`  // AppIDName is the App ID's display name.
	Created      time.Time      `json:"created"`      // Created is CreationDate.
	Expires      time.Time      `json:"expires"`      // Expires is ExpirationDate; the store rejects builds signed with an expired profile.
	Entitlements map[string]any `json:"entitlements"` // Entitlements are what the profile grants.
	Devices      int            `json:"devices"`      // Devices counts ProvisionedDevices; App Store profiles have none.
	// Certificates are the DeveloperCertificates the profile allows to sign.
	Certificates []*x509.Certificate `json:"-"`
	// Raw is the file as read, embedded unchanged into the bundle.
	Raw []byte `json:"-"`
}

type profilePlist struct {
	Name                  string         `plist:"Name"`
	UUID                  string         `plist:"UUID"`
	TeamIdentifier        []string       `plist:"TeamIdentifier"`
	TeamName              string         `plist:"TeamName"`
	AppIDName             string         `plist:"AppIDName"`
	CreationDate          time.Time      `plist:"CreationDate"`
	ExpirationDate        time.Time      `plist:"ExpirationDate"`
	Entitlements          map[string]any `plist:"Entitlements"`
	DeveloperCertificates [][]byte       `plist:"DeveloperCertificates"`
	ProvisionedDevices    []string       `plist:"ProvisionedDevices"`
}

// ParseProfile parses a provisioning profile. The CMS signature is parsed
// but not checked against Apple's roots, which Ripcord does not ship; the
// store checks it on upload.
func ParseProfile(b []byte) (*Profile, error) {
	cms, err := macho.ParseCMS(b)
	if err != nil {
		return nil, fmt.Errorf("%w: provisioning profile is not CMS: %w", ErrProfile, err)
	}
	if len(cms.Content) == 0 {
		return nil, fmt.Errorf("%w: provisioning profile has no content", ErrProfile)
	}
	var pp profilePlist
	if _, err := plist.Unmarshal(cms.Content, &pp); err != nil {
		return nil, fmt.Errorf("%w: provisioning profile plist: %w", ErrProfile, err)
	}
	p := &Profile{
		Name: pp.Name, UUID: pp.UUID, TeamName: pp.TeamName, AppIDName: pp.AppIDName,
		Created: pp.CreationDate, Expires: pp.ExpirationDate, Entitlements: pp.Entitlements,
		Devices: len(pp.ProvisionedDevices), Raw: b,
	}
	if len(pp.TeamIdentifier) > 0 {
		p.TeamID = pp.TeamIdentifier[0]
	}
	for _, der := range pp.DeveloperCertificates {
		if c, err := x509.ParseCertificate(der); err == nil {
			p.Certificates = append(p.Certificates, c)
		}
	}
	return p, nil
}

// AppID is the application-identifier the profile grants, e.g.
// "TEAMID.com.example.app" or a wildcard "TEAMID.*".
func (p *Profile) AppID() string {
	s, _ := p.Entitlements["application-identifier"].(string)
	return s
}

// Covers reports whether the profile's App ID matches bundleID.
func (p *Profile) Covers(bundleID string) bool {
	id := p.AppID()
	prefix, pattern, ok := strings.Cut(id, ".")
	if !ok {
		return false
	}
	_ = prefix
	return wildcardMatch(pattern, bundleID)
}

// HasCertificate reports whether cert is one of the profile's
// DeveloperCertificates.
func (p *Profile) HasCertificate(cert *x509.Certificate) bool {
	for _, c := range p.Certificates {
		if bytes.Equal(c.Raw, cert.Raw) {
			return true
		}
	}
	return false
}

// wildcardMatch matches a profile value that may end in "*".
func wildcardMatch(pattern, v string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(v, p)
	}
	return pattern == v
}

// CheckEntitlements returns an ErrEntitlement naming the first entitlement
// (in sorted order) the binary has and the profile does not grant.
func CheckEntitlements(binary, granted map[string]any) error {
	keys := make([]string, 0, len(binary))
	for k := range binary {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, ok := granted[k]
		if !ok {
			return fmt.Errorf("%w: %q (the binary has it; add it to the App ID's capabilities and download a new profile)", ErrEntitlement, k)
		}
		if !entitlementCovered(binary[k], g) {
			return fmt.Errorf("%w: %q value %v is not within the profile's %v", ErrEntitlement, k, binary[k], g)
		}
	}
	return nil
}

func entitlementCovered(have, granted any) bool {
	switch h := have.(type) {
	case bool:
		g, ok := granted.(bool)
		return ok && (g == h || !h)
	case string:
		switch g := granted.(type) {
		case string:
			return wildcardMatch(g, h)
		case []any:
			return slices.ContainsFunc(g, func(x any) bool { s, ok := x.(string); return ok && wildcardMatch(s, h) })
		}
		return false
	case []any:
		for _, x := range h {
			if !entitlementCovered(x, granted) {
				return false
			}
		}
		return true
	}
	// Numbers, dates and dictionaries are not narrowed by profiles in
	// practice; presence is what the store checks.
	return true
}

// parseEntitlements decodes an XML entitlements payload.
func parseEntitlements(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return map[string]any{}, nil
	}
	var m map[string]any
	if _, err := plist.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: entitlements plist: %w", ErrFormat, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}
