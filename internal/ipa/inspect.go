package ipa

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord/internal/macho"
)

// InspectOptions tunes Inspect.
type InspectOptions struct {
	Compliance Compliance       // Compliance sets the App Store minimums checked.
	Now        func() time.Time // Now is the clock for expiry checks; default time.Now.
	Limits     Limits           // Limits bounds reading the input.
}

// CertInfo describes a signing certificate.
type CertInfo struct {
	CommonName string    `json:"common_name"` // CommonName is e.g. "Apple Distribution: Example (TEAMID)".
	TeamID     string    `json:"team_id"`     // TeamID is the subject OU.
	Serial     string    `json:"serial"`      // Serial is the serial number in hex.
	NotAfter   time.Time `json:"not_after"`   // NotAfter is the expiry.
	SHA256     string    `json:"sha256"`      // SHA256 is the certificate's fingerprint.
}

// SliceInfo describes one architecture of a bundle's executable.
type SliceInfo struct {
	Arch      string   `json:"arch"`       // Arch is arm64, x86_64, ...
	MinOS     string   `json:"min_os"`     // MinOS is the load-command minimum OS.
	Encrypted bool     `json:"encrypted"`  // Encrypted is true for FairPlay (App Store download).
	Signed    bool     `json:"signed"`     // Signed is false when there is no signature.
	Adhoc     bool     `json:"adhoc"`      // Adhoc is true for a signature without CMS.
	HashTypes []string `json:"hash_types"` // HashTypes are the CodeDirectory digests, primary first.
	CDHash    string   `json:"cdhash"`     // CDHash is the primary cdhash (hex).
}

// BundleInfo describes one bundle for `ripcord artifact inspect`.
type BundleInfo struct {
	Path         string         `json:"path"`              // Path is the bundle's directory in the IPA.
	Kind         string         `json:"kind"`              // Kind is KindApp, KindExtension, ...
	BundleID     string         `json:"bundle_id"`         // BundleID is CFBundleIdentifier.
	Version      string         `json:"version"`           // Version is CFBundleShortVersionString.
	Build        string         `json:"build"`             // Build is CFBundleVersion.
	Executable   string         `json:"executable"`        // Executable is the executable's path.
	MinOS        string         `json:"min_os"`            // MinOS is MinimumOSVersion.
	DTSDKName    string         `json:"dt_sdk_name"`       // DTSDKName is the SDK the build used.
	DTXcode      string         `json:"dt_xcode"`          // DTXcode is the Xcode the build used.
	TeamID       string         `json:"team_id"`           // TeamID is the signature's team id.
	Signing      *CertInfo      `json:"signing,omitempty"` // Signing is the CMS signer; nil if ad-hoc or unsigned.
	Entitlements map[string]any `json:"entitlements"`      // Entitlements are the signature's entitlements.
	Profile      *Profile       `json:"profile,omitempty"` // Profile is the embedded profile, if any.
	Slices       []SliceInfo    `json:"slices"`            // Slices describe the executable's architectures.
	Libraries    []string       `json:"libraries"`         // Libraries are loose dylibs in Frameworks/.
}

// Inspection is the result of Inspect, ready for JSON.
type Inspection struct {
	Bundles  []BundleInfo `json:"bundles"`  // Bundles are outermost first.
	Findings []Finding    `json:"findings"` // Findings are compliance results.
}

