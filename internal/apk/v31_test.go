package apk

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/apk/apktest"
	"github.com/ripcordhq/ripcord/internal/apksig"
	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

// buildV31 turns an apksigner-rotated APK into the v3.1 layout Android 13
// introduced (apksigner 31 cannot write it): v3 signed by the original key
// for SDK 24–32 with the rotation-min-sdk attribute, v3.1 signed by the new
// key with the lineage from SDK 33. The signing block is outside the signed
// content, so the content digest stays valid.
func buildV31(t *testing.T, rotated string, oldKey, newKey *apktest.Key) string {
	t.Helper()
	b, err := os.ReadFile(rotated)
	require.NoError(t, err)
	r := bytes.NewReader(b)
	a, blk, err := openArchive(r, int64(len(b)), Limits{})
	require.NoError(t, err)
	v3, err := apksig.ParseSigners(blk.Pair(apksig.IDv3), true)
	require.NoError(t, err)
	require.Len(t, v3, 1)
	eocd := bytes.Clone(b[a.EOCDOffset:])
	binary.LittleEndian.PutUint32(eocd[16:], uint32(blk.Offset))
	d, err := apksig.DigestFile(context.Background(), r, apksig.Section{Off: 0, Len: blk.Offset},
		apksig.Section{Off: a.CDOffset, Len: a.CDSize}, eocd, []int{apksig.DigestSHA256})
	require.NoError(t, err)
	v3val, err := apksig.EncodeSigners([]apksig.SignerTemplate{{
		Key: oldKey.Key.Signer, Certs: [][]byte{oldKey.Key.Cert().Raw}, MinSDK: 24, MaxSDK: 32,
		Attrs: []apksig.Attr{{ID: apksig.AttrRotationMinSdk, Value: []byte{33, 0, 0, 0}}},
	}}, d[apksig.DigestSHA256], true)
	require.NoError(t, err)
	v31val, err := apksig.EncodeSigners([]apksig.SignerTemplate{{
		Key: newKey.Key.Signer, Certs: [][]byte{newKey.Key.Cert().Raw}, MinSDK: 33, MaxSDK: 0x7fffffff, Attrs: v3[0].Attrs,
	}}, d[apksig.DigestSHA256], true)
	require.NoError(t, err)
	block := apksig.EncodeBlock([]apksig.Pair{
		{ID: apksig.IDv2, Value: blk.Pair(apksig.IDv2)},
		{ID: apksig.IDv3, Value: v3val},
		{ID: apksig.IDv31, Value: v31val},
	})
	out := append(bytes.Clone(b[:blk.Offset]), block...)
	out = append(out, b[a.CDOffset:a.EOCDOffset]...)
	binary.LittleEndian.PutUint32(eocd[16:], uint32(blk.Offset+int64(len(block))))
	out = append(out, eocd...)
	p := filepath.Join(t.TempDir(), "v31.apk")
	require.NoError(t, os.WriteFile(p, out, 0o600))
	return p
}

func TestResignKeepsV31(t *testing.T) {
	t.Parallel()
	apksigner := testenv.LookPath(t, "apksigner", "apt-get install apksigner")
	oldKey := apktest.NewKey(t, "rsa", "original")
	newKey := apktest.NewKey(t, "ec", "rotated")
	lineage := filepath.Join(t.TempDir(), "lineage.bin")
	apktest.Run(t, apksigner, "rotate", "--out", lineage,
		"--old-signer", "--key", oldKey.PK8Path, "--cert", oldKey.CertPath,
		"--new-signer", "--key", newKey.PK8Path, "--cert", newKey.CertPath)
	rotated := apktest.ApksignerSign(t, apktest.APK(t, apktest.APKOptions{MinSdk: 24}), oldKey,
		"--next-signer", "--key", newKey.PK8Path, "--cert", newKey.CertPath, "--lineage", lineage)
	in := buildV31(t, rotated, oldKey, newKey)

	f, size := apktest.Open(t, in)
	v, err := Verify(context.Background(), f, size, VerifyOptions{})
	require.NoError(t, err)
	require.True(t, v.Verified, "%+v", v)

	out := filepath.Join(t.TempDir(), "out.apk")
	rep, err := Resign(context.Background(), f, size, out, ResignOptions{VersionCode: 45, Keys: []*signingkey.Key{oldKey.Key, newKey.Key}})
	require.NoError(t, err)
	require.Equal(t, []string{SchemeV2, SchemeV3, SchemeV31}, rep.Schemes)

	of, osize := apktest.Open(t, out)
	v, err = Verify(context.Background(), of, osize, VerifyOptions{})
	require.NoError(t, err)
	require.True(t, v.Verified, "%+v", v)
	byScheme := map[string]SchemeResult{}
	for _, s := range v.Schemes {
		byScheme[s.Scheme] = s
	}
	require.Equal(t, oldKey.Key.CertSHA256(), byScheme[SchemeV3].Signers[0].CertSHA256)
	require.Equal(t, uint32(32), byScheme[SchemeV3].Signers[0].MaxSdk)
	require.Equal(t, newKey.Key.CertSHA256(), byScheme[SchemeV31].Signers[0].CertSHA256)
	require.Equal(t, []string{oldKey.Key.CertSHA256(), newKey.Key.CertSHA256()}, byScheme[SchemeV31].Signers[0].Lineage)

	// Debian's apksigner predates v3.1: it checks v2 and the v3 signer
	// and ignores the v3.1 block.
	got := apktest.Run(t, apksigner, "verify", "--verbose", "--print-certs", out)
	require.Contains(t, got, "Verifies")

	// Tampering is caught in the v3.1 block too.
	tampered, err := os.ReadFile(out)
	require.NoError(t, err)
	a, blk, err := openArchive(bytes.NewReader(tampered), int64(len(tampered)), Limits{})
	require.NoError(t, err)
	tampered[a.Entries[1].DataOffset] ^= 1
	v, err = Verify(context.Background(), bytes.NewReader(tampered), int64(len(tampered)), VerifyOptions{})
	require.NoError(t, err)
	require.False(t, v.Verified)
	require.NotNil(t, blk.Pair(apksig.IDv31))
	for _, s := range v.Schemes {
		require.False(t, s.Verified, s.Scheme)
	}
}

