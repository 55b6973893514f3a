// Package ipa inspects, verifies and re-signs iOS app archives (IPAs) on
// Linux, to build the rollback binary of a release: the last good IPA with
// its version raised in every app and extension and every bundle re-signed
// with the team's distribution identity.
//
// It is written from the formats in docs/reference/rollback-builds.md §3,
// not from another signer's code.
//
// Threat model: IPAs are uploads. Entry names must be local paths, entry
// counts and inflated sizes are capped by Limits before anything is read,
// archive/zip checks every CRC and stops at the declared size, and the
// Mach-O, plist and CMS parsers are bounded (internal/macho). Malformed input
// is an error, never a panic, and no partial output is left behind.
package ipa

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/ripcordhq/ripcord/internal/macho"
)

// Sentinels callers match to tell the user what to fix.
var (
	// ErrFormat marks an archive that is not a well-formed IPA.
	ErrFormat = errors.New("ipa: not a valid IPA")
	// ErrEncrypted marks an App Store download: FairPlay-encrypted
	// executables cannot be re-signed or resubmitted.
	ErrEncrypted = errors.New("ipa: executable is encrypted (downloaded from the App Store); use the exported archive (the IPA your CI uploaded)")
	// ErrProfile marks a provisioning profile that is missing, expired or
	// does not fit the bundle or identity.
	ErrProfile = errors.New("ipa: provisioning profile problem")
	// ErrEntitlement marks an entitlement the binary has and the profile lacks.
	ErrEntitlement = errors.New("ipa: entitlement not granted by the provisioning profile")
	// ErrVersion marks a version or build number App Store Connect would refuse.
	ErrVersion = errors.New("ipa: invalid version")
	// ErrVerify marks an IPA whose signatures or sealed resources do not hold.
	ErrVerify = errors.New("ipa: verification failed")
)

// Limits caps what reading an IPA may allocate; zero fields take defaults.
type Limits struct {
	// MaxEntries caps the number of zip entries. Default 200,000.
	MaxEntries int
	// MaxTotal caps the sum of inflated sizes. Default 16 GiB.
	MaxTotal int64
	// MaxExecutable caps one Mach-O file, which is held in memory while it
	// is signed. Default 2 GiB.
	MaxExecutable int64
	// MaxPlist caps Info.plist, CodeResources and profiles. Default 16 MiB.
	MaxPlist int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = 200_000
	}
	if l.MaxTotal <= 0 {
		l.MaxTotal = 16 << 30
	}
	if l.MaxExecutable <= 0 {
		l.MaxExecutable = 2 << 30
	}
	if l.MaxPlist <= 0 {
		l.MaxPlist = 16 << 20
	}
	return l
}

// archive is an opened IPA with its entries indexed by name.
type archive struct {
	f     *os.File
	zr    *zip.Reader
	files map[string]*zip.File
	dirs  map[string]bool
	lim   Limits
}

func openArchive(name string, lim Limits) (*archive, error) {
	lim = lim.withDefaults()
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("ipa: open %s: %w", name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ipa: stat %s: %w", name, err)
	}
	a, err := newArchive(f, st.Size(), lim)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ipa: %s: %w", name, err)
	}
	a.f = f
	return a, nil
}

func newArchive(r io.ReaderAt, size int64, lim Limits) (*archive, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, fmt.Errorf("%w: %d entries, more than the limit %d", ErrFormat, len(zr.File), lim.MaxEntries)
	}
	a := &archive{zr: zr, files: make(map[string]*zip.File, len(zr.File)), dirs: map[string]bool{}, lim: lim}
	var total uint64
	for _, zf := range zr.File {
		name := zf.Name
		clean := strings.TrimSuffix(name, "/")
		if clean == "" || !fs.ValidPath(clean) || strings.Contains(name, "\\") {
			return nil, fmt.Errorf("%w: entry name %q is not a local path", ErrFormat, name)
		}
		if _, dup := a.files[clean]; dup || a.dirs[clean] {
			return nil, fmt.Errorf("%w: duplicate entry %q", ErrFormat, name)
		}
		total += zf.UncompressedSize64
		if total > uint64(lim.MaxTotal) {
			return nil, fmt.Errorf("%w: inflated size exceeds the limit %d bytes", ErrFormat, lim.MaxTotal)
		}
		if zf.FileInfo().IsDir() {
			a.dirs[clean] = true
			continue
		}
		a.files[clean] = zf
	}
	return a, nil
}

func (a *archive) Close() error {
	if a.f == nil {
		return nil
	}
	return a.f.Close()
}

func isSymlink(zf *zip.File) bool { return zf.Mode()&fs.ModeSymlink != 0 }

// read returns an entry's bytes, refusing entries larger than max.
func (a *archive) read(name string, max int64) ([]byte, error) {
	zf, ok := a.files[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s is missing", ErrFormat, name)
	}
	if zf.UncompressedSize64 > uint64(max) {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the limit %d", ErrFormat, name, zf.UncompressedSize64, max)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("ipa: open %s: %w", name, err)
	}
	defer rc.Close()
	b := make([]byte, 0, zf.UncompressedSize64)
	b, err = readAllInto(b, io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("ipa: read %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s inflates past the limit %d", ErrFormat, name, max)
	}
	return b, nil
}

func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// bundleDirs returns dir/sub/*ext bundle directories that hold an
// Info.plist.
func (a *archive) bundleDirs(dir, sub, ext string) []string {
	prefix := path.Join(dir, sub) + "/"
	seen := map[string]bool{}
	var out []string
	for name := range a.files {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		first, after, ok := strings.Cut(rest, "/")
		if !ok || after != "Info.plist" || !strings.HasSuffix(first, ext) || seen[first] {
			continue
		}
		seen[first] = true
		out = append(out, prefix+first)
	}
	return out
}

// headBytes is how much of an executable encryptedHead inflates: the load
// commands of a thin binary and of the first slices of a universal one.
const headBytes = 1 << 20

// encryptedHead reports whether the Mach-O entry name has an encrypted
// slice among those whose load commands lie in its first headBytes, so an
// App Store download is refused before anything is inflated in full.
func (a *archive) encryptedHead(name string) bool {
	zf, ok := a.files[name]
	if !ok {
		return false
	}
	rc, err := zf.Open()
	if err != nil {
		return false
	}
	defer rc.Close()
	head, _ := io.ReadAll(io.LimitReader(rc, headBytes))
	f, err := macho.ParseHeaders(prefixReaderAt(head), int64(zf.UncompressedSize64), macho.Limits{})
	if err != nil {
		return false // the full parse later reports what is wrong
	}
	for _, s := range f.Slices {
		if s.CryptID != 0 {
			return true
		}
	}
	return false
}

// prefixReaderAt serves the first bytes of a file and fails past them.
type prefixReaderAt []byte

func (p prefixReaderAt) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > int64(len(p)) {
		return 0, io.ErrUnexpectedEOF
	}
	return copy(b, p[off:]), nil
}
