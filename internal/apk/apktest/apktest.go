// Package apktest builds Android fixtures for tests: APKs compiled with
// aapt2 against android-framework-res, AABs laid out the way bundletool
// lays them out, and signing keys generated in Go with every file format
// Android teams keep them in (PKCS#8 and X.509 as PEM or DER, JKS and
// PKCS#12 keystores).
//
// It is a non-test package only so that several packages' tests can share
// it (internal/apk, internal/cli, …); production code must not import it.
//
// Every builder comes in two forms: one that returns an error (BuildAPK,
// GenerateKey, …), for callers without a testing.TB such as testscript
// commands, and one that takes a testing.TB and ends the test on failure
// (APK, NewKey, …). A missing outside tool or file is a *MissingError; the
// testing.TB forms hand it to testenv.Missing, which fails the test in CI
// and skips it elsewhere.
package apktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/testenv"
)

// FrameworkRes is the platform resource table aapt2 links fixtures against
// (Debian's android-framework-res, API 29).
const FrameworkRes = "/usr/share/android-framework-res/framework-res.apk"

// MissingError says an outside tool or file a fixture needs is absent.
type MissingError struct {
	What string // What names it and how to get it, e.g. "aapt2 (apt-get install aapt)".
}

// Error says what is missing.
func (e *MissingError) Error() string { return "apktest: missing " + e.What }

// installHint says how to get each tool the fixtures and oracles use.
func installHint(name string) string {
	switch name {
	case "aapt", "aapt2":
		return "apt-get install aapt"
	case "apksigner", "zipalign":
		return "apt-get install " + name
	case "jarsigner":
		return "apt-get install default-jdk-headless"
	case "keytool":
		return "apt-get install default-jre-headless"
	}
	return "install it"
}

// Tool returns the absolute path of an Android or Java tool, or a
// *MissingError saying how to install it.
func Tool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", &MissingError{What: name + " (" + installHint(name) + ")"}
	}
	return p, nil
}

// NeedTool is Tool for tests: a missing tool goes to testenv.Missing.
func NeedTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := Tool(name)
	check(tb, err)
	return p
}

func frameworkRes() error {
	if _, err := os.Stat(FrameworkRes); err != nil {
		return &MissingError{What: "android-framework-res (apt-get install android-framework-res)"}
	}
	return nil
}

// check ends the test on err: through testenv.Missing for a *MissingError,
// as a failure otherwise.
func check(tb testing.TB, err error) {
	tb.Helper()
	var me *MissingError
	if errors.As(err, &me) {
		testenv.Missing(tb, me.What)
	}
	require.NoError(tb, err)
}

// RunTool runs a tool and returns its combined output; the error quotes
// the command line and the output.
func RunTool(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Run is RunTool for tests: it fails the test when the command fails.
func Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := RunTool(name, args...)
	require.NoError(tb, err)
	return out
}

// Open opens a file for the codecs, which read at offsets, and closes it
// when the test ends.
func Open(tb testing.TB, path string) (*os.File, int64) {
	tb.Helper()
	f, err := os.Open(path)
	require.NoError(tb, err)
	tb.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	require.NoError(tb, err)
	return f, st.Size()
}
