package ipa

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord/internal/macho"
)

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// Roots, when set, must anchor every signing certificate (Apple's roots
	// in production, a test CA in tests). Nil checks signatures only.
	Roots *x509.CertPool
	// Now is the time chains are checked at; default time.Now.
	Now func() time.Time
	// Limits bounds reading the input.
	Limits Limits
}

// VerifiedBundle is one bundle whose signature and seal hold.
type VerifiedBundle struct {
	Path      string   `json:"path"`       // Path is the bundle's directory in the IPA.
	BundleID  string   `json:"bundle_id"`  // BundleID is CFBundleIdentifier.
	Signer    string   `json:"signer"`     // Signer is the signing certificate's common name; "" for ad-hoc.
	TeamID    string   `json:"team_id"`    // TeamID is the CodeDirectory's team id.
	CDHash    string   `json:"cdhash"`     // CDHash is the first slice's primary cdhash (hex).
	HashTypes []string `json:"hash_types"` // HashTypes are the CodeDirectory digests, primary first.
	Libraries []string `json:"libraries"`  // Libraries are the loose dylibs verified with it.
}

// Verification lists what Verify checked.
type Verification struct {
	Bundles []VerifiedBundle `json:"bundles"` // Bundles are innermost first.
}

// Verify recomputes every page hash, special slot, CMS signature,
// CodeResources entry and nested cdhash of every bundle in the IPA. It
// returns an error wrapping ErrVerify at the first thing that does not hold.
func Verify(ctx context.Context, path string, opts VerifyOptions) (*Verification, error) {
	a, err := openArchive(path, opts.Limits)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	root, err := discover(a)
	if err != nil {
		return nil, fmt.Errorf("ipa: %s: %w", path, err)
	}
	for _, b := range postOrder(root) {
		if a.encryptedHead(b.exe) {
			return nil, fmt.Errorf("%s: %w", b.exe, ErrEncrypted)
		}
	}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	j := newJob(a)
	j.root = root
	res := &Verification{}
	check := func(name string, in macho.VerifyInputs) (*macho.SliceCheck, error) {
		b, err := a.read(name, a.lim.MaxExecutable)
		if err != nil {
			return nil, err
		}
		checks, err := macho.VerifyFile(b, in, macho.Limits{})
		if err != nil {
			if errors.Is(err, macho.ErrEncrypted) {
				return nil, fmt.Errorf("%s: %w", name, ErrEncrypted)
			}
			return nil, fmt.Errorf("%w: %s: %w", ErrVerify, name, err)
		}
		for _, c := range checks {
			if c.Signer != nil && opts.Roots != nil {
				inter := x509.NewCertPool()
				for _, ic := range c.Certificates {
					inter.AddCert(ic)
				}
				if _, err := c.Signer.Verify(x509.VerifyOptions{Roots: opts.Roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					return nil, fmt.Errorf("%w: %s: signing certificate %q: %w", ErrVerify, name, c.Signer.Subject.CommonName, err)
				}
			}
			if c.Signer != nil && checks[0].Signer != nil && !c.Signer.Equal(checks[0].Signer) {
				return nil, fmt.Errorf("%w: %s: slices signed by different certificates", ErrVerify, name)
			}
		}
		seal, _, err := sealOf(b, "")
		if err != nil {
			return nil, err
		}
		j.seals[name] = seal
		return checks[0], nil
	}
	for _, b := range postOrder(root) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		vb := VerifiedBundle{Path: b.dir, BundleID: b.id()}
		for _, d := range b.dylibs {
			if _, err := check(d, macho.VerifyInputs{}); err != nil {
				return nil, err
			}
			vb.Libraries = append(vb.Libraries, d)
		}
		crName := b.dir + "/_CodeSignature/CodeResources"
		cr, err := a.read(crName, a.lim.MaxPlist)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrVerify, b.dir, err)
		}
		c, err := check(b.exe, macho.VerifyInputs{InfoPlist: b.infoRaw, Resources: cr})
		if err != nil {
			return nil, err
		}
		if c.Ident != b.id() {
			return nil, fmt.Errorf("%w: %s is signed as %q, not its bundle id %q", ErrVerify, b.exe, c.Ident, b.id())
		}
		j.seals[b.dir] = j.seals[b.exe]
		rin, err := j.resourceInput(b)
		if err != nil {
			return nil, err
		}
		if err := checkCodeResources(cr, rin); err != nil {
			return nil, fmt.Errorf("%s: %w", b.dir, err)
		}
		vb.TeamID, vb.CDHash = c.TeamID, hexHash(c.CDHash)
		if c.Signer != nil {
			vb.Signer = c.Signer.Subject.CommonName
		}
		for _, t := range c.HashTypes {
			vb.HashTypes = append(vb.HashTypes, macho.HashName(t))
		}
		res.Bundles = append(res.Bundles, vb)
	}
	return res, nil
}
