// Package daemon is Ripcord's composition root: it builds the server's parts
// in order from a configuration (database, migrations, artifact store,
// services, job queue, HTTP handler) and closes them in reverse. `ripcord
// serve`, `ripcord demo` and the end-to-end tests all go through it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/buildinfo"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/gate"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/incident"
	"github.com/ripcordhq/ripcord/internal/jobs"
	"github.com/ripcordhq/ripcord/internal/notify"
	"github.com/ripcordhq/ripcord/internal/postgres"
	"github.com/ripcordhq/ripcord/internal/rehearsal"
	"github.com/ripcordhq/ripcord/internal/rollout"
	"github.com/ripcordhq/ripcord/internal/runbooks"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/stages"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/triggers"
	"github.com/ripcordhq/ripcord/internal/web"
)

// OpenStore opens the configured database without migrating it.
func OpenStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (storage.Store, error) {
	driver, dsn, err := cfg.Database()
	if err != nil {
		return nil, err
	}
	switch driver {
	case "sqlite":
		return sqlite.Open(ctx, dsn, logger)
	case "postgres":
		return postgres.Open(ctx, postgres.Config{URL: dsn, Logger: logger})
	}
	return nil, fmt.Errorf("database driver %q is not supported; use a SQLite path or a postgres:// URL", driver)
}

// Daemon is a running Ripcord server.
type Daemon struct {
	cfg       *config.Config
	logger    *slog.Logger
	Store     storage.Store
	Artifacts *blob.Store
	Catalog   *catalog.Service
	Access    *access.Service
	Health    *healthwatch.Service
	// Credentials holds the apps' store credentials and signing material;
	// later services open material through it.
	Credentials *credentials.Service
	// Rollout halts, resumes and rolls back releases in the stores.
	Rollout  *rollout.Service
	auto     *autoActor
	jobs     storage.JobClient
	registry *prometheus.Registry
	handler  http.Handler
	server   *http.Server
	web      *web.Handler // the dashboard, mounted next to the API
	listener net.Listener

	// Incidents records incidents; Notify queues their alerts.
	Incidents *incident.Service
	Notify    *notify.Notifier
	now       func() time.Time
	// Runbooks, Rehearsals, Gate and Triggers are runbooks as code, their
	// rehearsals, the go/no-go gate (the rollout flow asks Gate.GoRecorded
	// before a production rollout) and the runbook trigger watcher.
	Runbooks   *runbooks.Service
	Rehearsals *rehearsal.Service
	Gate       *gate.Service
	Triggers   *triggers.Watcher
	// Stages submits, starts and advances staged rollouts.
	Stages *stages.Service
}

// Options are what Open takes beyond the configuration file's settings;
// zero fields take the defaults named.
type Options struct {
	// Now is the clock of release health and background jobs (the envelope endpoint's receive
	// time included) and of its rate limiter; the end-to-end tests drive a
	// simulated fleet with it. Default time.Now.
	Now func() time.Time
	// SentryRate and SentryBurst bound each Sentry project's envelopes
	// (token bucket). Defaults httpapi.DefaultSentryRate and
	// httpapi.DefaultSentryBurst; a negative rate means unlimited.
	SentryRate  float64
	SentryBurst int
	// RolloutHook is the rollout service's crash-point hook (tests only).
	RolloutHook rollout.Hook
	// NotifyRetryBase is the first retry delay of alert deliveries.
	// Default notify's (10 s); tests shorten it.
	NotifyRetryBase time.Duration
	// ReleaseGateOpen treats every release as having a go from the release
	// gate, until the real gate is wired (tests, the demo). Default false:
	// starts are refused with "no release gate configured".
	ReleaseGateOpen bool
	// StorePollInterval is how often background jobs read a changing
	// store state (App Store processing and review). Default the
	// connectors' own; the demo's fast clock wants about a second.
	StorePollInterval time.Duration
	// Incidents opens the incident when a runbook trigger fires. Default:
	// none (firings are logged and audited only).
	Incidents triggers.IncidentOpener
}

