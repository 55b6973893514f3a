package apk

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
	"github.com/ripcordhq/ripcord/internal/apksig"
	"github.com/ripcordhq/ripcord/internal/axml"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// ResignOptions says what to change and which keys to sign with.
type ResignOptions struct {
	// VersionCode is the new android:versionCode. Required; it must be
	// above the input's (compared as the long code, versionCodeMajor
	// kept) and at most MaxVersionCode.
	VersionCode int64
	// VersionName is the new android:versionName; empty keeps the input's.
	VersionName string
	// Keys are the signing keys. For an app whose key was rotated, give
	// every key its signatures and lineage need, oldest first; each is
	// matched to the input's signers by certificate.
	Keys []*signingkey.Key
	// Lineage, when set, is the app's key-rotation lineage, oldest
	// certificate first, as apksig.ParseLineageFile reads the file
	// `apksigner rotate --out` writes. It lets an input signed without a
	// lineage, or with an older one, be signed for a rotated key: v1 and
	// v2 stay with the input's signer, and the v3 signer (the v3.1 signer
	// when the input has one) becomes the lineage's newest certificate
	// and carries this lineage. The input's signers must be in the
	// lineage and the input's own lineage, if any, must be its start
	// (ErrLineageMismatch); Keys must hold the keys of the input's signers
	// and of the newest certificate (ErrMissingKey), and no key outside
	// the lineage. Nil keeps the input's lineage, if any.
	Lineage []apksig.LineageNode
	// AllowNewSigner signs with Keys[0] even when its certificate differs
	// from the input's signer. Devices with the old app installed will
	// refuse the update, so this is only for apps not yet distributed.
	AllowNewSigner bool
	// MinTargetSdk is Play's minimum targetSdk for updates, for findings.
	// Default DefaultMinTargetSdk (36).
	MinTargetSdk int
	// Limits caps allocations; zero means defaults.
	Limits Limits
}

// Report says what Resign produced.
type Report struct {
	Before  Manifest `json:"before"`  // Before is the input's manifest.
	After   Manifest `json:"after"`   // After is the output's manifest.
	Schemes []string `json:"schemes"` // Schemes are the schemes written.
	Signers []string `json:"signers"` // Signers are the certificate SHA-256 digests used.
	Size    int64    `json:"size"`    // Size is the output's length in bytes.
	// Lineage lists the certificate SHA-256 digests of the key-rotation
	// lineage the output carries, oldest first; empty without one.
	Lineage []string `json:"lineage,omitempty"`
	// ReusedV1Digests counts entry digests taken from the input's verified
	// JAR manifest instead of inflating the entry again.
	ReusedV1Digests int       `json:"reused_v1_digests"`
	Findings        []Finding `json:"findings,omitempty"` // Findings are store-compliance warnings.
}

// v3DefaultMinSdk and v3DefaultMaxSdk are the SDK range of a v3 signer we
// add to an input that had none; apksigner writes the same range.
const (
	v3DefaultMinSdk = 24
	v3DefaultMaxSdk = 0x7fffffff
	v1MaxMinSdk     = 24 // v1 is written when minSdk is below this
	defaultV1Name   = "CERT"
)

