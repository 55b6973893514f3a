package apk

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
	"github.com/ripcordhq/ripcord/internal/apksig"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// Scheme names used in results.
const (
	SchemeV1  = "v1"   // SchemeV1 is JAR signing.
	SchemeV2  = "v2"   // SchemeV2 is APK Signature Scheme v2.
	SchemeV3  = "v3"   // SchemeV3 is APK Signature Scheme v3.
	SchemeV31 = "v3.1" // SchemeV31 is APK Signature Scheme v3.1.
)

// SignerInfo describes one signer of one scheme.
type SignerInfo struct {
	CertSHA256 string   `json:"cert_sha256"`         // CertSHA256 is the hex SHA-256 of the signer's certificate.
	Subject    string   `json:"subject,omitempty"`   // Subject is the certificate's distinguished name.
	Algorithm  string   `json:"algorithm,omitempty"` // Algorithm is the signature algorithm verified.
	MinSdk     uint32   `json:"min_sdk,omitempty"`   // MinSdk is the v3 signer's first platform level.
	MaxSdk     uint32   `json:"max_sdk,omitempty"`   // MaxSdk is its last.
	Lineage    []string `json:"lineage,omitempty"`   // Lineage lists certificate digests oldest first, when rotated.
}

// SchemeResult is the verdict for one signature scheme.
type SchemeResult struct {
	Scheme   string       `json:"scheme"`           // Scheme is v1, v2, v3 or v3.1.
	Verified bool         `json:"verified"`         // Verified is true when every signer verifies.
	Reason   string       `json:"reason,omitempty"` // Reason says why it failed.
	Note     string       `json:"note,omitempty"`   // Note says what was taken as proven instead of re-checked.
	Signers  []SignerInfo `json:"signers,omitempty"`
}

// VerifyResult is the verdict for an APK.
type VerifyResult struct {
	// Verified is true only when at least one scheme is present and every
	// present scheme verifies.
	Verified bool           `json:"verified"`
	Schemes  []SchemeResult `json:"schemes"`
}

// Failed returns the first failing scheme, for a one-line message.
func (v *VerifyResult) Failed() *SchemeResult {
	for i := range v.Schemes {
		if !v.Schemes[i].Verified {
			return &v.Schemes[i]
		}
	}
	return nil
}

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	Limits Limits // Limits caps allocations; zero means defaults.
	// ReuseV2ForV1 skips inflating every entry to check its v1 digest
	// when a v2 or v3 signature has verified the whole content. The v1
	// signature, .SF and MANIFEST.MF are still checked. Sound against
	// tampering: any changed byte, MANIFEST.MF included, fails v2/v3. What
	// it does not catch is a signer whose own tool wrote wrong v1 digests,
	// which only devices below API 24 would reject. Default false: check
	// every entry, as apksigner does.
	ReuseV2ForV1 bool
}

// Verify checks every signature scheme present in an APK. A malformed zip
// is an error; a bad signature is a result with Verified false and a reason.
func Verify(ctx context.Context, r io.ReaderAt, size int64, opts VerifyOptions) (*VerifyResult, error) {
	a, blk, err := openArchive(r, size, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("apk: verify: %w", err)
	}
	v, err := verifyArchive(ctx, r, a, blk, !opts.ReuseV2ForV1, false)
	if err != nil {
		return nil, fmt.Errorf("apk: verify: %w", err)
	}
	return v.result, nil
}

// verified carries what a verification established, for Resign to reuse.
type verified struct {
	result    *VerifyResult
	schemes   map[uint32][]apksig.Signer // block pair ID → signers
	v1        []apksig.V1Signer
	v1Checked bool // v1 entry digests were compared with the content
	// content compares the v2/v3 content digests with the file and
	// updates result; verifyArchive calls it unless told to defer it.
	content func(ctx context.Context) error
}

var blockSchemes = []struct {
	id   uint32
	name string
	v3   bool
}{
	{apksig.IDv2, SchemeV2, false},
	{apksig.IDv3, SchemeV3, true},
	{apksig.IDv31, SchemeV31, true},
}

