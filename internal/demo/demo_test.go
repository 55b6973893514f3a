package demo_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/demo"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// TestSeedUploadsRealAndroidBuilds seeds a fresh store and checks that the
// Android builds are real APKs of the sample app at the versions the
// releases say, verified by our own verifier, needing no outside tool.
func TestSeedUploadsRealAndroidBuilds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "r.db"), nil)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	art, err := blob.Open(ctx, filepath.Join(dir, "artifacts"))
	require.NoError(t, err)
	defer art.Close()
	cat := catalog.New(catalog.Config{Store: db, Artifacts: art})
	seeded, err := demo.Seed(ctx, cat, access.New(db, nil), dir)
	require.NoError(t, err)
	require.Len(t, seeded.Releases, 2)

	admin := ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "t", Role: ripcord.RoleAdmin})
	builds, err := cat.BuildList(admin, catalog.BuildListParams{App: demo.AppName, Platform: ripcord.Android})
	require.NoError(t, err)
	require.Len(t, builds, 2)
	for _, b := range builds {
		r, err := art.Open(ctx, b.BlobKey)
		require.NoError(t, err)
		data, err := io.ReadAll(r)
		r.Close()
		require.NoError(t, err)
		info, err := apk.Inspect(ctx, bytes.NewReader(data), int64(len(data)), apk.InspectOptions{})
		require.NoError(t, err)
		require.Equal(t, demo.BundleID, info.Package)
		require.Equal(t, b.Version, info.VersionName)
		require.Equal(t, b.BuildNumber, strconv.FormatInt(info.VersionCode, 10))
		res, err := apk.Verify(ctx, bytes.NewReader(data), int64(len(data)), apk.VerifyOptions{})
		require.NoError(t, err)
		require.True(t, res.Verified, "build %s verifies", b.Label())
	}
}
