package apk

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/apk/apktest"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

var updateFixtures = flag.Bool("update-fixtures", false, "regenerate the signed APKs that seed the codec fuzz targets")

// TestUpdateFixtures writes small signed APKs into the codec packages'
// testdata (go test ./internal/apk -run UpdateFixtures -update-fixtures):
// one signed by apksigner, one re-signed by us; and lineage files written
// by `apksigner rotate` into apksig's testdata (-run UpdateFixtures/Lineage
// for those alone). Tests and fuzz targets there start from them, so they
// need no Android tools.
func TestUpdateFixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to regenerate")
	}
	t.Run("APKs", updateAPKFixtures)
	t.Run("Lineage", updateLineageFixtures)
}

// updateLineageFixtures writes a two-certificate lineage (RSA to EC) and a
// three-certificate one (RSA, EC, RSA), as apksigner writes them.
func updateLineageFixtures(t *testing.T) {
	first := apktest.NewKey(t, "rsa", "lineage-first")
	second := apktest.NewKey(t, "ec", "lineage-second")
	third := apktest.NewKey(t, "rsa", "lineage-third")
	two := apktest.Lineage(t, first, second)
	three := filepath.Join(t.TempDir(), "three.bin")
	require.NoError(t, apktest.Rotate(three, two, second, third))
	for name, src := range map[string]string{"lineage-2.bin": two, "lineage-3.bin": three} {
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("../apksig/testdata", name), b, 0o644))
	}
}

func updateAPKFixtures(t *testing.T) {
	k := apktest.NewKey(t, "rsa", "fixture")
	in := apktest.ApksignerSign(t, apktest.APK(t, apktest.APKOptions{MinSdk: 21}), k)
	f, size := apktest.Open(t, in)
	out := filepath.Join(t.TempDir(), "out.apk")
	_, err := Resign(context.Background(), f, size, out, ResignOptions{VersionCode: 43, VersionName: "1.2.4", Keys: []*signingkey.Key{k.Key}})
	require.NoError(t, err)
	ec := apktest.NewKey(t, "ec", "fixture-ec")
	inEC := apktest.ApksignerSign(t, apktest.APK(t, apktest.APKOptions{MinSdk: 28}), ec)
	for _, dir := range []string{"apkzip/testdata", "../apksig/testdata"} {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for name, src := range map[string]string{"apksigner-rsa.apk": in, "ripcord-rsa.apk": out, "apksigner-ec.apk": inEC} {
			b, err := os.ReadFile(src)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
	}
}
