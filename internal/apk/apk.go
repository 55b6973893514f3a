// Package apk is the APK side of Ripcord's rollback builds: it inspects an
// APK (package, versions, SDK levels, signatures, lineage, store
// compliance), verifies every signature scheme present, and re-signs an APK
// under a higher version with the same key.
//
// The CLI verbs `ripcord artifact inspect|verify|resign` and the rollback
// service are thin callers of Inspect, Verify and Resign; the result types
// marshal to JSON as they are.
//
// Threat model: inputs are uploads. Parsing is delegated to the hardened
// codecs (apkzip, axml, apksig); Resign only signs an input whose own
// signature verifies, so Ripcord never lends its key to tampered bytes.
//
// Performance: Resign streams. Entries are copied with their compressed
// bytes untouched, through 1 MiB chunk buffers that are written and hashed
// (v2/v3 CHUNKED_SHA256) on all cores at once; the input's own content
// digest is computed concurrently and checked before the output is
// published; writeback starts while writing so the final fsync is short.
// v1 entry digests are taken from the input's JAR manifest when a verified
// v2/v3 signature covers it (see v1Digests). Memory stays at a few MiB
// whatever the APK's size: chunk buffers, the central directory and the
// manifest.
package apk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
	"github.com/ripcordhq/ripcord/internal/apksig"
	"github.com/ripcordhq/ripcord/internal/axml"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// Sentinels for refusals; each error that wraps one also says what to do.
var (
	ErrPlaySigned       = errors.New("apk: signed by Google Play")                                      // ErrPlaySigned marks an APK downloaded from Play.
	ErrSignerMismatch   = errors.New("apk: signing key differs from the input's signer")                // ErrSignerMismatch marks keys that are not the input's.
	ErrVersionNotHigher = errors.New("apk: new versionCode is not above the input's")                   // ErrVersionNotHigher marks a version that would not update.
	ErrNotVerified      = errors.New("apk: input signature does not verify")                            // ErrNotVerified marks an input whose signature is broken.
	ErrNoManifest       = errors.New("apk: no AndroidManifest.xml")                                     // ErrNoManifest marks a zip that is not an APK.
	ErrMissingKey       = errors.New("apk: a key the input's signature or lineage needs was not given") // ErrMissingKey marks an incomplete key set for a rotated app.
	ErrLineageMismatch  = errors.New("apk: lineage does not match the input's signers or the keys")     // ErrLineageMismatch marks a lineage that does not extend the input's signing history.
)

// Play's rules the findings apply.
const (
	// DefaultMinTargetSdk is the targetSdk Play requires for updates: API
	// 36 under its yearly rule (configurable through the options).
	DefaultMinTargetSdk = 36
	// MaxVersionCode is the largest versionCode Play accepts.
	MaxVersionCode = 2_100_000_000
	// maxManifest caps the AndroidManifest.xml read into memory.
	maxManifest = 8 << 20
)

// Limits bounds what the codecs allocate for one APK.
type Limits struct {
	Zip      apkzip.Limits // Zip caps the central directory.
	Sig      apksig.Limits // Sig caps the signing block.
	Manifest axml.Limits   // Manifest caps AndroidManifest.xml.
}

// Finding is a compliance problem found at preparation time: the artifact
// is valid, but a store would refuse it.
type Finding struct {
	Code    string `json:"code"`    // Code is stable, e.g. "target_sdk_below_play_minimum".
	Message string `json:"message"` // Message says what is wrong and what to do.
}

// Manifest is the version and SDK information of an APK.
type Manifest struct {
	Package     string `json:"package"`      // Package is the application ID.
	VersionCode int64  `json:"version_code"` // VersionCode is the long code (major<<32 | code).
	// VersionName is the text, resolved through resources.arsc when the
	// manifest gives a reference ("@0x7f…" if that fails).
	VersionName string `json:"version_name"`
	// VersionNameRef is the reference ("@0x7f…") when the manifest gives one.
	VersionNameRef string `json:"version_name_ref,omitempty"`
	MinSdk         int    `json:"min_sdk"`    // MinSdk is 1 when absent; 10000 for a codename.
	TargetSdk      int    `json:"target_sdk"` // TargetSdk defaults to MinSdk when absent.
}

