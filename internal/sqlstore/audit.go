package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

var errNotFound = storage.ErrNotFound

// AuditAppend links e to the chain and stores it. The UPDATE of the single
// audit_head row comes first: it takes that row's write lock, so concurrent
// appenders on PostgreSQL queue behind each other (SQLite has one writer
// anyway) and the chain never forks.
func (s *Queries) AuditAppend(ctx context.Context, e *ripcord.AuditEntry) error {
	if err := s.q.QueryRow(ctx, `UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash`).Scan(&e.Seq, &e.PrevHash); err != nil {
		return fmt.Errorf("append audit entry %s %s: lock head: %w", e.Action, e.Target, s.err(err))
	}
	e.At = e.At.UTC()
	e.Hash = e.ComputeHash()
	if _, err := s.q.Exec(ctx, `INSERT INTO audit_log (seq, at, actor, action, target, before_state, after_state, request_id, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.Seq, e.At.Format(auditTimeLayout), e.Actor, e.Action, e.Target, e.Before, e.After, e.RequestID, e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("append audit entry %d: %w", e.Seq, s.err(err))
	}
	if _, err := s.q.Exec(ctx, `UPDATE audit_head SET hash = $1 WHERE id = 1`, e.Hash); err != nil {
		return fmt.Errorf("append audit entry %d: move head: %w", e.Seq, s.err(err))
	}
	return nil
}

// auditTimeLayout stores entry times as text with full precision, because the
// hash covers the exact time and a database rounding it (PostgreSQL keeps
// microseconds) would break the chain.
const auditTimeLayout = "2006-01-02T15:04:05.999999999Z07:00"

// AuditList pages through the log in sequence order.
func (s *Queries) AuditList(ctx context.Context, p storage.AuditListParams) ([]ripcord.AuditEntry, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.q.Query(ctx, `SELECT seq, at, actor, action, target, before_state, after_state, request_id, prev_hash, hash
		FROM audit_log WHERE seq > $1 AND ($2 = '' OR target = $2) ORDER BY seq LIMIT $3`, p.AfterSeq, p.Target, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", s.err(err))
	}
	return collect(rows, func(r Row) (ripcord.AuditEntry, error) {
		var e ripcord.AuditEntry
		var at string
		if err := r.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Before, &e.After, &e.RequestID, &e.PrevHash, &e.Hash); err != nil {
			return e, err
		}
		t, err := parseAuditTime(at)
		if err != nil {
			return e, fmt.Errorf("audit entry %d: bad time %q: %w", e.Seq, at, err)
		}
		e.At = t
		return e, nil
	}, s, "list audit entries")
}

// AuditHead returns the newest entry's sequence number and hash.
func (s *Queries) AuditHead(ctx context.Context) (int64, string, error) {
	var seq int64
	var hash string
	if err := s.q.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash); err != nil {
		return 0, "", fmt.Errorf("read audit head: %w", s.err(err))
	}
	return seq, hash, nil
}

// JobCounts counts jobs by kind and state in the job queue's table.
func (s *Queries) JobCounts(ctx context.Context) ([]storage.JobCount, error) {
	rows, err := s.q.Query(ctx, `SELECT kind, CAST(state AS TEXT), count(*) FROM river_job GROUP BY kind, state ORDER BY kind, 2`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", s.err(err))
	}
	return collect(rows, func(r Row) (storage.JobCount, error) {
		var c storage.JobCount
		err := r.Scan(&c.Kind, &c.State, &c.Count)
		return c, err
	}, s, "count jobs")
}

func parseAuditTime(s string) (time.Time, error) {
	t, err := time.Parse(auditTimeLayout, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
