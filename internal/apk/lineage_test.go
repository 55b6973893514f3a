package apk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/apk/apktest"
	"github.com/ripcordhq/ripcord/internal/apksig"
	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

// TestResignKeepsLineage re-signs an app whose key was rotated with
// apksigner: v1/v2 stay with the original key, v3 with the new key and the
// lineage, which must come out unchanged.
func TestResignKeepsLineage(t *testing.T) {
	t.Parallel()
	apksigner := testenv.LookPath(t, "apksigner", "apt-get install apksigner")
	oldKey := apktest.NewKey(t, "rsa", "original")
	newKey := apktest.NewKey(t, "ec", "rotated")
	lineage := filepath.Join(t.TempDir(), "lineage.bin")
	apktest.Run(t, apksigner, "rotate", "--out", lineage,
		"--old-signer", "--key", oldKey.PK8Path, "--cert", oldKey.CertPath,
		"--new-signer", "--key", newKey.PK8Path, "--cert", newKey.CertPath)
	in := apktest.ApksignerSign(t, apktest.APK(t, apktest.APKOptions{MinSdk: 21}), oldKey,
		"--next-signer", "--key", newKey.PK8Path, "--cert", newKey.CertPath, "--lineage", lineage)
	f, size := apktest.Open(t, in)
	before, err := Inspect(context.Background(), f, size, InspectOptions{})
	require.NoError(t, err)
	require.Len(t, before.Signers, 1)
	require.Equal(t, []string{oldKey.Key.CertSHA256(), newKey.Key.CertSHA256()}, before.Signers[0].Lineage)

	tests := []struct {
		name    string
		keys    []*signingkey.Key
		want    error
		missing string
	}{
		{name: "OK", keys: []*signingkey.Key{oldKey.Key, newKey.Key}},
		{name: "OnlyOldKey", keys: []*signingkey.Key{oldKey.Key}, want: ErrMissingKey, missing: newKey.Key.CertSHA256()},
		{name: "OnlyNewKey", keys: []*signingkey.Key{newKey.Key}, want: ErrMissingKey, missing: oldKey.Key.CertSHA256()},
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
			require.Equal(t, before.Signers[0].Lineage, rep.Lineage)
			got := apktest.Run(t, apksigner, "verify", "--verbose", "--print-certs", out)
			require.Contains(t, got, "Verified using v3 scheme (APK Signature Scheme v3): true")
			require.Contains(t, got, "Signer #1 certificate SHA-256 digest: "+newKey.Key.CertSHA256())
			lin := apktest.Run(t, apksigner, "lineage", "--in", out, "--print-certs")
			require.Contains(t, lin, "Signer #1 in lineage certificate SHA-256 digest: "+oldKey.Key.CertSHA256())
			require.Contains(t, lin, "Signer #2 in lineage certificate SHA-256 digest: "+newKey.Key.CertSHA256())

			of, osize := apktest.Open(t, out)
			after, err := Inspect(context.Background(), of, osize, InspectOptions{})
			require.NoError(t, err)
			require.Equal(t, before.Signers[0].Lineage, after.Signers[0].Lineage)
			v, err := Verify(context.Background(), of, osize, VerifyOptions{})
			require.NoError(t, err)
			require.True(t, v.Verified, "%+v", v)
		})
	}
}

