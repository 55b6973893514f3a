package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const rollbackColumns = `id, app_id, platform, target_version, version, build_number, source_build_id, source_sha256,
	state, reason, build_id, sha256, signer_cert_sha256, findings, store_ref, created_at, updated_at,
	store_version_id, store_version_state, approved_at, target_released_at, superseded_at`

func scanRollbackBuild(r Row) (*ripcord.RollbackBuild, error) {
	var rb ripcord.RollbackBuild
	var platform, state string
	var buildID sql.NullInt64
	var approved, released, superseded sql.NullTime
	if err := r.Scan(&rb.ID, &rb.AppID, &platform, &rb.TargetVersion, &rb.Version, &rb.BuildNumber, &rb.SourceBuildID, &rb.SourceSHA256,
		&state, &rb.Reason, &buildID, &rb.SHA256, &rb.SignerCertSHA256, &rb.Findings, &rb.StoreRef, &rb.CreatedAt, &rb.UpdatedAt,
		&rb.StoreVersionID, &rb.StoreVersionState, &approved, &released, &superseded); err != nil {
		return nil, err
	}
	rb.Platform, rb.State, rb.BuildID = ripcord.Platform(platform), ripcord.RollbackState(state), buildID.Int64
	if approved.Valid {
		rb.ApprovedAt = approved.Time.UTC()
	}
	if released.Valid {
		rb.TargetReleasedAt = released.Time.UTC()
	}
	if superseded.Valid {
		rb.SupersededAt = superseded.Time.UTC()
	}
	rb.CreatedAt, rb.UpdatedAt = rb.CreatedAt.UTC(), rb.UpdatedAt.UTC()
	return &rb, nil
}

// RollbackBuildCreate inserts rb and sets its ID.
func (s *Queries) RollbackBuildCreate(ctx context.Context, rb *ripcord.RollbackBuild) error {
	if rb.Findings == "" {
		rb.Findings = "[]"
	}
	err := s.q.QueryRow(ctx, `INSERT INTO rollback_builds (app_id, platform, target_version, version, build_number, source_build_id, source_sha256,
			state, reason, build_id, sha256, signer_cert_sha256, findings, store_ref, created_at, updated_at,
			store_version_id, store_version_state, approved_at, target_released_at, superseded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) RETURNING id`,
		rb.AppID, string(rb.Platform), rb.TargetVersion, rb.Version, rb.BuildNumber, rb.SourceBuildID, rb.SourceSHA256,
		string(rb.State), rb.Reason, nullID(rb.BuildID), rb.SHA256, rb.SignerCertSHA256, rb.Findings, rb.StoreRef,
		rb.CreatedAt.UTC(), rb.UpdatedAt.UTC(), rb.StoreVersionID, rb.StoreVersionState, nullTime(rb.ApprovedAt), nullTime(rb.TargetReleasedAt), nullTime(rb.SupersededAt)).Scan(&rb.ID)
	if err != nil {
		return fmt.Errorf("insert %s rollback build for %s of app %d: %w", rb.Platform, rb.TargetVersion, rb.AppID, s.err(err))
	}
	return nil
}

// RollbackBuildUpdate stores a rollback build's progress.
func (s *Queries) RollbackBuildUpdate(ctx context.Context, rb *ripcord.RollbackBuild) error {
	if rb.Findings == "" {
		rb.Findings = "[]"
	}
	n, err := s.q.Exec(ctx, `UPDATE rollback_builds SET state = $2, reason = $3, build_id = $4, sha256 = $5, signer_cert_sha256 = $6,
			findings = $7, store_ref = $8, updated_at = $9, store_version_id = $10, store_version_state = $11, approved_at = $12,
			target_released_at = $13 WHERE id = $1`,
		rb.ID, string(rb.State), rb.Reason, nullID(rb.BuildID), rb.SHA256, rb.SignerCertSHA256, rb.Findings, rb.StoreRef, rb.UpdatedAt.UTC(),
		rb.StoreVersionID, rb.StoreVersionState, nullTime(rb.ApprovedAt), nullTime(rb.TargetReleasedAt))
	if err != nil {
		return fmt.Errorf("update rollback build %d: %w", rb.ID, s.err(err))
	}
	if n == 0 {
		return fmt.Errorf("update rollback build %d: %w", rb.ID, errNotFound)
	}
	return nil
}

// RollbackBuildGet returns an app's rollback build for a target on a platform.
func (s *Queries) RollbackBuildGet(ctx context.Context, appID int64, platform ripcord.Platform, targetVersion string) (*ripcord.RollbackBuild, error) {
	rb, err := scanRollbackBuild(s.q.QueryRow(ctx, `SELECT `+rollbackColumns+` FROM rollback_builds
		WHERE app_id = $1 AND platform = $2 AND target_version = $3 AND superseded_at IS NULL`, appID, string(platform), targetVersion))
	if err != nil {
		return nil, fmt.Errorf("get %s rollback build for %s of app %d: %w", platform, targetVersion, appID, s.err(err))
	}
	return rb, nil
}

