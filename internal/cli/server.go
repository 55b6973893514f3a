package cli

import (
	"context"
	"fmt"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord/internal/buildinfo"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/storage"
)

func (c *CLI) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Ripcord server (API, probes, metrics, background jobs)",
		Args:  cobra.NoArgs,
	}
	flags := addConfigFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := c.loadConfig(flags())
		if err != nil {
			return err
		}
		logger, err := c.logger(cfg)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		d, err := daemon.Open(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := d.Listen(); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stdout, "Ripcord is serving on %s\n", d.URL())
		return d.Run(ctx)
	}
	return cmd
}

func (c *CLI) migrateCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Move the database schema up or down, or show its status"}
	var to int64
	run := func(dir storage.MigrateDirection, flags func() map[string]string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			st, done, err := c.openStore(cmd.Context(), flags())
			if err != nil {
				return err
			}
			defer done()
			target := storage.MigrateLatest
			if cmd.Flags().Changed("to") {
				target = to
			} else if dir == storage.MigrateDown {
				return usagef("migrate down needs --to VERSION (0 removes every table)")
			}
			res, err := st.Migrate(cmd.Context(), dir, target)
			for _, m := range res {
				fmt.Fprintf(c.env.Stdout, "%s %d %s (%s)\n", dir, m.Version, m.Name, m.Duration.Round(1000))
			}
			if err != nil {
				return err
			}
			if len(res) == 0 {
				fmt.Fprintln(c.env.Stdout, "nothing to do")
			}
			return nil
		}
	}
	up := &cobra.Command{Use: "up", Short: "Apply pending migrations", Args: cobra.NoArgs}
	up.RunE = run(storage.MigrateUp, addConfigFlags(up))
	up.Flags().Int64Var(&to, "to", 0, "stop at this version (default: the newest)")
	down := &cobra.Command{Use: "down", Short: "Roll migrations back to --to VERSION", Args: cobra.NoArgs}
	down.RunE = run(storage.MigrateDown, addConfigFlags(down))
	down.Flags().Int64Var(&to, "to", 0, "roll back to this version; 0 removes every table")
	status := &cobra.Command{Use: "status", Short: "List migrations and whether each is applied", Args: cobra.NoArgs}
	sflags := addConfigFlags(status)
	status.RunE = func(cmd *cobra.Command, _ []string) error {
		st, done, err := c.openStore(cmd.Context(), sflags())
		if err != nil {
			return err
		}
		defer done()
		ms, err := st.MigrationStatus(cmd.Context())
		if err != nil {
			return err
		}
		type migrationJSON struct {
			Version   int64      `json:"version"`
			Name      string     `json:"name"`
			Applied   bool       `json:"applied"`
			AppliedAt *time.Time `json:"applied_at,omitempty"`
		}
		out := make([]migrationJSON, 0, len(ms))
		for _, m := range ms {
			mj := migrationJSON{Version: m.Version, Name: m.Name, Applied: m.Applied}
			if !m.AppliedAt.IsZero() {
				at := m.AppliedAt
				mj.AppliedAt = &at
			}
			out = append(out, mj)
		}
		return c.print(out, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "VERSION\tNAME\tAPPLIED")
			for _, m := range ms {
				applied := "pending"
				if m.Applied {
					applied = "applied"
					if !m.AppliedAt.IsZero() {
						applied += " " + m.AppliedAt.Format("2006-01-02 15:04:05Z")
					}
				}
				fmt.Fprintf(w, "%d\t%s\t%s\n", m.Version, m.Name, applied)
			}
		})
	}
	cmd.AddCommand(up, down, status)
	return cmd
}

// openStore opens the configured database for a direct command.
func (c *CLI) openStore(ctx context.Context, flags map[string]string) (storage.Store, func(), error) {
	cfg, err := c.loadConfig(flags)
	if err != nil {
		return nil, nil, err
	}
	logger, err := c.logger(cfg)
	if err != nil {
		return nil, nil, err
	}
	st, err := daemon.OpenStore(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.Close() }, nil
}

func (c *CLI) configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	check := &cobra.Command{Use: "check", Short: "Validate the configuration and print the effective values, secrets redacted", Args: cobra.NoArgs}
	flags := addConfigFlags(check)
	check.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := c.loadConfig(flags())
		if err != nil {
			return err
		}
		settings := cfg.Settings()
		return c.print(settings, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "KEY\tVALUE\tSOURCE")
			for _, s := range settings {
				fmt.Fprintf(w, "%s\t%s\t%s\n", s.Key, s.Value, s.Source)
			}
		})
	}
	cmd.AddCommand(check)
	return cmd
}

func (c *CLI) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Print the version", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi := buildinfo.Read()
			return c.print(bi, func(w *tabwriter.Writer) {
				rev := bi.Revision
				if rev == "" {
					rev = "unknown"
				}
				fmt.Fprintf(w, "ripcord %s (revision %s, %s)\n", bi.Version, rev, bi.GoVersion)
			})
		},
	}
}

var _ = config.Keys
var _ = strconv.Itoa
