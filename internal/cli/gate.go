package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

func (c *CLI) gateCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "gate", Short: "The go/no-go release gate: check a release, approve items (no override exists)"}
	check := &cobra.Command{Use: "check APP VERSION", Short: "Evaluate every gate item and record the decision; exits 1 on no-go", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.gateDecision(cmd, "POST", args[0], args[1], "/gate/check", true)
		}}
	show := &cobra.Command{Use: "show APP VERSION", Short: "Show the release's last recorded gate decision", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.gateDecision(cmd, "GET", args[0], args[1], "/gate", false)
		}}
	var evidence string
	approve := &cobra.Command{Use: "approve APP VERSION ITEM", Short: "Approve a gate item as a holder of its team role, or check a manual item with --evidence",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out httpapi.List[httpapi.GateApproval]
			if err := c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				return cl.Do(ctx, "POST", releasePath(args[0], args[1])+"/gate/approvals", nil, httpapi.GateApproveRequest{Item: args[2], Evidence: evidence}, &out)
			}); err != nil {
				return err
			}
			return c.printApprovals(out)
		}}
	approve.Flags().StringVar(&evidence, "evidence", "", "a note or a link showing the item holds (required for manual items)")
	approvals := &cobra.Command{Use: "approvals APP VERSION", Short: "List the release's approvals and manual checks", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out httpapi.List[httpapi.GateApproval]
			if err := c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				return cl.Do(ctx, "GET", releasePath(args[0], args[1])+"/gate/approvals", nil, nil, &out)
			}); err != nil {
				return err
			}
			return c.printApprovals(out)
		}}
	cmd.AddCommand(check, show, approve, approvals)
	return cmd
}

func releasePath(app, version string) string { return appPath(app) + "/releases/" + version }

func (c *CLI) printApprovals(out httpapi.List[httpapi.GateApproval]) error {
	return c.print(out, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ITEM\tROLE\tBY\tAT\tEVIDENCE")
		for _, a := range out.Items {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.Item, a.Role, a.Actor, a.ApprovedAt.Format("2006-01-02 15:04:05"), a.Evidence)
		}
	})
}

// gateDecision prints a decision; a no-go fails the command when
// failOnNoGo, so CI stops on it.
func (c *CLI) gateDecision(cmd *cobra.Command, method, app, version, suffix string, failOnNoGo bool) error {
	var d httpapi.GateDecision
	if err := c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
		return cl.Do(ctx, method, releasePath(app, version)+suffix, nil, nil, &d)
	}); err != nil {
		return err
	}
	err := c.print(d, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ITEM\tRESULT\tEVIDENCE")
		for _, it := range d.Items {
			res := "FAIL"
			if it.Pass {
				res = "pass"
			}
			ev := it.Evidence
			if len(ev) == 0 {
				ev = []string{""}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", it.ID, res, ev[0])
			for _, e := range ev[1:] {
				fmt.Fprintf(w, "\t\t%s\n", e)
			}
		}
		verdict := "NO-GO"
		if d.Go {
			verdict = "GO"
		}
		fmt.Fprintf(w, "\n%s for %s %s (decision %d by %s at %s, items hash %s)\n", verdict, d.App, d.Version, d.ID, d.DecidedBy,
			d.DecidedAt.Format("2006-01-02 15:04:05"), shortSHA(d.ItemsHash))
	})
	if err != nil {
		return err
	}
	if !d.Go && failOnNoGo {
		var failing []string
		for _, it := range d.Items {
			if !it.Pass {
				failing = append(failing, it.ID)
			}
		}
		return ripcord.Errorf(ripcord.ECONFLICT, "no-go: %s failing", strings.Join(failing, ", "))
	}
	return nil
}

// releaseChangesCmd is `ripcord release changes`, run by CI in the app's
// repository so the gate knows which flows a release touches.
func (c *CLI) releaseChangesCmd() *cobra.Command {
	var fromGit, files string
	var flags []string
	cmd := &cobra.Command{
		Use:   "changes APP VERSION",
		Short: "Record the paths and flags a release changes (CI, engineer)",
		Long: "Runs `git diff --name-only PREV..HEAD` in the current directory (--from-git PREV..HEAD), or reads one path per line " +
			"from --files FILE (- for stdin), and records them with the flags given by --flag. The gate matches them against each " +
			"runbook's covers to find the flows the release touches. Recording again replaces the earlier report.",
		Args: cobra.ExactArgs(2),
	}
	cmd.Flags().StringVar(&fromGit, "from-git", "", "git revision range, e.g. v1.1.0..HEAD")
	cmd.Flags().StringVar(&files, "files", "", "file with one changed path per line (- for stdin)")
	cmd.Flags().StringArrayVar(&flags, "flag", nil, "a feature flag the release changes (repeatable)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if (fromGit == "") == (files == "") {
			return usagef("give exactly one of --from-git PREV..HEAD and --files FILE")
		}
		var paths []string
		var source string
		if fromGit != "" {
			if !strings.Contains(fromGit, "..") || strings.HasPrefix(fromGit, "-") {
				return usagef("--from-git %q is not a range like v1.1.0..HEAD", fromGit)
			}
			out, err := exec.CommandContext(cmd.Context(), "git", "diff", "--name-only", fromGit, "--").Output()
			if err != nil {
				msg := err.Error()
				if ee, ok := err.(*exec.ExitError); ok {
					msg = strings.TrimSpace(string(ee.Stderr))
				}
				return fmt.Errorf("git diff --name-only %s: %s (run it inside the app's repository)", fromGit, msg)
			}
			paths, source = lines(string(out)), "git "+fromGit
		} else {
			var r io.Reader = c.env.Stdin
			if files != "-" {
				f, err := os.Open(files)
				if err != nil {
					return fmt.Errorf("release changes: %w", err)
				}
				defer f.Close()
				r = f
			}
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); l != "" {
					paths = append(paths, l)
				}
			}
			if err := sc.Err(); err != nil {
				return fmt.Errorf("read %s: %w", files, err)
			}
			source = "file " + files
		}
		var out httpapi.ReleaseChanges
		if err := c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
			return cl.Do(ctx, "PUT", releasePath(args[0], args[1])+"/changes", nil, httpapi.ReleaseChangesRequest{Paths: paths, Flags: flags, Source: source}, &out)
		}); err != nil {
			return err
		}
		return c.print(out, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "Recorded %d changed path(s) and %d flag(s) for %s %s (%s).\n", len(out.Paths), len(out.Flags), out.App, out.Version, out.Source)
		})
	}
	return cmd
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
