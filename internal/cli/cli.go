// Package cli is Ripcord's command line: `ripcord <noun> <verb>`. Client
// verbs talk to a server over the HTTP API (--server, --token); serve, demo,
// migrate and the bootstrap verbs (token create without --server, audit
// verify) work directly on the configured database. The command tree is
// built per call, with no package state, and writes to injected writers.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/logging"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// Env is what the CLI needs from the process.
type Env struct {
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Environ []string // os.Environ()-style
	// IsTerminal reports whether w is a terminal (for progress bars);
	// nil means never.
	IsTerminal func(w io.Writer) bool
}

// CLI is one invocation's command tree and its global options.
type CLI struct {
	env        Env
	configPath string
	server     string
	token      string
	jsonOut    bool
}

// New returns a CLI bound to env.
func New(env Env) *CLI {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	return &CLI{env: env}
}

// usageError marks errors in how a command was called (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// Run executes args (without the program name) and returns the exit code.
func (c *CLI) Run(ctx context.Context, args []string) int {
	root := c.Root()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintf(c.env.Stderr, "ripcord: %v\nRun 'ripcord --help' for usage.\n", err)
		return ExitUsage
	}
	fmt.Fprintf(c.env.Stderr, "ripcord: %s\n", errorText(err))
	return ExitFailed
}

// errorText prints domain errors by their message and everything else in
// full (the CLI user is the operator; there is nothing to hide).
func errorText(err error) string {
	var e *ripcord.Error
	if errors.As(err, &e) && ripcord.ErrorCode(err) != ripcord.EINTERNAL {
		return e.Message
	}
	return err.Error()
}

// isCobraUsage recognises cobra's own argument and flag errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "flag needs an argument", "invalid argument", "required flag"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// Root builds the command tree.
func (c *CLI) Root() *cobra.Command {
	root := &cobra.Command{
		Use:           "ripcord",
		Short:         "Ripcord: a safety net for mobile app releases",
		Long:          "Ripcord prepares a rollback build for every mobile release, watches release health and rolls back in one click.\n\nStart with `ripcord demo`.",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(c.env.Stdout)
	root.SetErr(c.env.Stderr)
	root.SetIn(c.env.Stdin)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&c.configPath, "config", "", "configuration file (default ripcord.yaml when present)")
	pf.StringVar(&c.server, "server", c.getenv("RIPCORD_SERVER"), "Ripcord server URL for client commands (env RIPCORD_SERVER)")
	pf.StringVar(&c.token, "token", c.getenv("RIPCORD_TOKEN"), "API token for client commands (env RIPCORD_TOKEN)")
	pf.BoolVar(&c.jsonOut, "json", false, "print JSON for machines instead of tables")

	root.AddCommand(
		c.serveCmd(), c.demoCmd(), c.migrateCmd(), c.configCmd(), c.versionCmd(),
		c.appCmd(), c.buildCmd(), c.releaseCmd(), c.tokenCmd(), c.userCmd(), c.auditCmd(), c.runbookCmd(), c.fakestoreCmd(), c.artifactCmd(),
	)
	root.AddCommand(c.incidentCmd())
	return root
}

func (c *CLI) getenv(name string) string {
	for _, kv := range c.env.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// addConfigFlags registers a flag per configuration option on cmd and
// returns a function that collects the ones the user set.
func addConfigFlags(cmd *cobra.Command) func() map[string]string {
	fs := cmd.Flags()
	for _, o := range config.Describe() {
		// A secret on the command line shows in ps and shell history, so
		// secrets are only taken from a file here (or the environment).
		if !o.Secret {
			fs.String(o.Flag, "", o.Doc+" (env "+o.Env+")")
		}
		if o.FileFlag != "" {
			fs.String(o.FileFlag, "", "read "+o.Key+" from this file (env "+o.FileEnv+")")
		}
	}
	return func() map[string]string {
		set := map[string]string{}
		byFlag := map[string]string{}
		for _, o := range config.Describe() {
			byFlag[o.Flag] = o.Key
			if o.FileFlag != "" {
				byFlag[o.FileFlag] = o.FileKey
			}
		}
		fs.Visit(func(f *pflag.Flag) {
			if key, ok := byFlag[f.Name]; ok {
				set[key] = f.Value.String()
			}
		})
		return set
	}
}

// loadConfig builds the effective configuration for a server-side command.
func (c *CLI) loadConfig(flags map[string]string) (*config.Config, error) {
	return config.Load(config.Sources{Path: c.configPath, Explicit: c.configPath != "", Environ: c.env.Environ, Flags: flags})
}

// logger builds the process logger from the configuration, on stderr.
func (c *CLI) logger(cfg *config.Config) (*slog.Logger, error) {
	return logging.New(c.env.Stderr, cfg.Log.Format, cfg.Log.Level.String())
}

// client returns an API client for client verbs.
func (c *CLI) client() (*apiclient.Client, error) {
	if c.server == "" {
		return nil, usagef("no server: set RIPCORD_SERVER or --server (e.g. http://127.0.0.1:8080)")
	}
	cl, err := apiclient.New(c.server, c.token)
	if err != nil && ripcord.ErrorCode(err) == ripcord.EINVALID {
		return nil, usageError{err} // a malformed --server is a usage error, like a missing one
	}
	return cl, err
}

// print writes v as JSON with --json, or calls table to print for people.
func (c *CLI) print(v any, table func(w *tabwriter.Writer)) error {
	if c.jsonOut {
		enc := json.NewEncoder(c.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// osUser names the local operator for audit entries.
func osUser(environ []string) string {
	for _, k := range []string{"USER", "LOGNAME"} {
		for _, kv := range environ {
			if name, v, ok := strings.Cut(kv, "="); ok && name == k && v != "" {
				return v
			}
		}
	}
	if h, err := os.Hostname(); err == nil {
		return "operator@" + h
	}
	return "operator"
}

// contextWithTimeout bounds a shutdown that must run after the command's
// context was cancelled.
func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
