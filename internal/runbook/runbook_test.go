package runbook_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/runbook"
)

var update = flag.Bool("update", false, "rewrite the .golden files of the lint corpus")

func TestGoodRunbookParses(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/good/exam-submit.md")
	require.NoError(t, err)
	rb, findings := runbook.Parse("testdata/good/exam-submit.md", data)
	require.Empty(t, findings)
	require.Equal(t, "exam-submit", rb.ID)
	require.Equal(t, []string{"@akowalska", "team:assessments"}, rb.Owners)
	require.Len(t, rb.Triggers, 1)
	tr := rb.Triggers[0]
	require.Equal(t, "flow_error_rate", tr.Signal)
	require.InDelta(t, 0.05, tr.Threshold.Value, 1e-12)
	require.True(t, tr.Threshold.Percent)
	require.Equal(t, time.Minute, tr.Window)
	require.Equal(t, 5, tr.Consecutive)
	require.Equal(t, 30, tr.MinVolume)
	require.Len(t, rb.Steps, 4)
	require.Equal(t, 3*time.Minute, rb.Steps[1].Timebox)
	require.Equal(t, "go to step 4", rb.Steps[1].Otherwise)
	require.Len(t, rb.Rollback, 4)
	require.Equal(t, "flag", rb.Rollback[0].Level)
	require.Equal(t, 2*time.Minute, rb.Rollback[0].Budget)
	require.True(t, *rb.Rollback[2].Reversible)
	require.Equal(t, "submissions-prod", rb.Rollback[3].PITR.Database)
	require.Equal(t, 15*time.Minute, rb.Comms[0].After)
	require.Contains(t, rb.Body, "## Context")
	require.Len(t, rb.ContentHash, 64)

	// Any edit changes the content hash, which makes rehearsals stale.
	edited, _ := runbook.Parse("exam-submit.md", append(data, ' '))
	require.NotEqual(t, rb.ContentHash, edited.ContentHash)
}

// TestLintCorpus checks each bad runbook's findings against its golden
// file; every rule of the format has at least one failing example.
func TestLintCorpus(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/bad/*.md")
	require.NoError(t, err)
	rules := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			_, findings := runbook.Parse(filepath.ToSlash(f), data)
			require.NotEmpty(t, findings, "a bad runbook must have findings")
			var lines []string
			for _, fd := range findings {
				lines = append(lines, fd.String())
				require.Positive(t, fd.Line, "every finding has a line: %s", fd)
			}
			got := strings.Join(lines, "\n") + "\n"
			golden := strings.TrimSuffix(f, ".md") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create %s", golden)
			require.Equal(t, string(want), got)
			// The file's name says which rule it breaks; that rule must be reported.
			rule := strings.TrimPrefix(strings.SplitN(filepath.Base(f), "-", 2)[0], "r")
			require.Contains(t, got, "(rule "+strings.TrimLeft(rule, "0")+")")
		})
		rules[strings.SplitN(filepath.Base(f), "-", 2)[0]] = true
	}
	for r := 1; r <= 11; r++ {
		if r == 6 || r == 11 || r <= 10 {
			key := "r" + pad(r)
			require.True(t, rules[key], "rule %d has no failing example in testdata/bad", r)
		}
	}
}

func pad(n int) string {
	if n < 10 {
		return "0" + string(rune('0'+n))
	}
	return "1" + string(rune('0'+n-10))
}

func TestLintSetDuplicateIDs(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/good/exam-submit.md")
	require.NoError(t, err)
	a, _ := runbook.Parse("a/exam-submit.md", data)
	b, _ := runbook.Parse("b/exam-submit.md", data)
	findings := runbook.LintSet(map[string]*runbook.Runbook{"a/exam-submit.md": a, "b/exam-submit.md": b})
	require.Len(t, findings, 1)
	require.Equal(t, 11, findings[0].Rule)
	require.Equal(t, "b/exam-submit.md", findings[0].File)
	require.Contains(t, findings[0].Message, "also used by a/exam-submit.md")
}

func TestParseGate(t *testing.T) {
	t.Parallel()
	good := `apiVersion: ripcord/v1
kind: Gate
app: learner-app
items:
  - id: rollback-ready
    check: rollback_build_ready
  - id: approvals
    check: approvals
    roles: [release-manager, qa-lead]
  - id: cs-briefed
    who: [support-lead]
    description: Customer support has the release notes.
`
	g, findings := runbook.ParseGate("gate.yaml", []byte(good))
	require.Empty(t, findings)
	require.Len(t, g.Items, 3)
	require.Equal(t, []string{"release-manager", "qa-lead"}, g.Items[1].Roles)

	tests := []struct {
		name, yaml, want string
	}{
		{"UnknownCheck", "apiVersion: ripcord/v1\nkind: Gate\napp: a\nitems:\n  - id: x\n    check: vibes\n", `gate.yaml:5:5: check "vibes" is not known`},
		{"ApprovalsWithoutRoles", "apiVersion: ripcord/v1\nkind: Gate\napp: a\nitems:\n  - id: x\n    check: approvals\n", "must list the team roles"},
		{"ManualWithoutWho", "apiVersion: ripcord/v1\nkind: Gate\napp: a\nitems:\n  - id: x\n    description: something\n", "item x is manual"},
		{"UnknownKey", "apiVersion: ripcord/v1\nkind: Gate\napp: a\nitmes: []\n", `gate.yaml:4:1: unknown key "itmes" (did you mean "items"?)`},
		{"NotYAML", "items: [", "not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, findings := runbook.ParseGate("gate.yaml", []byte(tt.yaml))
			var all []string
			for _, f := range findings {
				all = append(all, f.String())
			}
			require.Contains(t, strings.Join(all, "\n"), tt.want)
		})
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.md")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rb, findings := runbook.Parse("fuzz.md", data)
		require.NotNil(t, rb)
		for _, fd := range findings {
			require.NotEmpty(t, fd.Message)
		}
	})
}
