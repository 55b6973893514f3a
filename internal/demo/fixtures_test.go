package demo

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/apk/apktest"
)

var updateFixtures = flag.Bool("update-fixtures", false, "rebuild assets/sample.apk with aapt2 and apksigner")

// TestUpdateFixtures rebuilds the demo's embedded APK at development time
// (go test ./internal/demo -run UpdateFixtures -update-fixtures), so the demo
// itself needs neither aapt2 nor a JVM.
func TestUpdateFixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to rebuild assets/sample.apk")
	}
	unsigned := apktest.APK(t, apktest.APKOptions{Package: BundleID, VersionCode: 100, VersionName: "1.0.0", MinSdk: 21, TargetSdk: 36})
	key := apktest.NewKey(t, "ec", "Ripcord demo fixture")
	signed := apktest.ApksignerSign(t, unsigned, key)
	data, err := os.ReadFile(signed)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("assets", "sample.apk"), data, 0o644))
}
