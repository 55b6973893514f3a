package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const webSessionColumns = `id_hash, user_email, actor, role, team_roles, method, created_at, expires_at`

// WebSessionCreate stores a new dashboard session.
func (s *Queries) WebSessionCreate(ctx context.Context, ws *storage.WebSession) error {
	teams, err := json.Marshal(nonNil(ws.TeamRoles))
	if err != nil {
		return fmt.Errorf("encode team roles: %w", err)
	}
	_, err = s.q.Exec(ctx, `INSERT INTO web_sessions (`+webSessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ws.IDHash, ws.UserEmail, ws.Actor, string(ws.Role), string(teams), ws.Method, ws.CreatedAt.UTC(), ws.ExpiresAt.UTC())
	if err != nil {
		return fmt.Errorf("insert web session of %s: %w", ws.Actor, s.err(err))
	}
	return nil
}

// WebSessionGet returns a session by its id hash.
func (s *Queries) WebSessionGet(ctx context.Context, idHash string) (*storage.WebSession, error) {
	var ws storage.WebSession
	var role, teams string
	err := s.q.QueryRow(ctx, `SELECT `+webSessionColumns+` FROM web_sessions WHERE id_hash = $1`, idHash).
		Scan(&ws.IDHash, &ws.UserEmail, &ws.Actor, &role, &teams, &ws.Method, &ws.CreatedAt, &ws.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("get web session: %w", s.err(err))
	}
	ws.Role = ripcord.Role(role)
	if err := json.Unmarshal([]byte(teams), &ws.TeamRoles); err != nil {
		return nil, fmt.Errorf("web session of %s: team roles %q: %w", ws.Actor, teams, err)
	}
	ws.CreatedAt, ws.ExpiresAt = ws.CreatedAt.UTC(), ws.ExpiresAt.UTC()
	return &ws, nil
}

// WebSessionDelete removes a session.
func (s *Queries) WebSessionDelete(ctx context.Context, idHash string) error {
	n, err := s.q.Exec(ctx, `DELETE FROM web_sessions WHERE id_hash = $1`, idHash)
	if err != nil {
		return fmt.Errorf("delete web session: %w", s.err(err))
	}
	if n == 0 {
		return fmt.Errorf("delete web session: %w", errNotFound)
	}
	return nil
}

// WebSessionDeleteExpired removes sessions that expired before the time.
func (s *Queries) WebSessionDeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.q.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at < $1`, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", s.err(err))
	}
	return n, nil
}

// HealthSeries sums a release's counts of a metric in n equal windows
// from its first minute to its last. Each window is one indexed range sum
// (the primary key leads with app, platform, version, metric, bucket), so
// the cost grows with n, not with the release's age.
func (s *Queries) HealthSeries(ctx context.Context, p storage.HealthSumParams, n int) ([]storage.HealthBucket, error) {
	// First and last minute, each one step down the primary key.
	var first, last timeScan
	const edge = `SELECT bucket FROM health_counts WHERE app_id = $1 AND platform = $2 AND version = $3 AND metric = $4 ORDER BY bucket `
	for _, q := range []struct {
		order string
		into  *timeScan
	}{{"ASC", &first}, {"DESC", &last}} {
		err := s.q.QueryRow(ctx, edge+q.order+` LIMIT 1`, p.AppID, string(p.Platform), p.Version, p.Metric).Scan(q.into)
		if errors.Is(s.err(err), errNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, fmt.Errorf("health series %s %s %s: %w", p.Platform, p.Version, p.Metric, s.err(err))
		}
	}
	if n <= 0 {
		return nil, nil
	}
	end := last.t.Add(time.Minute)
	minutes := int64(end.Sub(first.t) / time.Minute)
	n = int(min(int64(n), minutes))
	// One statement of n indexed range sums: one parse and one round trip
	// instead of n.
	args := []any{p.AppID, string(p.Platform), p.Version, p.Metric}
	cuts := make([]time.Time, n+1)
	for i := range cuts {
		cuts[i] = first.t.Add(time.Duration(minutes*int64(i)/int64(n)) * time.Minute)
		args = append(args, cuts[i].UTC())
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`SELECT %d, COALESCE(SUM(bad), 0), COALESCE(SUM(total), 0) FROM health_counts
			WHERE app_id = $1 AND platform = $2 AND version = $3 AND metric = $4 AND bucket >= $%d AND bucket < $%d`, i, i+5, i+6)
	}
	rows, err := s.q.Query(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return nil, fmt.Errorf("health series %s %s %s: %w", p.Platform, p.Version, p.Metric, s.err(err))
	}
	out, err := collect(rows, func(r Row) (storage.HealthBucket, error) {
		var i int
		var b storage.HealthBucket
		if err := r.Scan(&i, &b.Counts.Bad, &b.Counts.Total); err != nil {
			return b, err
		}
		if i < 0 || i >= n {
			return b, fmt.Errorf("window %d out of range", i)
		}
		b.Bucket = cuts[i+1]
		return b, nil
	}, s, "health series")
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b storage.HealthBucket) int { return a.Bucket.Compare(b.Bucket) })
	return out, nil
}

// AuditListTargets returns the newest entries of several targets, oldest
// first.
func (s *Queries) AuditListTargets(ctx context.Context, targets []string, limit int) ([]ripcord.AuditEntry, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	if limit <= 0 {
		limit = 1000
	}
	args := make([]any, 0, len(targets)+1)
	marks := make([]string, len(targets))
	for i, t := range targets {
		args = append(args, t)
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	args = append(args, limit)
	rows, err := s.q.Query(ctx, `SELECT seq, at, actor, action, target, before_state, after_state, request_id, prev_hash, hash
		FROM audit_log WHERE target IN (`+strings.Join(marks, ", ")+`) ORDER BY seq DESC LIMIT $`+strconv.Itoa(len(targets)+1), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries of %d targets: %w", len(targets), s.err(err))
	}
	es, err := collect(rows, func(r Row) (ripcord.AuditEntry, error) {
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
	if err != nil {
		return nil, err
	}
	slices.Reverse(es)
	return es, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
