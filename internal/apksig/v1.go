package apksig

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha1" //nolint:gosec // v1 for API < 18
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
)

// IsV1SignatureFile reports whether an entry belongs to a JAR signature
// (META-INF/MANIFEST.MF, *.SF, *.RSA, *.DSA, *.EC, SIG-*): these are
// dropped on re-sign and left out of the manifest.
func IsV1SignatureFile(name string) bool {
	up := strings.ToUpper(name)
	if !strings.HasPrefix(up, "META-INF/") {
		return false
	}
	base := up[len("META-INF/"):]
	if strings.Contains(base, "/") {
		return false
	}
	if base == "MANIFEST.MF" || strings.HasPrefix(base, "SIG-") {
		return true
	}
	for _, ext := range []string{".SF", ".RSA", ".DSA", ".EC"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	return false
}

// V1Digested reports whether a JAR manifest must list an entry.
func V1Digested(name string) bool {
	return !strings.HasSuffix(name, "/") && !IsV1SignatureFile(name)
}

// V1Hash is the digest a v1 signature uses for an app's minSdk and key:
// SHA-1 below API 18 (below 21 for EC keys), SHA-256 otherwise.
func V1Hash(minSdk int, key crypto.PublicKey) crypto.Hash {
	_, ec := key.(*ecdsa.PublicKey)
	return v1Hash(minSdk, ec)
}

func digestAttr(h crypto.Hash) string {
	if h == crypto.SHA1 {
		return "SHA1-Digest"
	}
	return "SHA-256-Digest"
}

// NewV1Hash returns a hash for entry digests.
func NewV1Hash(h crypto.Hash) hash.Hash {
	if h == crypto.SHA1 {
		return sha1.New() //nolint:gosec // v1 for API < 18
	}
	return sha256.New()
}

// V1Entry is one entry's digest for the JAR manifest.
type V1Entry struct {
	Name   string // Name is the entry path.
	Digest []byte // Digest is of the uncompressed content.
}

// V1Files are the three signature entries, ready to be stored.
type V1Files struct {
	Manifest  []byte // Manifest is META-INF/MANIFEST.MF.
	SF        []byte // SF is META-INF/<name>.SF.
	Block     []byte // Block is META-INF/<name>.RSA or .EC.
	SFName    string // SFName is the .SF entry name.
	BlockName string // BlockName is the signature block entry name.
}

const createdBy = "1.0 (Ripcord)"

// writeAttr writes "key: value" wrapped at 72 bytes, continuation lines
// starting with a space, as the JAR format requires.
func writeAttr(b *bytes.Buffer, key, value string) {
	line := key + ": " + value
	if len(line) <= 72 {
		b.WriteString(line)
		b.WriteString("\r\n")
		return
	}
	b.WriteString(line[:72])
	b.WriteString("\r\n")
	for rest := line[72:]; len(rest) > 0; {
		n := min(71, len(rest))
		b.WriteString(" ")
		b.WriteString(rest[:n])
		b.WriteString("\r\n")
		rest = rest[n:]
	}
}

// SignV1 builds MANIFEST.MF, the .SF and its PKCS#7 block. apkSigned lists
// the other schemes (2, 3) for X-Android-APK-Signed, which stops a v1-only
// downgrade by stripping the APK Signing Block.
func SignV1(key crypto.Signer, chain []*x509.Certificate, entries []V1Entry, h crypto.Hash, name string, apkSigned string) (V1Files, error) {
	// minSdk is not known here; SignV1's caller refuses EC below API 18.
	attr := digestAttr(h)
	var mf bytes.Buffer
	writeAttr(&mf, "Manifest-Version", "1.0")
	writeAttr(&mf, "Created-By", createdBy)
	mf.WriteString("\r\n")
	var sfSections bytes.Buffer
	for _, e := range entries {
		start := mf.Len()
		writeAttr(&mf, "Name", e.Name)
		writeAttr(&mf, attr, base64.StdEncoding.EncodeToString(e.Digest))
		mf.WriteString("\r\n")
		sec := NewV1Hash(h)
		sec.Write(mf.Bytes()[start:])
		writeAttr(&sfSections, "Name", e.Name)
		writeAttr(&sfSections, attr, base64.StdEncoding.EncodeToString(sec.Sum(nil)))
		sfSections.WriteString("\r\n")
	}
	whole := NewV1Hash(h)
	whole.Write(mf.Bytes())
	var sf bytes.Buffer
	writeAttr(&sf, "Signature-Version", "1.0")
	writeAttr(&sf, "Created-By", createdBy)
	writeAttr(&sf, attr+"-Manifest", base64.StdEncoding.EncodeToString(whole.Sum(nil)))
	if apkSigned != "" {
		writeAttr(&sf, "X-Android-APK-Signed", apkSigned)
	}
	sf.WriteString("\r\n")
	sf.Write(sfSections.Bytes())
	block, err := signPKCS7(key, chain, sf.Bytes(), h)
	if err != nil {
		return V1Files{}, err
	}
	if _, err := verifyPKCS7(block, sf.Bytes()); err != nil {
		return V1Files{}, fmt.Errorf("apksig: own v1 signature does not verify: %w", err)
	}
	ext := ".RSA"
	if _, ec := key.Public().(*ecdsa.PublicKey); ec {
		ext = ".EC"
	}
	return V1Files{
		Manifest:  mf.Bytes(),
		SF:        sf.Bytes(),
		Block:     block,
		SFName:    "META-INF/" + name + ".SF",
		BlockName: "META-INF/" + name + ext,
	}, nil
}

// manifestSection is one section of a JAR manifest or .SF file.
type manifestSection struct {
	raw   []byte
	attrs map[string]string
}

// parseManifest splits a manifest into its main section and named sections,
// joining continuation lines. Lines may end in CRLF, LF or CR.
func parseManifest(b []byte) (manifestSection, map[string]manifestSection, error) {
	var secs []manifestSection
	cur := manifestSection{attrs: map[string]string{}}
	start, lastKey := 0, ""
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] != '\r' && b[j] != '\n' {
			j++
		}
		line := string(b[i:j])
		if j < len(b) && b[j] == '\r' {
			j++
		}
		if j < len(b) && b[j] == '\n' {
			j++
		}
		i = j
		switch {
		case line == "":
			cur.raw = b[start:i]
			secs = append(secs, cur)
			cur = manifestSection{attrs: map[string]string{}}
			start, lastKey = i, ""
		case line[0] == ' ':
			if lastKey == "" {
				return manifestSection{}, nil, errors.New("continuation line without attribute")
			}
			cur.attrs[lastKey] += line[1:]
		default:
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				return manifestSection{}, nil, fmt.Errorf("malformed manifest line %q", truncate(line))
			}
			cur.attrs[k] = v
			lastKey = k
		}
	}
	if start < len(b) {
		cur.raw = b[start:]
		secs = append(secs, cur)
	}
	if len(secs) == 0 {
		return manifestSection{}, nil, errors.New("empty manifest")
	}
	named := make(map[string]manifestSection, len(secs)-1)
	for _, s := range secs[1:] {
		name, ok := s.attrs["Name"]
		if !ok {
			if len(s.attrs) == 0 {
				continue
			}
			return manifestSection{}, nil, errors.New("manifest section without Name")
		}
		if _, dup := named[name]; dup {
			return manifestSection{}, nil, fmt.Errorf("duplicate manifest section %q", truncate(name))
		}
		named[name] = s
	}
	return secs[0], named, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// V1Signer is the result of checking one v1 signer.
