package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// rollbackWithdrawCmd is `ripcord release rollback-build withdraw APP
// VERSION --platform ios [--yes]`: withdrawing deletes an App Store version
// and leaves the release without a one-click rollback on iOS, so it says
// exactly that and needs a confirmation, typed at a terminal or --yes.
func (c *CLI) rollbackWithdrawCmd() *cobra.Command {
	var platform string
	var yes bool
	cmd := &cobra.Command{Use: "withdraw APP VERSION",
		Short: "Withdraw a release's iOS rollback from the App Store so the next version can be created (release-manager)",
		Long: "An approved iOS rollback waits in Pending Developer Release, and the App Store creates no new version while it does. " +
			"Withdrawing cancels its review or developer-rejects it, then deletes its App Store version; the release then has no " +
			"one-click rollback on iOS, and the next release gets its own once it is released. It asks for confirmation (or --yes).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if platform != string(ripcord.IOS) {
				return usagef("only iOS rollbacks are withdrawn; give --platform ios")
			}
			return c.withClient(cmd, apiclient.Timeout+2*time.Minute, func(ctx context.Context, cl *apiclient.Client) error {
				path := appPath(args[0]) + "/releases/" + url.PathEscape(args[1]) + "/rollback-build"
				q := url.Values{"platform": {platform}}
				var rb httpapi.RollbackBuild
				if err := cl.Do(ctx, "GET", path, q, nil, &rb); err != nil {
					return err
				}
				if rb.Withdrawal == "" {
					return ripcord.Errorf(ripcord.ECONFLICT, "the iOS rollback of %s %s is %s: there is nothing to withdraw", args[0], args[1], rb.State)
				}
				fmt.Fprintf(c.env.Stderr, "Withdrawing the iOS rollback of %s %s: %s\n", args[0], args[1], rb.Withdrawal)
				if !yes {
					if !c.stdinTerminal() {
						return usagef("not withdrawn: confirm with --yes (or run it at a terminal and type yes)")
					}
					fmt.Fprint(c.env.Stderr, "Type yes to withdraw: ")
					line, _ := bufio.NewReader(c.env.Stdin).ReadString('\n')
					if strings.TrimSpace(line) != "yes" {
						return fmt.Errorf("not withdrawn: the answer was not yes")
					}
				}
				if err := cl.Do(ctx, "POST", path+"/withdraw", q, httpapi.RollbackWithdrawRequest{Confirm: true}, &rb); err != nil {
					return err
				}
				return c.print(rb, func(w *tabwriter.Writer) { printRollbackBuild(w, rb) })
			})
		}}
	cmd.Flags().StringVar(&platform, "platform", string(ripcord.IOS), "ios (the only platform with a rollback version to withdraw)")
	cmd.Flags().BoolVar(&yes, "yes", false, "withdraw without asking")
	return cmd
}

// stdinTerminal reports whether a person can answer a question on stdin.
func (c *CLI) stdinTerminal() bool {
	w, ok := c.env.Stdin.(io.Writer) // an *os.File
	return ok && c.env.IsTerminal != nil && c.env.IsTerminal(w)
}

// printRollbackBuild prints a rollback build for people.
func printRollbackBuild(w *tabwriter.Writer, rb httpapi.RollbackBuild) {
	fmt.Fprintf(w, "TARGET\t%s %s (%s)\n", rb.App, rb.TargetVersion, rb.Platform)
	fmt.Fprintf(w, "STATE\t%s\n", rb.State)
	if rb.Reason != "" {
		fmt.Fprintf(w, "REASON\t%s\n", rb.Reason)
	}
	if rb.Version != "" {
		fmt.Fprintf(w, "ROLLBACK\t%s (%s)\n", rb.Version, rb.BuildNumber)
		fmt.Fprintf(w, "SOURCE\tbuild %d, sha256 %s\n", rb.SourceBuildID, rb.SourceSHA256)
	}
	if rb.SHA256 != "" {
		fmt.Fprintf(w, "SHA256\t%s\n", rb.SHA256)
		fmt.Fprintf(w, "SIGNER\t%s\n", rb.SignerCertSHA256)
	}
	if len(rb.Findings) > 0 && string(rb.Findings) != "[]" {
		fmt.Fprintf(w, "FINDINGS\t%s\n", rb.Findings)
	}
	if rb.StoreRef != "" {
		fmt.Fprintf(w, "STORE\t%s\n", rb.StoreRef)
	}
	printRollbackStoreVersion(w, rb)
}

// printRollbackStoreVersion prints the iOS App Store version lines.
func printRollbackStoreVersion(w *tabwriter.Writer, rb httpapi.RollbackBuild) {
	if rb.StoreVersionID != "" {
		fmt.Fprintf(w, "APP STORE VERSION\t%s (%s)\n", rb.StoreVersionState, rb.StoreVersionID)
	}
	if rb.TargetReleasedAt != nil {
		fmt.Fprintf(w, "TARGET RELEASED\t%s\n", rb.TargetReleasedAt.Format(time.DateTime))
	}
	if rb.ApprovedAt != nil {
		fmt.Fprintf(w, "APPROVED\t%s\n", rb.ApprovedAt.Format(time.DateTime))
	}
	if rb.Protection != "" {
		fmt.Fprintf(w, "PROTECTION\t%s\n", rb.Protection)
	}
	if rb.SupersededAt != nil {
		fmt.Fprintf(w, "SUPERSEDED\t%s\n", rb.SupersededAt.Format(time.DateTime))
	}
}
