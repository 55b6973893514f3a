package cli_test

import (
	"archive/zip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ripcordhq/ripcord/internal/apk/apktest"
	"github.com/ripcordhq/ripcord/internal/ipa/ipatest"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

// scriptT is the key under which Setup stores each script's testscript.T,
// so commands can skip a script the way the builtin skip does.
type scriptT struct{}

// androidFixtures builds the APKs, AABs and keys the artifact scripts use
// once per test binary, in dir, and copies them into each script's $WORK:
// aapt2 and apksigner runs are the slow part of these tests.
type androidFixtures struct {
	dir string

	keysOnce sync.Once
	keys     map[string]*apktest.Key // name → key, files written in dir/keys
	keysErr  error

	mu    sync.Mutex
	built map[string]*builtFixture // cache key → fixture
}

type builtFixture struct {
	once sync.Once
	path string
	err  error
}

// fixtureKeys are the keys make-keys writes: the app's upload key (RSA),
// the key it rotates to (EC), and an unrelated key (RSA).
var fixtureKeys = []struct{ name, kind string }{{"upload", "rsa"}, {"rotated", "ec"}, {"other", "rsa"}}

func newAndroidFixtures(dir string) *androidFixtures {
	return &androidFixtures{dir: dir, built: map[string]*builtFixture{}}
}

func (fx *androidFixtures) loadKeys() (map[string]*apktest.Key, error) {
	fx.keysOnce.Do(func() {
		dir := filepath.Join(fx.dir, "keys")
		if fx.keysErr = os.MkdirAll(dir, 0o755); fx.keysErr != nil {
			return
		}
		fx.keys = map[string]*apktest.Key{}
		for _, k := range fixtureKeys {
			key, err := apktest.GenerateKey(k.kind, k.name)
			if err != nil {
				fx.keysErr = err
				return
			}
			if _, err := key.WriteFiles(dir, k.name); err != nil {
				fx.keysErr = err
				return
			}
			fx.keys[k.name] = key
		}
	})
	return fx.keys, fx.keysErr
}

// build returns the cached fixture for key, making it with mk on first use.
func (fx *androidFixtures) build(key string, mk func(dir string) (string, error)) (string, error) {
	fx.mu.Lock()
	b := fx.built[key]
	if b == nil {
		b = &builtFixture{}
		fx.built[key] = b
	}
	fx.mu.Unlock()
	b.once.Do(func() {
		dir, err := os.MkdirTemp(fx.dir, "fixture-")
		if err != nil {
			b.err = err
			return
		}
		b.path, b.err = mk(dir)
	})
	return b.path, b.err
}

// checkFixture ends the script on err: a missing tool fails it in CI and
// skips it elsewhere, like testenv.Missing; anything else fails it.
func checkFixture(ts *testscript.TestScript, err error) {
	var me *apktest.MissingError
	if errors.As(err, &me) {
		missing(ts, me.What)
	}
	var ie *ipatest.MissingError
	if errors.As(err, &ie) {
		missing(ts, ie.What)
	}
	ts.Check(err)
}

func missing(ts *testscript.TestScript, what string) {
	if testenv.InCI() {
		ts.Fatalf("required in CI but missing: %s", what)
	}
	t, ok := ts.Value(scriptT{}).(testscript.T)
	if !ok {
		ts.Fatalf("missing %s, and the script cannot be skipped", what)
	}
	t.Skip("skipping: " + what + " is missing (CI fails here instead of skipping)")
}

// cmdNeed: need TOOL... — fail in CI, skip elsewhere, when a tool is
// missing. "android-framework-res" names aapt2's platform resources.
func cmdNeed(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: need TOOL...")
	}
	for _, name := range args {
		if name == "android-framework-res" {
			if _, err := os.Stat(apktest.FrameworkRes); err != nil {
				missing(ts, "android-framework-res (apt-get install android-framework-res)")
			}
			continue
		}
		var err error
		switch name {
		case "go", "openssl", "llvm-lipo":
			_, err = ipatest.Tool(name)
		default:
			_, err = apktest.Tool(name)
		}
		checkFixture(ts, err)
	}
}

