package ipa_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/ripcordhq/ripcord/internal/ipa/ipatest"
)

// bins and binsErr are the darwin executables TestMain builds once for the
// whole test binary; fixtures take them through darwinBinaries.
var (
	bins    *ipatest.Binaries
	binsErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipa-fixtures")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins, binsErr = ipatest.BuildBinaries(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// darwinBinaries returns TestMain's binaries; without a Go toolchain the
// test fails in CI and skips elsewhere.
func darwinBinaries(tb testing.TB) *ipatest.Binaries {
	tb.Helper()
	ipatest.Check(tb, binsErr)
	return bins
}

// newFixture builds a fixture IPA with its own CA and identities.
func newFixture(tb testing.TB, o ipatest.Options) *ipatest.Fixture {
	tb.Helper()
	return ipatest.NewFixture(tb, darwinBinaries(tb), ipatest.NewTeam(tb), o)
}
