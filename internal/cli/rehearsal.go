package cli

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/runbooks"
)

func (c *CLI) rehearsalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "rehearsal", Short: "Rehearse a runbook in staging; Ripcord times every step and rollback level"}
	cmd.AddCommand(c.rehearsalStartCmd(), c.rehearsalStepCmd(), c.rehearsalLevelCmd("rollback-start"), c.rehearsalLevelCmd("rollback-end"),
		c.rehearsalFinishCmd(), c.rehearsalShowCmd(), c.rehearsalListCmd())
	return cmd
}

func rehearsalPath(app string, id int64) string {
	return appPath(app) + "/rehearsals/" + strconv.FormatInt(id, 10)
}

func parseRehearsalID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, usagef("rehearsal id %q is not a number (see `ripcord rehearsal list --app APP`)", s)
	}
	return id, nil
}

func (c *CLI) rehearsalStartCmd() *cobra.Command {
	var app, env string
	var noWalk bool
	cmd := &cobra.Command{
		Use:   "start RUNBOOK",
		Short: "Start a rehearsal and walk its steps and rollback levels interactively (engineer)",
		Long: "Starts a rehearsal of the runbook's current version and walks it: each step is started and ended with its outcome, " +
			"then each rollback level is marked started and ended while Ripcord times it on its own clock (no time is typed in), " +
			"then the rehearsal is finished with its outcome and the result line is printed. Input ending early leaves the rehearsal " +
			"unfinished, and an unfinished rehearsal records nothing as rehearsed. --no-walk only starts it, for driving it step by step.",
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&app, "app", "", "the app the runbook belongs to")
	cmd.Flags().StringVar(&env, "env", "staging", "the non-production environment rehearsed in")
	cmd.Flags().BoolVar(&noWalk, "no-walk", false, "only start the rehearsal and print it")
	_ = cmd.MarkFlagRequired("app")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return c.withClient(cmd, 0, func(ctx context.Context, cl *apiclient.Client) error {
			var r httpapi.Rehearsal
			call := func(method, path string, body any) error {
				cctx, cancel := context.WithTimeout(ctx, apiclient.Timeout)
				defer cancel()
				return cl.Do(cctx, method, path, nil, body, &r)
			}
			if err := call("POST", appPath(app)+"/rehearsals", httpapi.RehearsalStartRequest{Runbook: args[0], Env: env}); err != nil {
				return err
			}
			if noWalk || c.jsonOut {
				return c.printRehearsal(r)
			}
			return c.walk(&r, call)
		})
	}
	return cmd
}

