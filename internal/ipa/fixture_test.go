package ipa

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"howett.net/plist"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/ripcordhq/ripcord/internal/macho"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

// fixtureDir holds darwin binaries TestMain builds once.
var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipa-fixtures")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := exec.LookPath("go"); err == nil {
		if err := buildFixtures(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fixtureDir = dir
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildFixtures(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fixture\ngo 1.22\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"ripcord ipa fixture\") }\n"), 0o644); err != nil {
		return err
	}
	for _, arch := range []string{"arm64", "amd64"} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "bin-"+arch, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build darwin/%s fixture: %v\n%s", arch, err, b)
		}
	}
	return nil
}

func goBinary(tb testing.TB, arch string) []byte {
	tb.Helper()
	if fixtureDir == "" {
		testenv.Missing(tb, "go (install Go)")
	}
	b, err := os.ReadFile(filepath.Join(fixtureDir, "bin-"+arch))
	require.NoError(tb, err)
	return b
}

// minimalDylib writes the smallest arm64 MH_DYLIB our signer accepts: a
// __TEXT segment with one section and an empty __LINKEDIT. Go cannot build
// darwin dylibs on Linux, so frameworks use this.
func minimalDylib(seed byte) []byte {
	const textSize, linkSize = 0x4000, 0x20
	b := make([]byte, textSize+linkSize)
	le := binary.LittleEndian
	le.PutUint32(b, macho.Magic64)
	le.PutUint32(b[4:], macho.CPUARM64)
	le.PutUint32(b[12:], macho.TypeDylib)
	le.PutUint32(b[16:], 2)
	le.PutUint32(b[20:], 72+80+72)
	c := b[32:]
	le.PutUint32(c, macho.LoadSegment64)
	le.PutUint32(c[4:], 72+80)
	copy(c[8:], "__TEXT")
	le.PutUint64(c[32:], textSize)
	le.PutUint64(c[48:], textSize)
	le.PutUint32(c[64:], 1)
	s := c[72:]
	copy(s, "__text")
	copy(s[16:], "__TEXT")
	le.PutUint64(s[32:], 0x100)
	le.PutUint32(s[48:], 0x1000)
	c = b[32+72+80:]
	le.PutUint32(c, macho.LoadSegment64)
	le.PutUint32(c[4:], 72)
	copy(c[8:], "__LINKEDIT")
	le.PutUint64(c[24:], textSize)
	le.PutUint64(c[32:], linkSize)
	le.PutUint64(c[40:], textSize)
	le.PutUint64(c[48:], linkSize)
	for i := 0x1000; i < 0x1100; i++ {
		b[i] = seed + byte(i)
	}
	return b
}

// identity is a test signing identity issued by a test CA standing in for
// Apple WWDR.
type identity struct {
	key   crypto.Signer
	chain []*x509.Certificate
	ca    *x509.Certificate
	caKey crypto.Signer
	team  string
}

type pki struct {
	ca    *x509.Certificate
	caKey crypto.Signer
	caPEM []byte
}

