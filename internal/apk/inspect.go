package apk

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
	"github.com/ripcordhq/ripcord/internal/apksig"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// Info is what `ripcord artifact inspect` shows. It is read from the
// structure only: Inspect does not hash the content (Verify does).
type Info struct {
	Manifest
	Schemes    []string     `json:"schemes"`            // Schemes lists the signature schemes present.
	Signers    []SignerInfo `json:"signers"`            // Signers are the newest scheme's signers (v3.1, else v3, v2, v1).
	PlaySigned bool         `json:"play_signed"`        // PlaySigned is true for APKs delivered by Google Play.
	Findings   []Finding    `json:"findings,omitempty"` // Findings are compliance problems.
}

// InspectOptions tunes Inspect.
type InspectOptions struct {
	// MinTargetSdk is Play's minimum targetSdk for updates.
	// Default DefaultMinTargetSdk (36).
	MinTargetSdk int
	Limits       Limits // Limits caps allocations; zero means defaults.
}

// Inspect reads an APK's manifest and signature structure.
func Inspect(ctx context.Context, r io.ReaderAt, size int64, opts InspectOptions) (*Info, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	a, blk, err := openArchive(r, size, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("apk: inspect: %w", err)
	}
	_, _, m, err := readManifest(r, a, opts.Limits.Manifest)
	if err != nil {
		return nil, fmt.Errorf("apk: inspect: %w", err)
	}
	info := &Info{Manifest: m, Findings: complianceFindings(m, opts.MinTargetSdk)}
	if hasV1(a) {
		info.Schemes = append(info.Schemes, SchemeV1)
		if signers, err := apksig.VerifyV1(ctx, r, a, false); err == nil {
			for _, s := range signers {
				info.Signers = []SignerInfo{{CertSHA256: signingkey.CertDigest(s.Cert.Raw), Subject: s.Cert.Subject.String()}}
			}
		}
	}
	for _, s := range blockSchemes {
		val := blk.Pair(s.id)
		if val == nil {
			continue
		}
		info.Schemes = append(info.Schemes, s.name)
		signers, err := apksig.ParseSigners(val, s.v3)
		if err != nil {
			return nil, fmt.Errorf("apk: inspect: %s block: %w", s.name, err)
		}
		info.Signers = signerInfos(signers)
	}
	info.PlaySigned = isPlaySigned(a, blk, info.Signers)
	return info, nil
}

func signerInfos(signers []apksig.Signer) []SignerInfo {
	var out []SignerInfo
	for _, sg := range signers {
		si := SignerInfo{MinSdk: sg.MinSDK, MaxSdk: sg.MaxSDK}
		if len(sg.Certs) > 0 {
			si.CertSHA256 = signingkey.CertDigest(sg.Certs[0])
			if c, err := x509.ParseCertificate(sg.Certs[0]); err == nil {
				si.Subject = c.Subject.String()
			}
		}
		for _, at := range sg.Attrs {
			if at.ID == apksig.AttrProofOfRotation {
				if nodes, err := apksig.ParseLineage(at.Value); err == nil {
					for _, n := range nodes {
						si.Lineage = append(si.Lineage, signingkey.CertDigest(n.Cert))
					}
				}
			}
		}
		out = append(out, si)
	}
	return out
}

// playSubject is the distinguished name of the app signing certificates
// Play App Signing generates.
const playSubject = "CN=Android,OU=Android,O=Google Inc.,L=Mountain View,ST=California,C=US"

// isPlaySigned recognises an APK delivered by Play: Play adds its metadata
// pair to the signing block, and keys it generates carry Google's subject.
func isPlaySigned(_ *apkzip.Archive, blk *apksig.Block, signers []SignerInfo) bool {
	if blk.Pair(apksig.IDFrosting) != nil {
		return true
	}
	for _, s := range signers {
		if s.Subject == playSubject {
			return true
		}
	}
	return false
}
