package runbook_test

import (
	"os"
	"testing"

	"github.com/ripcordhq/ripcord/internal/runbook"
)

// FuzzParseGate feeds gate files (outside bytes pushed from an app's
// repository) to the gate parser and the push-time rules: no panic, and
// every finding says something.
func FuzzParseGate(f *testing.F) {
	f.Add([]byte("apiVersion: ripcord/v1\nkind: Gate\napp: a\nitems:\n  - id: x\n    check: approvals\n    roles: [qa-lead]\n"))
	f.Add([]byte("items: [{id: m, who: ['@ana'], description: d}]"))
	f.Add([]byte("- :\n\t"))
	good, err := os.ReadFile("testdata/good/exam-submit.md")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, findings := runbook.ParseGate(".ripcord/gate.yaml", data)
		for _, fd := range findings {
			if fd.Message == "" {
				t.Fatalf("empty finding %+v", fd)
			}
		}
		rb, _ := runbook.Parse(".ripcord/runbooks/exam-submit.md", good)
		for _, fd := range runbook.LintPush("learner-app", map[string]*runbook.Runbook{"exam-submit.md": rb}, ".ripcord/gate.yaml", g) {
			if fd.Message == "" {
				t.Fatalf("empty finding %+v", fd)
			}
		}
	})
}