type V1Signer struct {
	Name        string            // Name is the .SF base name.
	Cert        *x509.Certificate // Cert is the signer's certificate.
	APKSigned   string            // APKSigned is the X-Android-APK-Signed value, if any.
	DigestAlg   crypto.Hash       // DigestAlg is the entry digest algorithm.
	EntryDigest map[string][]byte // EntryDigest maps entry names to their manifest digests.
}

// maxV1File caps MANIFEST.MF, .SF and block sizes read into memory.
const maxV1File = 32 << 20

// VerifyV1 checks the JAR signature of an archive: the PKCS#7 over each
// .SF, the .SF over MANIFEST.MF, and, when checkEntries is set, every
// entry's digest (inflating entries on all cores). It returns the signers.
func VerifyV1(ctx context.Context, r io.ReaderAt, a *apkzip.Archive, checkEntries bool) ([]V1Signer, error) {
	byName := make(map[string]*apkzip.Entry, len(a.Entries))
	for _, e := range a.Entries {
		byName[e.Name] = e
	}
	mfEntry := byName["META-INF/MANIFEST.MF"]
	if mfEntry == nil {
		return nil, errors.New("no META-INF/MANIFEST.MF")
	}
	mf, err := mfEntry.ReadAll(r, maxV1File)
	if err != nil {
		return nil, fmt.Errorf("MANIFEST.MF: %w", err)
	}
	_, sections, err := parseManifest(mf)
	if err != nil {
		return nil, fmt.Errorf("MANIFEST.MF: %w", err)
	}
	var signers []V1Signer
	for _, e := range a.Entries {
		up := strings.ToUpper(e.Name)
		if !strings.HasPrefix(up, "META-INF/") || !strings.HasSuffix(up, ".SF") || strings.Contains(up[9:], "/") {
			continue
		}
		base := e.Name[:len(e.Name)-3]
		var blockEntry *apkzip.Entry
		for _, ext := range []string{".RSA", ".EC", ".DSA"} {
			if be := byName[base+ext]; be != nil {
				blockEntry = be
				break
			}
		}
		if blockEntry == nil {
			return nil, fmt.Errorf("%s has no signature block (.RSA/.EC/.DSA)", e.Name)
		}
		sf, err := e.ReadAll(r, maxV1File)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		block, err := blockEntry.ReadAll(r, maxV1File)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", blockEntry.Name, err)
		}
		cert, err := verifyPKCS7(block, sf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", blockEntry.Name, err)
		}
		sfMain, sfSections, err := parseManifest(sf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		s := V1Signer{Name: strings.TrimPrefix(base, "META-INF/"), Cert: cert, APKSigned: sfMain.attrs["X-Android-APK-Signed"]}
		h, attr, ok := pickHash(sfMain.attrs, "-Manifest")
		manifestOK := false
		if ok {
			d := NewV1Hash(h)
			d.Write(mf)
			manifestOK = sfMain.attrs[attr+"-Manifest"] == base64.StdEncoding.EncodeToString(d.Sum(nil))
		}
		if !manifestOK {
			// Fall back to per-section digests, as the JAR spec allows.
			for name, sec := range sfSections {
				mh, mattr, ok := pickHash(sec.attrs, "")
				if !ok {
					return nil, fmt.Errorf("%s: section %q has no supported digest", e.Name, truncate(name))
				}
				ms, ok := sections[name]
				if !ok {
					return nil, fmt.Errorf("%s: section %q not in MANIFEST.MF", e.Name, truncate(name))
				}
				d := NewV1Hash(mh)
				d.Write(ms.raw)
				if sec.attrs[mattr] != base64.StdEncoding.EncodeToString(d.Sum(nil)) {
					return nil, fmt.Errorf("%s: digest of MANIFEST.MF section %q does not match", e.Name, truncate(name))
				}
			}
		}
		s.EntryDigest = make(map[string][]byte, len(sections))
		for _, ent := range a.Entries {
			if !V1Digested(ent.Name) {
				continue
			}
			sec, ok := sections[ent.Name]
			if !ok {
				return nil, fmt.Errorf("entry %q is not in MANIFEST.MF (unsigned entry)", truncate(ent.Name))
			}
			if !manifestOK {
				if _, ok := sfSections[ent.Name]; !ok {
					return nil, fmt.Errorf("entry %q is not covered by %s", truncate(ent.Name), e.Name)
				}
			}
			eh, eattr, ok := pickHash(sec.attrs, "")
			if !ok {
				return nil, fmt.Errorf("entry %q has no supported digest in MANIFEST.MF", truncate(ent.Name))
			}
			d, err := base64.StdEncoding.DecodeString(sec.attrs[eattr])
			if err != nil || len(d) != eh.Size() {
				return nil, fmt.Errorf("entry %q: malformed digest in MANIFEST.MF", truncate(ent.Name))
			}
			s.DigestAlg = eh
			s.EntryDigest[ent.Name] = d
		}
		signers = append(signers, s)
	}
	if len(signers) == 0 {
		return nil, errors.New("no .SF signature file")
	}
	if checkEntries {
		if err := checkEntryDigests(ctx, r, a, signers[0]); err != nil {
			return nil, err
		}
	}
	return signers, nil
}

