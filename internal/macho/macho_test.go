package macho

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ripcordhq/ripcord/internal/testenv"
	"github.com/stretchr/testify/require"
)

// fixtureDir holds darwin binaries TestMain builds once, so parallel tests
// do not each run the Go toolchain.
var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "macho-fixtures")
	if err != nil {
		panic(err)
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
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"ripcord fixture\") }\n"), 0o644); err != nil {
		return err
	}
	for _, arch := range []string{"arm64", "amd64"} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", "bin-"+arch, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build darwin/%s fixture: %v\n%s", arch, err, b)
		}
	}
	return nil
}

// goBinary returns the tiny Go program built for darwin/arch by TestMain.
func goBinary(tb testing.TB, arch string) []byte {
	tb.Helper()
	if fixtureDir == "" {
		testenv.Missing(tb, "go (install Go)")
	}
	data, err := os.ReadFile(filepath.Join(fixtureDir, "bin-"+arch))
	require.NoError(tb, err)
	return data
}

type testIdentity struct {
	caPEM []byte
	chain []*x509.Certificate
	key   crypto.Signer
}

func newIdentity(tb testing.TB, ec bool) testIdentity {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Ripcord Test WWDR"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	require.NoError(tb, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(tb, err)
	var key crypto.Signer
	if ec {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	require.NoError(tb, err)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "Apple Distribution: Ripcord Test (TEAM123456)", OrganizationalUnit: []string{"TEAM123456"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, key.Public(), caKey)
	require.NoError(tb, err)
	leaf, err := x509.ParseCertificate(leafDER)
	require.NoError(tb, err)
	return testIdentity{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), chain: []*x509.Certificate{leaf, ca}, key: key}
}

func TestParseGoBinaries(t *testing.T) {
	t.Parallel()
	arm := goBinary(t, "arm64")
	f, err := Parse(bytes.NewReader(arm), int64(len(arm)), Limits{})
	require.NoError(t, err)
	require.False(t, f.Fat)
	s := f.Slices[0]
	require.Equal(t, "arm64", s.Arch())
	require.Equal(t, uint32(TypeExecute), s.Type)
	require.NotNil(t, s.Signature)
	cd := s.Signature.CodeDirectories[0]
	require.Equal(t, uint32(0x20400), cd.Version)
	require.Equal(t, uint32(FlagAdhoc|FlagLinkerSigned), cd.Flags)
	require.Equal(t, "a.out", cd.Ident)
	require.Equal(t, uint8(HashSHA256), cd.HashType)
	require.Equal(t, uint64(ExecSegMain), cd.ExecSegFlags)
	require.Equal(t, uint64(s.SigOffset), cd.CodeLimit)
	require.Empty(t, cd.Special)

	amd := goBinary(t, "amd64")
	f, err = Parse(bytes.NewReader(amd), int64(len(amd)), Limits{})
	require.NoError(t, err)
	require.Equal(t, "x86_64", f.Slices[0].Arch())
	require.Nil(t, f.Slices[0].Signature)
	require.Equal(t, int64(-1), f.Slices[0].SigCmdOffset)
}

// TestLinkerSignatureGolden shows our CodeDirectory layout is the one the
// Go linker writes: re-signing the linker's output the way the linker does
// reproduces the file byte for byte.
func TestLinkerSignatureGolden(t *testing.T) {
	t.Parallel()
	arm := goBinary(t, "arm64")
	s, err := ParseSlice(arm, Limits{})
	require.NoError(t, err)
	linkerCD := s.Signature.CodeDirectories[0].Raw

	// Zero the old page hashes so nothing can be copied through.
	in := bytes.Clone(arm)
	hashStart := s.SigOffset + 20 + binary.BigEndian.Uint32(linkerCD[16:])
	for i := hashStart; i < s.SigOffset+s.SigSize; i++ {
		in[i] = 0
	}
	out, err := SignSlice(t.Context(), in, SignParams{Ident: "a.out", HashTypes: []uint8{HashSHA256}, LinkerSigned: true})
	require.NoError(t, err)
	s2, err := ParseSlice(out, Limits{})
	require.NoError(t, err)
	require.Equal(t, linkerCD, s2.Signature.CodeDirectories[0].Raw)
	require.Equal(t, arm, out)
}

