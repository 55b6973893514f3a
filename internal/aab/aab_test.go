package aab

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

const frameworkRes = "/usr/share/android-framework-res/framework-res.apk"

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// protoManifest compiles a manifest to aapt2's protobuf form and returns
// it with the module's resources.pb (nil when there are no resources).
func protoManifest(t testing.TB, manifest string, withRes bool) (xml, resources []byte) {
	t.Helper()
	aapt2 := testenv.LookPath(t, "aapt2", "apt-get install aapt")
	if _, err := os.Stat(frameworkRes); err != nil {
		testenv.Missing(t, "android-framework-res (apt-get install android-framework-res)")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "AndroidManifest.xml"), []byte(manifest), 0o600))
	args := []string{"link", "--proto-format", "-o", filepath.Join(dir, "p.apk"), "-I", frameworkRes, "--manifest", filepath.Join(dir, "AndroidManifest.xml")}
	if withRes {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "res", "values"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "res", "values", "s.xml"), []byte(`<resources><string name="app_name">Fixture</string></resources>`), 0o600))
		run(t, aapt2, "compile", "--dir", filepath.Join(dir, "res"), "-o", filepath.Join(dir, "res.zip"))
		args = append(args, filepath.Join(dir, "res.zip"))
	}
	run(t, aapt2, args...)
	zr, err := zip.OpenReader(filepath.Join(dir, "p.apk"))
	require.NoError(t, err)
	defer zr.Close()
	for _, f := range zr.File {
		r, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		switch f.Name {
		case "AndroidManifest.xml":
			xml = b
		case "resources.pb":
			resources = b
		}
	}
	return xml, resources
}

const ns = `xmlns:android="http://schemas.android.com/apk/res/android" xmlns:dist="http://schemas.android.com/apk/distribution"`

// buildBundle assembles a bundle the way bundletool lays it out: a base
// module, an on-demand feature module (with a versionCode) and an asset
// pack (without one).
func buildBundle(t testing.TB, baseName string) string {
	t.Helper()
	nameAttr := ""
	if baseName != "" {
		nameAttr = fmt.Sprintf(` android:versionName=%q`, baseName)
	}
	base, res := protoManifest(t, `<manifest `+ns+` package="com.example.bundle" android:versionCode="42"`+nameAttr+`>
 <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="35"/>
 <application android:label="@string/app_name"/></manifest>`, true)
	feature, _ := protoManifest(t, `<manifest `+ns+` package="com.example.bundle" split="feature" android:versionCode="42">
 <dist:module dist:onDemand="true"/></manifest>`, false)
	pack, _ := protoManifest(t, `<manifest `+ns+` package="com.example.bundle" split="assetpack">
 <dist:module dist:type="asset-pack"/></manifest>`, false)
	p := filepath.Join(t.TempDir(), "app.aab")
	f, err := os.Create(p)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	add := func(name string, method uint16, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	add("BundleConfig.pb", zip.Deflate, []byte("\x0a\x08\x12\x061.18.1"))
	add("base/manifest/AndroidManifest.xml", zip.Deflate, base)
	add("base/resources.pb", zip.Deflate, res)
	add("base/dex/classes.dex", zip.Deflate, bytes.Repeat([]byte("dex\n035 code "), 5000))
	add("base/lib/arm64-v8a/libfoo.so", zip.Store, bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 3000))
	add("feature/manifest/AndroidManifest.xml", zip.Deflate, feature)
	add("feature/dex/classes.dex", zip.Deflate, bytes.Repeat([]byte("feature code "), 1000))
	add("assetpack/manifest/AndroidManifest.xml", zip.Deflate, pack)
	add("assetpack/assets/data.bin", zip.Store, bytes.Repeat([]byte{1, 2, 3}, 10000))
	add("BUNDLE-METADATA/com.android.tools.build.obfuscation/proguard.map", zip.Deflate, []byte("a -> b\n"))
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return p
}

type testBundle struct {
	keystore string
	key      *signingkey.Key
}