func newPKI(tb testing.TB) *pki {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Ripcord Test WWDR CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(tb, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	return &pki{ca: ca, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (p *pki) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return pool
}

func (p *pki) issue(tb testing.TB, team string, ec bool, notAfter time.Time) *identity {
	tb.Helper()
	var key crypto.Signer
	var err error
	if ec {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	require.NoError(tb, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Apple Distribution: Ripcord Test (" + team + ")", OrganizationalUnit: []string{team}, Organization: []string{"Ripcord Test"}},
		NotBefore:    time.Now().Add(-24 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.caKey)
	require.NoError(tb, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	return &identity{key: key, chain: []*x509.Certificate{leaf, p.ca}, ca: p.ca, caKey: p.caKey, team: team}
}

func (id *identity) p12(tb testing.TB, password string) []byte {
	tb.Helper()
	b, err := pkcs12.Modern2023.Encode(id.key, id.chain[0], id.chain[1:], password)
	require.NoError(tb, err)
	return b
}

// profileSpec describes a provisioning profile to generate.
type profileSpec struct {
	name     string
	team     string
	appID    string // application-identifier, e.g. TEAM.com.example.demo
	expires  time.Time
	certs    []*x509.Certificate
	extraEnt map[string]any
}

// makeProfile builds a CMS SignedData (encapsulated, DER) around the
// profile plist, signed by the test CA as Apple signs real ones.
func (p *pki) makeProfile(tb testing.TB, s profileSpec) []byte {
	tb.Helper()
	ents := map[string]any{
		"application-identifier":              s.appID,
		"com.apple.developer.team-identifier": s.team,
		"get-task-allow":                      false,
		"keychain-access-groups":              []any{s.team + ".*"},
	}
	for k, v := range s.extraEnt {
		ents[k] = v
	}
	var certs [][]byte
	for _, c := range s.certs {
		certs = append(certs, c.Raw)
	}
	doc := map[string]any{
		"Name": s.name, "UUID": "6f1c2c1e-0000-4000-8000-" + fmt.Sprintf("%012d", len(s.name)), "TeamIdentifier": []string{s.team},
		"TeamName": "Ripcord Test", "AppIDName": "Demo", "CreationDate": time.Now().Add(-time.Hour).UTC().Truncate(time.Second),
		"ExpirationDate": s.expires.UTC().Truncate(time.Second), "Entitlements": ents, "DeveloperCertificates": certs,
		"Platform": []string{"iOS"},
	}
	content, err := plist.MarshalIndent(doc, plist.XMLFormat, "\t")
	require.NoError(tb, err)
	return signEncapsulated(tb, p.caKey, p.ca, content)
}

func signEncapsulated(tb testing.TB, key crypto.Signer, cert *x509.Certificate, content []byte) []byte {
	tb.Helper()
	d := sha256.Sum256(content)
	sig, err := key.Sign(rand.Reader, d[:], crypto.SHA256)
	require.NoError(tb, err)
	type algID struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	sha := algID{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}}
	octets, err := asn1.Marshal(content)
	require.NoError(tb, err)
	type issuerSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	type signerInfo struct {
		Version   int
		SID       issuerSerial
		Digest    algID
		SigAlg    algID
		Signature []byte
	}
	type encap struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}
	explicit0 := func(b []byte) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: b}
	}
	type signedData struct {
		Version      int
		Digests      []algID `asn1:"set"`
		Encap        encap
		Certificates asn1.RawValue `asn1:"tag:0"`
		Signers      []signerInfo  `asn1:"set"`
	}
	sd := signedData{
		Version: 1, Digests: []algID{sha},
		Encap:        encap{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}, Content: explicit0(octets)},
		Certificates: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: cert.Raw},
		Signers: []signerInfo{{Version: 1, SID: issuerSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber},
			Digest: sha, SigAlg: algID{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}, Signature: sig}},
	}
	inner, err := asn1.Marshal(sd)
	require.NoError(tb, err)
	out, err := asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}, explicit0(inner)})
	require.NoError(tb, err)
	return out
}

func entitlementsXML(tb testing.TB, m map[string]any) []byte {
	tb.Helper()
	b, err := plist.MarshalIndent(m, plist.XMLFormat, "\t")
	require.NoError(tb, err)
	return b
}

// zipEntry is one file of a fixture IPA.
type zipEntry struct {
	name string
	data []byte
	mode fs.FileMode
}

func writeZip(tb testing.TB, path string, entries []zipEntry) {
	tb.Helper()
	f, err := os.Create(path)
	require.NoError(tb, err)
	zw := zip.NewWriter(f)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		fh.SetMode(mode)
		if mode&fs.ModeSymlink != 0 || mode.IsDir() {
			fh.Method = zip.Store
		}
		w, err := zw.CreateHeader(fh)
		require.NoError(tb, err)
		_, err = w.Write(e.data)
		require.NoError(tb, err)
	}
	require.NoError(tb, zw.Close())
	require.NoError(tb, f.Close())
}

func readZip(tb testing.TB, path string) map[string]*zip.File {
	tb.Helper()
	r, err := zip.OpenReader(path)
	require.NoError(tb, err)
	tb.Cleanup(func() { r.Close() })
	out := map[string]*zip.File{}
	for _, f := range r.File {
		out[f.Name] = f
	}
	return out
}