// cmdMakeKeys: make-keys DIR — write the upload, rotated and other keys
// into DIR as NAME.pk8 (DER PKCS#8), NAME.key.pem (PEM PKCS#8), NAME.pem
// and NAME.der (certificate), NAME.jks (alias NAME, store password
// "storepass", key password "keypass") and NAME.p12 (password
// "storepass"), and set UPLOAD_SHA256, ROTATED_SHA256 and OTHER_SHA256 to
// their certificates' SHA-256 digests.
func (fx *androidFixtures) cmdMakeKeys(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: make-keys DIR")
	}
	keys, err := fx.loadKeys()
	ts.Check(err)
	dst := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dst, 0o755))
	for _, k := range fixtureKeys {
		for _, ext := range []string{".pk8", ".key.pem", ".pem", ".der", ".jks", ".p12"} {
			copyFile(ts, filepath.Join(fx.dir, "keys", k.name+ext), filepath.Join(dst, k.name+ext))
		}
		ts.Setenv(strings.ToUpper(k.name)+"_SHA256", keys[k.name].CertSHA256())
	}
}

// cmdMakeAPK: make-apk [-target N] DIR NAME minSdk versionCode versionName
// — write DIR/NAME, the apktest APK (package com.example.rollback,
// targetSdk 36 unless -target) signed by apksigner with the upload key.
func (fx *androidFixtures) cmdMakeAPK(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: make-apk [-target N] DIR NAME minSdk versionCode versionName"
	target := 36
	if len(args) > 2 && args[0] == "-target" {
		n, err := strconv.Atoi(args[1])
		if err != nil {
			ts.Fatalf("%s: %v", usage, err)
		}
		target, args = n, args[2:]
	}
	if neg || len(args) != 5 {
		ts.Fatalf(usage)
	}
	minSdk, err1 := strconv.Atoi(args[2])
	code, err2 := strconv.Atoi(args[3])
	if err := errors.Join(err1, err2); err != nil {
		ts.Fatalf("%s: %v", usage, err)
	}
	keys, err := fx.loadKeys()
	ts.Check(err)
	o := apktest.APKOptions{MinSdk: minSdk, TargetSdk: target, VersionCode: code, VersionName: args[4]}
	p, err := fx.build(fmt.Sprintf("apk %+v", o), func(dir string) (string, error) {
		unsigned, err := apktest.BuildAPK(dir, o)
		if err != nil {
			return "", err
		}
		signed := filepath.Join(dir, "signed.apk")
		return signed, apktest.SignWithApksigner(unsigned, signed, keys["upload"])
	})
	checkFixture(ts, err)
	copyFile(ts, p, filepath.Join(ts.MkAbs(args[0]), args[1]))
}

// cmdMakeAAB: make-aab DIR NAME versionCode versionName — write DIR/NAME,
// the unsigned apktest bundle (base, feature module, asset pack).
func (fx *androidFixtures) cmdMakeAAB(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: make-aab DIR NAME versionCode versionName")
	}
	code, err := strconv.Atoi(args[2])
	if err != nil {
		ts.Fatalf("make-aab: versionCode: %v", err)
	}
	o := apktest.AABOptions{VersionCode: code, VersionName: args[3]}
	p, err := fx.build(fmt.Sprintf("aab %+v", o), func(dir string) (string, error) { return apktest.BuildAAB(dir, o) })
	checkFixture(ts, err)
	copyFile(ts, p, filepath.Join(ts.MkAbs(args[0]), args[1]))
}

// cmdFlipByte: flip-byte FILE OFFSET — invert the bits of one byte. OFFSET
// is a byte offset in the file, or ENTRY+N for N bytes into the (stored)
// data of zip entry ENTRY, which stays put whatever the fixture's layout.
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flip-byte FILE OFFSET|ENTRY+N")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	var off int64
	if name, n, ok := strings.Cut(args[1], "+"); ok {
		zr, err := zip.OpenReader(path)
		ts.Check(err)
		defer zr.Close()
		var found *zip.File
		for _, f := range zr.File {
			if f.Name == name {
				found = f
			}
		}
		if found == nil {
			ts.Fatalf("flip-byte: %s has no entry %s", args[0], name)
		}
		data, err := found.DataOffset()
		ts.Check(err)
		k, err := strconv.ParseInt(n, 10, 64)
		ts.Check(err)
		if k < 0 || uint64(k) >= found.CompressedSize64 {
			ts.Fatalf("flip-byte: %s is %d bytes, no byte %d", name, found.CompressedSize64, k)
		}
		off = data + k
	} else {
		off, err = strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
	}
	if off < 0 || off >= int64(len(b)) {
		ts.Fatalf("flip-byte: offset %d outside %s (%d bytes)", off, args[0], len(b))
	}
	b[off] ^= 0xff
	ts.Check(os.WriteFile(path, b, 0o600))
}

func copyFile(ts *testscript.TestScript, src, dst string) {
	b, err := os.ReadFile(src)
	ts.Check(err)
	ts.Check(os.MkdirAll(filepath.Dir(dst), 0o755))
	ts.Check(os.WriteFile(dst, b, 0o600))
}