func TestSignUnsignedAmd64(t *testing.T) {
	t.Parallel()
	amd := goBinary(t, "amd64")
	out, err := SignSlice(t.Context(), amd, SignParams{Ident: "com.example.tool"})
	require.NoError(t, err)
	s, err := ParseSlice(out, Limits{})
	require.NoError(t, err)
	require.Equal(t, int64(s.SigOffset)+int64(s.SigSize), int64(len(out)))
	require.Equal(t, s.LinkEdit.FileOff+s.LinkEdit.FileSize, uint64(len(out)))
	checks, err := VerifyFile(out, VerifyInputs{}, Limits{})
	require.NoError(t, err)
	require.True(t, checks[0].Adhoc)
	require.Equal(t, "com.example.tool", checks[0].Ident)
	require.Equal(t, uint64(ExecSegMain), s.Signature.CodeDirectories[0].ExecSegFlags)

	// Signing again replaces the signature in place: same size, same bytes.
	again, err := SignSlice(t.Context(), out, SignParams{})
	require.NoError(t, err)
	require.Equal(t, out, again)
}

func TestCMSSignatureVerifies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		ec    bool
		types []uint8
	}{
		{"RSA_SHA256", false, []uint8{HashSHA256}},
		{"ECDSA_SHA1_SHA256", true, []uint8{HashSHA1, HashSHA256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := newIdentity(t, tc.ec)
			arm := goBinary(t, "arm64")
			ents := []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict><key>application-identifier</key><string>TEAM123456.com.example.app</string></dict></plist>\n")
			req, _ := DesignatedRequirement("com.example.app", id.chain[0].Subject.CommonName)
			info, res := []byte("info.plist bytes"), []byte("code resources bytes")
			out, err := SignSlice(t.Context(), arm, SignParams{
				Ident: "com.example.app", TeamID: "TEAM123456", HashTypes: tc.types,
				InfoPlist: info, Resources: res, Requirements: req,
				Entitlements: ents, EntitlementsDER: []byte{0x70, 0x03, 0x02, 0x01, 0x01},
				Signer: KeySigner(id.key, id.chain),
			})
			require.NoError(t, err)
			checks, err := VerifyFile(out, VerifyInputs{InfoPlist: info, Resources: res}, Limits{})
			require.NoError(t, err)
			c := checks[0]
			require.False(t, c.Adhoc)
			require.Equal(t, tc.types, c.HashTypes)
			require.Equal(t, "TEAM123456", c.TeamID)
			require.Equal(t, id.chain[0].Raw, c.Signer.Raw)
			require.Equal(t, ents, c.Entitlements)
			require.Zero(t, c.Flags&(FlagAdhoc|FlagLinkerSigned))
			cd := c.Slice.Signature.CodeDirectories[0]
			require.Len(t, cd.Special, SlotEntitlementsDER)
			// The CMS signature is larger than the linker's: __LINKEDIT grew
			// to cover it, in the file and in memory.
			orig, err := ParseSlice(arm, Limits{})
			require.NoError(t, err)
			require.Greater(t, c.Slice.SigSize, orig.SigSize)
			require.Equal(t, uint64(len(out)), c.Slice.LinkEdit.FileOff+c.Slice.LinkEdit.FileSize)
			require.GreaterOrEqual(t, c.Slice.LinkEdit.VMSize, c.Slice.LinkEdit.FileSize)

			// A changed Info.plist or CodeResources breaks its slot.
			_, err = VerifyFile(out, VerifyInputs{InfoPlist: []byte("other"), Resources: res}, Limits{})
			require.ErrorIs(t, err, ErrVerify)
			require.ErrorContains(t, err, "special slot 1")
			_, err = VerifyFile(out, VerifyInputs{InfoPlist: info, Resources: []byte("x")}, Limits{})
			require.ErrorContains(t, err, "special slot 3")
			// A changed code page breaks its hash.
			bad := bytes.Clone(out)
			bad[0x2000] ^= 0xff
			_, err = VerifyFile(bad, VerifyInputs{InfoPlist: info, Resources: res}, Limits{})
			require.ErrorContains(t, err, "page 2")

			// Oracle: openssl accepts the CMS over the primary CodeDirectory.
			openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
			dir := t.TempDir()
			cdPath, cmsPath, caPath := filepath.Join(dir, "cd.bin"), filepath.Join(dir, "sig.der"), filepath.Join(dir, "ca.pem")
			require.NoError(t, os.WriteFile(cdPath, cd.Raw, 0o600))
			require.NoError(t, os.WriteFile(cmsPath, c.Slice.Signature.CMS(), 0o600))
			require.NoError(t, os.WriteFile(caPath, id.caPEM, 0o600))
			cmd := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", cmsPath, "-content", cdPath, "-CAfile", caPath, "-purpose", "any", "-out", os.DevNull)
			b, err := cmd.CombinedOutput()
			require.NoError(t, err, string(b))
			require.Contains(t, string(b), "Verification successful")
			// The oracle can fail: another CodeDirectory is rejected.
			require.NoError(t, os.WriteFile(cdPath, append(bytes.Clone(cd.Raw), 0), 0o600))
			b, err = exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", cmsPath, "-content", cdPath, "-CAfile", caPath, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
			require.Error(t, err, string(b))
			// Both Apple attributes are present.
			b, err = exec.Command(openssl, "cms", "-cmsout", "-print", "-inform", "DER", "-in", cmsPath).CombinedOutput()
			require.NoError(t, err, string(b))
			require.Contains(t, string(b), "1.2.840.113635.100.9.1")
			require.Contains(t, string(b), "1.2.840.113635.100.9.2")
		})
	}
}