// Inspect describes every bundle of an IPA and checks it against the
// store's rules: profile and certificate expiry, team and bundle id, the
// profile's entitlements, encryption, SDK and Xcode minimums, and nested
// versions matching the app's. It does not verify signatures (Verify does).
func Inspect(ctx context.Context, path string, opts InspectOptions) (*Inspection, error) {
	a, err := openArchive(path, opts.Limits)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	root, err := discover(a)
	if err != nil {
		return nil, fmt.Errorf("ipa: %s: %w", path, err)
	}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	comp := opts.Compliance.withDefaults()
	res := &Inspection{}
	order := postOrder(root)
	for i := len(order) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := order[i]
		bi := BundleInfo{
			Path: b.dir, Kind: b.kind, BundleID: b.id(), Version: b.info.str("CFBundleShortVersionString"),
			Build: b.info.str("CFBundleVersion"), Executable: b.exe, MinOS: b.info.str("MinimumOSVersion"),
			DTSDKName: b.info.str("DTSDKName"), DTXcode: b.info.str("DTXcode"), Libraries: b.dylibs,
		}
		exe, err := a.read(b.exe, a.lim.MaxExecutable)
		if err != nil {
			return nil, err
		}
		mf, err := macho.Parse(byteReader(exe), int64(len(exe)), macho.Limits{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.exe, err)
		}
		var cert *x509.Certificate
		for k, s := range mf.Slices {
			si := SliceInfo{Arch: s.Arch(), MinOS: s.MinOS, Encrypted: s.CryptID != 0, Signed: s.Signature != nil}
			if si.Encrypted && k == 0 {
				res.Findings = append(res.Findings, Finding{SeverityError, "encrypted", b.dir, ErrEncrypted.Error()})
			}
			if sig := s.Signature; sig != nil {
				cd := sig.CodeDirectories[0]
				si.CDHash, si.Adhoc = hexHash(cd.CDHash()), len(sig.CMS()) == 0
				for _, c := range sig.CodeDirectories {
					si.HashTypes = append(si.HashTypes, macho.HashName(c.HashType))
				}
				if k == 0 {
					bi.TeamID = cd.TeamID
					if ents, err := parseEntitlements(sig.Entitlements()); err == nil {
						bi.Entitlements = ents
					}
					if !si.Adhoc {
						if cms, err := macho.ParseCMS(sig.CMS()); err == nil && cms.Signer != nil {
							cert = cms.Signer
						}
					}
				}
			}
			bi.Slices = append(bi.Slices, si)
		}
		exe = nil
		if cert != nil {
			d := sha256.Sum256(cert.Raw)
			bi.Signing = &CertInfo{CommonName: cert.Subject.CommonName, TeamID: teamOf(cert), Serial: cert.SerialNumber.Text(16), NotAfter: cert.NotAfter, SHA256: hexHash(d[:])}
			res.Findings = append(res.Findings, checkExpiry(comp, now, b.dir, fmt.Sprintf("certificate %q", cert.Subject.CommonName), "certificate", cert.NotAfter)...)
		}
		if b.kind == KindApp {
			res.Findings = append(res.Findings, checkBuildTools(comp, b.dir, b.info)...)
		}
		if b.versioned() && b.kind != KindApp {
			if bi.Version != root.info.str("CFBundleShortVersionString") || bi.Build != root.info.str("CFBundleVersion") {
				res.Findings = append(res.Findings, Finding{SeverityError, "version-mismatch", b.dir, fmt.Sprintf("version %s (%s) differs from the app's %s (%s); App Store Connect rejects this (ITMS-90473)", bi.Version, bi.Build, root.info.str("CFBundleShortVersionString"), root.info.str("CFBundleVersion"))})
			}
		}
		if b.needsProfile() {
			name := b.dir + "/embedded.mobileprovision"
			if _, ok := a.files[name]; !ok {
				res.Findings = append(res.Findings, Finding{SeverityError, "profile-missing", b.dir, "no embedded.mobileprovision; pass a profile when re-signing"})
			} else if raw, err := a.read(name, a.lim.MaxPlist); err != nil {
				return nil, err
			} else if p, err := ParseProfile(raw); err != nil {
				res.Findings = append(res.Findings, Finding{SeverityError, "profile-invalid", b.dir, err.Error()})
			} else {
				bi.Profile = p
				res.Findings = append(res.Findings, checkProfile(comp, now, b.dir, b.id(), p, cert, bi.Entitlements)...)
			}
		}
		res.Bundles = append(res.Bundles, bi)
	}
	return res, nil
}
