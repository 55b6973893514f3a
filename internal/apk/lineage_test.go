package apk

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

// TestResignKeepsLineage re-signs an app whose key was rotated with
// apksigner: v1/v2 stay with the original key, v3 with the new key and the
// lineage, which must come out unchanged.
func TestResignKeepsLineage(t *testing.T) {
	t.Parallel()
	apksigner := testenv.LookPath(t, "apksigner", "apt-get install apksigner")
	oldKey := newTestKey(t, "rsa", "original")
	newKey := newTestKey(t, "ec", "rotated")
	lineage := filepath.Join(t.TempDir(), "lineage.bin")
	run(t, apksigner, "rotate", "--out", lineage,
		"--old-signer", "--key", oldKey.pk8Path, "--cert", oldKey.certPath,
		"--new-signer", "--key", newKey.pk8Path, "--cert", newKey.certPath)
	in := apksignerSign(t, buildAPK(t, fixtureOpts{minSdk: 21}), oldKey,
		"--next-signer", "--key", newKey.pk8Path, "--cert", newKey.certPath, "--lineage", lineage)
	f, size := openFile(t, in)
	before, err := Inspect(context.Background(), f, size, InspectOptions{})
	require.NoError(t, err)
	require.Len(t, before.Signers, 1)
	require.Equal(t, []string{oldKey.key.CertSHA256(), newKey.key.CertSHA256()}, before.Signers[0].Lineage)

	tests := []struct {
		name    string
		keys    []*signingkey.Key
		want    error
		missing string
	}{
		{name: "OK", keys: []*signingkey.Key{oldKey.key, newKey.key}},
		{name: "OnlyOldKey", keys: []*signingkey.Key{oldKey.key}, want: ErrMissingKey, missing: newKey.key.CertSHA256()},
		{name: "OnlyNewKey", keys: []*signingkey.Key{newKey.key}, want: ErrMissingKey, missing: oldKey.key.CertSHA256()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out.apk")
			rep, err := Resign(context.Background(), f, size, out, ResignOptions{VersionCode: 44, Keys: tt.keys})
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				require.Contains(t, err.Error(), tt.missing)
				return
			}
			require.NoError(t, err)
			require.Equal(t, []string{SchemeV1, SchemeV2, SchemeV3}, rep.Schemes)
			got := run(t, apksigner, "verify", "--verbose", "--print-certs", out)
			require.Contains(t, got, "Verified using v3 scheme (APK Signature Scheme v3): true")
			require.Contains(t, got, "Signer #1 certificate SHA-256 digest: "+newKey.key.CertSHA256())
			lin := run(t, apksigner, "lineage", "--in", out, "--print-certs")
			require.Contains(t, lin, "Signer #1 in lineage certificate SHA-256 digest: "+oldKey.key.CertSHA256())
			require.Contains(t, lin, "Signer #2 in lineage certificate SHA-256 digest: "+newKey.key.CertSHA256())

			of, osize := openFile(t, out)
			after, err := Inspect(context.Background(), of, osize, InspectOptions{})
			require.NoError(t, err)
			require.Equal(t, before.Signers[0].Lineage, after.Signers[0].Lineage)
			v, err := Verify(context.Background(), of, osize, VerifyOptions{})
			require.NoError(t, err)
			require.True(t, v.Verified, "%+v", v)
		})
	}
}
