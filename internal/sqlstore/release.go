package sqlstore

import (
	"context"
	"fmt"

	"github.com/ripcordhq/ripcord"
)

// ReleaseCreate inserts r and its platforms, setting r.ID.
func (s *Queries) ReleaseCreate(ctx context.Context, r *ripcord.Release) error {
	err := s.q.QueryRow(ctx, `INSERT INTO releases (app_id, version, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		r.AppID, r.Version, r.CreatedBy, r.CreatedAt.UTC()).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("insert release %s of app %d: %w", r.Version, r.AppID, s.err(err))
	}
	for _, rp := range r.Platforms {
		if _, err := s.q.Exec(ctx, `INSERT INTO release_platforms (release_id, platform, build_id, status, updated_at) VALUES ($1, $2, $3, $4, $5)`,
			r.ID, string(rp.Platform), nullID(rp.BuildID), string(rp.Status), rp.UpdatedAt.UTC()); err != nil {
			return fmt.Errorf("insert release %s platform %s: %w", r.Version, rp.Platform, s.err(err))
		}
	}
	return nil
}

// ReleasePlatformUpdate stores a release's state on one platform.
func (s *Queries) ReleasePlatformUpdate(ctx context.Context, releaseID int64, rp ripcord.ReleasePlatform) error {
	n, err := s.q.Exec(ctx, `UPDATE release_platforms SET build_id = $1, status = $2, updated_at = $3 WHERE release_id = $4 AND platform = $5`,
		nullID(rp.BuildID), string(rp.Status), rp.UpdatedAt.UTC(), releaseID, string(rp.Platform))
	if err != nil {
		return fmt.Errorf("update release %d platform %s: %w", releaseID, rp.Platform, s.err(err))
	}
	if n == 0 {
		return fmt.Errorf("update release %d platform %s: %w", releaseID, rp.Platform, errNotFound)
	}
	return nil
}

// ReleaseGetByVersion returns an app's release of a version with its platforms.
func (s *Queries) ReleaseGetByVersion(ctx context.Context, appID int64, version string) (*ripcord.Release, error) {
	var r ripcord.Release
	err := s.q.QueryRow(ctx, `SELECT id, app_id, version, created_by, created_at FROM releases WHERE app_id = $1 AND version = $2`, appID, version).
		Scan(&r.ID, &r.AppID, &r.Version, &r.CreatedBy, &r.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("get release %s of app %d: %w", version, appID, s.err(err))
	}
	r.CreatedAt = r.CreatedAt.UTC()
	rels := []*ripcord.Release{&r}
	if err := s.loadReleasePlatforms(ctx, rels); err != nil {
		return nil, err
	}
	return &r, nil
}

// ReleaseList returns an app's releases, newest first.
func (s *Queries) ReleaseList(ctx context.Context, appID int64) ([]*ripcord.Release, error) {
	rows, err := s.q.Query(ctx, `SELECT id, app_id, version, created_by, created_at FROM releases WHERE app_id = $1 ORDER BY id DESC`, appID)
	if err != nil {
		return nil, fmt.Errorf("list releases of app %d: %w", appID, s.err(err))
	}
	rels, err := collect(rows, func(r Row) (*ripcord.Release, error) {
		var rel ripcord.Release
		if err := r.Scan(&rel.ID, &rel.AppID, &rel.Version, &rel.CreatedBy, &rel.CreatedAt); err != nil {
			return nil, err
		}
		rel.CreatedAt = rel.CreatedAt.UTC()
		return &rel, nil
	}, s, "list releases")
	if err != nil {
		return nil, err
	}
	if err := s.loadReleasePlatforms(ctx, rels); err != nil {
		return nil, err
	}
	return rels, nil
}

// loadReleasePlatforms fills Platforms of each release in one query per
// listing, in display order (Android first).
func (s *Queries) loadReleasePlatforms(ctx context.Context, rels []*ripcord.Release) error {
	if len(rels) == 0 {
		return nil
	}
	byID := make(map[int64]*ripcord.Release, len(rels))
	minID, maxID := rels[0].ID, rels[0].ID
	for _, r := range rels {
		byID[r.ID] = r
		minID, maxID = min(minID, r.ID), max(maxID, r.ID)
	}
	rows, err := s.q.Query(ctx, `SELECT release_id, platform, COALESCE(build_id, 0), status, updated_at FROM release_platforms
		WHERE release_id BETWEEN $1 AND $2 ORDER BY release_id, platform`, minID, maxID)
	if err != nil {
		return fmt.Errorf("load release platforms: %w", s.err(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var rp ripcord.ReleasePlatform
		var platform, status string
		if err := rows.Scan(&id, &platform, &rp.BuildID, &status, &rp.UpdatedAt); err != nil {
			return fmt.Errorf("load release platforms: %w", s.err(err))
		}
		rp.Platform, rp.Status, rp.UpdatedAt = ripcord.Platform(platform), ripcord.ReleaseStatus(status), rp.UpdatedAt.UTC()
		if r := byID[id]; r != nil {
			r.Platforms = append(r.Platforms, rp) // "android" < "ios" sorts display order
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load release platforms: %w", s.err(err))
	}
	rows.Close()
	return s.loadReleaseRollouts(ctx, byID, minID, maxID) // staged rollouts (internal/stages)
}

// nullID stores 0 as NULL so the build foreign key holds.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
