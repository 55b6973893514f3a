package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const userColumns = `id, email, name, role, team_roles, password_hash, disabled, created_by, created_at, updated_at`

func scanUser(r Row) (*storage.User, error) {
	var u storage.User
	var role, teams string
	if err := r.Scan(&u.ID, &u.Email, &u.Name, &role, &teams, &u.PasswordHash, &u.Disabled, &u.CreatedBy, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.Role = ripcord.Role(role)
	if err := json.Unmarshal([]byte(teams), &u.TeamRoles); err != nil {
		return nil, fmt.Errorf("user %s: team roles %q: %w", u.Email, teams, err)
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

func teamRolesJSON(roles []string) string {
	if roles == nil {
		roles = []string{}
	}
	b, _ := json.Marshal(roles) // a []string always marshals
	return string(b)
}

// UserCreate inserts u and sets its ID.
func (s *Queries) UserCreate(ctx context.Context, u *storage.User) error {
	err := s.q.QueryRow(ctx, `INSERT INTO users (email, name, role, team_roles, password_hash, disabled, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		u.Email, u.Name, string(u.Role), teamRolesJSON(u.TeamRoles), u.PasswordHash, u.Disabled, u.CreatedBy, u.CreatedAt.UTC(), u.UpdatedAt.UTC()).Scan(&u.ID)
	if err != nil {
		return fmt.Errorf("insert user %s: %w", u.Email, s.err(err))
	}
	return nil
}

// UserUpdate stores everything about u but its email, ID and creation.
func (s *Queries) UserUpdate(ctx context.Context, u *storage.User) error {
	n, err := s.q.Exec(ctx, `UPDATE users SET name = $1, role = $2, team_roles = $3, password_hash = $4, disabled = $5, updated_at = $6 WHERE id = $7`,
		u.Name, string(u.Role), teamRolesJSON(u.TeamRoles), u.PasswordHash, u.Disabled, u.UpdatedAt.UTC(), u.ID)
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.Email, s.err(err))
	}
	if n == 0 {
		return fmt.Errorf("update user %s: %w", u.Email, errNotFound)
	}
	return nil
}

// UserGetByEmail finds a user by their (normalised) email.
func (s *Queries) UserGetByEmail(ctx context.Context, email string) (*storage.User, error) {
	u, err := scanUser(s.q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", email, s.err(err))
	}
	return u, nil
}

// UserGetByID finds a user by ID.
func (s *Queries) UserGetByID(ctx context.Context, id int64) (*storage.User, error) {
	u, err := scanUser(s.q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get user %d: %w", id, s.err(err))
	}
	return u, nil
}

// UserList lists users by email.
func (s *Queries) UserList(ctx context.Context) ([]*storage.User, error) {
	rows, err := s.q.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", s.err(err))
	}
	return collect(rows, scanUser, s, "list users")
}
