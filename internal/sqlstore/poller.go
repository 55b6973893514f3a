package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// PollerStatusPut upserts a poller's status.
func (s *Queries) PollerStatusPut(ctx context.Context, st storage.PollerStatus) error {
	_, err := s.q.Exec(ctx, `INSERT INTO poller_status (source, app_id, platform, last_attempt_at, last_success_at, data_through, consecutive_errors, last_error, alerted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (source, app_id, platform) DO UPDATE SET last_attempt_at = excluded.last_attempt_at, last_success_at = excluded.last_success_at,
			data_through = excluded.data_through, consecutive_errors = excluded.consecutive_errors, last_error = excluded.last_error, alerted_at = excluded.alerted_at`,
		st.Source, st.AppID, string(st.Platform), nullTime(st.LastAttemptAt), nullTime(st.LastSuccessAt), nullTime(st.DataThrough),
		st.ConsecutiveErrors, st.LastError, nullTime(st.AlertedAt))
	if err != nil {
		return fmt.Errorf("put %s poller status of app %d %s: %w", st.Source, st.AppID, st.Platform, s.err(err))
	}
	return nil
}

// PollerStatusList lists pollers' status.
func (s *Queries) PollerStatusList(ctx context.Context, appID int64) ([]storage.PollerStatus, error) {
	rows, err := s.q.Query(ctx, `SELECT p.source, p.app_id, a.name, p.platform, p.last_attempt_at, p.last_success_at, p.data_through,
		p.consecutive_errors, p.last_error, p.alerted_at FROM poller_status p JOIN apps a ON a.id = p.app_id
		WHERE $1 = 0 OR p.app_id = $1 ORDER BY p.app_id, p.platform, p.source`, appID)
	if err != nil {
		return nil, fmt.Errorf("list poller status of app %d: %w", appID, s.err(err))
	}
	return collect(rows, func(r Row) (storage.PollerStatus, error) {
		var st storage.PollerStatus
		var p string
		var attempt, success, through, alerted sql.NullTime
		err := r.Scan(&st.Source, &st.AppID, &st.App, &p, &attempt, &success, &through, &st.ConsecutiveErrors, &st.LastError, &alerted)
		st.Platform = ripcord.Platform(p)
		st.LastAttemptAt, st.LastSuccessAt, st.DataThrough, st.AlertedAt = fromNullTime(attempt), fromNullTime(success), fromNullTime(through), fromNullTime(alerted)
		return st, err
	}, s, "list poller status")
}

// PollerCursorPut upserts a cumulative poller's counts for one release and metric.
func (s *Queries) PollerCursorPut(ctx context.Context, c storage.PollerCursor) error {
	_, err := s.q.Exec(ctx, `INSERT INTO poller_cursors (source, app_id, platform, version, metric, bad, total) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (source, app_id, platform, version, metric) DO UPDATE SET bad = excluded.bad, total = excluded.total`,
		c.Source, c.AppID, string(c.Platform), c.Version, c.Metric, c.Counts.Bad, c.Counts.Total)
	if err != nil {
		return fmt.Errorf("put %s poller cursor %s %s %s: %w", c.Source, c.Platform, c.Version, c.Metric, s.err(err))
	}
	return nil
}

// PollerCursorList returns a cumulative poller's counts for an app on a platform.
func (s *Queries) PollerCursorList(ctx context.Context, source string, appID int64, platform ripcord.Platform) ([]storage.PollerCursor, error) {
	rows, err := s.q.Query(ctx, `SELECT source, app_id, platform, version, metric, bad, total FROM poller_cursors
		WHERE source = $1 AND app_id = $2 AND platform = $3 ORDER BY version, metric`, source, appID, string(platform))
	if err != nil {
		return nil, fmt.Errorf("list %s poller cursors of app %d %s: %w", source, appID, platform, s.err(err))
	}
	return collect(rows, func(r Row) (storage.PollerCursor, error) {
		var c storage.PollerCursor
		var p string
		err := r.Scan(&c.Source, &c.AppID, &p, &c.Version, &c.Metric, &c.Counts.Bad, &c.Counts.Total)
		c.Platform = ripcord.Platform(p)
		return c, err
	}, s, "list poller cursors")
}
