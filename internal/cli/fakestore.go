package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/logging"
)

func (c *CLI) fakestoreCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "fakestore", Short: "Run the built-in fake App Store Connect and Google Play"}
	var addr, stateDir, logLevel string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve both fake stores on one address, keeping their state in --state-dir",
		Long: "Serves App Store Connect under /v1 and /v2, Google Play under /androidpublisher/v3, the Play Developer " +
			"Reporting API under /v1beta1 and the OAuth token endpoint at /token, plus the fake's own admin API under /_fake/. " +
			"The state directory receives asc-key.p8, asc-key.json and play-service-account.json for clients, and " +
			"state.json, so stopping and starting on the same directory keeps every app, build, version, submission, " +
			"edit and track. Apps are created with POST /_fake/play/apps and /_fake/asc/apps or from seed.json in the " +
			"state directory.",
		Args: cobra.NoArgs,
	}
	serve.Flags().StringVar(&addr, "addr", "127.0.0.1:8089", "HOST:PORT to listen on")
	serve.Flags().StringVar(&stateDir, "state-dir", "", "directory for keys and state (required)")
	serve.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	_ = serve.MarkFlagRequired("state-dir")
	serve.RunE = func(cmd *cobra.Command, _ []string) error {
		logger, err := logging.New(c.env.Stderr, "text", logLevel)
		if err != nil {
			return usageError{err}
		}
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return fmt.Errorf("fakestore: state directory %s: %w", stateDir, err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("fakestore: listen on %s: %w (choose another --addr)", addr, err)
		}
		defer ln.Close()
		base := "http://" + ln.Addr().String()
		fs, err := fakestore.New(fakestore.Config{StateDir: stateDir, BaseURL: base, Logger: logger})
		if err != nil {
			return err
		}
		defer fs.Close()
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		srv := &http.Server{Handler: fs.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		abs, _ := filepath.Abs(stateDir)
		fmt.Fprintf(c.env.Stdout, "Fake stores are serving on %s\n  state and keys in %s\n  App Store Connect key: asc-key.p8, asc-key.json\n  Google Play service account: play-service-account.json\n", base, abs)
		select {
		case <-ctx.Done():
		case err := <-errc:
			if !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("fakestore: serve: %w", err)
			}
		}
		sctx, cancel := contextWithTimeout(10 * time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
	cmd.AddCommand(serve)
	return cmd
}
