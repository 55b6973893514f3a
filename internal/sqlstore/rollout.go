package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// RolloutPlanGet returns the rollout plan an app set.
func (s *Queries) RolloutPlanGet(ctx context.Context, appID int64) (*storage.RolloutPlan, error) {
	p := storage.RolloutPlan{AppID: appID}
	var plan string
	err := s.q.QueryRow(ctx, `SELECT plan, updated_by, updated_at FROM rollout_plans WHERE app_id = $1`, appID).Scan(&plan, &p.UpdatedBy, &p.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("get rollout plan of app %d: %w", appID, s.err(err))
	}
	if err := json.Unmarshal([]byte(plan), &p.Plan); err != nil {
		return nil, fmt.Errorf("get rollout plan of app %d: stored plan does not decode: %w", appID, err)
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return &p, nil
}

// RolloutPlanPut stores an app's rollout plan, replacing the one it had.
func (s *Queries) RolloutPlanPut(ctx context.Context, p *storage.RolloutPlan) error {
	plan, err := json.Marshal(p.Plan)
	if err != nil {
		return fmt.Errorf("put rollout plan of app %d: %w", p.AppID, err)
	}
	_, err = s.q.Exec(ctx, `INSERT INTO rollout_plans (app_id, plan, updated_by, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (app_id) DO UPDATE SET plan = excluded.plan, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		p.AppID, string(plan), p.UpdatedBy, p.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("put rollout plan of app %d: %w", p.AppID, s.err(err))
	}
	return nil
}

// ReleaseRolloutPut stores a release's rollout progress on one platform.
func (s *Queries) ReleaseRolloutPut(ctx context.Context, releaseID int64, rp ripcord.ReleasePlatform) error {
	var one int
	if err := s.q.QueryRow(ctx, `SELECT 1 FROM release_platforms WHERE release_id = $1 AND platform = $2`, releaseID, string(rp.Platform)).Scan(&one); err != nil {
		return fmt.Errorf("put rollout of release %d platform %s: %w", releaseID, rp.Platform, s.err(err))
	}
	plan := ""
	if rp.Plan != nil {
		b, err := json.Marshal(rp.Plan)
		if err != nil {
			return fmt.Errorf("put rollout of release %d platform %s: %w", releaseID, rp.Platform, err)
		}
		plan = string(b)
	}
	_, err := s.q.Exec(ctx, `INSERT INTO release_rollouts (release_id, platform, stage, stage_started_at, rollout_started_at, plan, store_ref, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (release_id, platform) DO UPDATE SET stage = excluded.stage, stage_started_at = excluded.stage_started_at,
			rollout_started_at = excluded.rollout_started_at, plan = excluded.plan, store_ref = excluded.store_ref, reason = excluded.reason`,
		releaseID, string(rp.Platform), rp.Stage, nullTime(rp.StageStartedAt), nullTime(rp.RolloutStartedAt), plan, rp.StoreRef, rp.Reason)
	if err != nil {
		return fmt.Errorf("put rollout of release %d platform %s: %w", releaseID, rp.Platform, s.err(err))
	}
	return nil
}

// loadReleaseRollouts fills the rollout progress of the releases' platforms
// (loaded already) in one query; platforms without a row keep zero values.
func (s *Queries) loadReleaseRollouts(ctx context.Context, byID map[int64]*ripcord.Release, minID, maxID int64) error {
	rows, err := s.q.Query(ctx, `SELECT release_id, platform, stage, stage_started_at, rollout_started_at, plan, store_ref, reason
		FROM release_rollouts WHERE release_id BETWEEN $1 AND $2`, minID, maxID)
	if err != nil {
		return fmt.Errorf("load release rollouts: %w", s.err(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var platform, plan, ref, reason string
		var stage int
		var stageAt, startAt sql.NullTime
		if err := rows.Scan(&id, &platform, &stage, &stageAt, &startAt, &plan, &ref, &reason); err != nil {
			return fmt.Errorf("load release rollouts: %w", s.err(err))
		}
		r := byID[id]
		if r == nil {
			continue
		}
		rp := r.Platform(ripcord.Platform(platform))
		if rp == nil {
			continue
		}
		rp.Stage, rp.StoreRef, rp.Reason = stage, ref, reason
		if stageAt.Valid {
			rp.StageStartedAt = stageAt.Time.UTC()
		}
		if startAt.Valid {
			rp.RolloutStartedAt = startAt.Time.UTC()
		}
		if plan != "" {
			var p ripcord.RolloutPlan
			if err := json.Unmarshal([]byte(plan), &p); err != nil {
				return fmt.Errorf("load rollout of release %d platform %s: stored plan does not decode: %w", id, platform, err)
			}
			rp.Plan = &p
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load release rollouts: %w", s.err(err))
	}
	return nil
}
