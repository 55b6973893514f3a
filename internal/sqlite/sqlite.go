// Package sqlite is the embedded storage adapter: one database file opened
// with modernc.org/sqlite (no cgo), in WAL mode with a busy timeout, foreign
// keys on and a single writer connection, because SQLite allows one writer
// at a time and a second one would only wait on locks.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	moderncsqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ripcordhq/ripcord/internal/sqlstore"
	"github.com/ripcordhq/ripcord/internal/storage"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationsFS returns the embedded SQL migrations, for tests that compare
// dialects.
func MigrationsFS() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sub
}

// DB is an open SQLite database implementing storage.Store.
type DB struct {
	*sqlstore.Queries
	db         *sql.DB
	path       string
	migrations *sqlstore.Migrations[*sql.Tx]
	jobs       atomic.Pointer[river.Client[*sql.Tx]]
}

var _ storage.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and checks that
// it answers. The directory must exist.
func Open(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("sqlite: open %s: directory %s does not exist; create it or choose another --database-url", path, dir)
		}
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate") // take the write lock at BEGIN, not at the first write
	q.Set("_time_format", "sqlite")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(1)
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w (check the path and its permissions)", path, err)
	}
	d := &DB{db: sqldb, path: path}
	d.Queries = sqlstore.NewQueries(querier{sqldb}, d)
	provider, err := goose.NewProvider(goose.DialectSQLite3, sqldb, MigrationsFS(), goose.WithLogger(sqlstore.GooseLogger{Logger: logger}))
	if err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlite: load migrations: %w", err)
	}
	rm, err := rivermigrate.New(riversqlite.New(sqldb), &rivermigrate.Config{Logger: logger})
	if err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlite: load job queue migrations: %w", err)
	}
	d.migrations = &sqlstore.Migrations[*sql.Tx]{Goose: provider, River: rm}
	return d, nil
}

// Dialect names the database kind.
func (d *DB) Dialect() string { return "sqlite" }

// Path returns the database file's path.
func (d *DB) Path() string { return d.path }

// SQL exposes the underlying pool, for tests that tamper with rows on purpose.
func (d *DB) SQL() *sql.DB { return d.db }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping %s: %w", d.path, err)
	}
	return nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Migrate moves the schema.
func (d *DB) Migrate(ctx context.Context, dir storage.MigrateDirection, target int64) ([]storage.MigrationResult, error) {
	return d.migrations.Migrate(ctx, dir, target)
}

// MigrationStatus lists known migrations.
func (d *DB) MigrationStatus(ctx context.Context) ([]storage.MigrationState, error) {
	return d.migrations.Status(ctx)
}

// NewJobClient builds a River client on the SQLite driver. Transactions
// opened afterwards enqueue through it.
func (d *DB) NewJobClient(cfg *river.Config) (storage.JobClient, error) {
	c, err := river.NewClient(riversqlite.New(d.db), cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlite: job client: %w", err)
	}
	d.jobs.Store(c)
	return c, nil
}

// InTx runs fn in a write transaction.
func (d *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx storage.Tx) error) (err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", d.InterpretError(err))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	stx := sqlstore.NewTx(querier{tx}, d, func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
		c := d.jobs.Load()
		if c == nil {
			return fmt.Errorf("sqlite: enqueue %s: the job queue is not set up in this process", args.Kind())
		}
		if _, err := c.InsertTx(ctx, tx, args, opts); err != nil {
			return fmt.Errorf("sqlite: enqueue %s: %w", args.Kind(), err)
		}
		return nil
	})
	if err = fn(ctx, stx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", d.InterpretError(err))
	}
	return nil
}

// InterpretError maps SQLite errors to the storage sentinels.
func (d *DB) InterpretError(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w (%w)", storage.ErrNotFound, err)
	}
	var se *moderncsqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w (%w)", storage.ErrConflict, err)
		}
	}
	return err
}

// querier adapts database/sql to sqlstore.Querier.
type querier struct {
	db interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return q.db.QueryRowContext(ctx, query, args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