// verifyArchive verifies the block schemes, then v1. checkV1Entries forces
// inflating every entry for v1; without it entries are inflated only when
// no block scheme's signature verified. With deferContent the v2/v3
// content digest is left to v.content, so Resign can hash the input while
// it writes the output; the result is final only after v.content ran.
func verifyArchive(ctx context.Context, r io.ReaderAt, a *apkzip.Archive, blk *apksig.Block, checkV1Entries, deferContent bool) (*verified, error) {
	v := &verified{result: &VerifyResult{}, schemes: map[uint32][]apksig.Signer{}}
	type pending struct {
		scheme string
		digest []byte
		kind   int
	}
	var waits []pending
	need := map[int]bool{}
	for _, s := range blockSchemes {
		val := blk.Pair(s.id)
		if val == nil {
			continue
		}
		res := SchemeResult{Scheme: s.name}
		signers, err := apksig.ParseSigners(val, s.v3)
		if err != nil {
			res.Reason = err.Error()
			v.result.Schemes = append(v.result.Schemes, res)
			continue
		}
		ok := true
		for i, sg := range signers {
			info := SignerInfo{MinSdk: sg.MinSDK, MaxSdk: sg.MaxSDK}
			if len(sg.Certs) > 0 {
				info.CertSHA256 = signingkey.CertDigest(sg.Certs[0])
				if c, err := x509.ParseCertificate(sg.Certs[0]); err == nil {
					info.Subject = c.Subject.String()
				}
			}
			alg, digest, err := apksig.VerifySigner(sg)
			if err != nil {
				ok = false
				res.Reason = fmt.Sprintf("signer #%d: %v", i+1, err)
				res.Signers = append(res.Signers, info)
				continue
			}
			info.Algorithm = apksig.AlgName(alg)
			if s.v3 {
				for _, at := range sg.Attrs {
					if at.ID != apksig.AttrProofOfRotation {
						continue
					}
					nodes, err := apksig.ParseLineage(at.Value)
					if err == nil {
						err = apksig.CheckLineageTail(nodes, sg.Certs[0])
					}
					if err != nil {
						ok = false
						res.Reason = fmt.Sprintf("signer #%d: lineage: %v", i+1, err)
					}
					for _, n := range nodes {
						info.Lineage = append(info.Lineage, signingkey.CertDigest(n.Cert))
					}
				}
			}
			res.Signers = append(res.Signers, info)
			kind := apksig.DigestKind(alg)
			need[kind] = true
			waits = append(waits, pending{scheme: s.name, digest: digest, kind: kind})
		}
		if s.id == apksig.IDv2 && blk.Pair(apksig.IDv3) == nil {
			for _, sg := range signers {
				for _, at := range sg.Attrs {
					if at.ID == apksig.AttrStrippingProtection && len(at.Value) >= 4 && at.Value[0] == 3 {
						ok = false
						res.Reason = "v2 signer says a v3 signature exists, but there is none (stripped)"
					}
				}
			}
		}
		res.Verified = ok
		v.schemes[s.id] = signers
		v.result.Schemes = append(v.result.Schemes, res)
	}
	v.content = func(ctx context.Context) error {
		if len(waits) == 0 {
			return nil
		}
		eocd := make([]byte, a.Size-a.EOCDOffset)
		if _, err := r.ReadAt(eocd, a.EOCDOffset); err != nil {
			return fmt.Errorf("read end record: %w", err)
		}
		// The digest sees the end record as if the block were absent.
		putU32(eocd[16:], uint32(blk.Offset))
		var kinds []int
		for k := range need {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		digests, err := apksig.DigestFile(ctx, r,
			apksig.Section{Off: 0, Len: blk.Offset},
			apksig.Section{Off: a.CDOffset, Len: a.CDSize}, eocd, kinds)
		if err != nil {
			return err
		}
		for _, w := range waits {
			if bytes.Equal(digests[w.kind], w.digest) {
				continue
			}
			for i := range v.result.Schemes {
				if res := &v.result.Schemes[i]; res.Scheme == w.scheme {
					res.Verified = false
					res.Reason = "content digest mismatch: the APK was modified after signing"
				}
			}
		}
		v.result.Verified = len(v.result.Schemes) > 0
		for _, s := range v.result.Schemes {
			v.result.Verified = v.result.Verified && s.Verified
		}
		return nil
	}
	if !deferContent {
		if err := v.content(ctx); err != nil {
			return nil, err
		}
	}
	blockVerified := false
	for _, s := range v.result.Schemes {
		if s.Verified && s.Scheme != SchemeV31 {
			blockVerified = true
		}
	}
	if hasV1(a) {
		res := SchemeResult{Scheme: SchemeV1}
		check := checkV1Entries || !blockVerified
		signers, err := apksig.VerifyV1(ctx, r, a, check)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Reason = err.Error()
		} else {
			res.Verified = true
			v.v1 = signers
			v.v1Checked = check
			if !check {
				res.Note = "entry digests not re-hashed: the content is covered by a verified v2/v3 signature"
			}
			for _, s := range signers {
				res.Signers = append(res.Signers, SignerInfo{CertSHA256: signingkey.CertDigest(s.Cert.Raw), Subject: s.Cert.Subject.String()})
				if blk.Pair(apksig.IDv2) == nil && strings.Contains(s.APKSigned, "2") {
					res.Verified = false
					res.Reason = fmt.Sprintf("%s.SF says the APK had a v2 signature, but there is none (stripped)", s.Name)
				}
			}
		}
		v.result.Schemes = append([]SchemeResult{res}, v.result.Schemes...)
	}
	v.result.Verified = len(v.result.Schemes) > 0
	for _, s := range v.result.Schemes {
		v.result.Verified = v.result.Verified && s.Verified
	}
	return v, nil
}

func hasV1(a *apkzip.Archive) bool {
	for _, e := range a.Entries {
		if strings.EqualFold(e.Name, "META-INF/MANIFEST.MF") {
			return true
		}
	}
	return false
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
