// Package postgres is the storage adapter for teams that run several Ripcord
// instances: PostgreSQL through pgx, with the job queue on the same database
// (River's pgx driver, which elects one leader among instances).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/ripcordhq/ripcord/internal/sqlstore"
	"github.com/ripcordhq/ripcord/internal/storage"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationsFS returns the embedded SQL migrations.
func MigrationsFS() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sub
}

// Config says how to open the database.
type Config struct {
	// URL is a postgres:// connection URL. Required.
	URL string
	// Schema, when set, is created if missing and put first on the
	// search_path of every connection; tests use it to isolate themselves.
	// Default: the server's search_path.
	Schema string
	// Logger receives migration logs. Default: discard.
	Logger *slog.Logger
}

// DB is an open PostgreSQL database implementing storage.Store.
type DB struct {
	*sqlstore.Queries
	pool       *pgxpool.Pool
	migrations *sqlstore.Migrations[pgx.Tx]
	jobs       atomic.Pointer[river.Client[pgx.Tx]]
}

var _ storage.Store = (*DB)(nil)

// Open connects and checks that the database answers; an unreachable server
// is an error at once, not a retry loop.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	if cfg.Schema != "" {
		admin, err := pgx.ConnectConfig(ctx, pc.ConnConfig.Copy())
		if err != nil {
			return nil, fmt.Errorf("postgres: connect to %s: %w", redactedHost(pc), err)
		}
		_, err = admin.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{cfg.Schema}.Sanitize())
		admin.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("postgres: create schema %s: %w", cfg.Schema, err)
		}
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", redactedHost(pc), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w (is the server running and the URL right?)", redactedHost(pc), err)
	}
	d := &DB{pool: pool}
	d.Queries = sqlstore.NewQueries(querier{pool}, d)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migration lock: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(pool), MigrationsFS(),
		goose.WithSessionLocker(locker), goose.WithLogger(sqlstore.GooseLogger{Logger: cfg.Logger}))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: load migrations: %w", err)
	}
	rm, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: cfg.Logger, Schema: cfg.Schema})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: load job queue migrations: %w", err)
	}
	d.migrations = &sqlstore.Migrations[pgx.Tx]{Goose: provider, River: rm}
	return d, nil
}

func redactedHost(pc *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database)
}

// Dialect names the database kind.
func (d *DB) Dialect() string { return "postgres" }

// Pool exposes the pool, for tests that tamper with rows on purpose.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// Migrate moves the schema.
func (d *DB) Migrate(ctx context.Context, dir storage.MigrateDirection, target int64) ([]storage.MigrationResult, error) {
	return d.migrations.Migrate(ctx, dir, target)
}

// MigrationStatus lists known migrations.
func (d *DB) MigrationStatus(ctx context.Context) ([]storage.MigrationState, error) {
	return d.migrations.Status(ctx)
}

// NewJobClient builds a River client on the pgx driver.
func (d *DB) NewJobClient(cfg *river.Config) (storage.JobClient, error) {
	c, err := river.NewClient(riverpgxv5.New(d.pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: job client: %w", err)
	}
	d.jobs.Store(c)
	return c, nil
}

// InTx runs fn in a read-committed transaction.
func (d *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx storage.Tx) error) (err error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	stx := sqlstore.NewTx(querier{tx}, d, func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
		c := d.jobs.Load()
		if c == nil {
			return fmt.Errorf("postgres: enqueue %s: the job queue is not set up in this process", args.Kind())
		}
		if _, err := c.InsertTx(ctx, tx, args, opts); err != nil {
			return fmt.Errorf("postgres: enqueue %s: %w", args.Kind(), err)
		}
		return nil
	})
	if err = fn(ctx, stx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", d.InterpretError(err))
	}
	return nil
}

// InterpretError maps pgx errors to the storage sentinels.
func (d *DB) InterpretError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w (%w)", storage.ErrNotFound, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("%w (%w)", storage.ErrConflict, err)
	}
	return err
}

// querier adapts pgx to sqlstore.Querier.
type querier struct {
	db interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.db.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return q.db.Query(ctx, query, args...)
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return q.db.QueryRow(ctx, query, args...)
}
