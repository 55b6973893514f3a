package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/secretbox"
)

// Options configure a demo environment.
type Options struct {
	// Dir keeps the database, the artifacts and the fake stores' state
	// (state.json, keys), so `ripcord fakestore serve --state-dir Dir`
	// shows the stores afterwards. Required; it must not hold a demo yet.
	Dir string
	// Addr is where the server listens; if it is taken a free port is
	// used. Default 127.0.0.1:0.
	Addr string
	// Logger receives the server's and the fake stores' logs.
	Logger *slog.Logger
}

// Env is a running demo: the embedded fake App Store Connect and Google
// Play, and a Ripcord server wired to them, sharing one Clock.
type Env struct {
	Dir     string
	Clock   *Clock
	Fake    *fakestore.Server
	FakeURL string
	Daemon  *daemon.Daemon
	fakeSrv *http.Server
	logger  *slog.Logger
}

// Start brings up the fake stores (with com.example.ripcord.demo live as
// 1.1.0 on both) and the server on a fresh SQLite database in opts.Dir.
// Nothing runs until the caller runs Env.Daemon.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.Dir == "" {
		return nil, errors.New("demo: a state directory is required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: state directory %s: %w", opts.Dir, err)
	}
	db := filepath.Join(opts.Dir, "ripcord.db")
	if _, err := os.Stat(db); err == nil {
		return nil, fmt.Errorf("demo: %s already holds a demo (%s); remove the directory or choose another --state-dir", opts.Dir, db)
	}
	e := &Env{Dir: opts.Dir, Clock: &Clock{}, logger: logger}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if err := e.startStores(ctx); err != nil {
		return nil, err
	}
	key := make([]byte, secretbox.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("demo: secret key: %w", err)
	}
	// Kept beside the database so `ripcord serve --database-url DIR/ripcord.db
	// --secret-key-file DIR/secret.key` can open the demo's credentials later.
	if err := os.WriteFile(filepath.Join(opts.Dir, "secret.key"), key, 0o600); err != nil {
		return nil, fmt.Errorf("demo: secret key: %w", err)
	}
	cfg := config.Default()
	cfg.Addr = opts.Addr
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.DatabaseURL = db
	cfg.Artifacts.URL = filepath.Join(opts.Dir, "artifacts")
	cfg.SecretKey = key
	cfg.Stores.GooglePlayURL = e.FakeURL + "/"
	cfg.Stores.AppStoreConnectURL = e.FakeURL
	cfg.Health.AutoRollbackApps = nil // the story rolls back by hand: one click, on both stores
	if e.Daemon, err = daemon.OpenWith(ctx, cfg, logger, daemon.Options{Now: e.Clock.Now, SentryRate: -1, StorePollInterval: 200 * time.Millisecond}); err != nil {
		return nil, err
	}
	if err := e.Daemon.Listen(); err != nil {
		cfg.Addr = "127.0.0.1:0" // the usual port is busy: any free one will do for a demo
		if err := e.Daemon.Listen(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// startStores serves the fake stores on a free local port, on the demo
// clock, with the sample app live as 1.1.0 (110) on both.
func (e *Env) startStores(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: fake stores: listen: %w", err)
	}
	e.FakeURL = "http://" + ln.Addr().String()
	// The fake checks credentials on the wall clock (as the stores do) and
	// runs its store clock ahead with Advance, in step with e.Clock.
	e.Fake, err = fakestore.New(fakestore.Config{StateDir: e.Dir, BaseURL: e.FakeURL, Logger: e.logger.With("component", "fakestore")})
	if err != nil {
		ln.Close()
		return err
	}
	e.fakeSrv = &http.Server{Handler: e.Fake.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go e.fakeSrv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed at Close
	if err := e.Fake.CreatePlayApp(fakestore.PlayAppSpec{PackageName: BundleID, ExistingVersionCodes: []int64{liveBuild}}); err != nil {
		return fmt.Errorf("demo: fake Google Play: %w", err)
	}
	if _, err := e.Fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: BundleID, Name: "Ripcord Demo", LiveVersion: liveVersion, LiveBuild: fmt.Sprint(liveBuild)}); err != nil {
		return fmt.Errorf("demo: fake App Store Connect: %w", err)
	}
	return nil
}

// Advance moves the demo forward by d: Ripcord's clock and the stores'
// clock together, applying what became due in the stores (processing,
// review, phased-release days).
func (e *Env) Advance(ctx context.Context, d time.Duration) error {
	e.Clock.Advance(d)
	return e.Fake.Advance(ctx, d)
}

// Close stops the fake stores and closes the server's parts.
func (e *Env) Close() error {
	var errs []error
	if e.fakeSrv != nil {
		errs = append(errs, e.fakeSrv.Close())
	}
	if e.Fake != nil {
		errs = append(errs, e.Fake.Close())
	}
	if e.Daemon != nil {
		errs = append(errs, e.Daemon.Close())
	}
	return errors.Join(errs...)
}