// setup makes an upload keystore with keytool, as teams do, and loads it
// with our loader.
func setup(t testing.TB, alias string) testBundle {
	t.Helper()
	keytool := testenv.LookPath(t, "keytool", "apt-get install default-jre-headless")
	ks := filepath.Join(t.TempDir(), "upload.p12")
	run(t, keytool, "-genkeypair", "-keystore", ks, "-storetype", "PKCS12", "-storepass", "storepass",
		"-alias", alias, "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN="+alias, "-validity", "10")
	data, err := os.ReadFile(ks)
	require.NoError(t, err)
	k, err := signingkey.LoadKeystore(data, "storepass", alias, "")
	require.NoError(t, err)
	return testBundle{keystore: ks, key: k}
}

func jarsign(t testing.TB, in string, tb testBundle, alias string) string {
	t.Helper()
	jarsigner := testenv.LookPath(t, "jarsigner", "apt-get install default-jdk-headless")
	out := filepath.Join(t.TempDir(), "signed.aab")
	run(t, jarsigner, "-keystore", tb.keystore, "-storepass", "storepass", "-sigalg", "SHA256withRSA",
		"-digestalg", "SHA-256", "-signedjar", out, in, alias)
	return out
}

func open(t testing.TB, p string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	require.NoError(t, err)
	return f, st.Size()
}

func TestResignBundle(t *testing.T) {
	t.Parallel()
	jarsigner := testenv.LookPath(t, "jarsigner", "apt-get install default-jdk-headless")
	tests := []struct {
		name        string
		baseName    string
		newName     string
		signedInput bool
		wantName    string
	}{
		{name: "SignedInput", baseName: "1.2.3", newName: "1.2.4-rollback", signedInput: true, wantName: "1.2.4-rollback"},
		{name: "UnsignedInputKeepName", baseName: "1.2.3", wantName: "1.2.3"},
		{name: "MissingVersionName", signedInput: true, newName: "2.0.1", wantName: "2.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, "upload")
			in := buildBundle(t, tt.baseName)
			if tt.signedInput {
				in = jarsign(t, in, tb, "upload")
			}
			f, size := open(t, in)
			out := filepath.Join(t.TempDir(), "out.aab")
			rep, err := Resign(context.Background(), f, size, out, ResignOptions{VersionCode: 1043, VersionName: tt.newName, Key: tb.key})
			require.NoError(t, err)
			require.Equal(t, []string{"base/manifest/AndroidManifest.xml", "feature/manifest/AndroidManifest.xml"}, rep.Changed)
			if tt.signedInput {
				require.Positive(t, rep.Reused)
			}

			got := run(t, jarsigner, "-verify", "-verbose", out)
			require.Contains(t, got, "jar verified.")
			require.NotContains(t, got, "unsigned entries")

			of, osize := open(t, out)
			info, err := Inspect(context.Background(), of, osize, apkzip.Limits{})
			require.NoError(t, err)
			require.Len(t, info.Modules, 3)
			for _, m := range info.Modules {
				if m.Name == "assetpack" {
					require.Nil(t, m.VersionCode, "asset packs must not get a versionCode")
					continue
				}
				require.Equal(t, int64(1043), *m.VersionCode, m.Name)
			}
			require.Equal(t, tt.wantName, info.Base().VersionName)
			require.Equal(t, 21, info.Base().MinSdk)
			require.Equal(t, 35, info.Base().TargetSdk)
			requireBadging(t, of, osize, fmt.Sprintf("versionCode='1043' versionName='%s'", tt.wantName))

			v, err := Verify(context.Background(), of, osize, apkzip.Limits{})
			require.NoError(t, err)
			require.True(t, v.Verified, v.Reason)
			require.Equal(t, []string{tb.key.CertSHA256()}, v.Signers)
		})
	}
}

