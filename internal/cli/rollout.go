package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// actionPollInterval is how often the CLI reads a running action's
// progress.
const actionPollInterval = 200 * time.Millisecond

// rolloutCmd is `ripcord release halt|resume|rollback APP VERSION
// --platform android|ios|all`: one POST naming the platforms, then (unless
// --no-wait) each step printed as it completes, polling each action until
// it finished. It exits non-zero when any platform refused or failed.
func (c *CLI) rolloutCmd(action, short string) *cobra.Command {
	var platform, key string
	var noWait bool
	var timeout time.Duration
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
			if key == "" {
				// A key of our own makes a retried request find the action
				// it made instead of making a second one.
				var b [12]byte
				_, _ = rand.Read(b[:])
				key = "cli-" + hex.EncodeToString(b[:])
			}
			return c.withClient(cmd, timeout, func(ctx context.Context, cl *apiclient.Client) error {
				base := appPath(args[0]) + "/releases/" + url.PathEscape(args[1])
				var res httpapi.RolloutActions
				if err := cl.Do(ctx, "POST", base+"/"+action, nil, httpapi.RolloutActionRequest{Platforms: []string{platform}, IdempotencyKey: key}, &res); err != nil {
					return err
				}
				if !noWait && !c.jsonOut {
					if err := c.followActions(ctx, cl, base, res.Actions); err != nil {
						return err
					}
				}
				if err := c.print(res, func(w *tabwriter.Writer) { printActions(w, res.Actions) }); err != nil {
					return err
				}
				return actionsError(action, res.Actions)
			})
		}}
	cmd.Flags().StringVar(&platform, "platform", "", "android, ios or all (each platform is acted on and reported separately)")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "name the request, so running the command again returns the same actions (default: a fresh key)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the actions are queued instead of following their steps")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to follow the actions")
	return cmd
}

// followActions polls each active action, printing steps as they complete,
// until all finished; it updates actions in place.
func (c *CLI) followActions(ctx context.Context, cl *apiclient.Client, base string, actions []httpapi.PlatformAction) error {
	printed := map[int64]int{}
	for {
		active := 0
		for i := range actions {
			a := actions[i].Action
			if a == nil {
				continue
			}
			for _, s := range a.Steps[printed[a.ID]:] {
				note := ""
				if s.Note != "" {
					note = " (" + s.Note + ")"
				}
				fmt.Fprintf(c.env.Stdout, "%s  %-8s %s%s\n", s.At.Local().Format("15:04:05.000"), a.Platform, s.Name, note)
			}
			printed[a.ID] = len(a.Steps)
			if a.State != string(ripcord.ActionQueued) && a.State != string(ripcord.ActionRunning) {
				continue
			}
			active++
			var cur httpapi.Action
			if err := cl.Do(ctx, "GET", base+"/actions/"+strconv.FormatInt(a.ID, 10), nil, nil, &cur); err != nil {
				return err
			}
			actions[i].Action = &cur
		}
		if active == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ripcord.Errorf(ripcord.EUNAVAILABLE, "stopped following the actions: %v; they go on in the server, see them with the same command and --idempotency-key", ctx.Err())
		case <-time.After(actionPollInterval):
		}
	}
}

func printActions(w *tabwriter.Writer, actions []httpapi.PlatformAction) {
	fmt.Fprintln(w, "PLATFORM\tACTION\tSTATE\tDETAIL")
	for _, pa := range actions {
		if pa.Error != nil {
			fmt.Fprintf(w, "%s\t-\trefused\t%s\n", pa.Platform, pa.Error.Message)
			continue
		}
		a := pa.Action
		detail := a.Error
		if detail == "" && len(a.Steps) > 0 {
			detail = a.Steps[len(a.Steps)-1].Name
		}
		fmt.Fprintf(w, "%s\t%s %d\t%s\t%s\n", pa.Platform, a.Kind, a.ID, a.State, detail)
	}
}

// actionsError is nil when every platform's action succeeded or is still
// running; otherwise it names what was refused or failed, with the code of
// the first so the exit code says what kind of problem it is.
func actionsError(action string, actions []httpapi.PlatformAction) error {
	var msgs []string
	code := ""
	for _, pa := range actions {
		switch {
		case pa.Error != nil:
			msgs = append(msgs, pa.Platform+": "+pa.Error.Message)
			code = cmpOr(code, pa.Error.Code)
		case pa.Action.State == string(ripcord.ActionFailed):
			msgs = append(msgs, pa.Platform+": "+pa.Action.Error)
			code = cmpOr(code, ripcord.EINTERNAL)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	slices.Sort(msgs)
	return &ripcord.Error{Code: code, Message: fmt.Sprintf("%s not done on every platform: %s", action, strings.Join(msgs, "; "))}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
