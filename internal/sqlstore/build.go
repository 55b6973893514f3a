package sqlstore

import (
	"context"
	"fmt"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const buildColumns = `id, app_id, platform, version, build_number, sha256, size, blob_key, source_commit, uploaded_by, created_at`

func scanBuild(r Row) (*ripcord.Build, error) {
	var b ripcord.Build
	var platform string
	if err := r.Scan(&b.ID, &b.AppID, &platform, &b.Version, &b.BuildNumber, &b.SHA256, &b.Size, &b.BlobKey, &b.SourceCommit, &b.UploadedBy, &b.CreatedAt); err != nil {
		return nil, err
	}
	b.Platform = ripcord.Platform(platform)
	b.CreatedAt = b.CreatedAt.UTC()
	return &b, nil
}

// BuildCreate inserts b and sets its ID. The identity key column holds what
// the store treats as unique: versionCode on Android, version+build on iOS.
func (s *Queries) BuildCreate(ctx context.Context, b *ripcord.Build) error {
	err := s.q.QueryRow(ctx, `INSERT INTO builds (app_id, platform, version, build_number, identity_key, sha256, size, blob_key, source_commit, uploaded_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		b.AppID, string(b.Platform), b.Version, b.BuildNumber, identityKey(b.Platform, b.Version, b.BuildNumber),
		b.SHA256, b.Size, b.BlobKey, b.SourceCommit, b.UploadedBy, b.CreatedAt.UTC()).Scan(&b.ID)
	if err != nil {
		return fmt.Errorf("insert %s build %s of app %d: %w", b.Platform, b.Label(), b.AppID, s.err(err))
	}
	return nil
}

// identityKey is the unique store identity of a build. Build numbers are
// stored as given, so "120" and "0120" would differ; validation rejects
// neither, and Play compares numerically, so Android keys are normalised.
func identityKey(p ripcord.Platform, version, buildNumber string) string {
	if p == ripcord.Android {
		if n, err := ripcord.ParseVersionCode(buildNumber); err == nil {
			return fmt.Sprintf("%d", n)
		}
		return buildNumber
	}
	return version + "+" + buildNumber
}

// BuildGetByID returns one build.
func (s *Queries) BuildGetByID(ctx context.Context, id int64) (*ripcord.Build, error) {
	b, err := scanBuild(s.q.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get build %d: %w", id, s.err(err))
	}
	return b, nil
}

// BuildGetByIdentity returns the build holding a store identity.
func (s *Queries) BuildGetByIdentity(ctx context.Context, p storage.BuildIdentityParams) (*ripcord.Build, error) {
	b, err := scanBuild(s.q.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds WHERE app_id = $1 AND platform = $2 AND identity_key = $3`,
		p.AppID, string(p.Platform), identityKey(p.Platform, p.Version, p.BuildNumber)))
	if err != nil {
		return nil, fmt.Errorf("get %s build %s (%s) of app %d: %w", p.Platform, p.Version, p.BuildNumber, p.AppID, s.err(err))
	}
	return b, nil
}

// BuildGetBySHA256 returns the app's build of a platform with these bytes.
func (s *Queries) BuildGetBySHA256(ctx context.Context, appID int64, platform ripcord.Platform, sha256 string) (*ripcord.Build, error) {
	b, err := scanBuild(s.q.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds WHERE app_id = $1 AND platform = $2 AND sha256 = $3`,
		appID, string(platform), sha256))
	if err != nil {
		return nil, fmt.Errorf("get %s build with sha256 %s of app %d: %w", platform, sha256, appID, s.err(err))
	}
	return b, nil
}

// BuildList lists builds newest first.
func (s *Queries) BuildList(ctx context.Context, p storage.BuildListParams) ([]*ripcord.Build, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.q.Query(ctx, `SELECT `+buildColumns+` FROM builds
		WHERE ($1 = 0 OR app_id = $1) AND ($2 = '' OR platform = $2) AND ($3 = '' OR version = $3)
		ORDER BY id DESC LIMIT $4`, p.AppID, string(p.Platform), p.Version, limit)
	if err != nil {
		return nil, fmt.Errorf("list builds: %w", s.err(err))
	}
	return collect(rows, scanBuild, s, "list builds")
}

// BuildBlobKeyReferenced reports whether a build points at the blob key.
func (s *Queries) BuildBlobKeyReferenced(ctx context.Context, key string) (bool, error) {
	var n int64
	if err := s.q.QueryRow(ctx, `SELECT count(*) FROM builds WHERE blob_key = $1`, key).Scan(&n); err != nil {
		return false, fmt.Errorf("look up blob %s: %w", key, s.err(err))
	}
	return n > 0, nil
}
