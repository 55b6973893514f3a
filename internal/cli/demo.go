package cli

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/demo"
	"github.com/ripcordhq/ripcord/internal/logging"
)

func (c *CLI) demoCmd() *cobra.Command {
	var addr, logLevel string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Ripcord on a fresh embedded database with a sample app",
		Long:  "Starts the server on a new SQLite database in a temporary directory, registers the sample app com.example.ripcord.demo with releases 1.1.0 and 1.2.0 on both platforms, prints the URL and an admin token, and runs until interrupted. Nothing outside the temporary directory is touched.",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "HOST:PORT to listen on; if the port is taken a free one is used")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		dir, err := os.MkdirTemp("", "ripcord-demo-")
		if err != nil {
			return fmt.Errorf("demo: temporary directory: %w", err)
		}
		defer os.RemoveAll(dir)

		cfg := config.Default()
		cfg.Addr = addr
		cfg.DatabaseURL = filepath.Join(dir, "ripcord.db")
		cfg.Artifacts.URL = filepath.Join(dir, "artifacts")
		logger, err := logging.New(c.env.Stderr, "text", logLevel)
		if err != nil {
			return usageError{err}
		}
		d, err := daemon.Open(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := d.Listen(); err != nil {
			cfg.Addr = "127.0.0.1:0" // the usual port is busy: any free one will do for a demo
			if err := d.Listen(); err != nil {
				return err
			}
		}
		seeded, err := demo.Seed(ctx, d.Catalog, d.Access, dir)
		if err != nil {
			return err
		}
		w := c.env.Stdout
		fmt.Fprintf(w, "Ripcord demo is running at %s\n\n", d.URL())
		fmt.Fprintf(w, "  database     %s (SQLite, removed on exit)\n", cfg.DatabaseURL)
		fmt.Fprintf(w, "  sample app   %s (%s on iOS and Android)\n", demo.AppName, demo.BundleID)
		for _, r := range seeded.Releases {
			fmt.Fprintf(w, "  release      %s %s: %s\n", demo.AppName, r.Version, r.Status())
		}
		fmt.Fprintf(w, "  admin token  %s\n\n", seeded.AdminToken)
		fmt.Fprintf(w, "Try, in another terminal:\n\n")
		fmt.Fprintf(w, "  export RIPCORD_SERVER=%s RIPCORD_TOKEN=%s\n", d.URL(), seeded.AdminToken)
		fmt.Fprintf(w, "  go run ./cmd/ripcord release list %s\n", demo.AppName)
		fmt.Fprintf(w, "  go run ./cmd/ripcord build list --app %s\n", demo.AppName)
		fmt.Fprintf(w, "  curl -H \"Authorization: Bearer $RIPCORD_TOKEN\" %s/api/v1/apps/%s/releases/1.2.0\n\n", d.URL(), demo.AppName)
		fmt.Fprintf(w, "Press Ctrl-C to stop.\n")
		return d.Run(ctx)
	}
	return cmd
}
