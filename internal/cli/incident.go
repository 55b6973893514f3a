package cli

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// incidentCmd is `ripcord incident list|show|open|resolve`.
func (c *CLI) incidentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "incident", Short: "List, show, declare and resolve incidents"}
	var app string
	var openOnly bool
	list := &cobra.Command{Use: "list", Short: "List incidents, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if app != "" {
				q.Set("app", app)
			}
			if openOnly {
				q.Set("open", "true")
			}
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var l httpapi.List[httpapi.Incident]
				if err := cl.Do(ctx, "GET", "/api/v1/incidents", q, nil, &l); err != nil {
					return err
				}
				return c.print(l, func(w *tabwriter.Writer) {
					fmt.Fprintln(w, "ID\tAPP\tVERSION\tPLATFORM\tSTATE\tOPENED\tTRIGGER\tDECISION")
					for _, in := range l.Items {
						fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, in.App, in.Version, in.Platform, in.State,
							in.OpenedAt.Format(time.DateTime), in.Trigger, in.Decision)
					}
				})
			})
		}}
	list.Flags().StringVar(&app, "app", "", "only this app's incidents")
	list.Flags().BoolVar(&openOnly, "open", false, "only incidents not resolved")

	show := &cobra.Command{Use: "show ID", Short: "Show an incident and its timeline", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseIncidentID(args[0])
			if err != nil {
				return err
			}
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var in httpapi.Incident
				if err := cl.Do(ctx, "GET", "/api/v1/incidents/"+strconv.FormatInt(id, 10), nil, nil, &in); err != nil {
					return err
				}
				return c.printIncident(in)
			})
		}}

	var summary string
	resolve := &cobra.Command{Use: "resolve ID --summary TEXT", Short: "Resolve an incident with a summary of what happened (release-manager)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseIncidentID(args[0])
			if err != nil {
				return err
			}
			if summary == "" {
				return usagef("say what happened with --summary, e.g. --summary \"halted at 20 %%; 1.2.1 fixes the crash\"")
			}
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var in httpapi.Incident
				if err := cl.Do(ctx, "POST", "/api/v1/incidents/"+strconv.FormatInt(id, 10)+"/resolve", nil, httpapi.IncidentResolveRequest{Summary: summary}, &in); err != nil {
					return err
				}
				return c.printIncident(in)
			})
		}}
	resolve.Flags().StringVar(&summary, "summary", "", "what happened and what fixed it (required)")

	var req httpapi.IncidentOpenRequest
	open := &cobra.Command{Use: "open APP VERSION --platform P --decision TEXT", Short: "Declare an incident on a release by hand (engineer)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Platform == "" || req.Decision == "" {
				return usagef("name the platform with --platform (ios or android) and say why with --decision")
			}
			req.App, req.Version = args[0], args[1]
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var in httpapi.Incident
				if err := cl.Do(ctx, "POST", "/api/v1/incidents", nil, req, &in); err != nil {
					return err
				}
				return c.printIncident(in)
			})
		}}
	open.Flags().StringVar(&req.Platform, "platform", "", "ios or android (required)")
	open.Flags().StringVar(&req.Decision, "decision", "", "why, in one sentence (required)")
	open.Flags().StringVar(&req.Trigger, "trigger", "manual", "manual, health:<metric> or runbook:<runbook>/<trigger>")
	open.Flags().StringVar(&req.RunbookID, "runbook", "", "the runbook that applies")

	cmd.AddCommand(list, show, open, resolve)
	return cmd
}

func parseIncidentID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, usagef("incident id %q must be a positive whole number; `ripcord incident list` shows them", s)
	}
	return id, nil
}

func (c *CLI) printIncident(in httpapi.Incident) error {
	return c.print(in, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "INCIDENT\t%d\n", in.ID)
		fmt.Fprintf(w, "RELEASE\t%s %s (%s)\n", in.App, in.Version, in.Platform)
		fmt.Fprintf(w, "STATE\t%s\n", in.State)
		fmt.Fprintf(w, "TRIGGER\t%s\n", in.Trigger)
		fmt.Fprintf(w, "DECISION\t%s\n", in.Decision)
		if in.RunbookID != "" {
			fmt.Fprintf(w, "RUNBOOK\t%s\n", in.RunbookID)
		}
		fmt.Fprintf(w, "OPENED\t%s by %s\n", in.OpenedAt.Format(time.DateTime), in.OpenedBy)
		if in.MitigatedAt != nil {
			fmt.Fprintf(w, "MITIGATED\t%s\n", in.MitigatedAt.Format(time.DateTime))
		}
		if in.ResolvedAt != nil {
			fmt.Fprintf(w, "RESOLVED\t%s by %s\n", in.ResolvedAt.Format(time.DateTime), in.ResolvedBy)
			fmt.Fprintf(w, "SUMMARY\t%s\n", in.Summary)
		}
		if len(in.Timeline) > 0 {
			fmt.Fprintln(w, "TIMELINE")
			for _, e := range in.Timeline {
				fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", e.At.Format(time.DateTime), e.Kind, e.Actor, e.Message)
			}
		}
	})
}

// printHealthSources adds the health pollers' freshness and errors under
// `release health`, so "no crashes" and "no data" read differently.
func printHealthSources(w *tabwriter.Writer, rep healthwatch.Report) {
	for _, p := range rep.Platforms {
		for _, src := range p.Sources {
			last := "never"
			if src.LastSuccessAt != nil {
				last = src.LastSuccessAt.Format(time.DateTime)
			}
			line := fmt.Sprintf("%s\tsource %s\tlast data %s", p.Platform, src.Source, last)
			if src.ConsecutiveErrors > 0 {
				line += fmt.Sprintf("\t%d failed polls in a row: %s", src.ConsecutiveErrors, src.LastError)
			}
			fmt.Fprintln(w, line)
		}
	}
}
