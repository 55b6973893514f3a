package ipa

import (
	"compress/flate"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord/internal/macho"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// ResignOptions says how to build the rollback IPA.
type ResignOptions struct {
	// Version is the new CFBundleShortVersionString, set in the app and
	// every nested app and extension (frameworks keep theirs). Required.
	Version string
	// Build is the new CFBundleVersion, set likewise. Required.
	Build string
	// Identity is the distribution key and certificate chain, e.g. from
	// signingkey.LoadKeystore on a .p12. Exactly one of Identity and
	// SignerCommand is set.
	Identity *signingkey.Key
	// SignerCommand is an external signer (see CommandSigner) for keys in
	// an HSM or KMS; SignerChain must hold its certificate chain.
	SignerCommand string
	// SignerChain is the certificate chain, leaf first, of SignerCommand's key.
	SignerChain []*x509.Certificate
	// Profiles maps bundle ids to provisioning profile bytes replacing the
	// embedded ones. Bundles without an entry keep their embedded profile,
	// which must still be valid for the identity.
	Profiles map[string][]byte
	// Compliance sets the App Store minimums reported as findings.
	Compliance Compliance
	// Now is the clock for expiry checks and the CMS signing time; default
	// time.Now.
	Now func() time.Time
	// Limits bounds reading the input.
	Limits Limits
	// CompressionLevel is the deflate level of rewritten entries. Default
	// flate.BestSpeed: the store recompresses anyway, and level 1 keeps a
	// 100 MB re-sign well under a second.
	CompressionLevel int
}

func (o *ResignOptions) validate() error {
	if err := CheckVersion(o.Version); err != nil {
		return err
	}
	if err := CheckBuild(o.Build); err != nil {
		return err
	}
	if (o.Identity == nil) == (o.SignerCommand == "") {
		return errors.New("ipa: give exactly one of an identity (.p12) and a signer command")
	}
	if o.SignerCommand != "" && len(o.SignerChain) == 0 {
		return errors.New("ipa: a signer command needs its certificate chain")
	}
	return nil
}

// BundleReport says what Resign did to one bundle.
type BundleReport struct {
	Path         string   `json:"path"`          // Path is the bundle's directory in the IPA.
	Kind         string   `json:"kind"`          // Kind is KindApp, KindExtension, ...
	BundleID     string   `json:"bundle_id"`     // BundleID is CFBundleIdentifier.
	OldVersion   string   `json:"old_version"`   // OldVersion is the source CFBundleShortVersionString.
	OldBuild     string   `json:"old_build"`     // OldBuild is the source CFBundleVersion.
	Version      string   `json:"version"`       // Version is the written CFBundleShortVersionString.
	Build        string   `json:"build"`         // Build is the written CFBundleVersion.
	CDHash       string   `json:"cdhash"`        // CDHash is the new primary cdhash (hex) of the first slice.
	HashTypes    []string `json:"hash_types"`    // HashTypes are the CodeDirectory digests, primary first.
	Profile      string   `json:"profile"`       // Profile is the embedded profile's name; "" for frameworks.
	ProfileNew   bool     `json:"profile_new"`   // ProfileNew is true when the profile was replaced.
	Architecture []string `json:"architectures"` // Architecture lists the executable's slices.
}

// Report is Resign's result: what was signed and what to look at.
type Report struct {
	Bundles  []BundleReport `json:"bundles"`  // Bundles are innermost first, the order they were signed.
	Findings []Finding      `json:"findings"` // Findings are compliance results; none is fatal here.
}

// bundlePlan is what preparation settled for a bundle before signing.
type bundlePlan struct {
	profile    *Profile
	profileNew bool
}

// Resign writes out: the IPA at in with versions raised and every bundle
// re-signed innermost first. Problems that make signing pointless (expired
// or mismatched profiles, missing entitlements, encryption, a wrong key)
// are errors and leave no output; store-side concerns (an old SDK) are
// returned as findings.
func Resign(ctx context.Context, in, out string, opts ResignOptions) (*Report, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	comp := opts.Compliance.withDefaults()
	level := opts.CompressionLevel
	if level == 0 {
		level = flate.BestSpeed
	}

	signer, err := opts.signer()
	if err != nil {
		return nil, err
	}
	leaf := signer.Chain[0]
	team := teamOf(leaf)
	if team == "" {
		return nil, fmt.Errorf("ipa: certificate %q has no team id (subject OU); use an Apple Distribution certificate", leaf.Subject.CommonName)
	}
	if !now.Before(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("ipa: certificate %q is not valid on %s (valid %s to %s); renew the distribution certificate", leaf.Subject.CommonName, now.Format(time.DateOnly), leaf.NotBefore.Format(time.DateOnly), leaf.NotAfter.Format(time.DateOnly))
	}

	a, err := openArchive(in, opts.Limits)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	root, err := discover(a)
	if err != nil {
		return nil, fmt.Errorf("ipa: %s: %w", in, err)
	}
	for _, b := range postOrder(root) {
		if a.encryptedHead(b.exe) {
			return nil, fmt.Errorf("%s: %w", b.exe, ErrEncrypted)
		}
	}
	j := newJob(a)
	j.root = root
	workDir, err := os.MkdirTemp(filepath.Dir(out), ".ripcord-resign-*")
	if err != nil {
		return nil, fmt.Errorf("ipa: work directory next to %s: %w", out, err)
	}
	j.workDir = workDir
	defer func() {
		_ = j.wait() // let background compression finish before removing its files
		os.RemoveAll(workDir)
	}()

	report := &Report{}
	order := postOrder(root)
	// A profile for a bundle id the IPA lacks is a typo the user should hear about.
	known := map[string]bool{}
	for _, b := range order {
		known[b.id()] = b.needsProfile()
	}
	for id := range opts.Profiles {
		if !known[id] {
			return nil, fmt.Errorf("%w: a profile was given for %q, which is not an app or extension in %s", ErrProfile, id, in)
		}
	}
	// Preparation: profiles and tool versions, before any signing.
	plans := map[*bundle]*bundlePlan{}
	for _, b := range order {
		plan := &bundlePlan{}
		plans[b] = plan
		if b.kind == KindApp {
			report.Findings = append(report.Findings, checkBuildTools(comp, b.dir, b.info)...)
			if compareDotted(opts.Version, b.info.str("CFBundleShortVersionString")) <= 0 {
				report.Findings = append(report.Findings, Finding{SeverityWarning, "version-not-higher", b.dir, fmt.Sprintf("new version %s is not above the source's %s; App Store Connect wants it above the live version", opts.Version, b.info.str("CFBundleShortVersionString"))})
			}
		}
		if !b.needsProfile() {
			continue
		}
		raw, replaced := opts.Profiles[b.id()]
		if !replaced {
			name := b.dir + "/embedded.mobileprovision"
			if _, ok := a.files[name]; !ok {
				return nil, fmt.Errorf("%w: bundle %s (%s) has no embedded.mobileprovision and none was given; pass --profile %s=FILE.mobileprovision", ErrProfile, b.id(), b.dir, b.id())
			}
			if raw, err = a.read(name, a.lim.MaxPlist); err != nil {
				return nil, err
			}
		}
		p, err := ParseProfile(raw)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", b.id(), err)
		}
		plan.profile, plan.profileNew = p, replaced
		fs := checkProfile(comp, now, b.dir, b.id(), p, leaf, nil)
		if f := hasErrors(fs); f != nil {
			return nil, fmt.Errorf("%w: bundle %s: %s", ErrProfile, b.id(), f.Message)
		}
		report.Findings = append(report.Findings, fs...)
	}
	report.Findings = append(report.Findings, checkExpiry(comp, now, root.dir, fmt.Sprintf("certificate %q", leaf.Subject.CommonName), "certificate", leaf.NotAfter)...)

	// sign signs one Mach-O in place in the job and records its seal. The
	// designated requirement is regenerated from the identity, since the
	// certificate may differ from the source build's.
	sign := func(name, ident string, exe []byte, p macho.SignParams) (*macho.File, []byte, error) {
		if exe == nil {
			var err error
			if exe, err = j.content(name, a.lim.MaxExecutable); err != nil {
				return nil, nil, err
			}
		}
		p.Ident, p.TeamID, p.Signer, p.SigningTime = ident, team, signer, now
		reqBlob, text := macho.DesignatedRequirement(ident, leaf.Subject.CommonName)
		p.Requirements = reqBlob
		signed, err := macho.SignFile(ctx, exe, p)
		if err != nil {
			if errors.Is(err, macho.ErrEncrypted) {
				return nil, nil, fmt.Errorf("%s: %w", name, ErrEncrypted)
			}
			return nil, nil, fmt.Errorf("ipa: sign %s: %w", name, err)
		}
		seal, f, err := sealOf(signed, text)
		if err != nil {
			return nil, nil, err
		}
		j.seals[name] = seal
		if err := j.spill(name, signed, level); err != nil {
			return nil, nil, err
		}
		return f, seal.cdhash, nil
	}

	// Hash every resource that signing leaves unchanged on two goroutines
	// up front; the bundle-by-bundle pass below then only hashes what it
	// rewrites.
	changing := map[string]bool{}
	for _, b := range order {
		changing[b.exe], changing[b.dir+"/Info.plist"] = true, true
		changing[b.dir+"/_CodeSignature/CodeResources"] = true
		changing[b.dir+"/embedded.mobileprovision"] = plans[b].profileNew
		for _, d := range b.dylibs {
			changing[d] = true
		}
	}
	var stable []string
	for name, zf := range a.files {
		if strings.HasPrefix(name, root.dir+"/") && !changing[name] && !isSymlink(zf) {
			stable = append(stable, name)
		}
	}
	if err := j.prehash(ctx, stable, 2); err != nil {
		return nil, err
	}

	for _, b := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		plan := plans[b]
		br := BundleReport{Path: b.dir, Kind: b.kind, BundleID: b.id(), OldVersion: b.info.str("CFBundleShortVersionString"), OldBuild: b.info.str("CFBundleVersion")}
		br.Version, br.Build = br.OldVersion, br.OldBuild
		infoName := b.dir + "/Info.plist"
		if b.versioned() {
			nb, err := SetVersions(b.infoRaw, opts.Version, opts.Build)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", infoName, err)
			}
			j.set(infoName, nb)
			br.Version, br.Build = opts.Version, opts.Build
		}
		if plan.profile != nil {
			br.Profile, br.ProfileNew = plan.profile.Name, plan.profileNew
			if plan.profileNew {
				j.set(b.dir+"/embedded.mobileprovision", plan.profile.Raw)
			}
		}
		for _, d := range b.dylibs {
			if _, _, err := sign(d, dylibIdent(d), nil, macho.SignParams{}); err != nil {
				return nil, err
			}
		}
		rin, err := j.resourceInput(b)
		if err != nil {
			return nil, err
		}
		cr, err := buildCodeResources(rin)
		if err != nil {
			return nil, err
		}
		j.set(b.dir+"/_CodeSignature/CodeResources", cr)
		info, err := j.content(infoName, a.lim.MaxPlist)
		if err != nil {
			return nil, err
		}

		// Entitlements come from the current signature and must be granted
		// by the profile; an encrypted binary is refused before that.
		exe, err := j.content(b.exe, a.lim.MaxExecutable)
		if err != nil {
			return nil, err
		}
		mf, err := macho.Parse(byteReader(exe), int64(len(exe)), macho.Limits{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.exe, err)
		}
		var ents, entsDER []byte
		for _, s := range mf.Slices {
			if s.CryptID != 0 {
				return nil, fmt.Errorf("%s: %w", b.exe, ErrEncrypted)
			}
		}
		if sig := mf.Slices[0].Signature; sig != nil {
			ents, entsDER = sig.Entitlements(), sig.EntitlementsDER()
		}
		if ents != nil {
			m, err := parseEntitlements(ents)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.exe, err)
			}
			if plan.profile != nil {
				if err := CheckEntitlements(m, plan.profile.Entitlements); err != nil {
					return nil, fmt.Errorf("bundle %s, profile %q: %w", b.id(), plan.profile.Name, err)
				}
			}
			// iOS 15 and later read the DER form (slot 7); an older signer
			// may have written only XML, so derive it. An existing DER blob
			// is copied unchanged, since the entitlements are.
			if entsDER == nil {
				if entsDER, err = EncodeEntitlementsDER(m); err != nil {
					return nil, fmt.Errorf("%s: %w", b.exe, err)
				}
			}
		}
		f, cdhash, err := sign(b.exe, b.id(), exe, macho.SignParams{InfoPlist: info, Resources: cr, Entitlements: ents, EntitlementsDER: entsDER})
		if err != nil {
			return nil, err
		}
		j.seals[b.dir] = j.seals[b.exe]
		br.CDHash = hexHash(cdhash)
		for _, cd := range f.Slices[0].Signature.CodeDirectories {
			br.HashTypes = append(br.HashTypes, macho.HashName(cd.HashType))
		}
		for _, s := range f.Slices {
			br.Architecture = append(br.Architecture, s.Arch())
		}
		report.Bundles = append(report.Bundles, br)
	}
	if err := j.writeAtomic(ctx, out, level); err != nil {
		return nil, err
	}
	return report, nil
}

func (o *ResignOptions) signer() (*macho.CMSSigner, error) {
	if o.Identity != nil {
		return macho.KeySigner(o.Identity.Signer, o.Identity.Chain), nil
	}
	return CommandSigner(o.SignerCommand, o.SignerChain)
}

// LoadIdentity opens a PKCS#12 (.p12) distribution identity; a wrong
// password is signingkey.ErrWrongPassword.
func LoadIdentity(p12 []byte, password string) (*signingkey.Key, error) {
	k, err := signingkey.LoadKeystore(p12, password, "", "")
	if err != nil {
		return nil, fmt.Errorf("ipa: identity: %w", err)
	}
	return k, nil
}
