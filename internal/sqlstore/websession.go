package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
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

// HealthBuckets lists a release's per-minute counts of a metric in time
// order.
func (s *Queries) HealthBuckets(ctx context.Context, p storage.HealthSumParams) ([]storage.HealthBucket, error) {
	to := p.To
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	rows, err := s.q.Query(ctx, `SELECT bucket, bad, total FROM health_counts
		WHERE app_id = $1 AND platform = $2 AND version = $3 AND metric = $4 AND bucket >= $5 AND bucket < $6 ORDER BY bucket`,
		p.AppID, string(p.Platform), p.Version, p.Metric, p.From.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("list health buckets %s %s %s: %w", p.Platform, p.Version, p.Metric, s.err(err))
	}
	return collect(rows, func(r Row) (storage.HealthBucket, error) {
		var b storage.HealthBucket
		var at timeScan
		if err := r.Scan(&at, &b.Counts.Bad, &b.Counts.Total); err != nil {
			return b, err
		}
		b.Bucket = at.t
		return b, nil
	}, s, "list health buckets")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
