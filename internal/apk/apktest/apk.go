package apktest

import (
	"archive/zip"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// APKOptions describes a fixture APK. Zero values take the defaults noted.
type APKOptions struct {
	Package     string // Package is the application id; default "com.example.rollback".
	MinSdk      int    // MinSdk is android:minSdkVersion (0 leaves it at 0, which the platform reads as 1).
	TargetSdk   int    // TargetSdk is android:targetSdkVersion; default 36.
	VersionCode int    // VersionCode is android:versionCode; default 42.
	VersionName string // VersionName is android:versionName (a reference like "@string/app_name" works); default "1.2.3".
	NativeLib   bool   // NativeLib adds a stored lib/arm64-v8a/libfoo.so (extractNativeLibs=false).
	MultiDex    bool   // MultiDex adds classes2.dex next to classes.dex.
	BigAsset    int    // BigAsset is the size of a stored random assets/big.bin; 0 for none.
	AssetsMiB   int    // AssetsMiB is the count of stored 1 MiB random assets (benchmarks).
	DexMiB      int    // DexMiB is MiB of extra compressible dex content in 4 files (benchmarks).
}

func (o APKOptions) withDefaults() APKOptions {
	if o.Package == "" {
		o.Package = "com.example.rollback"
	}
	if o.TargetSdk == 0 {
		o.TargetSdk = 36
	}
	if o.VersionCode == 0 {
		o.VersionCode = 42
	}
	if o.VersionName == "" {
		o.VersionName = "1.2.3"
	}
	return o
}

// BuildAPK compiles a small app (package o.Package) with aapt2 into dir
// and adds code, native and asset entries the way a build would: dex
// deflated, .so and assets stored. It returns the path of the unsigned
// APK.
func BuildAPK(dir string, o APKOptions) (string, error) {
	o = o.withDefaults()
	aapt2, err := Tool("aapt2")
	if err != nil {
		return "", err
	}
	if err := frameworkRes(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "res", "values"), 0o755); err != nil {
		return "", fmt.Errorf("apktest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "res", "values", "strings.xml"),
		[]byte(`<resources><string name="app_name">Fixture</string></resources>`), 0o600); err != nil {
		return "", fmt.Errorf("apktest: %w", err)
	}
	manifest := fmt.Sprintf(`<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="%s"
 android:versionCode="%d" android:versionName="%s">
 <uses-sdk android:minSdkVersion="%d" android:targetSdkVersion="%d"/>
 <application android:label="@string/app_name" android:extractNativeLibs="false"/>
</manifest>`, o.Package, o.VersionCode, o.VersionName, o.MinSdk, o.TargetSdk)
	if err := os.WriteFile(filepath.Join(dir, "AndroidManifest.xml"), []byte(manifest), 0o600); err != nil {
		return "", fmt.Errorf("apktest: %w", err)
	}
	if _, err := RunTool(aapt2, "compile", "--dir", filepath.Join(dir, "res"), "-o", filepath.Join(dir, "res.zip")); err != nil {
		return "", err
	}
	base := filepath.Join(dir, "base.apk")
	if _, err := RunTool(aapt2, "link", "-o", base, "-I", FrameworkRes, "--manifest", filepath.Join(dir, "AndroidManifest.xml"), filepath.Join(dir, "res.zip")); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "unsigned.apk")
	if err := extendAPK(base, out, o); err != nil {
		return "", fmt.Errorf("apktest: write %s: %w", out, err)
	}
	return out, nil
}