// requireBadging converts the base module back to a binary APK with aapt2
// and checks the platform parser's view of its versions.
func requireBadging(t *testing.T, r io.ReaderAt, size int64, want string) {
	t.Helper()
	aapt2 := testenv.LookPath(t, "aapt2", "apt-get install aapt")
	aapt := testenv.LookPath(t, "aapt", "apt-get install aapt")
	zr, err := zip.NewReader(r, size)
	require.NoError(t, err)
	dir := t.TempDir()
	proto := filepath.Join(dir, "proto.apk")
	pf, err := os.Create(proto)
	require.NoError(t, err)
	zw := zip.NewWriter(pf)
	for _, f := range zr.File {
		name, ok := strings.CutPrefix(f.Name, "base/manifest/")
		if !ok && f.Name == "base/resources.pb" {
			name, ok = "resources.pb", true
		}
		if !ok {
			continue
		}
		rc, err := f.Open()
		require.NoError(t, err)
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = io.Copy(w, rc)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, pf.Close())
	bin := filepath.Join(dir, "bin.apk")
	run(t, aapt2, "convert", "-o", bin, proto)
	require.Contains(t, run(t, aapt, "dump", "badging", bin), want)
}

func TestResignBundleRefusals(t *testing.T) {
	t.Parallel()
	tb := setup(t, "upload")
	other := setup(t, "other")
	signed := jarsign(t, buildBundle(t, "1.0"), tb, "upload")
	good, err := os.ReadFile(signed)
	require.NoError(t, err)
	f, size := open(t, signed)
	a, err := apkzip.Read(f, size, apkzip.Limits{})
	require.NoError(t, err)
	var dexOff int64
	for _, e := range a.Entries {
		if e.Name == "base/dex/classes.dex" {
			dexOff = e.DataOffset
		}
	}
	tampered := bytes.Clone(good)
	tampered[dexOff+5] ^= 0xff
	tests := []struct {
		name string
		in   []byte
		opts ResignOptions
		want error
	}{
		{name: "OtherKey", in: good, opts: ResignOptions{VersionCode: 50, Key: other.key}, want: ErrSignerMismatch},
		{name: "VersionNotHigher", in: good, opts: ResignOptions{VersionCode: 42, Key: tb.key}, want: ErrVersionNotHigher},
		{name: "Tampered", in: tampered, opts: ResignOptions{VersionCode: 50, Key: tb.key}, want: ErrNotVerified},
		{name: "NotBundle", in: mustZip(t, "AndroidManifest.xml"), opts: ResignOptions{VersionCode: 50, Key: tb.key}, want: ErrNotBundle},
		{name: "NotZip", in: []byte("definitely not a zip archive"), opts: ResignOptions{VersionCode: 50, Key: tb.key}, want: apkzip.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := filepath.Join(dir, "in.aab")
			require.NoError(t, os.WriteFile(p, tt.in, 0o600))
			f, size := open(t, p)
			_, err := Resign(context.Background(), f, size, filepath.Join(dir, "out.aab"), tt.opts)
			require.ErrorIs(t, err, tt.want)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "no output may be left behind")
		})
	}
	t.Run("VerifyTampered", func(t *testing.T) {
		t.Parallel()
		v, err := Verify(context.Background(), bytes.NewReader(tampered), int64(len(tampered)), apkzip.Limits{})
		require.NoError(t, err)
		require.False(t, v.Verified)
		require.Contains(t, v.Reason, "base/dex/classes.dex")
	})
}

func mustZip(t *testing.T, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		require.NoError(t, err)
		_, err = w.Write([]byte("x"))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func FuzzManifest(f *testing.F) {
	for _, name := range []string{"base", "feature", "assetpack"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".pb"))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseManifest(b)
		if err != nil {
			return
		}
		_ = d.info()
		name := "9.9"
		out := d.rewrite(7, &name, true)
		d2, err := parseManifest(out)
		if err != nil {
			t.Fatalf("rewrite produced unparseable output: %v", err)
		}
		if got := d2.info(); got.VersionName != "9.9" {
			t.Fatalf("versionName reads back as %q", got.VersionName)
		}
	})
}