// pickHash finds the strongest supported digest attribute with suffix.
func pickHash(attrs map[string]string, suffix string) (crypto.Hash, string, bool) {
	if _, ok := attrs["SHA-256-Digest"+suffix]; ok {
		return crypto.SHA256, "SHA-256-Digest", true
	}
	if _, ok := attrs["SHA1-Digest"+suffix]; ok {
		return crypto.SHA1, "SHA1-Digest", true
	}
	return 0, "", false
}

// checkEntryDigests inflates every digested entry on all cores and compares
// it with the manifest. Larger entries go first so the cores finish together.
func checkEntryDigests(ctx context.Context, r io.ReaderAt, a *apkzip.Archive, s V1Signer) error {
	var pending []*apkzip.Entry
	for _, e := range a.Entries {
		if V1Digested(e.Name) {
			pending = append(pending, e)
		}
	}
	sort.SliceStable(pending, func(i, j int) bool { return pending[i].UncompressedSize > pending[j].UncompressedSize })
	next := make(chan *apkzip.Entry)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for e := range next {
				d, err := EntryDigest(r, e, s.DigestAlg, buf)
				if err != nil {
					fail(fmt.Errorf("entry %q: %w", truncate(e.Name), err))
					continue
				}
				if !bytes.Equal(d, s.EntryDigest[e.Name]) {
					fail(fmt.Errorf("entry %q: digest does not match MANIFEST.MF (modified after signing)", truncate(e.Name)))
				}
			}
		}()
	}
	for _, e := range pending {
		if ctx.Err() != nil {
			break
		}
		next <- e
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return first
}

// EntryDigest hashes an entry's uncompressed content; buf is scratch space.
func EntryDigest(r io.ReaderAt, e *apkzip.Entry, h crypto.Hash, buf []byte) ([]byte, error) {
	rc, err := e.Open(r)
	if err != nil {
		return nil, err
	}
	d := NewV1Hash(h)
	if _, err := io.CopyBuffer(d, rc, buf); err != nil {
		return nil, err
	}
	return d.Sum(nil), nil
}