func readManifest(r io.ReaderAt, a *apkzip.Archive, lim axml.Limits) (*apkzip.Entry, *axml.File, Manifest, error) {
	var e *apkzip.Entry
	for _, x := range a.Entries {
		if x.Name == "AndroidManifest.xml" {
			e = x
		}
	}
	if e == nil {
		return nil, nil, Manifest{}, fmt.Errorf("%w: the zip has no AndroidManifest.xml at its root; is it an APK?", ErrNoManifest)
	}
	b, err := e.ReadAll(r, maxManifest)
	if err != nil {
		return nil, nil, Manifest{}, fmt.Errorf("read AndroidManifest.xml: %w", err)
	}
	f, err := axml.Parse(b, lim)
	if err != nil {
		return nil, nil, Manifest{}, fmt.Errorf("parse AndroidManifest.xml: %w", err)
	}
	m, err := f.Manifest()
	if err != nil {
		return nil, nil, Manifest{}, fmt.Errorf("parse AndroidManifest.xml: %w", err)
	}
	return e, f, toManifest(m, r, a, lim), nil
}

// toManifest converts the codec's view, resolving a versionName reference
// through the archive's resources.arsc.
func toManifest(m axml.Manifest, r io.ReaderAt, a *apkzip.Archive, lim axml.Limits) Manifest {
	out := Manifest{Package: m.Package, VersionCode: m.LongVersionCode(), MinSdk: sdkLevel(m.MinSdk, 1)}
	if m.VersionName != nil {
		out.VersionName = m.VersionName.Text()
		if m.VersionName.Type == axml.TypeReference {
			out.VersionNameRef = out.VersionName
			if name, err := resolveString(r, a, m.VersionName.Data, lim); err == nil {
				out.VersionName = name
			}
		}
	}
	out.TargetSdk = sdkLevel(m.TargetSdk, out.MinSdk)
	return out
}

// maxArsc caps the resources.arsc read to resolve a versionName reference.
const maxArsc = 64 << 20

func resolveString(r io.ReaderAt, a *apkzip.Archive, ref uint32, lim axml.Limits) (string, error) {
	for _, e := range a.Entries {
		if e.Name != "resources.arsc" {
			continue
		}
		b, err := e.ReadAll(r, maxArsc)
		if err != nil {
			return "", err
		}
		return axml.ResolveString(b, ref, lim)
	}
	return "", errors.New("no resources.arsc")
}

// sdkLevel reads an SDK attribute: an integer, a numeric string, or a
// preview codename (which the platform treats as the next, unreleased level).
func sdkLevel(v *axml.Value, def int) int {
	switch {
	case v == nil:
		return def
	case v.IsInt():
		return int(v.Data)
	case v.Type == axml.TypeString:
		if n, err := strconv.Atoi(v.String); err == nil {
			return n
		}
		return 10000
	}
	return def
}

func complianceFindings(m Manifest, minTarget int) []Finding {
	return ComplianceFindings(m.TargetSdk, m.VersionCode, minTarget)
}

// ComplianceFindings checks an Android artifact's targetSdk and versionCode
// against Play's rules for updates (minTarget 0 means DefaultMinTargetSdk),
// so APKs and bundles are judged alike.
func ComplianceFindings(targetSdk int, versionCode int64, minTarget int) []Finding {
	if minTarget == 0 {
		minTarget = DefaultMinTargetSdk
	}
	var fs []Finding
	if targetSdk < minTarget {
		fs = append(fs, Finding{
			Code: "target_sdk_below_play_minimum",
			Message: fmt.Sprintf("targetSdk %d is below Play's minimum %d for updates: Play will refuse this build; "+
				"roll back to a build targeting API %d or later, or ship a fix-forward instead", targetSdk, minTarget, minTarget),
		})
	}
	if versionCode > MaxVersionCode {
		fs = append(fs, Finding{Code: "version_code_above_play_maximum", Message: fmt.Sprintf("versionCode %d is above Play's maximum %d", versionCode, MaxVersionCode)})
	}
	return fs
}

// certDigests lists the SHA-256 digests of DER certificates.
func certDigests(certs [][]byte) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = signingkey.CertDigest(c)
	}
	return out
}

func openArchive(r io.ReaderAt, size int64, lim Limits) (*apkzip.Archive, *apksig.Block, error) {
	a, err := apkzip.Read(r, size, lim.Zip)
	if err != nil {
		return nil, nil, fmt.Errorf("read zip: %w", err)
	}
	blk, err := apksig.FindBlock(r, a.CDOffset, lim.Sig)
	if err != nil {
		return nil, nil, fmt.Errorf("read APK Signing Block: %w", err)
	}
	if blk != nil && a.EntriesEnd > blk.Offset {
		return nil, nil, &apkzip.FormatError{Offset: blk.Offset, Msg: "entry data overlaps the APK Signing Block"}
	}
	return a, blk, nil
}

// ctxErr lets long loops stop early.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("apk: %w", err)
	}
	return nil
}
