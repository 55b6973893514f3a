package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/stages"
)

// planFileHelp documents the rollout plan file for `app rollout-plan`.
const planFileHelp = `Shows the app's rollout plan, or sets it from --file (YAML or JSON; fields
left out keep the default plan's values):

  time_zone: Europe/Berlin      # IANA name; stages are due in this zone
  due_hour: 10                  # local hour at which a day's stage is due
  hold_weekends: true           # Saturdays and Sundays are not rollout days
  holidays: [2026-12-24, 2026-12-25]
  android:                      # percent of users per rollout day
    - {day: 1, percent: 8}
    - {day: 2, percent: 30, min_duration: 20h}
    - {day: 3, percent: 100}
  ios:                          # Apple's phased release: started (1) or completed (100)
    - {day: 2, percent: 1}
    - {day: 3, percent: 100}

min_duration is how long the previous stage runs at least (default 20h).
iOS never starts before Android has reached its second stage.`

func (c *CLI) appRolloutPlanCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{Use: "rollout-plan APP", Short: "Show or set an app's staged-rollout plan (setting: release-manager)", Long: planFileHelp, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body any
			method := "GET"
			if file != "" {
				data, err := os.ReadFile(file)
				if err != nil {
					return usagef("read the plan file: %v", err)
				}
				plan, err := stages.ParsePlan(data)
				if err != nil {
					return ripcord.Errorf(ripcord.EINVALID, "%s: %s", file, ripcord.ErrorMessage(err))
				}
				method, body = "PUT", httpapi.NewRolloutPlan(plan)
			}
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var p httpapi.RolloutPlan
				if err := cl.Do(ctx, method, appPath(args[0])+"/rollout-plan", nil, body, &p); err != nil {
					return err
				}
				return c.printPlan(p)
			})
		}}
	cmd.Flags().StringVar(&file, "file", "", "set the plan from this YAML or JSON file")
	return cmd
}

func (c *CLI) printPlan(p httpapi.RolloutPlan) error {
	return c.print(p, func(w *tabwriter.Writer) {
		source := "set by " + p.UpdatedBy
		if p.Default {
			source = "Ripcord's default (the app set none)"
		}
		fmt.Fprintf(w, "PLAN\t%s\n", source)
		fmt.Fprintf(w, "TIME ZONE\t%s, stages due at %02d:00\n", p.TimeZone, p.DueHour)
		holds := []string{}
		if p.HoldWeekends {
			holds = append(holds, "weekends")
		}
		holds = append(holds, p.Holidays...)
		if len(holds) == 0 {
			holds = []string{"none"}
		}
		fmt.Fprintf(w, "HOLDS\t%s\n", strings.Join(holds, ", "))
		for _, pl := range []struct {
			name   string
			stages []httpapi.RolloutStage
		}{{"ANDROID", p.Android}, {"IOS", p.IOS}} {
			var parts []string
			for _, s := range pl.stages {
				part := fmt.Sprintf("day %d: %g %%", s.Day, s.Percent)
				if s.MinDuration != "" {
					part += " (after " + s.MinDuration + ")"
				}
				parts = append(parts, part)
			}
			fmt.Fprintf(w, "%s\t%s\n", pl.name, strings.Join(parts, "; "))
		}
	})
}

// stageCmds are `ripcord release submit|start|advance APP VERSION
// --platform android|ios|all`.
func (c *CLI) stageCmds() []*cobra.Command {
	return []*cobra.Command{
		c.stageCmd("submit", "Send a release to the stores: Android to Play's production track as a draft, iOS to App Review (queued; follow with `release show`) (release-manager)"),
		c.stageCmd("start", "Start a release's staged rollout: needs a go from the release gate; iOS only once Android reached its second stage (release-manager)"),
		c.stageCmd("advance", "Move a rollout to its next stage now, on a healthy or fix-forward crash-free verdict only (release-manager)"),
	}
}

func (c *CLI) stageCmd(action, short string) *cobra.Command {
	var platform string
	cmd := &cobra.Command{Use: action + " APP VERSION", Short: short, Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if platform == "" {
				return usagef("name the platform with --platform android, ios or all")
			}
			if platform != "all" {
				if _, err := ripcord.ParsePlatform(platform); err != nil {
					return usageError{err}
				}
			}
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var res httpapi.StageActionResult
				if err := cl.Do(ctx, "POST", appPath(args[0])+"/releases/"+url.PathEscape(args[1])+"/"+action, url.Values{"platform": {platform}}, nil, &res); err != nil {
					return err
				}
				if err := c.printReleaseShow(res.Release, res); err != nil {
					return err
				}
				if !c.jsonOut {
					for _, s := range res.Skipped {
						fmt.Fprintf(c.env.Stdout, "not done on %s\n", s)
					}
				}
				return nil
			})
		}}
	cmd.Flags().StringVar(&platform, "platform", "", "android, ios or all")
	return cmd
}

// printReleaseShow prints a release with each platform's rollout stage,
// since when, the next step and when it is due or why it is held.
func (c *CLI) printReleaseShow(r httpapi.Release, v any) error {
	if err := c.printReleases([]httpapi.Release{r}, v); err != nil || c.jsonOut {
		return err
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	header := false
	for _, p := range r.Platforms {
		ro := p.Rollout
		if ro == nil {
			continue
		}
		if !header {
			fmt.Fprintln(tw, "\nPLATFORM\tROLLOUT\tSINCE\tNEXT\tDUE\tWAITING FOR")
			header = true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Platform, ro.Label, timeOrDash(ro.Since), dash(ro.Next), timeOrDash(ro.DueAt), dash(ro.Waiting))
	}
	return tw.Flush()
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}
