package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/runbook"
)

func (c *CLI) runbookPushCmd() *cobra.Command {
	var app, gitSHA, format string
	cmd := &cobra.Command{
		Use:   "push [DIR]",
		Short: "Push the app's runbooks and gate file to Ripcord from CI (engineer)",
		Long: "Reads DIR (default .ripcord): runbooks/*.md and gate.yaml. Refuses to push unless everything lints clean, printing " +
			"the same findings as `ripcord runbook lint`. The git sha comes from --git-sha or `git rev-parse HEAD`. Ripcord stores a new " +
			"version of each runbook whose content changed; identical content makes no version.",
		Args: cobra.MaximumNArgs(1),
	}
	cmd.Flags().StringVar(&app, "app", "", "the app the runbooks belong to")
	cmd.Flags().StringVar(&gitSHA, "git-sha", "", "commit the runbooks come from (default: git rev-parse HEAD)")
	cmd.Flags().StringVar(&format, "format", "text", "findings as text or github annotations")
	_ = cmd.MarkFlagRequired("app")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if format != "text" && format != "github" {
			return usagef("--format %q is not known; use text or github", format)
		}
		dir := ".ripcord"
		if len(args) == 1 {
			dir = args[0]
		}
		files, err := runbookFiles([]string{dir})
		if err != nil {
			return err
		}
		var req httpapi.RunbookPushRequest
		var findings []runbook.Finding
		set := map[string]*runbook.Runbook{}
		var gate *runbook.Gate
		gateName := ""
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("read %s: %w", f, err)
			}
			rel, err := filepath.Rel(dir, f)
			if err != nil {
				return fmt.Errorf("runbook push: %w", err)
			}
			req.Files = append(req.Files, httpapi.RunbookFile{Path: filepath.ToSlash(rel), Content: string(data)})
			if filepath.Base(f) == "gate.yaml" {
				g, fs := runbook.ParseGate(f, data)
				findings = append(findings, fs...)
				gate, gateName = g, f
				continue
			}
			rb, fs := runbook.Parse(f, data)
			findings = append(findings, fs...)
			set[f] = rb
		}
		if len(set) == 0 {
			return fmt.Errorf("no runbooks found under %s: runbooks live in .ripcord/runbooks/<id>.md", dir)
		}
		findings = append(findings, runbook.LintSet(set)...)
		if len(findings) == 0 {
			findings = runbook.LintPush(app, set, gateName, gate)
		}
		if len(findings) > 0 {
			c.printFindings(findings, format)
			return fmt.Errorf("push refused: %d problem(s) in %d file(s); nothing was pushed", len(findings), len(files))
		}
		if req.GitSHA = gitSHA; req.GitSHA == "" {
			out, err := exec.CommandContext(cmd.Context(), "git", "-C", dir, "rev-parse", "HEAD").Output()
			if err != nil {
				return usagef("cannot read the git sha (%v): run inside the app's repository or pass --git-sha", err)
			}
			req.GitSHA = strings.TrimSpace(string(out))
		}
		var res httpapi.RunbookPushResult
		err = c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
			return cl.Do(ctx, "POST", appPath(app)+"/runbooks/push", nil, req, &res)
		})
		if err != nil {
			return err
		}
		return c.print(res, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "RUNBOOK\tOUTCOME\tVERSION")
			for _, r := range res.Runbooks {
				fmt.Fprintf(w, "%s\t%s\t%s\n", r.ID, r.Outcome, dashID(r.Version))
			}
			if res.Gate != "" {
				fmt.Fprintf(w, "gate.yaml\t%s\t-\n", res.Gate)
			}
		})
	}
	return cmd
}

// printFindings prints lint findings as `ripcord runbook lint` does.
func (c *CLI) printFindings(findings []runbook.Finding, format string) {
	for _, f := range findings {
		if format == "github" {
			fmt.Fprintf(c.env.Stdout, "::error file=%s,line=%d,col=%d,title=ripcord runbook rule %d::%s\n", f.File, f.Line, max(f.Column, 1), f.Rule, escapeAnnotation(f.Message))
		} else {
			fmt.Fprintln(c.env.Stdout, f.String())
		}
	}
}

