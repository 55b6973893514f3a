package apktest

import (
	"archive/zip"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// AABOptions describes a fixture bundle. Zero values take the defaults noted.
type AABOptions struct {
	VersionCode int    // VersionCode is the base and feature modules' versionCode; default 42.
	VersionName string // VersionName is the base module's versionName; default none.
	MinSdk      int    // MinSdk is the base module's minSdkVersion; default 21.
	TargetSdk   int    // TargetSdk is the base module's targetSdkVersion; default 36.
}

const bundleNS = `xmlns:android="http://schemas.android.com/apk/res/android" xmlns:dist="http://schemas.android.com/apk/distribution"`

// BuildAAB assembles an unsigned bundle in dir the way bundletool lays one
// out, with manifests compiled by aapt2 to protobuf: a base module with
// resources, dex and a stored .so, an on-demand feature module (with a
// versionCode) and an asset pack (without one). It returns the path of
// app.aab.
func BuildAAB(dir string, o AABOptions) (string, error) {
	o.VersionCode = cmp.Or(o.VersionCode, 42)
	o.MinSdk = cmp.Or(o.MinSdk, 21)
	o.TargetSdk = cmp.Or(o.TargetSdk, 36)
	nameAttr := ""
	if o.VersionName != "" {
		nameAttr = fmt.Sprintf(` android:versionName=%q`, o.VersionName)
	}
	base, res, err := protoManifest(filepath.Join(dir, "base"), fmt.Sprintf(`<manifest %s package="com.example.bundle" android:versionCode="%d"%s>
 <uses-sdk android:minSdkVersion="%d" android:targetSdkVersion="%d"/>
 <application android:label="@string/app_name"/></manifest>`, bundleNS, o.VersionCode, nameAttr, o.MinSdk, o.TargetSdk), true)
	if err != nil {
		return "", err
	}
	feature, _, err := protoManifest(filepath.Join(dir, "feature"), fmt.Sprintf(`<manifest %s package="com.example.bundle" split="feature" android:versionCode="%d">
 <dist:module dist:onDemand="true"/></manifest>`, bundleNS, o.VersionCode), false)
	if err != nil {
		return "", err
	}
	pack, _, err := protoManifest(filepath.Join(dir, "assetpack"), `<manifest `+bundleNS+` package="com.example.bundle" split="assetpack">
 <dist:module dist:type="asset-pack"/></manifest>`, false)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []struct {
		name   string
		method uint16
		data   []byte
	}{
		{"BundleConfig.pb", zip.Deflate, []byte("\x0a\x08\x12\x061.18.1")},
		{"base/manifest/AndroidManifest.xml", zip.Deflate, base},
		{"base/resources.pb", zip.Deflate, res},
		{"base/dex/classes.dex", zip.Deflate, bytes.Repeat([]byte("dex\n035 code "), 5000)},
		{"base/lib/arm64-v8a/libfoo.so", zip.Store, bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 3000)},
		{"feature/manifest/AndroidManifest.xml", zip.Deflate, feature},
		{"feature/dex/classes.dex", zip.Deflate, bytes.Repeat([]byte("feature code "), 1000)},
		{"assetpack/manifest/AndroidManifest.xml", zip.Deflate, pack},
		{"assetpack/assets/data.bin", zip.Store, bytes.Repeat([]byte{1, 2, 3}, 10000)},
		{"BUNDLE-METADATA/com.android.tools.build.obfuscation/proguard.map", zip.Deflate, []byte("a -> b\n")},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		if err != nil {
			return "", fmt.Errorf("apktest: bundle: %w", err)
		}
		if _, err := w.Write(e.data); err != nil {
			return "", fmt.Errorf("apktest: bundle: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("apktest: bundle: %w", err)
	}
	p := filepath.Join(dir, "app.aab")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("apktest: bundle: %w", err)
	}
	return p, nil
}

// AAB is BuildAAB for tests, in a temporary directory.
func AAB(tb testing.TB, o AABOptions) string {
	tb.Helper()
	p, err := BuildAAB(tb.TempDir(), o)
	check(tb, err)
	return p
}

// protoManifest compiles a manifest in dir to aapt2's protobuf form and
// returns it with the module's resources.pb (nil without resources).
func protoManifest(dir, manifest string, withRes bool) (xml, resources []byte, err error) {
	aapt2, err := Tool("aapt2")
	if err != nil {
		return nil, nil, err
	}
	if err := frameworkRes(); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "res", "values"), 0o755); err != nil {
		return nil, nil, fmt.Errorf("apktest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "AndroidManifest.xml"), []byte(manifest), 0o600); err != nil {
		return nil, nil, fmt.Errorf("apktest: %w", err)
	}
	args := []string{"link", "--proto-format", "-o", filepath.Join(dir, "p.apk"), "-I", FrameworkRes, "--manifest", filepath.Join(dir, "AndroidManifest.xml")}
	if withRes {
		if err := os.WriteFile(filepath.Join(dir, "res", "values", "s.xml"), []byte(`<resources><string name="app_name">Fixture</string></resources>`), 0o600); err != nil {
			return nil, nil, fmt.Errorf("apktest: %w", err)
		}
		if _, err := RunTool(aapt2, "compile", "--dir", filepath.Join(dir, "res"), "-o", filepath.Join(dir, "res.zip")); err != nil {
			return nil, nil, err
		}
		args = append(args, filepath.Join(dir, "res.zip"))
	}
	if _, err := RunTool(aapt2, args...); err != nil {
		return nil, nil, err
	}
	zr, err := zip.OpenReader(filepath.Join(dir, "p.apk"))
	if err != nil {
		return nil, nil, fmt.Errorf("apktest: %w", err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name != "AndroidManifest.xml" && f.Name != "resources.pb" {
			continue
		}
		r, err := f.Open()
		if err != nil {
			return nil, nil, fmt.Errorf("apktest: %w", err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("apktest: %w", err)
		}
		if f.Name == "AndroidManifest.xml" {
			xml = b
		} else {
			resources = b
		}
	}
	return xml, resources, nil
}