// extendAPK copies aapt2's entries raw and appends code, native and asset
// entries.
func extendAPK(base, out string, o APKOptions) (err error) {
	zr, err := zip.OpenReader(base)
	if err != nil {
		return err
	}
	defer zr.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	zw := zip.NewWriter(f)
	for _, e := range zr.File {
		w, err := zw.CreateRaw(&e.FileHeader)
		if err != nil {
			return err
		}
		r, err := e.OpenRaw()
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, r); err != nil {
			return err
		}
	}
	add := func(name string, method uint16, data []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	type entry struct {
		name   string
		method uint16
		data   func() []byte
	}
	entries := []entry{{"classes.dex", zip.Deflate, func() []byte { return []byte(strings.Repeat("dex\n035\x00 fake code ", 4000)) }}}
	if o.MultiDex {
		entries = append(entries, entry{"classes2.dex", zip.Deflate, func() []byte { return []byte(strings.Repeat("dex\n035\x00 more code ", 3000)) }})
	}
	if o.NativeLib {
		entries = append(entries, entry{"lib/arm64-v8a/libfoo.so", zip.Store, func() []byte { return randomBytes(20000) }})
	}
	if o.BigAsset > 0 {
		entries = append(entries, entry{"assets/big.bin", zip.Store, func() []byte { return randomBytes(o.BigAsset) }})
	}
	for i := range o.AssetsMiB {
		entries = append(entries, entry{fmt.Sprintf("assets/blob%03d.bin", i), zip.Store, func() []byte { return randomBytes(1 << 20) }})
	}
	if o.DexMiB > 0 {
		per := o.DexMiB << 20 / 4
		for i := range 4 {
			entries = append(entries, entry{fmt.Sprintf("classes%d.dex", i+3), zip.Deflate, func() []byte {
				// 4 bits of entropy per byte: deflates to about half, like dex.
				b := randomBytes(per)
				for j := range b {
					b[j] = 'A' + b[j]&0x0f
				}
				return b
			}})
		}
	}
	entries = append(entries,
		entry{"META-INF/services/com.example.Service", zip.Deflate, func() []byte { return []byte("com.example.Impl\n") }},
		entry{"assets/odd.txt", zip.Store, func() []byte { return []byte("odd length") }},
	)
	for _, e := range entries {
		if err := add(e.name, e.method, e.data()); err != nil {
			return err
		}
	}
	return zw.Close()
}

// randomBytes returns n random bytes; crypto/rand.Read never fails.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// APK is BuildAPK for tests, in a temporary directory.
func APK(tb testing.TB, o APKOptions) string {
	tb.Helper()
	p, err := BuildAPK(tb.TempDir(), o)
	check(tb, err)
	return p
}

// SignWithApksigner signs in to out with apksigner the way a release build
// does (v4 off, since stores don't use it); extra options follow the key,
// e.g. "--next-signer", "--key", …, "--lineage", FILE for a rotated app.
// k must have its files written (NewKey or WriteFiles).
func SignWithApksigner(in, out string, k *Key, extra ...string) error {
	apksigner, err := Tool("apksigner")
	if err != nil {
		return err
	}
	if k.PK8Path == "" {
		return fmt.Errorf("apktest: key %s has no files; call WriteFiles first", k.Cert().Subject)
	}
	args := append([]string{"sign", "--key", k.PK8Path, "--cert", k.CertPath, "--v4-signing-enabled", "false", "--out", out}, extra...)
	_, err = RunTool(apksigner, append(args, in)...)
	return err
}

// ApksignerSign is SignWithApksigner for tests; it returns the signed
// APK's path in a temporary directory.
func ApksignerSign(tb testing.TB, in string, k *Key, extra ...string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "signed.apk")
	check(tb, SignWithApksigner(in, out, k, extra...))
	return out
}

// Rotate writes the SigningCertificateLineage file `apksigner rotate`
// makes for a rotation from oldKey to newKey (appending to the lineage in
// prev when prev is not empty).
func Rotate(out, prev string, oldKey, newKey *Key) error {
	apksigner, err := Tool("apksigner")
	if err != nil {
		return err
	}
	args := []string{"rotate", "--out", out}
	if prev != "" {
		args = append(args, "--in", prev)
	}
	args = append(args, "--old-signer", "--key", oldKey.PK8Path, "--cert", oldKey.CertPath,
		"--new-signer", "--key", newKey.PK8Path, "--cert", newKey.CertPath)
	_, err = RunTool(apksigner, args...)
	return err
}

// Lineage is Rotate for tests: a new lineage file from oldKey to newKey in
// a temporary directory.
func Lineage(tb testing.TB, oldKey, newKey *Key) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "lineage.bin")
	check(tb, Rotate(out, "", oldKey, newKey))
	return out
}
