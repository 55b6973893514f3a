package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ripcordhq/ripcord/internal/storage"
)

const credentialColumns = `app_id, kind, ciphertext, metadata, expires_at, created_by, updated_at`

func scanCredential(r Row) (storage.Credential, error) {
	var c storage.Credential
	var expires sql.NullTime
	if err := r.Scan(&c.AppID, &c.Kind, &c.Ciphertext, &c.Metadata, &expires, &c.CreatedBy, &c.UpdatedAt); err != nil {
		return c, err
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	if expires.Valid {
		c.ExpiresAt = expires.Time.UTC()
	}
	return c, nil
}

// CredentialPut inserts or replaces an app's credential of c.Kind.
func (s *Queries) CredentialPut(ctx context.Context, c *storage.Credential) error {
	var expires sql.NullTime
	if !c.ExpiresAt.IsZero() {
		expires = sql.NullTime{Time: c.ExpiresAt.UTC(), Valid: true}
	}
	_, err := s.q.Exec(ctx, `INSERT INTO app_credentials (`+credentialColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (app_id, kind) DO UPDATE SET ciphertext = excluded.ciphertext, metadata = excluded.metadata,
			expires_at = excluded.expires_at, created_by = excluded.created_by, updated_at = excluded.updated_at`,
		c.AppID, c.Kind, c.Ciphertext, c.Metadata, expires, c.CreatedBy, c.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("put credential %s of app %d: %w", c.Kind, c.AppID, s.err(err))
	}
	return nil
}

// CredentialGet returns an app's credential of a kind.
func (s *Queries) CredentialGet(ctx context.Context, appID int64, kind string) (*storage.Credential, error) {
	c, err := scanCredential(s.q.QueryRow(ctx, `SELECT `+credentialColumns+` FROM app_credentials WHERE app_id = $1 AND kind = $2`, appID, kind))
	if err != nil {
		return nil, fmt.Errorf("get credential %s of app %d: %w", kind, appID, s.err(err))
	}
	return &c, nil
}

// CredentialList lists an app's credentials (every app's when appID is 0).
func (s *Queries) CredentialList(ctx context.Context, appID int64) ([]storage.Credential, error) {
	rows, err := s.q.Query(ctx, `SELECT `+credentialColumns+` FROM app_credentials
		WHERE $1 = 0 OR app_id = $1 ORDER BY app_id, kind`, appID)
	if err != nil {
		return nil, fmt.Errorf("list credentials of app %d: %w", appID, s.err(err))
	}
	return collect(rows, scanCredential, s, "list credentials")
}

// CredentialDelete removes an app's credential of a kind.
func (s *Queries) CredentialDelete(ctx context.Context, appID int64, kind string) error {
	n, err := s.q.Exec(ctx, `DELETE FROM app_credentials WHERE app_id = $1 AND kind = $2`, appID, kind)
	if err != nil {
		return fmt.Errorf("delete credential %s of app %d: %w", kind, appID, s.err(err))
	}
	if n == 0 {
		return fmt.Errorf("delete credential %s of app %d: %w", kind, appID, errNotFound)
	}
	return nil
}
