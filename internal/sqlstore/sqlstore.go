// Package sqlstore implements the storage port once, in SQL both SQLite and
// PostgreSQL accept ($N placeholders, RETURNING, ON CONFLICT), over a tiny
// query interface that each adapter provides for its own driver. Dialect
// differences stay in the adapters as capability methods (InterpretError,
// JobInsert), never as switches here.
package sqlstore

import (
	"context"

	"github.com/riverqueue/river"
)

// Querier runs SQL. internal/sqlite wraps database/sql and internal/postgres
// wraps pgx behind it, so the SQL below runs unchanged on both.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows iterates a result set; both drivers' row types fit it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result whose Scan reports "no rows" as the driver's
// own error, which the dialect maps to storage.ErrNotFound.
type Row interface {
	Scan(dest ...any) error
}

// Dialect is what an adapter tells the shared SQL about its database.
type Dialect interface {
	// InterpretError maps the driver's "no rows" to storage.ErrNotFound and
	// unique violations to storage.ErrConflict, keeping the original error
	// in the chain; other errors pass through.
	InterpretError(err error) error
}

// JobInserter enqueues a job inside the current transaction.
type JobInserter func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error

// Queries implements storage.Queries on a Querier (a pool or a transaction).
type Queries struct {
	q Querier
	d Dialect
}

// NewQueries wraps a pool or transaction.
func NewQueries(q Querier, d Dialect) *Queries { return &Queries{q: q, d: d} }

// Tx implements storage.Tx on a transaction's Querier.
type Tx struct {
	*Queries
	insertJob JobInserter
}

// NewTx wraps a transaction; insertJob enqueues through the dialect's job
// driver inside the same transaction.
func NewTx(q Querier, d Dialect, insertJob JobInserter) *Tx {
	return &Tx{Queries: NewQueries(q, d), insertJob: insertJob}
}

// JobInsert enqueues a job that commits with the transaction.
func (t *Tx) JobInsert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	return t.insertJob(ctx, args, opts)
}

func (s *Queries) err(err error) error { return s.d.InterpretError(err) }

// nonNil stores a nil list as an empty one, so it reads back as [] rather
// than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