// walk leads the rehearser through a started rehearsal, one prompt per
// mark. Every time comes from the server when the mark is sent.
func (c *CLI) walk(r *httpapi.Rehearsal, call func(method, path string, body any) error) error {
	out := c.env.Stdout
	in := bufio.NewScanner(c.env.Stdin)
	base := rehearsalPath(r.App, r.ID)
	fmt.Fprintf(out, "Rehearsal %d of %s (version %d, content %s) in %s, started by %s.\n", r.ID, r.Runbook, r.Version, shortSHA(r.ContentHash), r.Env, r.StartedBy)
	unfinished := func() error {
		return fmt.Errorf("input ended: rehearsal %d is unfinished and records nothing as rehearsed; continue it with `ripcord rehearsal step|rollback-start|rollback-end|finish %d --app %s`", r.ID, r.ID, r.App)
	}
	ask := func(prompt string, needText bool) (string, bool) {
		for {
			fmt.Fprint(out, prompt)
			if !in.Scan() {
				fmt.Fprintln(out)
				return "", false
			}
			line := strings.TrimSpace(in.Text())
			if line != "" || !needText {
				return line, true
			}
		}
	}
	for _, st := range r.Steps {
		fmt.Fprintf(out, "\nStep %d (%s, %s): %s\n", st.N, durText(st.Timebox), st.Role, st.Do)
		if st.EndedAt != nil {
			fmt.Fprintf(out, "Already ended: %s\n", st.Outcome)
			continue
		}
		if _, ok := ask(fmt.Sprintf("Press Enter to start step %d> ", st.N), false); !ok {
			return unfinished()
		}
		if err := call("POST", fmt.Sprintf("%s/steps/%d/start", base, st.N), nil); err != nil {
			return err
		}
		outcome, ok := ask(fmt.Sprintf("Outcome of step %d> ", st.N), true)
		if !ok {
			return unfinished()
		}
		if err := call("POST", fmt.Sprintf("%s/steps/%d/end", base, st.N), httpapi.RehearsalOutcomeRequest{Outcome: outcome}); err != nil {
			return err
		}
		m := r.Steps[st.N-1]
		if m.StartedAt != nil && m.EndedAt != nil {
			fmt.Fprintf(out, "Step %d took %s (time box %s).\n", st.N, runbooks.FormatMeasured(m.EndedAt.Sub(*m.StartedAt)), durText(st.Timebox))
		}
	}
	for _, l := range r.Levels {
		fmt.Fprintf(out, "\nRollback level %d: %s, budget %s. Ripcord cannot execute it yet: do it now; Ripcord times it.\n", l.Index, l.What, durText(l.Budget))
		if _, ok := ask("Press Enter as you start it> ", false); !ok {
			return unfinished()
		}
		if err := call("POST", fmt.Sprintf("%s/rollback/%d/start", base, l.Index), nil); err != nil {
			return err
		}
		if _, ok := ask("Press Enter once its verify holds> ", false); !ok {
			return unfinished()
		}
		if err := call("POST", fmt.Sprintf("%s/rollback/%d/end", base, l.Index), nil); err != nil {
			return err
		}
		m := r.Levels[l.Index-1]
		if m.StartedAt != nil && m.EndedAt != nil {
			over := ""
			if d := m.EndedAt.Sub(*m.StartedAt); d > m.Budget {
				over = " OVER BUDGET"
			}
			fmt.Fprintf(out, "Measured %s (budget %s)%s.\n", runbooks.FormatMeasured(m.EndedAt.Sub(*m.StartedAt)), durText(l.Budget), over)
		}
	}
	outcome, ok := ask("\nOutcome of the rehearsal> ", true)
	if !ok {
		return unfinished()
	}
	if err := call("POST", base+"/finish", httpapi.RehearsalOutcomeRequest{Outcome: outcome}); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s\n", r.Result)
	return nil
}

func durText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (c *CLI) printRehearsal(r httpapi.Rehearsal) error {
	return c.print(r, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "REHEARSAL\t%d\nRUNBOOK\t%s (version %d, content %s)\nENV\t%s\nSTATE\t%s\nSTARTED\t%s by %s\n",
			r.ID, r.Runbook, r.Version, shortSHA(r.ContentHash), r.Env, r.State, r.StartedAt.Format(time.RFC3339), r.StartedBy)
		if r.Result != "" {
			fmt.Fprintf(w, "RESULT\t%s\n", r.Result)
		}
		fmt.Fprintln(w, "\nMARK\tSTARTED\tENDED\tTOOK\tBY\tOUTCOME")
		for _, st := range r.Steps {
			fmt.Fprintf(w, "step %d\t%s\t%s\t%s\t%s\t%s\n", st.N, timeText(st.StartedAt), timeText(st.EndedAt), took(st.StartedAt, st.EndedAt, st.Timebox), st.StartedBy, st.Outcome)
		}
		for _, l := range r.Levels {
			fmt.Fprintf(w, "rollback %d (%s)\t%s\t%s\t%s\t%s\t\n", l.Index, l.Level, timeText(l.StartedAt), timeText(l.EndedAt), took(l.StartedAt, l.EndedAt, l.Budget), l.StartedBy)
		}
		for _, m := range r.Missing {
			fmt.Fprintf(w, "MISSING\t%s\n", m)
		}
	})
}

func timeText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("15:04:05")
}

func took(from, to *time.Time, limit time.Duration) string {
	if from == nil || to == nil {
		return "-"
	}
	return runbooks.FormatMeasured(to.Sub(*from)) + " / " + durText(limit)
}

