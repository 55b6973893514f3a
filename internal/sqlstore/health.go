package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// HealthCountsAdd adds each delta to its bucket: an additive upsert, so
// batches from several writers add up instead of overwriting each other.
func (s *Queries) HealthCountsAdd(ctx context.Context, deltas []storage.HealthCountDelta) error {
	for _, d := range deltas {
		_, err := s.q.Exec(ctx, `INSERT INTO health_counts (app_id, platform, version, metric, bucket, bad, total)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (app_id, platform, version, metric, bucket)
			DO UPDATE SET bad = health_counts.bad + excluded.bad, total = health_counts.total + excluded.total`,
			d.AppID, string(d.Platform), d.Version, d.Metric, d.Bucket.UTC(), d.Counts.Bad, d.Counts.Total)
		if err != nil {
			return fmt.Errorf("add health counts %s %s %s %s: %w", d.Platform, d.Version, d.Metric, d.Bucket.Format(time.RFC3339), s.err(err))
		}
	}
	return nil
}

// HealthSpans summarises counts per version and metric.
func (s *Queries) HealthSpans(ctx context.Context, appID int64, platform ripcord.Platform) ([]storage.HealthSpan, error) {
	rows, err := s.q.Query(ctx, `SELECT version, metric, MIN(bucket), MAX(bucket), SUM(bad), SUM(total) FROM health_counts
		WHERE app_id = $1 AND platform = $2 GROUP BY version, metric ORDER BY version, metric`, appID, string(platform))
	if err != nil {
		return nil, fmt.Errorf("health spans of app %d %s: %w", appID, platform, s.err(err))
	}
	return collect(rows, func(r Row) (storage.HealthSpan, error) {
		var sp storage.HealthSpan
		var first, last timeScan
		err := r.Scan(&sp.Version, &sp.Metric, &first, &last, &sp.Counts.Bad, &sp.Counts.Total)
		sp.First, sp.Last = first.t, last.t
		return sp, err
	}, s, "health spans")
}

// HealthSum adds up a release's counts over a range of buckets.
func (s *Queries) HealthSum(ctx context.Context, p storage.HealthSumParams) (health.Counts, error) {
	to := p.To
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var c health.Counts
	err := s.q.QueryRow(ctx, `SELECT COALESCE(SUM(bad), 0), COALESCE(SUM(total), 0) FROM health_counts
		WHERE app_id = $1 AND platform = $2 AND version = $3 AND metric = $4 AND bucket >= $5 AND bucket < $6`,
		p.AppID, string(p.Platform), p.Version, p.Metric, p.From.UTC(), to.UTC()).Scan(&c.Bad, &c.Total)
	if err != nil {
		return c, fmt.Errorf("sum health counts %s %s %s: %w", p.Platform, p.Version, p.Metric, s.err(err))
	}
	return c, nil
}

// HealthDecisionAppend records a decision.
func (s *Queries) HealthDecisionAppend(ctx context.Context, d *storage.HealthDecision) error {
	err := s.q.QueryRow(ctx, `INSERT INTO health_decisions (app_id, platform, version, metric, decided_at, outcome, sentence, inputs)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		d.AppID, string(d.Platform), d.Version, d.Metric, d.DecidedAt.UTC(), string(d.Outcome), d.Sentence, d.Inputs).Scan(&d.ID)
	if err != nil {
		return fmt.Errorf("append health decision %s %s %s: %w", d.Platform, d.Version, d.Metric, s.err(err))
	}
	return nil
}

// HealthDecisionLatest returns the newest decision of a release's metric.
func (s *Queries) HealthDecisionLatest(ctx context.Context, appID int64, platform ripcord.Platform, version, metric string) (*storage.HealthDecision, error) {
	var d storage.HealthDecision
	var p, o string
	err := s.q.QueryRow(ctx, `SELECT id, app_id, platform, version, metric, decided_at, outcome, sentence, inputs FROM health_decisions
		WHERE app_id = $1 AND platform = $2 AND version = $3 AND metric = $4 ORDER BY id DESC LIMIT 1`,
		appID, string(platform), version, metric).Scan(&d.ID, &d.AppID, &p, &d.Version, &d.Metric, &d.DecidedAt, &o, &d.Sentence, &d.Inputs)
	if err != nil {
		return nil, fmt.Errorf("latest health decision %s %s %s: %w", platform, version, metric, s.err(err))
	}
	d.Platform, d.Outcome, d.DecidedAt = ripcord.Platform(p), health.Outcome(o), d.DecidedAt.UTC()
	return &d, nil
}

// timeScan reads a timestamp from an aggregate such as MIN(bucket): SQLite
// returns those as text (aggregates lose the column's declared type),
// PostgreSQL as a timestamp.
type timeScan struct{ t time.Time }

// sqliteTimeLayouts are the text forms modernc.org/sqlite writes.
var sqliteTimeLayouts = []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05"}

func (ts *timeScan) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		ts.t = v.UTC()
		return nil
	case string:
		return ts.parse(v)
	case []byte:
		return ts.parse(string(v))
	case nil:
		ts.t = time.Time{}
		return nil
	}
	return fmt.Errorf("cannot read %T as a time", src)
}

func (ts *timeScan) parse(s string) error {
	for _, l := range sqliteTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			ts.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("cannot read %q as a time", s)
}
