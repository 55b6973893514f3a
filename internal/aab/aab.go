// Package aab is the Android App Bundle side of Ripcord's rollback builds:
// it rewrites the version in every module's protobuf manifest and JAR-signs
// the bundle with the upload key, for Play to re-sign the APKs it builds.
//
// Manifests are edited at the wire level (protowire): only the value and
// compiled form of android:versionCode/versionName change, every other byte
// is kept. Zip entries are copied with their compressed bytes untouched.
//
// Threat model: bundles are uploads. The zip and the JAR signature go
// through the hardened apkzip and apksig readers; manifests are capped in
// size; the input's JAR signature must verify before it is re-signed.
package aab

import (
	"bufio"
	"context"
	"crypto"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
	"github.com/ripcordhq/ripcord/internal/apksig"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// Sentinels for refusals; errors wrapping them say what to do.
var (
	ErrNotBundle        = errors.New("aab: not an Android App Bundle")                 // ErrNotBundle marks a zip without base/manifest/AndroidManifest.xml.
	ErrSignerMismatch   = errors.New("aab: key differs from the bundle's signer")      // ErrSignerMismatch marks a key that is not the input's upload key.
	ErrVersionNotHigher = errors.New("aab: new versionCode is not above the bundle's") // ErrVersionNotHigher marks a versionCode that would not be an update.
	ErrNotVerified      = errors.New("aab: input JAR signature does not verify")       // ErrNotVerified marks a tampered or broken input.
)

const (
	manifestSuffix = "/manifest/AndroidManifest.xml"
	maxManifest    = 8 << 20
	maxVersionCode = 2_100_000_000
	defaultSigName = "UPLOAD"
)

// Module is one module of a bundle and its manifest's version fields.
type Module struct {
	Name string `json:"name"` // Name is the module directory (base, a feature or an asset pack).
	Manifest
}

// Info is what `ripcord artifact inspect` shows for a bundle.
type Info struct {
	Modules []Module `json:"modules"`           // Modules are sorted by name, base first.
	Signed  bool     `json:"signed"`            // Signed is true when a JAR signature is present.
	Signers []string `json:"signers,omitempty"` // Signers are certificate SHA-256 digests.
}

// Findings checks the bundle against Play's rules for updates, as APKs are
// (minTarget 0 means apk.DefaultMinTargetSdk).
func (i *Info) Findings(minTarget int) []apk.Finding { return Findings(i.Modules, minTarget) }

// Findings checks a bundle's base module against Play's rules for updates:
// a rollback the store would refuse is flagged when it is prepared.
func Findings(mods []Module, minTarget int) []apk.Finding {
	for _, m := range mods {
		if m.Name == "base" {
			var code int64
			if m.VersionCode != nil {
				code = *m.VersionCode
			}
			return apk.ComplianceFindings(m.TargetSdk, code, minTarget)
		}
	}
	return []apk.Finding{{Code: "no_base_module", Message: "the bundle has no base module; Play refuses it"}}
}

// Base returns the base module.
func (i *Info) Base() *Module {
	for k := range i.Modules {
		if i.Modules[k].Name == "base" {
			return &i.Modules[k]
		}
	}
	return nil
}

type module struct {
	name  string
	entry *apkzip.Entry
	doc   *manifestDoc
}

func readModules(r io.ReaderAt, a *apkzip.Archive) ([]module, error) {
	var mods []module
	for _, e := range a.Entries {
		if !strings.HasSuffix(e.Name, manifestSuffix) || strings.Count(e.Name, "/") != 2 {
			continue
		}
		b, err := e.ReadAll(r, maxManifest)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e.Name, err)
		}
		d, err := parseManifest(b)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", e.Name, err)
		}
		mods = append(mods, module{name: strings.TrimSuffix(e.Name, manifestSuffix), entry: e, doc: d})
	}
	sort.SliceStable(mods, func(i, j int) bool {
		if (mods[i].name == "base") != (mods[j].name == "base") {
			return mods[i].name == "base"
		}
		return mods[i].name < mods[j].name
	})
	if len(mods) == 0 || mods[0].name != "base" {
		return nil, fmt.Errorf("%w: no base/manifest/AndroidManifest.xml; give the .aab your build uploaded", ErrNotBundle)
	}
	return mods, nil
}

func hasJAR(a *apkzip.Archive) bool {
	for _, e := range a.Entries {
		if e.Name == "META-INF/MANIFEST.MF" {
			return true
		}
	}
	return false
}