// TestResignExtendsV31Lineage gives a longer lineage to an input in the
// v3.1 layout: the v3.1 signer becomes the newest key with the new
// lineage and keeps its SDK range, and v3 keeps the original signer with
// its rotation-min-sdk attribute for older platforms.
func TestResignExtendsV31Lineage(t *testing.T) {
	t.Parallel()
	oldKey := apktest.NewKey(t, "rsa", "original")
	newKey := apktest.NewKey(t, "ec", "rotated")
	third := apktest.NewKey(t, "rsa", "rotated again")
	lineage := apktest.Lineage(t, oldKey, newKey)
	longer := filepath.Join(t.TempDir(), "longer.bin")
	require.NoError(t, apktest.Rotate(longer, lineage, newKey, third))
	rotated := apktest.ApksignerSign(t, apktest.APK(t, apktest.APKOptions{MinSdk: 24}), oldKey,
		"--next-signer", "--key", newKey.PK8Path, "--cert", newKey.CertPath, "--lineage", lineage)
	in := buildV31(t, rotated, oldKey, newKey)
	b, err := os.ReadFile(longer)
	require.NoError(t, err)
	nodes, err := apksig.ParseLineageFile(b)
	require.NoError(t, err)

	f, size := apktest.Open(t, in)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.apk")
	_, err = Resign(context.Background(), f, size, out, ResignOptions{VersionCode: 45, Keys: []*signingkey.Key{oldKey.Key}, Lineage: nodes})
	require.ErrorIs(t, err, ErrMissingKey, "the newest key is needed")
	require.Contains(t, err.Error(), third.CertSHA256())

	rep, err := Resign(context.Background(), f, size, out, ResignOptions{VersionCode: 45, Keys: []*signingkey.Key{oldKey.Key, third.Key}, Lineage: nodes})
	require.NoError(t, err)
	want := []string{oldKey.CertSHA256(), newKey.CertSHA256(), third.CertSHA256()}
	require.Equal(t, want, rep.Lineage)
	require.Equal(t, []string{SchemeV2, SchemeV3, SchemeV31}, rep.Schemes)

	of, osize := apktest.Open(t, out)
	v, err := Verify(context.Background(), of, osize, VerifyOptions{})
	require.NoError(t, err)
	require.True(t, v.Verified, "%+v", v)
	byScheme := map[string]SchemeResult{}
	for _, s := range v.Schemes {
		byScheme[s.Scheme] = s
	}
	require.Equal(t, oldKey.CertSHA256(), byScheme[SchemeV2].Signers[0].CertSHA256)
	require.Equal(t, oldKey.CertSHA256(), byScheme[SchemeV3].Signers[0].CertSHA256)
	require.Equal(t, uint32(32), byScheme[SchemeV3].Signers[0].MaxSdk)
	require.Equal(t, third.CertSHA256(), byScheme[SchemeV31].Signers[0].CertSHA256)
	require.Equal(t, uint32(33), byScheme[SchemeV31].Signers[0].MinSdk)
	require.Equal(t, want, byScheme[SchemeV31].Signers[0].Lineage)

	// Debian's apksigner checks v2 and v3 and ignores v3.1.
	got := apktest.Run(t, apktest.NeedTool(t, "apksigner"), "verify", "--verbose", "--print-certs", out)
	require.Contains(t, got, "Verifies")
}
