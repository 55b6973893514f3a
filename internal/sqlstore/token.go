package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
)

const tokenColumns = `id, name, role, prefix, hash, created_by, created_at, last_used_at, revoked_at, user_id`

func scanToken(r Row) (*ripcord.Token, error) {
	var t ripcord.Token
	var role string
	var used, revoked sql.NullTime
	var user sql.NullInt64
	if err := r.Scan(&t.ID, &t.Name, &role, &t.Prefix, &t.Hash, &t.CreatedBy, &t.CreatedAt, &used, &revoked, &user); err != nil {
		return nil, err
	}
	t.Role = ripcord.Role(role)
	t.UserID = user.Int64
	t.CreatedAt = t.CreatedAt.UTC()
	if used.Valid {
		t.LastUsedAt = used.Time.UTC()
	}
	if revoked.Valid {
		t.RevokedAt = revoked.Time.UTC()
	}
	return &t, nil
}

// TokenCreate inserts t and sets its ID.
func (s *Queries) TokenCreate(ctx context.Context, t *ripcord.Token) error {
	err := s.q.QueryRow(ctx, `INSERT INTO api_tokens (name, role, prefix, hash, created_by, created_at, user_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		t.Name, string(t.Role), t.Prefix, t.Hash, t.CreatedBy, t.CreatedAt.UTC(), sql.NullInt64{Int64: t.UserID, Valid: t.UserID != 0}).Scan(&t.ID)
	if err != nil {
		return fmt.Errorf("insert token %q: %w", t.Name, s.err(err))
	}
	return nil
}

// TokenGetByHash finds the token whose secret hashes to hash.
func (s *Queries) TokenGetByHash(ctx context.Context, hash string) (*ripcord.Token, error) {
	t, err := scanToken(s.q.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, fmt.Errorf("get token by hash: %w", s.err(err))
	}
	return t, nil
}

// TokenGetByName finds a token by its name.
func (s *Queries) TokenGetByName(ctx context.Context, name string) (*ripcord.Token, error) {
	t, err := scanToken(s.q.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE name = $1`, name))
	if err != nil {
		return nil, fmt.Errorf("get token %q: %w", name, s.err(err))
	}
	return t, nil
}

// TokenList lists tokens by name.
func (s *Queries) TokenList(ctx context.Context) ([]*ripcord.Token, error) {
	rows, err := s.q.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", s.err(err))
	}
	return collect(rows, scanToken, s, "list tokens")
}

// TokenRevoke marks a token revoked; revoking twice keeps the first time.
func (s *Queries) TokenRevoke(ctx context.Context, id int64, at time.Time) error {
	n, err := s.q.Exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, at.UTC(), id)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, s.err(err))
	}
	if n == 0 {
		return fmt.Errorf("revoke token %d: %w", id, errNotFound)
	}
	return nil
}

// TokenTouch records a token's last use.
func (s *Queries) TokenTouch(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.q.Exec(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, at.UTC(), id); err != nil {
		return fmt.Errorf("touch token %d: %w", id, s.err(err))
	}
	return nil
}