// Inspect reads every module's version fields and the signer, without
// checking the signature (Verify does).
func Inspect(ctx context.Context, r io.ReaderAt, size int64, lim apkzip.Limits) (*Info, error) {
	a, err := apkzip.Read(r, size, lim)
	if err != nil {
		return nil, fmt.Errorf("aab: inspect: %w", err)
	}
	mods, err := readModules(r, a)
	if err != nil {
		return nil, fmt.Errorf("aab: inspect: %w", err)
	}
	info := &Info{Signed: hasJAR(a)}
	for _, m := range mods {
		info.Modules = append(info.Modules, Module{Name: m.name, Manifest: m.doc.info()})
	}
	if info.Signed {
		if signers, err := apksig.VerifyV1(ctx, r, a, false); err == nil {
			for _, s := range signers {
				info.Signers = append(info.Signers, signingkey.CertDigest(s.Cert.Raw))
			}
		}
	}
	return info, nil
}

// VerifyResult is the verdict on a bundle's JAR signature.
type VerifyResult struct {
	Verified bool     `json:"verified"`         // Verified is true when the JAR signature covers every entry.
	Reason   string   `json:"reason,omitempty"` // Reason says why not.
	Signers  []string `json:"signers,omitempty"`
}

// Verify checks the JAR signature, every entry's digest included.
func Verify(ctx context.Context, r io.ReaderAt, size int64, lim apkzip.Limits) (*VerifyResult, error) {
	a, err := apkzip.Read(r, size, lim)
	if err != nil {
		return nil, fmt.Errorf("aab: verify: %w", err)
	}
	if !hasJAR(a) {
		return &VerifyResult{Reason: "the bundle is not signed (no META-INF/MANIFEST.MF)"}, nil
	}
	signers, err := apksig.VerifyV1(ctx, r, a, true)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return &VerifyResult{Reason: err.Error()}, nil
	}
	res := &VerifyResult{Verified: true}
	for _, s := range signers {
		res.Signers = append(res.Signers, signingkey.CertDigest(s.Cert.Raw))
	}
	return res, nil
}

// ResignOptions says what to change and which key signs.
type ResignOptions struct {
	// VersionCode is the new versionCode, written to every module that
	// has one (bundletool requires one code everywhere). Required; above
	// the base module's and at most 2100000000.
	VersionCode int64
	// VersionName is the new versionName; empty keeps it. Modules that
	// have one get it, and the base module gets it even if it had none.
	VersionName string
	// Key is the upload key.
	Key *signingkey.Key
	// AllowNewSigner signs even when Key differs from the input's signer.
	AllowNewSigner bool
	// Limits caps the zip reader; zero means defaults.
	Limits apkzip.Limits
}

// Report says what Resign produced.
type Report struct {
	Before  []Module `json:"before"`  // Before are the input's modules.
	After   []Module `json:"after"`   // After are the output's modules.
	Signer  string   `json:"signer"`  // Signer is the certificate SHA-256 used.
	Size    int64    `json:"size"`    // Size is the output's length.
	Reused  int      `json:"reused"`  // Reused counts entry digests taken from the verified input.
	Changed []string `json:"changed"` // Changed lists the rewritten manifests.
}

