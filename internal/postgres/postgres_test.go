package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/postgres"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/storage/storagetest"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

// OpenTestDB opens a PostgreSQL store in a schema of its own, dropped at
// cleanup, so tests run in parallel on one database.
func openTestDB(t *testing.T) *postgres.DB {
	t.Helper()
	url := testenv.Getenv(t, "RIPCORD_TEST_DATABASE_URL", "PostgreSQL for storage tests, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() {
		db.Close()
		conn, err := pgx.Connect(context.Background(), url)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(context.Background())
		}
	})
	return db
}

func TestStore(t *testing.T) {
	t.Parallel()
	storagetest.Exercise(t, storagetest.Harness{
		Open: func(t *testing.T) storage.Store { return openTestDB(t) },
		Exec: func(t *testing.T, s storage.Store, query string, args ...any) {
			_, err := s.(*postgres.DB).Pool().Exec(context.Background(), query, args...)
			require.NoError(t, err)
		},
	})
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(context.Background(), postgres.Config{URL: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"})
	require.ErrorContains(t, err, "127.0.0.1:1/none")
}