func zipRead(tb testing.TB, f *zip.File) []byte {
	tb.Helper()
	require.NotNil(tb, f)
	rc, err := f.Open()
	require.NoError(tb, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(tb, err)
	return b
}

// fixture is a source IPA as Xcode would export it (signed by the old
// identity), with the identities and profiles tests re-sign it with.
type fixture struct {
	dir      string
	in       string
	pki      *pki
	old, new *identity
	profiles map[string][]byte // for the new identity
	entries  []zipEntry
}

type fixtureOpts struct {
	sdk        string
	encrypted  bool
	appEntsExt map[string]any // extra entitlements in the app binary
	bigExe     int            // pad executables to this many bytes (benchmark)
	resources  int            // number of extra resource files
	resSize    int            // size of each
}

func newFixture(tb testing.TB, o fixtureOpts) *fixture {
	tb.Helper()
	p := newPKI(tb)
	fx := &fixture{dir: tb.TempDir(), pki: p}
	fx.old = p.issue(tb, "TEAM123456", false, time.Now().Add(365*24*time.Hour))
	fx.new = p.issue(tb, "TEAM123456", false, time.Now().Add(365*24*time.Hour))
	fx.in = filepath.Join(fx.dir, "in.ipa")
	const team = "TEAM123456"
	sdk := o.sdk
	if sdk == "" {
		sdk = "iphoneos26.0"
	}
	ctx := tb.Context()

	appEnts := map[string]any{"application-identifier": team + ".com.example.demo", "com.apple.developer.team-identifier": team, "get-task-allow": false, "keychain-access-groups": []any{team + ".com.example.demo"}}
	for k, v := range o.appEntsExt {
		appEnts[k] = v
	}
	extEnts := map[string]any{"application-identifier": team + ".com.example.demo.share", "com.apple.developer.team-identifier": team}
	oldSigner := macho.KeySigner(fx.old.key, fx.old.chain)
	sign := func(data []byte, ident string, types []uint8, ents map[string]any) []byte {
		var x, der []byte
		if ents != nil {
			x = entitlementsXML(tb, ents)
			// The app carries Xcode's DER form; extensions only XML, as
			// signers before iOS 15 wrote, so Resign must derive it.
			if ident == "com.example.demo" {
				var err error
				der, err = EncodeEntitlementsDER(ents)
				require.NoError(tb, err)
			}
		}
		req, _ := macho.DesignatedRequirement(ident, fx.old.chain[0].Subject.CommonName)
		out, err := macho.SignFile(ctx, data, macho.SignParams{Ident: ident, TeamID: team, HashTypes: types, Entitlements: x, EntitlementsDER: der, Requirements: req, Signer: oldSigner, InfoPlist: []byte("old"), Resources: []byte("old")})
		require.NoError(tb, err)
		return out
	}
	arm, amd := goBinary(tb, "arm64"), goBinary(tb, "amd64")
	if o.encrypted {
		amd = encrypt(tb, amd)
	}
	fat, err := macho.BuildFat([]macho.FatSlice{{CPUType: macho.CPUX86_64, CPUSubtype: 3, Align: 12, Data: amd}, {CPUType: macho.CPUARM64, Align: 14, Data: arm}})
	require.NoError(tb, err)
	var appExe []byte
	if o.encrypted {
		appExe = fat
	} else {
		appExe = sign(fat, "com.example.demo", []uint8{macho.HashSHA1, macho.HashSHA256}, appEnts)
	}
	extExe := sign(arm, "com.example.demo.share", []uint8{macho.HashSHA256}, extEnts)
	kitExe := sign(minimalDylib(1), "com.example.Kit", nil, nil)
	libExe := sign(minimalDylib(2), "libswiftFoo", nil, nil)
	clipExe := sign(minimalDylib(3), "com.example.demo.Clip", nil, map[string]any{"application-identifier": team + ".com.example.demo.Clip"})

	binInfo := func(m map[string]any) []byte {
		b, err := plist.Marshal(m, plist.BinaryFormat)
		require.NoError(tb, err)
		return b
	}
	xmlInfo := func(m map[string]any) []byte {
		b, err := plist.MarshalIndent(m, plist.XMLFormat, "\t")
		require.NoError(tb, err)
		return b
	}
	oldProfile := func(name, appID string) []byte {
		return p.makeProfile(tb, profileSpec{name: name, team: team, appID: appID, expires: time.Now().Add(300 * 24 * time.Hour), certs: []*x509.Certificate{fx.old.chain[0]}, extraEnt: o.appEntsExt})
	}
	fx.profiles = map[string][]byte{
		"com.example.demo":       p.makeProfile(tb, profileSpec{name: "Demo App Store 2026", team: team, appID: team + ".com.example.demo", expires: time.Now().Add(300 * 24 * time.Hour), certs: []*x509.Certificate{fx.new.chain[0]}}),
		"com.example.demo.share": p.makeProfile(tb, profileSpec{name: "Demo Share App Store 2026", team: team, appID: team + ".com.example.demo.share", expires: time.Now().Add(300 * 24 * time.Hour), certs: []*x509.Certificate{fx.new.chain[0]}}),
		"com.example.demo.Clip":  p.makeProfile(tb, profileSpec{name: "Clip App Store 2026", team: team, appID: team + ".com.example.demo.Clip", expires: time.Now().Add(300 * 24 * time.Hour), certs: []*x509.Certificate{fx.new.chain[0]}}),
	}
	app := "Payload/Demo.app/"
	fx.entries = []zipEntry{
		{name: app + "Info.plist", data: binInfo(map[string]any{"CFBundleIdentifier": "com.example.demo", "CFBundleExecutable": "Demo", "CFBundleShortVersionString": "2.16.0", "CFBundleVersion": "216", "DTSDKName": sdk, "DTXcode": "2600", "MinimumOSVersion": "15.0", "CFBundlePackageType": "APPL"})},
		{name: app + "Demo", data: appExe, mode: 0o755},
		{name: app + "PkgInfo", data: []byte("APPL????")},
		{name: app + "embedded.mobileprovision", data: oldProfile("Demo App Store 2025", team+".com.example.demo")},
		{name: app + "Assets.car", data: bytes.Repeat([]byte("assets"), 1000)},
		{name: app + "en.lproj/Localizable.strings", data: []byte(`"hello" = "Hello";`)},
		{name: app + "Base.lproj/Main.storyboardc/Info.plist", data: []byte("storyboard")},
		{name: app + "AssetsLink", data: []byte("Assets.car"), mode: fs.ModeSymlink | 0o777},
		{name: app + "_CodeSignature/CodeResources", data: []byte("stale")},
		{name: app + "PlugIns/Share.appex/Info.plist", data: xmlInfo(map[string]any{"CFBundleIdentifier": "com.example.demo.share", "CFBundleExecutable": "Share", "CFBundleShortVersionString": "2.16.0", "CFBundleVersion": "216", "CFBundlePackageType": "XPC!"})},
		{name: app + "PlugIns/Share.appex/Share", data: extExe, mode: 0o755},
		{name: app + "PlugIns/Share.appex/embedded.mobileprovision", data: oldProfile("Demo Share App Store 2025", team+".com.example.demo.share")},
		{name: app + "PlugIns/Share.appex/icon.png", data: []byte("png")},
		{name: app + "Frameworks/Kit.framework/Info.plist", data: xmlInfo(map[string]any{"CFBundleIdentifier": "com.example.Kit", "CFBundleExecutable": "Kit", "CFBundleShortVersionString": "1.4.0", "CFBundleVersion": "7", "CFBundlePackageType": "FMWK"})},
		{name: app + "Frameworks/Kit.framework/Kit", data: kitExe, mode: 0o755},
		{name: app + "Frameworks/libswiftFoo.dylib", data: libExe, mode: 0o755},
		{name: app + "AppClips/Clip.app/Info.plist", data: binInfo(map[string]any{"CFBundleIdentifier": "com.example.demo.Clip", "CFBundleExecutable": "Clip", "CFBundleShortVersionString": "2.16.0", "CFBundleVersion": "216"})},
		{name: app + "AppClips/Clip.app/Clip", data: clipExe, mode: 0o755},
		{name: app + "AppClips/Clip.app/embedded.mobileprovision", data: oldProfile("Clip 2025", team+".com.example.demo.Clip")},
		{name: "SwiftSupport/iphoneos/libswiftFoo.dylib", data: libExe, mode: 0o755},
	}
	// Xcode's IPAs carry directory entries; they are copied as they are.
	fx.entries = append([]zipEntry{{name: "Payload/", mode: fs.ModeDir | 0o755}, {name: app, mode: fs.ModeDir | 0o755}}, fx.entries...)
	for i := range o.resources {
		data := make([]byte, o.resSize)
		_, _ = rand.Read(data) // images and compiled assets do not compress
		fx.entries = append(fx.entries, zipEntry{name: fmt.Sprintf("%sres/%04d.bin", app, i), data: data})
	}
	if o.bigExe > 0 {
		// A few large executables: extensions built from padded copies.
		for i := range 3 {
			name := fmt.Sprintf("Big%d", i)
			exe := sign(bigBinary(tb, arm, o.bigExe), "com.example.demo."+name, []uint8{macho.HashSHA256}, map[string]any{"application-identifier": team + ".com.example.demo." + name})
			dir := app + "PlugIns/" + name + ".appex/"
			fx.entries = append(fx.entries,
				zipEntry{name: dir + "Info.plist", data: binInfo(map[string]any{"CFBundleIdentifier": "com.example.demo." + name, "CFBundleExecutable": name, "CFBundleShortVersionString": "2.16.0", "CFBundleVersion": "216"})},
				zipEntry{name: dir + name, data: exe, mode: 0o755},
				zipEntry{name: dir + "embedded.mobileprovision", data: oldProfile(name, team+".com.example.demo."+name)},
			)
			fx.profiles["com.example.demo."+name] = p.makeProfile(tb, profileSpec{name: name + " 2026", team: team, appID: team + ".com.example.demo." + name, expires: time.Now().Add(300 * 24 * time.Hour), certs: []*x509.Certificate{fx.new.chain[0]}})
		}
	}
	writeZip(tb, fx.in, fx.entries)
	return fx
}

// bigBinary grows a Go darwin binary to about size bytes by extending
// __LINKEDIT with pseudo-random bytes (kept compressible by half), so the
// benchmark hashes and compresses realistic volumes.
func bigBinary(tb testing.TB, arm []byte, size int) []byte {
	tb.Helper()
	s, err := macho.ParseSlice(arm, macho.Limits{})
	require.NoError(tb, err)
	// Drop the old signature and append filler inside __LINKEDIT, then
	// point LC_CODE_SIGNATURE at a zero-length signature at the end.
	body := bytes.Clone(arm[:s.SigOffset])
	fill := make([]byte, size-len(body))
	_, _ = rand.Read(fill[:len(fill)/2])
	body = append(body, fill...)
	for len(body)%16 != 0 {
		body = append(body, 0)
	}
	le := binary.LittleEndian
	sigOff := len(body)
	le.PutUint32(body[s.SigCmdOffset+8:], uint32(sigOff))
	le.PutUint32(body[s.SigCmdOffset+12:], 0)
	le.PutUint64(body[s.LinkEdit.CmdOffset+48:], uint64(len(body))-s.LinkEdit.FileOff)
	le.PutUint64(body[s.LinkEdit.CmdOffset+32:], (uint64(len(body))-s.LinkEdit.FileOff+0x3fff)&^0x3fff)
	return body
}

// encrypt adds LC_ENCRYPTION_INFO_64 with cryptid 1, as App Store
// downloads have.
func encrypt(tb testing.TB, b []byte) []byte {
	tb.Helper()
	s, err := macho.ParseSlice(b, macho.Limits{})
	require.NoError(tb, err)
	out := bytes.Clone(b)
	at := s.HeaderSize + int(s.SizeOfCmds)
	le := binary.LittleEndian
	le.PutUint32(out[at:], macho.LoadEncryptionInfo64)
	le.PutUint32(out[at+4:], 24)
	le.PutUint32(out[at+16:], 1)
	le.PutUint32(out[16:], s.NCmds+1)
	le.PutUint32(out[20:], s.SizeOfCmds+24)
	return out
}

func x509MarshalPKCS8(id *identity) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