func TestSignerMismatchRejected(t *testing.T) {
	t.Parallel()
	id, other := newIdentity(t, false), newIdentity(t, false)
	arm := goBinary(t, "arm64")
	_, err := SignSlice(t.Context(), arm, SignParams{Ident: "x", Signer: KeySigner(other.key, id.chain)})
	require.ErrorContains(t, err, "does not verify with certificate")
}

// lipo finds llvm-lipo, which Debian installs unversioned with the llvm
// package and versioned with llvm-NN.
func lipo(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("llvm-lipo"); err == nil {
		return p
	}
	if m, _ := filepath.Glob("/usr/bin/llvm-lipo-*"); len(m) > 0 {
		return m[len(m)-1]
	}
	return testenv.LookPath(tb, "llvm-lipo", "apt-get install llvm")
}

func TestUniversal(t *testing.T) {
	t.Parallel()
	arm, amd := goBinary(t, "arm64"), goBinary(t, "amd64")
	fat, err := BuildFat([]FatSlice{{CPUType: CPUX86_64, CPUSubtype: 3, Align: 12, Data: amd}, {CPUType: CPUARM64, Align: 14, Data: arm}})
	require.NoError(t, err)
	f, err := Parse(bytes.NewReader(fat), int64(len(fat)), Limits{})
	require.NoError(t, err)
	require.True(t, f.Fat)
	require.Len(t, f.Slices, 2)
	require.Zero(t, f.Slices[1].Offset%(1<<14))

	id := newIdentity(t, false)
	signed, err := SignFile(t.Context(), fat, SignParams{Ident: "com.example.app", TeamID: "TEAM123456", Signer: KeySigner(id.key, id.chain)})
	require.NoError(t, err)
	checks, err := VerifyFile(signed, VerifyInputs{}, Limits{})
	require.NoError(t, err)
	require.Len(t, checks, 2)
	require.Equal(t, "x86_64", checks[0].Arch)
	require.Equal(t, "arm64", checks[1].Arch)

	tool := lipo(t)
	path := filepath.Join(t.TempDir(), "fat")
	require.NoError(t, os.WriteFile(path, signed, 0o755))
	b, err := exec.Command(tool, "-info", path).CombinedOutput()
	require.NoError(t, err, string(b))
	require.Contains(t, string(b), "x86_64 arm64")
	// lipo extracts the arm64 slice byte for byte.
	thin := filepath.Join(t.TempDir(), "thin")
	b, err = exec.Command(tool, path, "-thin", "arm64", "-output", thin).CombinedOutput()
	require.NoError(t, err, string(b))
	got, err := os.ReadFile(thin)
	require.NoError(t, err)
	s := f.Slices[1]
	f2, err := Parse(bytes.NewReader(signed), int64(len(signed)), Limits{})
	require.NoError(t, err)
	s = f2.Slices[1]
	require.Equal(t, signed[s.Offset:s.Offset+s.Size], got)
}