// Open builds the server's parts. It migrates the schema up unless
// cfg.NoMigrate, in which case a stale schema is an error.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Daemon, error) {
	return OpenWith(ctx, cfg, logger, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options) (_ *Daemon, err error) {
	d := &Daemon{cfg: cfg, logger: logger}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.Store, err = OpenStore(ctx, cfg, logger); err != nil {
		return nil, err
	}
	if cfg.NoMigrate {
		if err := SchemaCurrent(ctx, d.Store); err != nil {
			return nil, fmt.Errorf("%w; run `ripcord migrate up` or start without --no-migrate", err)
		}
	} else {
		res, err := d.Store.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
		if err != nil {
			return nil, err
		}
		for _, m := range res {
			logger.InfoContext(ctx, "migration applied", slog.Int64("version", m.Version), slog.String("name", m.Name), slog.Duration("duration", m.Duration))
		}
	}
	if d.Artifacts, err = blob.Open(ctx, artifactLocation(cfg)); err != nil {
		return nil, err
	}
	rbs := rollbacks{store: d.Store, now: opts.Now}
	if rbs.now == nil {
		rbs.now = time.Now
	}
	d.Catalog = catalog.New(catalog.Config{Store: d.Store, Artifacts: d.Artifacts, MaxArtifactBytes: cfg.Artifacts.MaxBytes, Logger: logger,
		ReleaseCreated: rbs.releaseCreated})
	d.Access = access.New(d.Store, nil)
	if d.Credentials, err = credentials.New(credentials.Config{Store: d.Store, SecretKey: cfg.SecretKey, Now: opts.Now, Logger: logger}); err != nil {
		return nil, err
	}
	// Refuse to start when stored credentials cannot be decrypted (no key,
	// or another key): better now than in the middle of a rollback.
	if err := d.Credentials.CheckKey(ctx); err != nil {
		return nil, fmt.Errorf("refusing to start: %w", err)
	}

	if d.Rollout, err = rollout.New(rollout.Config{Store: d.Store, Play: playOpener(d.Credentials, cfg.Stores.GooglePlayURL, logger), Now: opts.Now, Logger: logger,
		AppStore: appStoreOpener(d.Credentials, cfg.Stores.AppStoreConnectURL, logger), Hook: opts.RolloutHook}); err != nil {
		return nil, err
	}
	// Health verdicts act through the rollout service, so health comes
	// after it.
	d.auto = newAutoActor(d.Store, d.Rollout, cfg.Health.AutoRollbackApps, logger)
	if err := d.openIncidents(cfg, opts); err != nil {
		return nil, err
	}
	d.Health = healthwatch.New(healthwatch.Config{Store: d.Store, Logger: logger, Now: opts.Now, OnVerdict: fanOut(d.auto.onVerdict, d.incidentVerdict)})

	d.Runbooks = runbooks.New(runbooks.Config{Store: d.Store, Now: opts.Now, Logger: logger, TeamRoles: d.teamRolesHeld})
	d.Rehearsals = rehearsal.New(rehearsal.Config{Store: d.Store, Now: opts.Now, Logger: logger})
	d.Gate = gate.New(gate.Config{Store: d.Store, Now: opts.Now, Logger: logger})
	d.Triggers = triggers.New(triggers.Config{Store: d.Store, Incidents: d.triggerIncidents(opts), Now: opts.Now, Logger: logger})
	if d.Stages, err = newStages(d, cfg, logger, opts); err != nil {
		return nil, err
	}

	d.registry = prometheus.NewRegistry()
	expiring := jobs.NewCredentialsExpiringGauge()
	workers := river.NewWorkers()
	periodic, err := jobs.Register(workers, jobs.Deps{Store: d.Store, Artifacts: d.Artifacts, Logger: logger, Now: opts.Now, CredentialsExpiring: expiring,
		Credentials: d.Credentials, PlayURL: cfg.Stores.GooglePlayURL,
		AppStoreURL: cfg.Stores.AppStoreConnectURL, AppStorePollInterval: opts.StorePollInterval})
	if err != nil {
		return nil, err
	}
	river.AddWorker(workers, rollout.NewWorker(d.Rollout))
	more, err := d.registerIncidentJobs(workers)
	if err != nil {
		return nil, err
	}
	periodic = append(periodic, more...)
	periodic = append(periodic, stages.Register(workers, d.Stages)...)
	d.jobs, err = d.Store.NewJobClient(&river.Config{
		Logger: logger,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Jobs.Workers},
			// Rollout actions have their own queue, polled often: a rollback
			// must not wait behind a preparation or for a slow poll.
			rollout.Queue: rolloutQueue(d.Store.Dialect())},
		Workers:      workers,
		PeriodicJobs: periodic,
		// Jobs still running at shutdown are rescued after this long by
		// whichever instance is up, so a killed job runs again.
		RescueStuckJobsAfter: 15 * time.Minute,
	})
	if err != nil {
		return nil, err
	}

	d.registry.MustRegister(expiring, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := buildinfo.Read()
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ripcord_build_info", Help: "Build of the running binary; the value is always 1."},
		[]string{"version", "revision", "go_version", "database"})
	info.WithLabelValues(bi.Version, bi.Revision, bi.GoVersion, d.Store.Dialect()).Set(1)
	d.registry.MustRegister(info, &jobCollector{store: d.Store, logger: logger})

	// iOS rollback withdrawal (helper ios).
	if rbs.withdraw, err = newWithdrawer(jobs.Deps{Store: d.Store, Artifacts: d.Artifacts, Logger: logger, Now: opts.Now, Credentials: d.Credentials,
		AppStoreURL: cfg.Stores.AppStoreConnectURL, AppStorePollInterval: opts.StorePollInterval}); err != nil {
		return nil, err
	}
	d.handler = httpapi.NewHandler(httpapi.Config{
		Catalog: d.Catalog, Access: d.Access, Audit: auditReader{d.Store}, Health: d.healthAPI(opts), Credentials: d.Credentials, Rollbacks: rbs, Rollouts: rolloutAPI{d.Rollout}, Ready: d.ready, Registry: d.registry,
		MaxBodyBytes: cfg.HTTP.MaxBodyBytes, RequestTimeout: cfg.HTTP.RequestTimeout, Logger: logger,
		SentryRate: opts.SentryRate, SentryBurst: opts.SentryBurst, Now: opts.Now,
		Incidents: d.Incidents,
		Stages:    d.Stages, // staged rollouts
		Runbooks:  d.Runbooks, Rehearsals: d.Rehearsals, Gate: d.Gate,
	})
	if err := d.openWeb(ctx, rbs, d.handler, opts.Now); err != nil {
		return nil, err
	}
	return d, nil
}

