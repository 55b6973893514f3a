package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord/internal/runbook"
)

func (c *CLI) runbookCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "runbook", Short: "Lint, push and read runbooks kept in the app's repository (.ripcord/)"}
	var format string
	lint := &cobra.Command{
		Use:   "lint [PATH...]",
		Short: "Check runbooks and the gate file against the ripcord/v1 format",
		Long: "Checks each runbook (.md) and gate file (gate.yaml) given, or every one under the given directories " +
			"(default .ripcord). Prints each finding at file:line with how to fix it and exits 1 when there are any. " +
			"--format github prints GitHub Actions annotations.",
	}
	lint.Flags().StringVar(&format, "format", "text", "text or github")
	lint.RunE = func(cmd *cobra.Command, args []string) error {
		if format != "text" && format != "github" {
			return usagef("--format %q is not known; use text or github", format)
		}
		if len(args) == 0 {
			args = []string{".ripcord"}
		}
		files, err := runbookFiles(args)
		if err != nil {
			return err
		}
		if len(files) == 0 {
			return fmt.Errorf("no runbooks found under %s: runbooks live in .ripcord/runbooks/<id>.md", strings.Join(args, ", "))
		}
		var findings []runbook.Finding
		runbooks := map[string]*runbook.Runbook{}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("read %s: %w", f, err)
			}
			if filepath.Base(f) == "gate.yaml" {
				_, fs := runbook.ParseGate(f, data)
				findings = append(findings, fs...)
				continue
			}
			rb, fs := runbook.Parse(f, data)
			findings = append(findings, fs...)
			runbooks[f] = rb
		}
		findings = append(findings, runbook.LintSet(runbooks)...)
		for _, f := range findings {
			if format == "github" {
				fmt.Fprintf(c.env.Stdout, "::error file=%s,line=%d,col=%d,title=ripcord runbook rule %d::%s\n", f.File, f.Line, max(f.Column, 1), f.Rule, escapeAnnotation(f.Message))
			} else {
				fmt.Fprintln(c.env.Stdout, f.String())
			}
		}
		if len(findings) > 0 {
			return fmt.Errorf("%d problem(s) in %d file(s)", len(findings), len(files))
		}
		fmt.Fprintf(c.env.Stdout, "%d file(s) lint clean\n", len(files))
		return nil
	}
	cmd.AddCommand(lint, c.runbookPushCmd(), c.runbookListCmd(), c.runbookShowCmd(), c.runbookVersionsCmd())
	return cmd
}

// runbookFiles expands directories into the runbook and gate files in them.
func runbookFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("runbook lint: %w", err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".md") && filepath.Base(filepath.Dir(p)) == "runbooks" || d.Name() == "gate.yaml") {
				out = append(out, p)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("runbook lint: %w", err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// escapeAnnotation encodes a message for a GitHub Actions workflow command.
func escapeAnnotation(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}
