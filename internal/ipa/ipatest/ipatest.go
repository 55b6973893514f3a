// Package ipatest builds iOS fixtures for tests: darwin Mach-O executables
// from the Go toolchain (GOOS=darwin), a universal binary assembled by
// internal/macho, a minimal Mach-O dylib for frameworks (Go cannot build
// darwin dylibs on Linux), a test CA standing in for Apple WWDR with
// distribution identities it issues, provisioning profiles (CMS-signed
// plists) and IPAs laid out as Xcode exports them: an app with an app
// extension, an App Clip, a framework and a loose dylib.
//
// It is a non-test package only so that several packages' tests can share
// it (internal/ipa, internal/cli); it is used only by tests, and production
// code must not import it.
//
// Builders return errors, for callers without a testing.TB such as
// testscript commands; the few used everywhere also come in a form that
// takes a testing.TB and ends the test on failure (NewPKI, Issue, Profile,
// NewFixture, …). A missing outside tool is a *MissingError; Check hands
// it to testenv.Missing, which fails the test in CI and skips it
// elsewhere.
package ipatest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/testenv"
)

// MissingError says an outside tool a fixture or oracle needs is absent.
type MissingError struct {
	What string // What names it and how to get it, e.g. "openssl (apt-get install openssl)".
}

// Error says what is missing.
func (e *MissingError) Error() string { return "ipatest: missing " + e.What }

// installHint says how to get each tool the fixtures and oracles use.
func installHint(name string) string {
	switch name {
	case "go":
		return "install Go; `go test` puts its own toolchain on PATH"
	case "openssl":
		return "apt-get install openssl"
	case "llvm-lipo":
		return "apt-get install llvm"
	}
	return "install it"
}

// Tool returns the absolute path of a tool, or a *MissingError saying how
// to install it.
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
	Check(tb, err)
	return p
}

// Check ends the test on err: through testenv.Missing for a *MissingError
// (a failure in CI, a skip elsewhere), as a failure otherwise.
func Check(tb testing.TB, err error) {
	tb.Helper()
	var me *MissingError
	if errors.As(err, &me) {
		testenv.Missing(tb, me.What)
	}
	require.NoError(tb, err)
}

// Binaries are darwin executables built by the Go toolchain, thin, with
// the ad-hoc signature the Go linker writes.
type Binaries struct {
	ARM64 []byte // ARM64 is built with GOARCH=arm64.
	AMD64 []byte // AMD64 is built with GOARCH=amd64.
}

// BuildBinaries builds a small Go program for darwin/arm64 and
// darwin/amd64 in dir. It takes a few seconds; build once per test binary
// (in TestMain, or behind a sync.Once) and share the result.
func BuildBinaries(dir string) (*Binaries, error) {
	goTool, err := Tool("go")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fixture\ngo 1.22\n"), 0o644); err != nil {
		return nil, fmt.Errorf("ipatest: write fixture module: %w", err)
	}
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"ripcord ipa fixture\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		return nil, fmt.Errorf("ipatest: write fixture module: %w", err)
	}
	bins := &Binaries{}
	for arch, dst := range map[string]*[]byte{"arm64": &bins.ARM64, "amd64": &bins.AMD64} {
		out := filepath.Join(dir, "bin-"+arch)
		cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ipatest: build darwin/%s fixture: %w\n%s", arch, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return nil, fmt.Errorf("ipatest: read darwin/%s fixture: %w", arch, err)
		}
		*dst = b
	}
	return bins, nil
}
