// Package androidpkg reads the package name and versionCode from APK and AAB
// files, as Google Play does when an upload arrives, and builds minimal such
// files for tests and the demo.
//
// It exists inside fakestore so the fake can refuse uploads whose manifest does
// not match the app, without waiting for the full internal/apk and internal/aab
// codecs. Threat model: the input is untrusted (anyone can upload to the fake),
// so every length, offset and count is checked against the bytes that remain,
// allocation is bounded by Limits, and bad input returns *FormatError, never a
// panic. Signatures are not verified: the fake trusts the bytes it is given.
package androidpkg

import (
	"archive/zip"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
)

// Manifest holds the identity Play reads from an uploaded artifact.
type Manifest struct {
	// Package is the application id from <manifest package="...">.
	Package string
	// VersionCode is android:versionCode.
	VersionCode int64
	// VersionName is android:versionName, empty when absent.
	VersionName string
}

// Limits bounds the work done on one untrusted file.
type Limits struct {
	// MaxManifestBytes caps the inflated size of the manifest entry.
	// Default 4 MiB.
	MaxManifestBytes int64
	// MaxStrings caps the string pool count of a binary manifest. Default 65536.
	MaxStrings int
}

// WithDefaults fills unset limits.
func (l Limits) WithDefaults() Limits {
	l.MaxManifestBytes = cmp.Or(l.MaxManifestBytes, 4<<20)
	l.MaxStrings = cmp.Or(l.MaxStrings, 1<<16)
	return l
}

// FormatError reports malformed input with the byte offset where it was found,
// in the manner of debug/macho.FormatError.
type FormatError struct {
	Offset int64
	Msg    string
	Val    any
}

func (e *FormatError) Error() string {
	msg := e.Msg
	if e.Val != nil {
		msg += fmt.Sprintf(" '%v'", e.Val)
	}
	return fmt.Sprintf("androidpkg: %s at byte 0x%x", msg, e.Offset)
}

// ErrNoManifest is returned when the archive lacks the manifest entry.
var ErrNoManifest = errors.New("androidpkg: manifest entry not found")

// APKManifestPath is where an APK keeps its binary AndroidManifest.xml.
const APKManifestPath = "AndroidManifest.xml"

// AABManifestPath is where an AAB keeps the base module's protobuf manifest.
const AABManifestPath = "base/manifest/AndroidManifest.xml"

// ReadAPK reads the binary AndroidManifest.xml of an APK.
func ReadAPK(r io.ReaderAt, size int64, lim Limits) (*Manifest, error) {
	lim = lim.WithDefaults()
	b, err := readEntry(r, size, APKManifestPath, lim)
	if err != nil {
		return nil, err
	}
	return ParseBinaryXML(b, lim)
}

// ReadAAB reads the protobuf AndroidManifest.xml of an AAB's base module.
func ReadAAB(r io.ReaderAt, size int64, lim Limits) (*Manifest, error) {
	lim = lim.WithDefaults()
	b, err := readEntry(r, size, AABManifestPath, lim)
	if err != nil {
		return nil, err
	}
	return ParseProtoXML(b)
}

func readEntry(r io.ReaderAt, size int64, name string, lim Limits) ([]byte, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("androidpkg: open zip: %w", err)
	}
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		if f.UncompressedSize64 > uint64(lim.MaxManifestBytes) {
			return nil, &FormatError{Msg: "manifest larger than limit", Val: f.UncompressedSize64}
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("androidpkg: open %s: %w", name, err)
		}
		defer rc.Close()
		// zip's reader already fails past UncompressedSize64 and on a CRC
		// mismatch; the LimitReader is a second fence.
		b, err := io.ReadAll(io.LimitReader(rc, lim.MaxManifestBytes+1))
		if err != nil {
			return nil, fmt.Errorf("androidpkg: read %s: %w", name, err)
		}
		if int64(len(b)) > lim.MaxManifestBytes {
			return nil, &FormatError{Msg: "manifest larger than limit", Val: len(b)}
		}
		return b, nil
	}
	return nil, ErrNoManifest
}

// Read detects the kind of archive (APK or AAB) by its manifest entry.
func Read(b []byte, lim Limits) (m *Manifest, kind string, err error) {
	m, err = ReadAAB(bytes.NewReader(b), int64(len(b)), lim)
	if err == nil {
		return m, "aab", nil
	}
	if !errors.Is(err, ErrNoManifest) {
		return nil, "", err
	}
	m, err = ReadAPK(bytes.NewReader(b), int64(len(b)), lim)
	if err != nil {
		return nil, "", err
	}
	return m, "apk", nil
}