func TestEncryptedRefused(t *testing.T) {
	t.Parallel()
	amd := goBinary(t, "amd64")
	s, err := ParseSlice(amd, Limits{})
	require.NoError(t, err)
	// Append LC_ENCRYPTION_INFO_64 with cryptid 1 in the header padding.
	in := bytes.Clone(amd)
	at := s.HeaderSize + int(s.SizeOfCmds)
	le := binary.LittleEndian
	le.PutUint32(in[at:], LoadEncryptionInfo64)
	le.PutUint32(in[at+4:], 24)
	le.PutUint32(in[at+16:], 1)
	le.PutUint32(in[16:], s.NCmds+1)
	le.PutUint32(in[20:], s.SizeOfCmds+24)
	_, err = SignSlice(context.Background(), in, SignParams{Ident: "x"})
	require.ErrorIs(t, err, ErrEncrypted)
}

func TestParseFailures(t *testing.T) {
	t.Parallel()
	arm := goBinary(t, "arm64")
	s, err := ParseSlice(arm, Limits{})
	require.NoError(t, err)
	le := binary.LittleEndian
	for _, tc := range []struct {
		name string
		edit func(b []byte) []byte
		msg  string
	}{
		{"Short", func(b []byte) []byte { return b[:10] }, "too short"},
		{"BadMagic", func(b []byte) []byte { b[0] = 0; return b }, "bad magic"},
		{"HugeNCmds", func(b []byte) []byte { le.PutUint32(b[16:], 1<<30); return b }, "load command count"},
		{"HugeSizeOfCmds", func(b []byte) []byte { le.PutUint32(b[20:], 1<<31); return b }, "load commands larger"},
		{"SigOutside", func(b []byte) []byte { le.PutUint32(b[s.SigCmdOffset+8:], 1<<31); return b }, "outside the file"},
		{"CmdSizeZero", func(b []byte) []byte { le.PutUint32(b[36:], 0); return b }, "load command size"},
		{"BlobCount", func(b []byte) []byte { binary.BigEndian.PutUint32(b[s.SigOffset+8:], 1<<20); return b }, "blob count"},
		{"FatCount", func(b []byte) []byte { return []byte{0xca, 0xfe, 0xba, 0xbe, 0xff, 0xff, 0xff, 0xff} }, "architecture count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := tc.edit(bytes.Clone(arm))
			_, err := Parse(bytes.NewReader(b), int64(len(b)), Limits{})
			require.ErrorIs(t, err, ErrFormat)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestBERToDER(t *testing.T) {
	t.Parallel()
	// SEQUENCE(indefinite){ OCTET STRING constructed(indefinite){ "ab", "c" } }
	ber := []byte{0x30, 0x80, 0x24, 0x80, 0x04, 0x02, 'a', 'b', 0x04, 0x01, 'c', 0x00, 0x00, 0x00, 0x00}
	der, err := BERToDER(ber)
	require.NoError(t, err)
	require.Equal(t, []byte{0x30, 0x05, 0x04, 0x03, 'a', 'b', 'c'}, der)
	_, err = BERToDER([]byte{0x30, 0x80, 0x04, 0x01})
	require.ErrorIs(t, err, ErrFormat)
}

func TestDesignatedRequirementText(t *testing.T) {
	t.Parallel()
	blob, text := DesignatedRequirement("com.example.app", "Apple Distribution: X (T)")
	require.Equal(t, uint32(MagicRequirements), binary.BigEndian.Uint32(blob))
	require.Equal(t, uint32(len(blob)), binary.BigEndian.Uint32(blob[4:]))
	require.True(t, strings.HasPrefix(text, `identifier "com.example.app" and anchor apple generic`))
	require.Zero(t, len(blob)%4)
}