// TestResignWithLineage signs inputs that have no lineage, or an older
// one, for a rotated key with a lineage file written by `apksigner rotate`:
// v1/v2 keep the input's signer, v3 gets the newest key and the lineage.
func TestResignWithLineage(t *testing.T) {
	t.Parallel()
	apksigner := apktest.NeedTool(t, "apksigner")
	oldKey := apktest.NewKey(t, "rsa", "original")
	midKey := apktest.NewKey(t, "ec", "second")
	newKey := apktest.NewKey(t, "rsa", "third")
	other := apktest.NewKey(t, "rsa", "someone else")
	readLineage := func(path string) []apksig.LineageNode {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		nodes, err := apksig.ParseLineageFile(b)
		require.NoError(t, err)
		return nodes
	}
	oldToMid := apktest.Lineage(t, oldKey, midKey)
	oldToNew := filepath.Join(t.TempDir(), "old-mid-new.bin")
	require.NoError(t, apktest.Rotate(oldToNew, oldToMid, midKey, newKey))
	midToOld := apktest.Lineage(t, midKey, oldKey) // the same certificates in the other order
	full := readLineage(oldToNew)

	unsigned := apktest.APK(t, apktest.APKOptions{MinSdk: 21})
	plain := apktest.ApksignerSign(t, unsigned, oldKey)
	rotated := apktest.ApksignerSign(t, unsigned, oldKey, "--next-signer", "--key", midKey.PK8Path, "--cert", midKey.CertPath, "--lineage", oldToMid)
	byOther := apktest.ApksignerSign(t, unsigned, other)

	keys := func(ks ...*apktest.Key) []*signingkey.Key {
		var out []*signingkey.Key
		for _, k := range ks {
			out = append(out, k.Key)
		}
		return out
	}
	tests := []struct {
		name    string
		in      string
		keys    []*signingkey.Key
		lineage []apksig.LineageNode
		want    error
		msg     string
		v1v2    *apktest.Key // the v1/v2 signer of the output
	}{
		{name: "NoLineage", in: plain, keys: keys(oldKey, newKey), lineage: full, v1v2: oldKey},
		{name: "OlderLineage", in: rotated, keys: keys(oldKey, newKey), lineage: full, v1v2: oldKey},
		{name: "Unsigned", in: unsigned, keys: keys(oldKey, midKey, newKey), lineage: full, v1v2: oldKey},
		{name: "OnlyOldKey", in: plain, keys: keys(oldKey), lineage: full, want: ErrMissingKey, msg: newKey.CertSHA256()},
		{name: "OnlyNewKey", in: plain, keys: keys(newKey), lineage: full, want: ErrMissingKey, msg: oldKey.CertSHA256()},
		{name: "KeyOutsideLineage", in: plain, keys: keys(oldKey, other, newKey), lineage: full, want: ErrLineageMismatch, msg: other.CertSHA256()},
		{name: "InputNotInLineage", in: byOther, keys: keys(oldKey, newKey), lineage: full, want: ErrLineageMismatch, msg: "the input is signed by certificate " + other.CertSHA256()},
		{name: "LineageReordered", in: rotated, keys: keys(midKey, oldKey), lineage: readLineage(midToOld), want: ErrLineageMismatch, msg: "is not the start of the given lineage"},
		{name: "SingleCertificate", in: plain, keys: keys(oldKey), lineage: full[:1], want: ErrLineageMismatch, msg: "no key was rotated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, size := apktest.Open(t, tt.in)
			dir := t.TempDir()
			out := filepath.Join(dir, "out.apk")
			rep, err := Resign(context.Background(), f, size, out, ResignOptions{VersionCode: 44, Keys: tt.keys, Lineage: tt.lineage})
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				require.Contains(t, err.Error(), tt.msg)
				entries, err := os.ReadDir(dir)
				require.NoError(t, err)
				require.Empty(t, entries, "no output may be left behind")
				return
			}
			require.NoError(t, err)
			require.Equal(t, []string{SchemeV1, SchemeV2, SchemeV3}, rep.Schemes)
			wantLineage := []string{oldKey.CertSHA256(), midKey.CertSHA256(), newKey.CertSHA256()}
			require.Equal(t, wantLineage, rep.Lineage)

			got := apktest.Run(t, apksigner, "verify", "--verbose", "--print-certs", out)
			require.Contains(t, got, "Verified using v1 scheme (JAR signing): true")
			require.Contains(t, got, "Verified using v2 scheme (APK Signature Scheme v2): true")
			require.Contains(t, got, "Verified using v3 scheme (APK Signature Scheme v3): true")
			require.Contains(t, got, "Signer #1 certificate SHA-256 digest: "+newKey.CertSHA256())
			lin := apktest.Run(t, apksigner, "lineage", "--in", out, "--print-certs")
			for i, d := range wantLineage {
				require.Contains(t, lin, fmt.Sprintf("Signer #%d in lineage certificate SHA-256 digest: %s", i+1, d))
			}

			of, osize := apktest.Open(t, out)
			v, err := Verify(context.Background(), of, osize, VerifyOptions{})
			require.NoError(t, err)
			require.True(t, v.Verified, "%+v", v)
			for _, s := range v.Schemes {
				want := tt.v1v2.CertSHA256()
				if s.Scheme == SchemeV3 {
					want = newKey.CertSHA256()
					require.Equal(t, wantLineage, s.Signers[0].Lineage)
				}
				require.Equal(t, want, s.Signers[0].CertSHA256, s.Scheme)
			}
		})
	}
}