func (c *CLI) rehearsalStepCmd() *cobra.Command {
	var app, outcome string
	var start, end bool
	cmd := &cobra.Command{Use: "step ID N", Short: "Mark a rehearsal step started (--start) or ended with its outcome (--end --outcome TEXT)", Args: cobra.ExactArgs(2)}
	cmd.Flags().StringVar(&app, "app", "", "the app")
	cmd.Flags().BoolVar(&start, "start", false, "mark the step started")
	cmd.Flags().BoolVar(&end, "end", false, "mark the step ended")
	cmd.Flags().StringVar(&outcome, "outcome", "", "what happened (with --end)")
	_ = cmd.MarkFlagRequired("app")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := parseRehearsalID(args[0])
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return usagef("step %q is not a step number", args[1])
		}
		if start == end {
			return usagef("give exactly one of --start and --end")
		}
		path, body := fmt.Sprintf("%s/steps/%d/start", rehearsalPath(app, id), n), any(nil)
		if end {
			path, body = fmt.Sprintf("%s/steps/%d/end", rehearsalPath(app, id), n), httpapi.RehearsalOutcomeRequest{Outcome: outcome}
		}
		return c.rehearsalCall(cmd, path, body)
	}
	return cmd
}

func (c *CLI) rehearsalCall(cmd *cobra.Command, path string, body any) error {
	var r httpapi.Rehearsal
	if err := c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
		return cl.Do(ctx, "POST", path, nil, body, &r)
	}); err != nil {
		return err
	}
	return c.printRehearsal(r)
}

func (c *CLI) rehearsalLevelCmd(verb string) *cobra.Command {
	var app string
	what := map[string]string{"rollback-start": "start", "rollback-end": "end"}[verb]
	cmd := &cobra.Command{Use: verb + " ID LEVEL", Short: "Mark the " + what + " of a rollback level (its number or unique name); Ripcord takes the time from its own clock",
		Args: cobra.ExactArgs(2)}
	cmd.Flags().StringVar(&app, "app", "", "the app")
	_ = cmd.MarkFlagRequired("app")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := parseRehearsalID(args[0])
		if err != nil {
			return err
		}
		return c.rehearsalCall(cmd, rehearsalPath(app, id)+"/rollback/"+url.PathEscape(args[1])+"/"+what, nil)
	}
	return cmd
}

func (c *CLI) rehearsalFinishCmd() *cobra.Command {
	var app, outcome string
	cmd := &cobra.Command{Use: "finish ID", Short: "Finish a rehearsal with its outcome; refused while a step or rollback level is not marked", Args: cobra.ExactArgs(1)}
	cmd.Flags().StringVar(&app, "app", "", "the app")
	cmd.Flags().StringVar(&outcome, "outcome", "", "how it went, e.g. \"Flag disabled, staging back to baseline.\"")
	_ = cmd.MarkFlagRequired("app")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := parseRehearsalID(args[0])
		if err != nil {
			return err
		}
		return c.rehearsalCall(cmd, rehearsalPath(app, id)+"/finish", httpapi.RehearsalOutcomeRequest{Outcome: outcome})
	}
	return cmd
}

func (c *CLI) rehearsalShowCmd() *cobra.Command {
	var app string
	cmd := &cobra.Command{Use: "show ID", Short: "Show a rehearsal's marks and what it still lacks", Args: cobra.ExactArgs(1)}
	cmd.Flags().StringVar(&app, "app", "", "the app")
	_ = cmd.MarkFlagRequired("app")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := parseRehearsalID(args[0])
		if err != nil {
			return err
		}
		var r httpapi.Rehearsal
		if err := c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
			return cl.Do(ctx, "GET", rehearsalPath(app, id), nil, nil, &r)
		}); err != nil {
			return err
		}
		return c.printRehearsal(r)
	}
	return cmd
}

func (c *CLI) rehearsalListCmd() *cobra.Command {
	var app, rb string
	cmd := &cobra.Command{Use: "list", Short: "List an app's rehearsals, newest first", Args: cobra.NoArgs}
	cmd.Flags().StringVar(&app, "app", "", "the app")
	cmd.Flags().StringVar(&rb, "runbook", "", "only rehearsals of this runbook")
	_ = cmd.MarkFlagRequired("app")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var out httpapi.List[httpapi.Rehearsal]
		q := url.Values{}
		if rb != "" {
			q.Set("runbook", rb)
		}
		if err := c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
			return cl.Do(ctx, "GET", appPath(app)+"/rehearsals", q, nil, &out)
		}); err != nil {
			return err
		}
		return c.print(out, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "ID\tRUNBOOK\tVERSION\tENV\tSTATE\tSTARTED\tRESULT")
			for _, r := range out.Items {
				fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.Runbook, r.Version, r.Env, r.State, r.StartedAt.Format("2006-01-02 15:04"), r.Result)
			}
		})
	}
	return cmd
}