// artifactLocation resolves the default relative directory next to a SQLite
// database, so `--database-url /var/lib/ripcord/ripcord.db` keeps artifacts
// with it unless told otherwise.
func artifactLocation(cfg *config.Config) string {
	loc := cfg.Artifacts.URL
	if loc != config.Default().Artifacts.URL {
		return loc
	}
	if driver, dsn, err := cfg.Database(); err == nil && driver == "sqlite" {
		return filepath.Join(filepath.Dir(dsn), loc)
	}
	return loc
}

// SchemaCurrent returns an error naming the first pending migration.
func SchemaCurrent(ctx context.Context, s storage.Store) error {
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, m := range st {
		if !m.Applied {
			return fmt.Errorf("database schema is not current: migration %d %s is pending", m.Version, m.Name)
		}
	}
	return nil
}

func (d *Daemon) ready(ctx context.Context) error {
	if err := d.Store.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	return SchemaCurrent(ctx, d.Store)
}

// Handler returns the HTTP handler, for tests that serve it themselves.
func (d *Daemon) Handler() http.Handler { return d.handler }

// Listen binds the configured address (port 0 picks a free port).
func (d *Daemon) Listen() error {
	ln, err := net.Listen("tcp", d.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using it? set --addr)", d.cfg.Addr, err)
	}
	d.listener = ln
	return nil
}