// Resign writes to out a copy of the APK in with a new version, signed with
// the input's keys: every entry but AndroidManifest.xml keeps its
// compressed bytes; old v1 files and the APK Signing Block are replaced;
// stored entries are aligned (4 bytes; .so on 16 KiB). The output is
// written to a temporary file beside out, checked, synced and renamed;
// nothing is left behind on error.
func Resign(ctx context.Context, in io.ReaderAt, size int64, out string, opts ResignOptions) (rep *Report, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("apk: resign: %w", err)
		}
	}()
	if len(opts.Keys) == 0 {
		return nil, errors.New("no signing key given")
	}
	a, blk, err := openArchive(in, size, opts.Limits)
	if err != nil {
		return nil, err
	}
	manifestEntry, mf, before, err := readManifest(in, a, opts.Limits.Manifest)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(before, mf, opts); err != nil {
		return nil, err
	}
	if blk.Pair(apksig.IDFrosting) != nil {
		return nil, playError()
	}
	// Signatures over signed data are checked now; the input's content
	// digest is computed below, while the output is written, and checked
	// before the output is published.
	v, err := verifyArchive(ctx, in, a, blk, false, true)
	if err != nil {
		return nil, err
	}
	if f := v.result.Failed(); f != nil {
		return nil, fmt.Errorf("%w: %s: %s; re-sign only the artifact your CI built and uploaded", ErrNotVerified, f.Scheme, f.Reason)
	}
	for _, s := range v.result.Schemes {
		for _, sg := range s.Signers {
			if sg.Subject == playSubject {
				return nil, playError()
			}
		}
	}
	p, err := makePlan(v, opts, before.MinSdk)
	if err != nil {
		return nil, err
	}

	// New manifest bytes, compressed like the original.
	upd := axml.Update{VersionCode: ptr(uint32(opts.VersionCode))}
	if opts.VersionName != "" {
		upd.VersionName = &opts.VersionName
	}
	newManifest, err := mf.Rewrite(upd)
	if err != nil {
		return nil, fmt.Errorf("rewrite AndroidManifest.xml: %w", err)
	}
	after, err := manifestOf(newManifest, in, a, opts.Limits.Manifest)
	if err != nil {
		return nil, fmt.Errorf("check rewritten AndroidManifest.xml: %w", err)
	}
	mfMethod := manifestEntry.Method
	mfStored, err := compress(newManifest, mfMethod)
	if err != nil {
		return nil, err
	}

	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create output in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	preallocate(tmp, size+1<<20)

	// v1 entry digests: reuse the input's verified ones where sound,
	// compute the rest on all cores while the entries are copied.
	var digests *v1Digests
	if p.v1Key != nil {
		digests = startV1Digests(ctx, in, a, v, p.v1Hash)
		defer digests.stop()
		digests.set("AndroidManifest.xml", hashBytes(p.v1Hash, newManifest))
	}

	contentErr := make(chan error, 1)
	cctx, cancel := context.WithCancel(ctx)
	go func() { contentErr <- v.content(cctx) }()
	contentDone := false
	waitContent := func() error {
		if contentDone {
			return nil
		}
		contentDone = true
		return <-contentErr
	}
	defer func() {
		cancel()
		_ = waitContent() // never leave a goroutine reading the caller's input
	}()

	cw := apksig.NewChunkWriter(newWriteback(tmp))
	zw := apkzip.NewWriter(cw)
	writeErr := func() error {
		for _, e := range a.Entries {
			if err := ctxErr(ctx); err != nil {
				return err
			}
			if apksig.IsV1SignatureFile(e.Name) {
				continue
			}
			align := apkzip.Alignment(e.Name, e.Method)
			if e == manifestEntry {
				if err := zw.ReplaceEntry(e, mfMethod, crc32.ChecksumIEEE(newManifest), int64(len(newManifest)), mfStored, align); err != nil {
					return err
				}
				continue
			}
			if err := zw.CopyEntry(e, in, align); err != nil {
				return err
			}
		}
		if p.v1Key == nil {
			return nil
		}
		var entries []apksig.V1Entry
		for _, e := range a.Entries {
			if !apksig.V1Digested(e.Name) {
				continue
			}
			d, err := digests.get(e.Name)
			if err != nil {
				return err
			}
			entries = append(entries, apksig.V1Entry{Name: e.Name, Digest: d})
		}
		files, err := apksig.SignV1(p.v1Key.Signer, p.v1Key.Chain, entries, p.v1Hash, p.v1Name, p.apkSigned())
		if err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			b    []byte
		}{{"META-INF/MANIFEST.MF", files.Manifest}, {files.SFName, files.SF}, {files.BlockName, files.Block}} {
			c, err := compress(f.b, apkzip.Deflate)
			if err != nil {
				return err
			}
			if err := zw.CreateEntry(f.name, apkzip.Deflate, crc32.ChecksumIEEE(f.b), int64(len(f.b)), c, manifestEntry.ModTime, manifestEntry.ModDate, 1); err != nil {
				return err
			}
		}
		return nil
	}()
	chunks, closeErr := cw.Close()
	if err := errors.Join(writeErr, closeErr); err != nil {
		return nil, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	blockStart := zw.Offset()
	cd := zw.CentralDirectory()
	eocd := apkzip.EndRecord(zw.Count(), int64(len(cd)), blockStart)
	contentDigest := apksig.ContentDigest(chunks, cd, eocd)
	block, err := p.encodeBlock(contentDigest)
	if err != nil {
		return nil, err
	}
	eocd = apkzip.EndRecord(zw.Count(), int64(len(cd)), blockStart+int64(len(block)))
	for _, b := range [][]byte{block, cd, eocd} {
		if _, err := tmp.Write(b); err != nil {
			return nil, fmt.Errorf("write %s: %w", tmp.Name(), err)
		}
	}
	outSize := blockStart + int64(len(block)) + int64(len(cd)) + int64(len(eocd))
	if err := waitContent(); err != nil {
		return nil, fmt.Errorf("verify input: %w", err)
	}
	if f := v.result.Failed(); f != nil {
		return nil, fmt.Errorf("%w: %s: %s; re-sign only the artifact your CI built and uploaded", ErrNotVerified, f.Scheme, f.Reason)
	}
	if err := selfCheck(ctx, tmp, outSize, contentDigest, after, opts.Limits); err != nil {
		return nil, fmt.Errorf("self-check of the output failed (a bug; nothing was published): %w", err)
	}
	// Give back what preallocate reserved past the end.
	if err := tmp.Truncate(outSize); err != nil {
		return nil, fmt.Errorf("truncate %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return nil, fmt.Errorf("rename to %s: %w", out, err)
	}
	// Make the rename itself durable; best effort, as some filesystems
	// cannot sync a directory.
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	rep = &Report{
		Before: before, After: after, Size: outSize,
		Schemes:  p.schemes(),
		Signers:  p.signerDigests(),
		Lineage:  p.lineage,
		Findings: complianceFindings(after, opts.MinTargetSdk),
	}
	if digests != nil {
		rep.ReusedV1Digests = digests.reused
	}
	if opts.AllowNewSigner && len(p.replaced) > 0 {
		rep.Findings = append(rep.Findings, Finding{Code: "new_signer", Message: fmt.Sprintf(
			"signed with a new key (certificate %s) instead of %s: devices with the old build installed will refuse this update",
			opts.Keys[0].CertSHA256(), strings.Join(p.replaced, ", "))})
	}
	return rep, nil
}

func ptr[T any](v T) *T { return &v }

func playError() error {
	return fmt.Errorf("%w: this APK was generated and signed by Google Play (Play App Signing), and only Google holds that key; "+
		"roll back from the artifact your CI uploaded (the AAB or APK signed with your upload key) instead", ErrPlaySigned)
}

func checkVersion(before Manifest, mf *axml.File, opts ResignOptions) error {
	if opts.VersionCode <= 0 || opts.VersionCode > MaxVersionCode {
		return fmt.Errorf("new versionCode %d is out of range: Play accepts 1 to %d", opts.VersionCode, MaxVersionCode)
	}
	m, err := mf.Manifest()
	if err != nil {
		return err
	}
	newLong := opts.VersionCode
	if m.VersionCodeMajor != nil && m.VersionCodeMajor.IsInt() {
		newLong |= int64(m.VersionCodeMajor.Data) << 32
	}
	if newLong <= before.VersionCode {
		return fmt.Errorf("%w: the input has versionCode %d and %d would not be offered as an update; pick a versionCode above %d (above the live build's too)",
			ErrVersionNotHigher, before.VersionCode, newLong, before.VersionCode)
	}
	return nil
}

func manifestOf(b []byte, r io.ReaderAt, a *apkzip.Archive, lim axml.Limits) (Manifest, error) {
	f, err := axml.Parse(b, lim)
	if err != nil {
		return Manifest{}, err
	}
	m, err := f.Manifest()
	if err != nil {
		return Manifest{}, err
	}
	// resources.arsc is copied unchanged, so the input's resolves the output's references.
	return toManifest(m, r, a, lim), nil
}

func compress(b []byte, method uint16) ([]byte, error) {
	if method == apkzip.Store {
		return b, nil
	}
	return apkzip.DeflateBytes(b)
}

func hashBytes(h crypto.Hash, b []byte) []byte {
	d := apksig.NewV1Hash(h)
	d.Write(b)
	return d.Sum(nil)
}

// plan is how the output is signed: which schemes, which key for each
// signer, and the attributes carried over from the input.
type plan struct {
	v1Key    *signingkey.Key
	v1Name   string
	v1Hash   crypto.Hash
	v2       []apksig.SignerTemplate
	v3       []apksig.SignerTemplate
	v31      []apksig.SignerTemplate
	used     []*signingkey.Key
	replaced []string // input signer certificates replaced under AllowNewSigner
	lineage  []string // certificate digests of the output's lineage, oldest first
}

// use records that k signs something and returns it.
func (p *plan) use(k *signingkey.Key) *signingkey.Key {
	if !slices.Contains(p.used, k) {
		p.used = append(p.used, k)
	}
	return k
}

func (p *plan) apkSigned() string {
	if len(p.v3) > 0 {
		return "2, 3"
	}
	return "2"
}

func (p *plan) schemes() []string {
	var s []string
	if p.v1Key != nil {
		s = append(s, SchemeV1)
	}
	s = append(s, SchemeV2)
	if len(p.v3) > 0 {
		s = append(s, SchemeV3)
	}
	if len(p.v31) > 0 {
		s = append(s, SchemeV31)
	}
	return s
}

func (p *plan) signerDigests() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range p.used {
		if d := k.CertSHA256(); !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

func (p *plan) encodeBlock(digest []byte) ([]byte, error) {
	var pairs []apksig.Pair
	for _, s := range []struct {
		id uint32
		t  []apksig.SignerTemplate
		v3 bool
	}{{apksig.IDv2, p.v2, false}, {apksig.IDv3, p.v3, true}, {apksig.IDv31, p.v31, true}} {
		if len(s.t) == 0 {
			continue
		}
		val, err := apksig.EncodeSigners(s.t, digest, s.v3)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, apksig.Pair{ID: s.id, Value: val})
	}
	return apksig.EncodeBlock(pairs), nil
}

// makePlan matches the input's signers to the given keys. A signed input
// keeps its structure: the same signers per scheme, SDK ranges and
// attributes (lineage, v3.1 markers) verbatim, each re-signed with the key
// whose certificate it names.
func makePlan(v *verified, opts ResignOptions, minSdk int) (*plan, error) {
	keyFor := map[string]*signingkey.Key{}
	for _, k := range opts.Keys {
		keyFor[k.CertSHA256()] = k
	}
	p := &plan{v1Name: defaultV1Name}
	use := p.use
	var inputCerts []string
	for _, s := range v.v1 {
		inputCerts = append(inputCerts, signingkey.CertDigest(s.Cert.Raw))
	}
	for _, id := range []uint32{apksig.IDv2, apksig.IDv3, apksig.IDv31} {
		for _, s := range v.schemes[id] {
			inputCerts = append(inputCerts, signingkey.CertDigest(s.Certs[0]))
		}
	}
	signed := len(inputCerts) > 0
	if len(opts.Lineage) > 0 {
		return lineagePlan(p, v, opts, minSdk, inputCerts)
	}
	if !signed || opts.AllowNewSigner {
		if len(opts.Keys) != 1 {
			return nil, fmt.Errorf("signing with a new key takes exactly one key, got %d (creating a lineage is not supported)", len(opts.Keys))
		}
		k := use(opts.Keys[0])
		for _, c := range inputCerts {
			if c != k.CertSHA256() && !contains(p.replaced, c) {
				p.replaced = append(p.replaced, c)
			}
		}
		if minSdk < v1MaxMinSdk {
			if err := p.setV1(k, minSdk); err != nil {
				return nil, err
			}
		}
		p.v2 = []apksig.SignerTemplate{{Key: k.Signer, Certs: chainDER(k), Attrs: []apksig.Attr{strippingProtection()}}}
		p.v3 = []apksig.SignerTemplate{{Key: k.Signer, Certs: chainDER(k), MinSDK: v3DefaultMinSdk, MaxSDK: v3DefaultMaxSdk}}
		return p, nil
	}
	var missing []string
	matched := 0
	for _, c := range inputCerts {
		if keyFor[c] == nil {
			if !contains(missing, c) {
				missing = append(missing, c)
			}
		} else {
			matched++
		}
	}
	if len(missing) > 0 {
		var given []string
		for _, k := range opts.Keys {
			given = append(given, k.CertSHA256())
		}
		if matched == 0 {
			return nil, fmt.Errorf("%w: the input is signed by certificate %s but the key's certificate is %s; "+
				"use the key the live build was signed with (or allow a new signer for an app not yet distributed)",
				ErrSignerMismatch, strings.Join(missing, ", "), strings.Join(given, ", "))
		}
		return nil, fmt.Errorf("%w: the input's signatures and key-rotation lineage need keys for certificates %s; give all of the app's keys, oldest first",
			ErrMissingKey, strings.Join(missing, ", "))
	}
	p.v2 = p.templates(v.schemes[apksig.IDv2], keyFor)
	p.v3 = p.templates(v.schemes[apksig.IDv3], keyFor)
	p.v31 = p.templates(v.schemes[apksig.IDv31], keyFor)
	p.lineage = keptLineage(p)
	return p, p.finish(inputBase(p, v, keyFor), minSdk)
}

// keptLineage lists the certificates of the lineage the newest rotated
// signer carries over from the input (v3.1, else v3), for the report.
func keptLineage(p *plan) []string {
	for _, ts := range [][]apksig.SignerTemplate{p.v31, p.v3} {
		for _, t := range ts {
			for _, a := range t.Attrs {
				if a.ID != apksig.AttrProofOfRotation {
					continue
				}
				if nodes, err := apksig.ParseLineage(a.Value); err == nil {
					return certDigests(lineageCerts(nodes))
				}
			}
		}
	}
	return nil
}

// templates re-signs the input's signers of one scheme, each with the key
// its certificate names, keeping SDK ranges and attributes.
func (p *plan) templates(signers []apksig.Signer, keyFor map[string]*signingkey.Key) []apksig.SignerTemplate {
	var out []apksig.SignerTemplate
	for _, s := range signers {
		k := p.use(keyFor[signingkey.CertDigest(s.Certs[0])])
		out = append(out, apksig.SignerTemplate{Key: k.Signer, Certs: s.Certs, MinSDK: s.MinSDK, MaxSDK: s.MaxSDK, Attrs: s.Attrs})
	}
	return out
}

// inputBase is the key of the input's original signer: v1's, else v2's,
// else v3's. It also keeps the input's v1 signature file name.
func inputBase(p *plan, v *verified, keyFor map[string]*signingkey.Key) *signingkey.Key {
	switch {
	case len(v.v1) > 0:
		p.v1Name = v.v1[0].Name
		return keyFor[signingkey.CertDigest(v.v1[0].Cert.Raw)]
	case len(v.schemes[apksig.IDv2]) > 0:
		return keyFor[signingkey.CertDigest(v.schemes[apksig.IDv2][0].Certs[0])]
	}
	return keyFor[signingkey.CertDigest(v.schemes[apksig.IDv3][0].Certs[0])]
}

// finish fills what the input did not have: a v2 and a v3 signer with
// base, v2's announcement of v3, and v1 when minSdk needs it.
func (p *plan) finish(base *signingkey.Key, minSdk int) error {
	use := p.use
	if len(p.v2) == 0 {
		p.v2 = []apksig.SignerTemplate{{Key: use(base).Signer, Certs: chainDER(base)}}
	}
	if len(p.v3) == 0 {
		p.v3 = []apksig.SignerTemplate{{Key: use(base).Signer, Certs: chainDER(base), MinSDK: v3DefaultMinSdk, MaxSDK: v3DefaultMaxSdk}}
	}
	// A v2 signer must announce v3 so v3 cannot be stripped.
	for i := range p.v2 {
		if !hasAttr(p.v2[i].Attrs, apksig.AttrStrippingProtection) {
			p.v2[i].Attrs = append(append([]apksig.Attr{}, p.v2[i].Attrs...), strippingProtection())
		}
	}
	if minSdk < v1MaxMinSdk {
		return p.setV1(use(base), minSdk)
	}
	return nil
}

// lineagePlan signs for a rotated key with the lineage the caller gives
// (ResignOptions.Lineage): v1 and v2 as the input was signed (or with the
// oldest key given, for an unsigned input), v3 — or v3.1 when the input
// has it, v3 then keeping the input's signer for older platforms — with
// the lineage's newest key and the lineage.
func lineagePlan(p *plan, v *verified, opts ResignOptions, minSdk int, inputCerts []string) (*plan, error) {
	lin := opts.Lineage
	if opts.AllowNewSigner {
		return nil, fmt.Errorf("%w: a lineage cannot be combined with a new signer; the lineage already says which keys may sign", ErrLineageMismatch)
	}
	if len(lin) < 2 {
		return nil, fmt.Errorf("%w: the lineage has %d certificate(s), so no key was rotated; drop the lineage", ErrLineageMismatch, len(lin))
	}
	pos := map[string]int{}
	for i, n := range lin {
		d := signingkey.CertDigest(n.Cert)
		pos[d] = i
		p.lineage = append(p.lineage, d)
	}
	chain := strings.Join(p.lineage, " → ")
	keyFor := map[string]*signingkey.Key{}
	var oldest *signingkey.Key
	for _, k := range opts.Keys {
		i, ok := pos[k.CertSHA256()]
		if !ok {
			return nil, fmt.Errorf("%w: the key with certificate %s is not in the lineage (%s); give only the lineage's keys, oldest first",
				ErrLineageMismatch, k.CertSHA256(), chain)
		}
		keyFor[k.CertSHA256()] = k
		if oldest == nil || i < pos[oldest.CertSHA256()] {
			oldest = k
		}
	}
	for _, c := range inputCerts {
		if _, ok := pos[c]; !ok {
			return nil, fmt.Errorf("%w: the input is signed by certificate %s, which is not in the lineage (%s); "+
				"the lineage must include the key the live build was signed with", ErrLineageMismatch, c, chain)
		}
	}
	for _, id := range []uint32{apksig.IDv3, apksig.IDv31} {
		for _, s := range v.schemes[id] {
			for _, at := range s.Attrs {
				if at.ID != apksig.AttrProofOfRotation {
					continue
				}
				nodes, err := apksig.ParseLineage(at.Value)
				if err != nil {
					return nil, fmt.Errorf("input lineage: %w", err)
				}
				if !lineagePrefix(nodes, lin) {
					return nil, fmt.Errorf("%w: the input's lineage (%s) is not the start of the given lineage (%s); give the app's current lineage file",
						ErrLineageMismatch, strings.Join(certDigests(lineageCerts(nodes)), " → "), chain)
				}
			}
		}
	}
	// Keys are needed for the signers kept (v1, v2, and v3 when v3.1
	// holds the rotated signer) and for the newest certificate.
	newest := p.lineage[len(p.lineage)-1]
	var needed []string
	for _, s := range v.v1 {
		needed = append(needed, signingkey.CertDigest(s.Cert.Raw))
	}
	kept := [][]apksig.Signer{v.schemes[apksig.IDv2]}
	if len(v.schemes[apksig.IDv31]) > 0 {
		kept = append(kept, v.schemes[apksig.IDv3])
	}
	for _, signers := range kept {
		for _, s := range signers {
			needed = append(needed, signingkey.CertDigest(s.Certs[0]))
		}
	}
	if len(needed) == 0 && len(inputCerts) > 0 {
		// Signed by v3 alone: its signer moves to v2.
		needed = append(needed, inputCerts[0])
	}
	var missing []string
	for _, c := range append(needed, newest) {
		if keyFor[c] == nil && !slices.Contains(missing, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: signing with the lineage (%s) needs the keys for certificates %s: the input's signer for v1/v2 and the lineage's newest for v3; "+
			"give them in lineage order, oldest first", ErrMissingKey, chain, strings.Join(missing, ", "))
	}
	nk := p.use(keyFor[newest])
	rotated := apksig.SignerTemplate{Key: nk.Signer, Certs: chainDER(nk), MinSDK: v3DefaultMinSdk, MaxSDK: v3DefaultMaxSdk,
		Attrs: []apksig.Attr{{ID: apksig.AttrProofOfRotation, Value: apksig.EncodeLineage(lin)}}}
	p.v2 = p.templates(v.schemes[apksig.IDv2], keyFor)
	if in31 := v.schemes[apksig.IDv31]; len(in31) > 0 {
		p.v3 = p.templates(v.schemes[apksig.IDv3], keyFor)
		rotated.MinSDK, rotated.MaxSDK = in31[0].MinSDK, in31[0].MaxSDK
		rotated.Attrs = withAttr(in31[0].Attrs, rotated.Attrs[0])
		p.v31 = []apksig.SignerTemplate{rotated}
	} else {
		p.v3 = []apksig.SignerTemplate{rotated}
	}
	base := oldest
	if len(inputCerts) > 0 {
		base = inputBase(p, v, keyFor)
	}
	return p, p.finish(base, minSdk)
}

// lineagePrefix reports whether the certificates of short start long.
func lineagePrefix(short, long []apksig.LineageNode) bool {
	if len(short) > len(long) {
		return false
	}
	for i := range short {
		if !bytes.Equal(short[i].Cert, long[i].Cert) {
			return false
		}
	}
	return true
}

func lineageCerts(nodes []apksig.LineageNode) [][]byte {
	out := make([][]byte, len(nodes))
	for i, n := range nodes {
		out[i] = n.Cert
	}
	return out
}

// withAttr returns attrs with a replacing the attribute of its ID, or
// appended.
func withAttr(attrs []apksig.Attr, a apksig.Attr) []apksig.Attr {
	out := make([]apksig.Attr, 0, len(attrs)+1)
	done := false
	for _, x := range attrs {
		if x.ID == a.ID {
			x, done = a, true
		}
		out = append(out, x)
	}
	if !done {
		out = append(out, a)
	}
	return out
}

// setV1 chooses the JAR signature's key and digest. Platforms before API
// 18 cannot verify ECDSA JAR signatures at all.
func (p *plan) setV1(k *signingkey.Key, minSdk int) error {
	if _, ec := k.Signer.Public().(*ecdsa.PublicKey); ec && minSdk < 18 {
		return fmt.Errorf("minSdk %d needs a v1 signature, which Android before API 18 cannot verify with an EC key; sign with an RSA key", minSdk)
	}
	p.v1Key = k
	p.v1Hash = apksig.V1Hash(minSdk, k.Signer.Public())
	return nil
}

func strippingProtection() apksig.Attr {
	return apksig.Attr{ID: apksig.AttrStrippingProtection, Value: []byte{3, 0, 0, 0}}
}

func hasAttr(as []apksig.Attr, id uint32) bool {
	for _, a := range as {
		if a.ID == id {
			return true
		}
	}
	return false
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func chainDER(k *signingkey.Key) [][]byte {
	out := make([][]byte, len(k.Chain))
	for i, c := range k.Chain {
		out[i] = c.Raw
	}
	return out
}

// v1Digests computes entry digests for the new JAR manifest in the
// background. Digests listed in the input's JAR manifest are reused when
// the input's v2/v3 signature verified: that signature covers the exact
// compressed bytes we copy and the manifest that states their digests, so
// inflating them again would only re-prove what the signer asserted.
type v1Digests struct {
	mu      sync.Mutex
	done    map[string]chan struct{}
	results map[string][]byte
	errs    map[string]error
	reused  int
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func startV1Digests(ctx context.Context, r io.ReaderAt, a *apkzip.Archive, v *verified, h crypto.Hash) *v1Digests {
	ctx, cancel := context.WithCancel(ctx)
	d := &v1Digests{done: map[string]chan struct{}{}, results: map[string][]byte{}, errs: map[string]error{}, cancel: cancel}
	var reuse map[string][]byte
	if len(v.v1) > 0 && v.v1[0].DigestAlg == h {
		for _, s := range v.result.Schemes {
			if s.Verified && (s.Scheme == SchemeV2 || s.Scheme == SchemeV3) || v.v1Checked {
				reuse = v.v1[0].EntryDigest
			}
		}
	}
	var pending []*apkzip.Entry
	for _, e := range a.Entries {
		if !apksig.V1Digested(e.Name) || e.Name == "AndroidManifest.xml" {
			continue
		}
		if dg, ok := reuse[e.Name]; ok {
			d.results[e.Name] = dg
			d.reused++
			continue
		}
		ch := make(chan struct{})
		d.done[e.Name] = ch
		pending = append(pending, e)
	}
	next := make(chan *apkzip.Entry)
	for range runtime.GOMAXPROCS(0) {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			buf := make([]byte, 256<<10)
			for e := range next {
				dg, err := apksig.EntryDigest(r, e, h, buf)
				d.mu.Lock()
				d.results[e.Name], d.errs[e.Name] = dg, err
				d.mu.Unlock()
				close(d.done[e.Name])
			}
		}()
	}
	go func() {
		defer close(next)
		for _, e := range pending {
			select {
			case next <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return d
}

func (d *v1Digests) set(name string, digest []byte) {
	d.mu.Lock()
	d.results[name] = digest
	d.mu.Unlock()
}

func (d *v1Digests) get(name string) ([]byte, error) {
	if ch, ok := d.done[name]; ok {
		<-ch
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.errs[name]; err != nil {
		return nil, fmt.Errorf("digest %s: %w", name, err)
	}
	return d.results[name], nil
}

func (d *v1Digests) stop() {
	d.cancel()
	d.wg.Wait()
}

// selfCheck re-reads the output's structure and checks the signatures over
// the digest computed while writing; it does not hash the content again.
func selfCheck(ctx context.Context, f *os.File, size int64, digest []byte, want Manifest, lim Limits) error {
	a, blk, err := openArchive(f, size, lim)
	if err != nil {
		return err
	}
	if blk == nil {
		return errors.New("no APK Signing Block")
	}
	for _, s := range blockSchemes {
		val := blk.Pair(s.id)
		if val == nil {
			continue
		}
		signers, err := apksig.ParseSigners(val, s.v3)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		for _, sg := range signers {
			_, d, err := apksig.VerifySigner(sg)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if !bytes.Equal(d, digest) {
				return fmt.Errorf("%s: digest differs from the one computed while writing", s.name)
			}
		}
	}
	if hasV1(a) {
		if _, err := apksig.VerifyV1(ctx, f, a, false); err != nil {
			return fmt.Errorf("v1: %w", err)
		}
	}
	_, _, got, err := readManifest(f, a, lim.Manifest)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("manifest reads back as %+v, want %+v", got, want)
	}
	return nil
}