func scanString(r Row) (string, error) {
	var v string
	err := r.Scan(&v)
	return v, err
}

// RollbackVersionsUsed lists the versions an app's builds, releases and
// rollback builds use, on every platform (one version ships on both stores).
func (s *Queries) RollbackVersionsUsed(ctx context.Context, appID int64) ([]string, error) {
	rows, err := s.q.Query(ctx, `SELECT version FROM builds WHERE app_id = $1
		UNION SELECT version FROM releases WHERE app_id = $1
		UNION SELECT version FROM rollback_builds WHERE app_id = $1
		ORDER BY 1`, appID)
	if err != nil {
		return nil, fmt.Errorf("list versions used by app %d: %w", appID, s.err(err))
	}
	return collect(rows, scanString, s, "list versions used")
}

// RollbackBuildNumbersUsed lists the build numbers an app's builds and
// reservations use on a platform.
func (s *Queries) RollbackBuildNumbersUsed(ctx context.Context, appID int64, platform ripcord.Platform) ([]string, error) {
	rows, err := s.q.Query(ctx, `SELECT build_number FROM builds WHERE app_id = $1 AND platform = $2
		UNION SELECT build_number FROM build_number_reservations WHERE app_id = $1 AND platform = $2
		ORDER BY 1`, appID, string(platform))
	if err != nil {
		return nil, fmt.Errorf("list %s build numbers used by app %d: %w", platform, appID, s.err(err))
	}
	return collect(rows, scanString, s, "list build numbers used")
}

// BuildNumberReserve takes a build number for a rollback build.
func (s *Queries) BuildNumberReserve(ctx context.Context, r storage.BuildNumberReservation) error {
	_, err := s.q.Exec(ctx, `INSERT INTO build_number_reservations (app_id, platform, build_number, reserved_for, created_at)
		VALUES ($1, $2, $3, $4, $5)`, r.AppID, string(r.Platform), r.BuildNumber, r.ReservedFor, r.CreatedAt.UTC())
	if err != nil {
		return fmt.Errorf("reserve %s build number %s of app %d: %w", r.Platform, r.BuildNumber, r.AppID, s.err(err))
	}
	return nil
}

func scanReservation(r Row) (storage.BuildNumberReservation, error) {
	var res storage.BuildNumberReservation
	var platform string
	err := r.Scan(&res.AppID, &platform, &res.BuildNumber, &res.ReservedFor, &res.CreatedAt)
	res.Platform, res.CreatedAt = ripcord.Platform(platform), res.CreatedAt.UTC()
	return res, err
}

// BuildNumberReservationList lists an app's reservations on a platform.
func (s *Queries) BuildNumberReservationList(ctx context.Context, appID int64, platform ripcord.Platform) ([]storage.BuildNumberReservation, error) {
	rows, err := s.q.Query(ctx, `SELECT app_id, platform, build_number, reserved_for, created_at FROM build_number_reservations
		WHERE app_id = $1 AND platform = $2 ORDER BY created_at, reserved_for`, appID, string(platform))
	if err != nil {
		return nil, fmt.Errorf("list %s build number reservations of app %d: %w", platform, appID, s.err(err))
	}
	return collect(rows, scanReservation, s, "list build number reservations")
}

// nullTime stores a zero time as NULL.
func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

// RollbackBuildList lists rollback builds matching p, oldest first.
func (s *Queries) RollbackBuildList(ctx context.Context, p storage.RollbackBuildListParams) ([]*ripcord.RollbackBuild, error) {
	rows, err := s.q.Query(ctx, `SELECT `+rollbackColumns+` FROM rollback_builds
		WHERE ($1 = 0 OR app_id = $1) AND ($2 = '' OR platform = $2) AND ($3 = '' OR target_version = $3)
			AND (superseded_at IS NULL) = $4
		ORDER BY id`, p.AppID, string(p.Platform), p.TargetVersion, !p.Superseded)
	if err != nil {
		return nil, fmt.Errorf("list rollback builds: %w", s.err(err))
	}
	return collect(rows, scanRollbackBuild, s, "list rollback builds")
}

// RollbackBuildSupersede marks a current rollback build superseded.
func (s *Queries) RollbackBuildSupersede(ctx context.Context, id int64, at time.Time) error {
	n, err := s.q.Exec(ctx, `UPDATE rollback_builds SET superseded_at = $2 WHERE id = $1 AND superseded_at IS NULL`, id, at.UTC())
	if err != nil {
		return fmt.Errorf("supersede rollback build %d: %w", id, s.err(err))
	}
	if n == 0 {
		return fmt.Errorf("supersede rollback build %d: %w", id, errNotFound)
	}
	return nil
}