// URL is the base URL the server listens on, once Listen succeeded.
func (d *Daemon) URL() string {
	addr := d.listener.Addr().String()
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "::" || host == "0.0.0.0") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return "http://" + addr
}

// Run starts the job queue and serves HTTP until ctx is cancelled, then shuts
// down gracefully: the listener closes, in-flight requests finish (up to
// http.shutdown_timeout), and running jobs finish or are left for rescue.
func (d *Daemon) Run(ctx context.Context) error {
	if d.listener == nil {
		if err := d.Listen(); err != nil {
			return err
		}
	}
	if err := d.jobs.Start(ctx); err != nil {
		d.listener.Close() // nobody will serve it: refuse connections rather than queue them
		return fmt.Errorf("start job queue: %w", err)
	}
	d.server = &http.Server{
		Handler:           d.handler,
		ReadHeaderTimeout: d.cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       d.cfg.HTTP.ReadTimeout,
		WriteTimeout:      d.cfg.HTTP.WriteTimeout,
		IdleTimeout:       d.cfg.HTTP.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(d.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// Open dashboard event streams never go idle; ending them lets the
	// graceful shutdown finish instead of waiting out its timeout.
	d.server.RegisterOnShutdown(d.web.Close)
	serveErr := make(chan error, 1)
	go func() { serveErr <- d.server.Serve(d.listener) }()
	d.logger.InfoContext(ctx, "serving", slog.String("url", d.URL()), slog.String("database", d.Store.Dialect()))

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("serve: %w", err)
		}
	}
	d.logger.Info("shutting down", slog.Duration("timeout", d.cfg.HTTP.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), d.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := d.server.Shutdown(sctx); err != nil {
		d.logger.Warn("requests still running at shutdown timeout were cut off", slog.String("error", err.Error()))
	}
	if err := d.auto.wait(sctx); err != nil {
		d.logger.Warn("automatic health actions still running at shutdown timeout were cut off; check the releases they were acting on", slog.String("error", err.Error()))
	}
	if err := d.jobs.Stop(sctx); err != nil {
		d.logger.Warn("jobs still running at shutdown timeout will be rescued and run again", slog.String("error", err.Error()))
	}
	return runErr
}

// Close releases everything Open built, in reverse order.
func (d *Daemon) Close() error {
	var errs []error
	if d.web != nil {
		d.web.Close()
	}
	if d.Artifacts != nil {
		errs = append(errs, d.Artifacts.Close())
	}
	if d.Store != nil {
		errs = append(errs, d.Store.Close())
	}
	return errors.Join(errs...)
}

// LocalContext returns ctx acting as a local administrator: the CLI works
// directly on the database this way (e.g. to create the first token).
func LocalContext(ctx context.Context, who string) context.Context {
	if who = strings.TrimSpace(who); who == "" {
		who = "operator"
	}
	return ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "local:" + who, Role: ripcord.RoleAdmin})
}

// auditReader adapts the store to the API's audit listing.
type auditReader struct{ s storage.Store }

func (a auditReader) AuditList(ctx context.Context, after int64, limit int, target string) ([]ripcord.AuditEntry, error) {
	return a.s.AuditList(ctx, storage.AuditListParams{AfterSeq: after, Limit: limit, Target: target})
}

// jobCollector reports queue depth by kind and state at scrape time.
type jobCollector struct {
	store  storage.Store
	logger *slog.Logger
}

var jobsDesc = prometheus.NewDesc("ripcord_jobs", "Background jobs by kind and state.", []string{"kind", "state"}, nil)

func (c *jobCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (c *jobCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.store.JobCounts(ctx)
	if err != nil {
		c.logger.Warn("count jobs for metrics", slog.String("error", err.Error()))
		return
	}
	for _, jc := range counts {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(jc.Count), jc.Kind, jc.State)
	}
}

// Config is the configuration the daemon was opened with.
func (d *Daemon) Config() *config.Config { return d.cfg }
