package sqlite_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

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
