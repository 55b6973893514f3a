// Package testenv decides what a test does when an outside tool or service it
// needs is missing: in CI (CI=true) the test fails, because a green CI run must
// mean every oracle ran; on a developer's machine it skips with a message that
// says what to install.
package testenv

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// InCI reports whether the tests run under continuous integration, where
// missing tools are failures rather than skips.
func InCI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// Missing ends the test because something outside the project is absent:
// t.Fatalf in CI, t.Skipf elsewhere. what names the tool or service and how to
// get it, e.g. "apksigner (apt-get install apksigner)".
func Missing(tb testing.TB, what string) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("required in CI but missing: %s", what)
	}
	tb.Skipf("skipping: %s is missing (CI fails here instead of skipping)", what)
}

// LookPath returns the absolute path of an executable the test needs, or ends
// the test through Missing. install says how to get it, e.g.
// "apt-get install apksigner".
func LookPath(tb testing.TB, name, install string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, name+" ("+install+")")
	}
	return p
}

// Getenv returns the value of an environment variable a test needs (such as
// RIPCORD_TEST_DATABASE_URL), or ends the test through Missing.
func Getenv(tb testing.TB, name, purpose string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(tb, name+" ("+purpose+")")
	}
	return v
}
