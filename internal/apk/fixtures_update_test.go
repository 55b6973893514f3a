package apk

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/signingkey"
)

var updateFixtures = flag.Bool("update-fixtures", false, "regenerate the signed APKs that seed the codec fuzz targets")

// TestUpdateFixtures writes small signed APKs into the codec packages'
// testdata (go test ./internal/apk -run UpdateFixtures -update-fixtures):
// one signed by apksigner, one re-signed by us. Fuzz targets there start
// from them, so they need no Android tools.
func TestUpdateFixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to regenerate")
	}
	k := newTestKey(t, "rsa", "fixture")
	in := apksignerSign(t, buildAPK(t, fixtureOpts{minSdk: 21}), k)
	f, size := openFile(t, in)
	out := filepath.Join(t.TempDir(), "out.apk")
	_, err := Resign(context.Background(), f, size, out, ResignOptions{VersionCode: 43, VersionName: "1.2.4", Keys: []*signingkey.Key{k.key}})
	require.NoError(t, err)
	ec := newTestKey(t, "ec", "fixture-ec")
	inEC := apksignerSign(t, buildAPK(t, fixtureOpts{minSdk: 28}), ec)
	for _, dir := range []string{"apkzip/testdata", "../apksig/testdata"} {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for name, src := range map[string]string{"apksigner-rsa.apk": in, "ripcord-rsa.apk": out, "apksigner-ec.apk": inEC} {
			b, err := os.ReadFile(src)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
	}
}
