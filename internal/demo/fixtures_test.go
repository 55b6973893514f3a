package demo

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"howett.net/plist"

	"github.com/ripcordhq/ripcord/internal/apk/apktest"
	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/ipa/devpki"
	"github.com/ripcordhq/ripcord/internal/ipa/ipatest"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

var updateFixtures = flag.Bool("update-fixtures", false, "rebuild assets/sample.apk (aapt2, apksigner) and assets/sample.ipa (the Go toolchain)")

// TestUpdateFixtures rebuilds the demo's embedded APK and IPA at development
// time (go test ./internal/demo -run UpdateFixtures -update-fixtures), so the
// demo itself needs neither aapt2, a JVM nor a Go toolchain.
func TestUpdateFixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to rebuild assets/sample.apk and assets/sample.ipa")
	}
	unsigned := apktest.APK(t, apktest.APKOptions{Package: BundleID, VersionCode: 100, VersionName: "1.0.0", MinSdk: 21, TargetSdk: 36})
	key := apktest.NewKey(t, "ec", "Ripcord demo fixture")
	signed := apktest.ApksignerSign(t, unsigned, key)
	data, err := os.ReadFile(signed)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("assets", "sample.apk"), data, 0o644))

	require.NoError(t, os.WriteFile(filepath.Join("assets", "sample.ipa"), buildSampleIPA(t), 0o644))
}

// buildSampleIPA builds a one-bundle IPA of the sample app, 1.0.0 (100): a
// darwin/arm64 executable from the Go toolchain and an Info.plist as Xcode
// 26 writes it, signed with a fixture identity and profile of DemoTeam the
// way an App Store export is.
func buildSampleIPA(t *testing.T) []byte {
	dir := t.TempDir()
	bins, err := ipatest.BuildBinaries(dir)
	ipatest.Check(t, err)
	info, err := plist.Marshal(map[string]any{
		"CFBundleIdentifier": BundleID, "CFBundleExecutable": "Demo", "CFBundleName": "Ripcord Demo",
		"CFBundleShortVersionString": "1.0.0", "CFBundleVersion": "100", "CFBundlePackageType": "APPL",
		"CFBundleSupportedPlatforms": []string{"iPhoneOS"}, "MinimumOSVersion": "17.0", "UIDeviceFamily": []int{1, 2},
		"DTPlatformName": "iphoneos", "DTSDKName": "iphoneos26.0", "DTXcode": "2600", "DTXcodeBuild": "17A324",
	}, plist.BinaryFormat)
	require.NoError(t, err)
	unsigned := filepath.Join(dir, "unsigned.ipa")
	ipatest.Zip(t, unsigned, []ipatest.Entry{
		{Name: "Payload/Demo.app/Info.plist", Data: info},
		{Name: "Payload/Demo.app/Demo", Data: bins.ARM64, Mode: 0o755},
	})
	pki, err := devpki.GeneratePKI()
	require.NoError(t, err)
	id, err := pki.IssueIdentity(DemoTeam, true, time.Now().AddDate(1, 0, 0))
	require.NoError(t, err)
	profile, err := pki.BuildProfile(devpki.ProfileSpec{Name: "Ripcord Demo fixture", Team: DemoTeam, AppID: DemoTeam + "." + BundleID,
		Expires: time.Now().AddDate(1, 0, 0), Certs: id.Chain[:1]})
	require.NoError(t, err)
	k, err := signingkey.New(id.Key, id.Chain)
	require.NoError(t, err)
	out := filepath.Join(dir, "sample.ipa")
	_, err = ipa.Resign(context.Background(), unsigned, out, ipa.ResignOptions{Version: "1.0.0", Build: "100", Identity: k,
		Profiles: map[string][]byte{BundleID: profile}})
	require.NoError(t, err)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}