func dashID(n int64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func confirmedText(cs []httpapi.RunbookConfirmed) string {
	if len(cs) == 0 {
		return "not rehearsed"
	}
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		mark := ""
		if !c.Within {
			mark = " OVER BUDGET"
		}
		parts = append(parts, fmt.Sprintf("%s %.0fs/%.0fs%s", c.Level, c.MeasuredSeconds, c.BudgetSeconds, mark))
	}
	return strings.Join(parts, ", ")
}

func (c *CLI) runbookListCmd() *cobra.Command {
	var flow string
	cmd := &cobra.Command{Use: "list APP", Short: "List an app's current runbooks", Args: cobra.ExactArgs(1)}
	cmd.Flags().StringVar(&flow, "flow", "", "only runbooks of this flow")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var out httpapi.List[httpapi.Runbook]
		err := c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
			q := url.Values{}
			if flow != "" {
				q.Set("flow", flow)
			}
			return cl.Do(ctx, "GET", appPath(args[0])+"/runbooks", q, nil, &out)
		})
		if err != nil {
			return err
		}
		return c.print(out, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "RUNBOOK\tFLOW\tVERSION\tGIT SHA\tCONFIRMED\tPUSHED")
			for _, rb := range out.Items {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", rb.ID, rb.Flow, rb.Version, shortSHA(rb.GitSHA), confirmedText(rb.Confirmed), rb.PushedAt.Format("2006-01-02 15:04"))
			}
		})
	}
	return cmd
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func (c *CLI) runbookShowCmd() *cobra.Command {
	var version int64
	var html bool
	cmd := &cobra.Command{Use: "show APP RUNBOOK", Short: "Show a runbook version (the current one by default)", Args: cobra.ExactArgs(2)}
	cmd.Flags().Int64Var(&version, "version", 0, "version number (see `ripcord runbook versions`)")
	cmd.Flags().BoolVar(&html, "html", false, "print the HTML the dashboard shows")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		q := url.Values{}
		if version != 0 {
			q.Set("version", strconv.FormatInt(version, 10))
		}
		path := appPath(args[0]) + "/runbooks/" + url.PathEscape(args[1])
		if html {
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var page strings.Builder
				if err := cl.DoRaw(ctx, "GET", path+"/html", q, &page); err != nil {
					return err
				}
				fmt.Fprintln(c.env.Stdout, page.String())
				return nil
			})
		}
		var rb httpapi.Runbook
		if err := c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
			return cl.Do(ctx, "GET", path, q, nil, &rb)
		}); err != nil {
			return err
		}
		return c.print(rb, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "RUNBOOK\t%s\nFLOW\t%s\nVERSION\t%d\nGIT SHA\t%s\nCONTENT HASH\t%s\nPUSHED\t%s by %s\nCONFIRMED\t%s\n\n",
				rb.ID, rb.Flow, rb.Version, rb.GitSHA, rb.ContentHash, rb.PushedAt.Format("2006-01-02 15:04:05"), rb.PushedBy, confirmedText(rb.Confirmed))
			w.Flush()
			fmt.Fprint(c.env.Stdout, rb.Content)
		})
	}
	return cmd
}

func (c *CLI) runbookVersionsCmd() *cobra.Command {
	return &cobra.Command{Use: "versions APP RUNBOOK", Short: "List a runbook's versions, newest first", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out httpapi.List[httpapi.Runbook]
			if err := c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				return cl.Do(ctx, "GET", appPath(args[0])+"/runbooks/"+url.PathEscape(args[1])+"/versions", nil, nil, &out)
			}); err != nil {
				return err
			}
			return c.print(out, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "VERSION\tGIT SHA\tCONTENT HASH\tCONFIRMED\tPUSHED BY\tPUSHED")
				for _, rb := range out.Items {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", rb.Version, shortSHA(rb.GitSHA), shortSHA(rb.ContentHash), confirmedText(rb.Confirmed), rb.PushedBy, rb.PushedAt.Format("2006-01-02 15:04"))
				}
			})
		}}
}
