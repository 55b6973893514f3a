package apk

import (
	"archive/zip"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

const frameworkRes = "/usr/share/android-framework-res/framework-res.apk"

// testKey is a Go-generated key with its files for apksigner.
type testKey struct {
	key      *signingkey.Key
	pk8Path  string // DER PKCS#8, as apksigner --key wants
	certPath string // PEM certificate
}

func newTestKey(t testing.TB, kind, cn string) *testKey {
	t.Helper()
	var signer crypto.Signer
	var err error
	switch kind {
	case "rsa":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ec":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Ripcord Test"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	k, err := signingkey.New(signer, []*x509.Certificate{cert})
	require.NoError(t, err)
	dir := t.TempDir()
	pk8, err := x509.MarshalPKCS8PrivateKey(signer)
	require.NoError(t, err)
	tk := &testKey{key: k, pk8Path: filepath.Join(dir, "key.pk8"), certPath: filepath.Join(dir, "cert.pem")}
	require.NoError(t, os.WriteFile(tk.pk8Path, pk8, 0o600))
	require.NoError(t, os.WriteFile(tk.certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return tk
}

// fixtureOpts describes a test APK.
type fixtureOpts struct {
	minSdk, targetSdk int
	versionCode       int
	versionName       string
	nativeLib         bool // a stored lib/arm64-v8a/libfoo.so (extractNativeLibs=false)
	multiDex          bool // classes2.dex next to classes.dex
	bigAsset          int  // bytes of stored random asset, 0 for none
	assetsMiB         int  // count of stored 1 MiB random assets (benchmarks)
	dexMiB            int  // MiB of extra compressible dex content, in 4 files (benchmarks)
}

// buildAPK compiles a small app with aapt2 and adds code, native and asset
// entries the way a build would: dex deflated, .so and assets stored.
func buildAPK(t testing.TB, o fixtureOpts) string {
	t.Helper()
	aapt2 := testenv.LookPath(t, "aapt2", "apt-get install aapt")
	if _, err := os.Stat(frameworkRes); err != nil {
		testenv.Missing(t, "android-framework-res (apt-get install android-framework-res)")
	}
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "res", "values"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "res", "values", "strings.xml"),
		[]byte(`<resources><string name="app_name">Fixture</string></resources>`), 0o600))
	if o.targetSdk == 0 {
		o.targetSdk = 36
	}
	if o.versionCode == 0 {
		o.versionCode = 42
	}
	if o.versionName == "" {
		o.versionName = "1.2.3"
	}
	manifest := fmt.Sprintf(`<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="com.example.rollback"
 android:versionCode="%d" android:versionName="%s">
 <uses-sdk android:minSdkVersion="%d" android:targetSdkVersion="%d"/>
 <application android:label="@string/app_name" android:extractNativeLibs="false"/>
</manifest>`, o.versionCode, o.versionName, o.minSdk, o.targetSdk)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "AndroidManifest.xml"), []byte(manifest), 0o600))
	run(t, aapt2, "compile", "--dir", filepath.Join(dir, "res"), "-o", filepath.Join(dir, "res.zip"))
	base := filepath.Join(dir, "base.apk")
	run(t, aapt2, "link", "-o", base, "-I", frameworkRes, "--manifest", filepath.Join(dir, "AndroidManifest.xml"), filepath.Join(dir, "res.zip"))

	out := filepath.Join(dir, "unsigned.apk")
	zr, err := zip.OpenReader(base)
	require.NoError(t, err)
	defer zr.Close()
	f, err := os.Create(out)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	for _, e := range zr.File {
		w, err := zw.CreateRaw(&e.FileHeader)
		require.NoError(t, err)
		r, err := e.OpenRaw()
		require.NoError(t, err)
		_, err = io.Copy(w, r)
		require.NoError(t, err)
	}
	add := func(name string, method uint16, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	add("classes.dex", zip.Deflate, []byte(strings.Repeat("dex\n035\x00 fake code ", 4000)))
	if o.multiDex {
		add("classes2.dex", zip.Deflate, []byte(strings.Repeat("dex\n035\x00 more code ", 3000)))
	}
	if o.nativeLib {
		add("lib/arm64-v8a/libfoo.so", zip.Store, randomBytes(t, 20000))
	}
	if o.bigAsset > 0 {
		add("assets/big.bin", zip.Store, randomBytes(t, o.bigAsset))
	}
	for i := range o.assetsMiB {
		add(fmt.Sprintf("assets/blob%03d.bin", i), zip.Store, randomBytes(t, 1<<20))
	}
	if o.dexMiB > 0 {
		per := o.dexMiB << 20 / 4
		for i := range 4 {
			// 4 bits of entropy per byte: deflates to about half, like dex.
			b := randomBytes(t, per)
			for j := range b {
				b[j] = 'A' + b[j]&0x0f
			}
			add(fmt.Sprintf("classes%d.dex", i+3), zip.Deflate, b)
		}
	}
	add("META-INF/services/com.example.Service", zip.Deflate, []byte("com.example.Impl\n"))
	add("assets/odd.txt", zip.Store, []byte("odd length"))
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return out
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// apksignerSign signs like a release build would (v4 off, since stores
// don't use it).
func apksignerSign(t testing.TB, in string, k *testKey, extra ...string) string {
	t.Helper()
	apksigner := testenv.LookPath(t, "apksigner", "apt-get install apksigner")
	out := filepath.Join(t.TempDir(), "signed.apk")
	args := append([]string{"sign", "--key", k.pk8Path, "--cert", k.certPath, "--v4-signing-enabled", "false", "--out", out}, extra...)
	run(t, apksigner, append(args, in)...)
	return out
}

func openFile(t testing.TB, path string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	require.NoError(t, err)
	return f, st.Size()
}
