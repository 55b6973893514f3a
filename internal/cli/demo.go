package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord/internal/demo"
	"github.com/ripcordhq/ripcord/internal/logging"
)

func (c *CLI) demoCmd() *cobra.Command {
	var addr, logLevel, stateDir string
	var scripted bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Play Ripcord's story against built-in fake stores: rollout, crash spike, automatic halt, one-click rollback",
		Long: "Starts embedded fake App Store Connect and Google Play with the sample app com.example.ripcord.demo live as 1.1.0, " +
			"and a Ripcord server on a fresh SQLite database wired to them; then plays the story on a fast clock: 1.2.0 goes out, " +
			"its 1.2.1 rollback is prepared in the background on both stores, a simulated fleet reports a crash spike, Ripcord halts " +
			"the rollout and one click rolls back on both stores. The server keeps running afterwards (sign-in details are printed). " +
			"--scripted plays it unattended and exits 0 only when the stores end in the expected state. Without --state-dir " +
			"everything lives in a temporary directory removed on exit.",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "HOST:PORT to listen on; if the port is taken a free one is used")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "keep the database and the fake stores' state in this directory (then `ripcord fakestore serve --state-dir DIR` shows the end state)")
	cmd.Flags().BoolVar(&scripted, "scripted", false, "play the whole story unattended, print each step with its time, and exit 0 only if the stores end as expected")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		logger, err := logging.New(c.env.Stderr, "text", logLevel)
		if err != nil {
			return usageError{err}
		}
		dir := stateDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "ripcord-demo-"); err != nil {
				return fmt.Errorf("demo: temporary directory: %w", err)
			}
			defer os.RemoveAll(dir)
		}
		return demo.Run(ctx, demo.RunOptions{Options: demo.Options{Dir: dir, Addr: addr, Logger: logger}, Scripted: scripted, Out: c.env.Stdout})
	}
	return cmd
}
