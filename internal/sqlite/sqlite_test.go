package sqlite_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/postgres"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/storage/storagetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storagetest.Exercise(t, storagetest.Harness{
		Open: func(t *testing.T) storage.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ripcord.db"), nil)
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			return db
		},
		Exec: func(t *testing.T, s storage.Store, query string, args ...any) {
			_, err := s.(*sqlite.DB).SQL().ExecContext(context.Background(), query, args...)
			require.NoError(t, err)
		},
	})
}

func TestOpenMissingDirectory(t *testing.T) {
	t.Parallel()
	_, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "nope", "ripcord.db"), nil)
	require.ErrorContains(t, err, "does not exist")
}

// TestMigrationsMatchDialects keeps the two dialects' migration lists in step:
// same versions, same names.
func TestMigrationsMatchDialects(t *testing.T) {
	t.Parallel()
	names := func(f fs.FS) []string {
		m, err := fs.Glob(f, "*.sql")
		require.NoError(t, err)
		return m
	}
	require.Equal(t, names(sqlite.MigrationsFS()), names(postgres.MigrationsFS()))
	require.NotEmpty(t, names(sqlite.MigrationsFS()))
}

// TestFailingMigrationLeavesNothing runs a migration whose second statement
// fails: its first statement must not survive, and the version must not be
// recorded, so fixing the migration and running it again works.
func TestFailingMigrationLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
	require.NoError(t, err)
	defer db.Close()
	fsys := fstest.MapFS{"00001_bad.sql": {Data: []byte("-- +goose Up\nCREATE TABLE half (id INTEGER);\nINSERT INTO missing_table VALUES (1);\n-- +goose Down\nDROP TABLE half;\n")}}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.SQL(), fsys)
	require.NoError(t, err)
	_, err = p.Up(ctx)
	require.ErrorContains(t, err, "missing_table")
	var n int
	require.NoError(t, db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'half'`).Scan(&n))
	require.Zero(t, n, "the failed migration's first statement was rolled back")
	v, err := p.GetDBVersion(ctx)
	require.NoError(t, err)
	require.Zero(t, v)
}
