package sqlstore

import (
	"context"
	"fmt"

	"github.com/ripcordhq/ripcord"
)

const appColumns = `id, name, ios_bundle_id, android_package, created_at, updated_at`

func scanApp(r Row) (*ripcord.App, error) {
	var a ripcord.App
	if err := r.Scan(&a.ID, &a.Name, &a.IOSBundleID, &a.AndroidPackage, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

// AppCreate inserts a and sets its ID.
func (s *Queries) AppCreate(ctx context.Context, a *ripcord.App) error {
	err := s.q.QueryRow(ctx, `INSERT INTO apps (name, ios_bundle_id, android_package, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		a.Name, a.IOSBundleID, a.AndroidPackage, a.CreatedAt.UTC(), a.UpdatedAt.UTC()).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("insert app %q: %w", a.Name, s.err(err))
	}
	return nil
}

// AppGetByID returns the app with the given ID.
func (s *Queries) AppGetByID(ctx context.Context, id int64) (*ripcord.App, error) {
	a, err := scanApp(s.q.QueryRow(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get app %d: %w", id, s.err(err))
	}
	return a, nil
}

// AppGetByName returns the app with the given name.
func (s *Queries) AppGetByName(ctx context.Context, name string) (*ripcord.App, error) {
	a, err := scanApp(s.q.QueryRow(ctx, `SELECT `+appColumns+` FROM apps WHERE name = $1`, name))
	if err != nil {
		return nil, fmt.Errorf("get app %q: %w", name, s.err(err))
	}
	return a, nil
}

// AppList returns every app ordered by name.
func (s *Queries) AppList(ctx context.Context) ([]*ripcord.App, error) {
	rows, err := s.q.Query(ctx, `SELECT `+appColumns+` FROM apps ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", s.err(err))
	}
	return collect(rows, scanApp, s, "list apps")
}

// collect scans every row with scan, closing rows.
func collect[T any](rows Rows, scan func(Row) (T, error), s *Queries, what string) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, s.err(err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, s.err(err))
	}
	return out, nil
}