// Resign writes to out a copy of the bundle with new versions, JAR-signed
// with SHA-256. The output is written to a temporary file beside out,
// checked, synced and renamed; nothing is left behind on error.
func Resign(ctx context.Context, in io.ReaderAt, size int64, out string, opts ResignOptions) (rep *Report, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("aab: resign: %w", err)
		}
	}()
	if opts.Key == nil {
		return nil, errors.New("no upload key given")
	}
	if opts.VersionCode <= 0 || opts.VersionCode > maxVersionCode {
		return nil, fmt.Errorf("new versionCode %d is out of range: Play accepts 1 to %d", opts.VersionCode, maxVersionCode)
	}
	a, err := apkzip.Read(in, size, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("read zip: %w", err)
	}
	mods, err := readModules(in, a)
	if err != nil {
		return nil, err
	}
	rep = &Report{Signer: opts.Key.CertSHA256()}
	base := mods[0].doc.info()
	if base.VersionCode == nil {
		return nil, fmt.Errorf("%w: base module has no versionCode", ErrNotBundle)
	}
	if opts.VersionCode <= *base.VersionCode {
		return nil, fmt.Errorf("%w: the bundle has versionCode %d; pick a versionCode above it (and above the live build's)", ErrVersionNotHigher, *base.VersionCode)
	}
	// The input's signature must hold before we sign its content; checking
	// every entry also gives us their digests for the new manifest.
	var digests map[string][]byte
	if hasJAR(a) {
		signers, err := apksig.VerifyV1(ctx, in, a, true)
		if err != nil {
			return nil, fmt.Errorf("%w: %v; re-sign only the bundle your CI built and uploaded", ErrNotVerified, err)
		}
		if c := signingkey.CertDigest(signers[0].Cert.Raw); c != opts.Key.CertSHA256() && !opts.AllowNewSigner {
			return nil, fmt.Errorf("%w: the bundle is signed by certificate %s but the key's certificate is %s; use the upload key registered with Play",
				ErrSignerMismatch, c, opts.Key.CertSHA256())
		}
		if signers[0].DigestAlg == crypto.SHA256 {
			digests = signers[0].EntryDigest
		}
	}
	var name *string
	if opts.VersionName != "" {
		name = &opts.VersionName
	}
	newManifests := map[*apkzip.Entry][]byte{}
	for i, m := range mods {
		rep.Before = append(rep.Before, Module{Name: m.name, Manifest: m.doc.info()})
		if m.doc.info().VersionCode == nil {
			continue // asset packs must not declare one
		}
		b := m.doc.rewrite(opts.VersionCode, name, i == 0)
		d, err := parseManifest(b)
		if err != nil {
			return nil, fmt.Errorf("check rewritten %s: %w", m.entry.Name, err)
		}
		if got := d.info(); got.VersionCode == nil || *got.VersionCode != opts.VersionCode {
			return nil, fmt.Errorf("check rewritten %s: versionCode reads back wrong", m.entry.Name)
		}
		newManifests[m.entry] = b
		rep.Changed = append(rep.Changed, m.entry.Name)
	}

	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	zw := apkzip.NewWriter(bw)
	var entries []apksig.V1Entry
	buf := make([]byte, 256<<10)
	for _, e := range a.Entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if apksig.IsV1SignatureFile(e.Name) {
			continue
		}
		if b, ok := newManifests[e]; ok {
			c, err := apkzip.DeflateBytes(b)
			if err != nil {
				return nil, err
			}
			if err := zw.ReplaceEntry(e, apkzip.Deflate, crc32.ChecksumIEEE(b), int64(len(b)), c, 1); err != nil {
				return nil, err
			}
			entries = append(entries, apksig.V1Entry{Name: e.Name, Digest: sha256Of(b)})
			continue
		}
		if err := zw.CopyEntry(e, in, 1); err != nil {
			return nil, err
		}
		if !apksig.V1Digested(e.Name) {
			continue
		}
		d, ok := digests[e.Name]
		if ok {
			rep.Reused++
		} else if d, err = apksig.EntryDigest(in, e, crypto.SHA256, buf); err != nil {
			return nil, fmt.Errorf("digest %s: %w", e.Name, err)
		}
		entries = append(entries, apksig.V1Entry{Name: e.Name, Digest: d})
	}
	files, err := apksig.SignV1(opts.Key.Signer, opts.Key.Chain, entries, crypto.SHA256, defaultSigName, "")
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"META-INF/MANIFEST.MF", files.Manifest}, {files.SFName, files.SF}, {files.BlockName, files.Block}} {
		c, err := apkzip.DeflateBytes(f.b)
		if err != nil {
			return nil, err
		}
		e := mods[0].entry
		if err := zw.CreateEntry(f.name, apkzip.Deflate, crc32.ChecksumIEEE(f.b), int64(len(f.b)), c, e.ModTime, e.ModDate, 1); err != nil {
			return nil, err
		}
	}
	cd := zw.CentralDirectory()
	cdOff := zw.Offset()
	if _, err := bw.Write(cd); err != nil {
		return nil, err
	}
	if _, err := bw.Write(apkzip.EndRecord(zw.Count(), int64(len(cd)), cdOff)); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	rep.Size = cdOff + int64(len(cd)) + 22
	// Self-check: structure and signature, not the entries again.
	oa, err := apkzip.Read(tmp, rep.Size, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("self-check: %w", err)
	}
	if _, err := apksig.VerifyV1(ctx, tmp, oa, false); err != nil {
		return nil, fmt.Errorf("self-check: %w", err)
	}
	omods, err := readModules(tmp, oa)
	if err != nil {
		return nil, fmt.Errorf("self-check: %w", err)
	}
	for _, m := range omods {
		rep.After = append(rep.After, Module{Name: m.name, Manifest: m.doc.info()})
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("close: %w", err)
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
	return rep, nil
}

func sha256Of(b []byte) []byte {
	h := apksig.NewV1Hash(crypto.SHA256)
	h.Write(b)
	return h.Sum(nil)
}
