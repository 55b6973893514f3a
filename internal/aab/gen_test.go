package aab

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.pb, the fuzz seeds, with aapt2")

// TestUpdateSeeds regenerates the protobuf manifests FuzzManifest starts
// from (go test ./internal/aab -run UpdateSeeds -update).
func TestUpdateSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate")
	}
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	for name, m := range map[string]string{
		"base":      `<manifest ` + ns + ` package="com.example.bundle" android:versionCode="42" android:versionName="1.0"><uses-sdk android:minSdkVersion="21" android:targetSdkVersion="35"/></manifest>`,
		"feature":   `<manifest ` + ns + ` package="com.example.bundle" split="feature" android:versionCode="42"><dist:module dist:onDemand="true"/></manifest>`,
		"assetpack": `<manifest ` + ns + ` package="com.example.bundle" split="assetpack"><dist:module dist:type="asset-pack"/></manifest>`,
	} {
		b, _ := protoManifest(t, m, false)
		require.NoError(t, os.WriteFile(filepath.Join("testdata", name+".pb"), b, 0o644))
	}
}
