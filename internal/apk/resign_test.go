package apk

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/apk/apktest"
	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
	"github.com/ripcordhq/ripcord/internal/apksig"
	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

func TestResignOracles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		keyKind  string
		fix      apktest.APKOptions
		unsigned bool // input not signed: AllowNewSigner not needed
		wantV1   bool
		newName  string
		wantName string // default: newName, else the fixture's 1.2.3
	}{
		{name: "RSA_minSdk21_so", keyKind: "rsa", fix: apktest.APKOptions{MinSdk: 21, NativeLib: true}, wantV1: true, newName: "1.2.4-rollback"},
		{name: "EC_minSdk24_multidex", keyKind: "ec", fix: apktest.APKOptions{MinSdk: 24, MultiDex: true}, newName: "1.2.4"},
		{name: "RSA_minSdk28_so_multidex", keyKind: "rsa", fix: apktest.APKOptions{MinSdk: 28, NativeLib: true, MultiDex: true}},
		{name: "RSA_minSdk16_sha1", keyKind: "rsa", fix: apktest.APKOptions{MinSdk: 16}, wantV1: true, newName: "ünïcode 2"},
		{name: "EC_minSdk19_unsigned", keyKind: "ec", fix: apktest.APKOptions{MinSdk: 19, NativeLib: true}, unsigned: true, wantV1: true, newName: "2.0"},
		{name: "RSA_referenceNameKept", keyKind: "rsa", fix: apktest.APKOptions{MinSdk: 24, VersionName: "@string/app_name"}, wantName: "Fixture"},
		{name: "EC_minSdk22", keyKind: "ec", fix: apktest.APKOptions{MinSdk: 22, MultiDex: true, NativeLib: true}, wantV1: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			apksigner := testenv.LookPath(t, "apksigner", "apt-get install apksigner")
			aapt2 := testenv.LookPath(t, "aapt2", "apt-get install aapt")
			zipalign := testenv.LookPath(t, "zipalign", "apt-get install zipalign")
			k := apktest.NewKey(t, tt.keyKind, "upload")
			in := apktest.APK(t, tt.fix)
			if !tt.unsigned {
				in = apktest.ApksignerSign(t, in, k)
			}
			f, size := apktest.Open(t, in)
			out := filepath.Join(t.TempDir(), "out.apk")
			rep, err := Resign(context.Background(), f, size, out, ResignOptions{
				VersionCode: 43, VersionName: tt.newName, Keys: []*signingkey.Key{k.Key},
			})
			require.NoError(t, err)
			require.Equal(t, int64(42), rep.Before.VersionCode)
			require.Equal(t, int64(43), rep.After.VersionCode)
			wantName := tt.newName
			if wantName == "" {
				wantName = cmp.Or(tt.wantName, "1.2.3")
			}
			require.Equal(t, wantName, rep.After.VersionName)
			if !tt.unsigned && tt.wantV1 {
				// The input's verified JAR manifest supplies the digests.
				require.Positive(t, rep.ReusedV1Digests)
			}

			got := apktest.Run(t, apksigner, "verify", "--verbose", "--print-certs", out)
			require.Contains(t, got, "Verifies")
			require.Contains(t, got, fmt.Sprintf("Verified using v1 scheme (JAR signing): %t", tt.wantV1))
			// apksigner skips v2 when v3 covers every platform (minSdk 28+).
			require.Contains(t, got, fmt.Sprintf("Verified using v2 scheme (APK Signature Scheme v2): %t", tt.fix.MinSdk < 28))
			require.Contains(t, got, "Verified using v3 scheme (APK Signature Scheme v3): true")
			require.Contains(t, got, "Signer #1 certificate SHA-256 digest: "+k.Key.CertSHA256())
			// apksigner warns about META-INF/services on its own output too:
			// Android's v1 ignores META-INF/. Any other warning is ours.
			for _, line := range strings.Split(got, "\n") {
				if strings.HasPrefix(line, "WARNING") {
					require.Contains(t, line, "META-INF/services/com.example.Service not protected")
				}
			}

			badging := apktest.Run(t, aapt2, "dump", "badging", out)
			require.Contains(t, badging, fmt.Sprintf("versionCode='43' versionName='%s'", wantName))
			apktest.Run(t, zipalign, "-c", "-p", "4", out)
			requireNativeAligned(t, out)

			of, osize := apktest.Open(t, out)
			v, err := Verify(context.Background(), of, osize, VerifyOptions{})
			require.NoError(t, err)
			require.True(t, v.Verified, "%+v", v)
			info, err := Inspect(context.Background(), of, osize, InspectOptions{})
			require.NoError(t, err)
			require.Equal(t, rep.Schemes, info.Schemes)
			wantSchemes := []string{SchemeV2, SchemeV3}
			if tt.wantV1 {
				wantSchemes = append([]string{SchemeV1}, wantSchemes...)
			}
			require.Equal(t, wantSchemes, rep.Schemes)
			require.Equal(t, int64(43), info.VersionCode)
		})
	}
}

// requireNativeAligned checks what Debian's zipalign cannot: stored .so
// data on 16 KiB boundaries.
func requireNativeAligned(t *testing.T, path string) {
	t.Helper()
	f, size := apktest.Open(t, path)
	a, err := apkzip.Read(f, size, apkzip.Limits{})
	require.NoError(t, err)
	for _, e := range a.Entries {
		if e.Method == apkzip.Store && strings.HasSuffix(e.Name, ".so") {
			require.Zero(t, e.DataOffset%apkzip.AlignNative, "%s at %d", e.Name, e.DataOffset)
		}
	}
}

func TestVerifyDetectsFlippedByte(t *testing.T) {
	t.Parallel()
	k := apktest.NewKey(t, "rsa", "upload")
	in := apktest.ApksignerSign(t, apktest.APK(t, apktest.APKOptions{MinSdk: 21, NativeLib: true}), k)
	f, size := apktest.Open(t, in)
	out := filepath.Join(t.TempDir(), "out.apk")
	_, err := Resign(context.Background(), f, size, out, ResignOptions{VersionCode: 50, Keys: []*signingkey.Key{k.Key}})
	require.NoError(t, err)
	good, err := os.ReadFile(out)
	require.NoError(t, err)
	of, osize := apktest.Open(t, out)
	a, err := apkzip.Read(of, osize, apkzip.Limits{})
	require.NoError(t, err)
	var so, dex *apkzip.Entry
	for _, e := range a.Entries {
		switch e.Name {
		case "lib/arm64-v8a/libfoo.so":
			so = e
		case "classes.dex":
			dex = e
		}
	}
	tests := []struct {
		name   string
		offset int64
		want   string
	}{
		{name: "StoredEntry", offset: so.DataOffset + 100, want: "content digest mismatch"},
		{name: "DeflatedEntry", offset: dex.DataOffset + 10, want: "modified after signing"},
		{name: "CentralDirectory", offset: a.CDOffset + 12, want: "content digest mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := append([]byte{}, good...)
			b[tt.offset] ^= 0x01
			p := filepath.Join(t.TempDir(), "bad.apk")
			require.NoError(t, os.WriteFile(p, b, 0o600))
			bf, bsize := apktest.Open(t, p)
			for _, reuse := range []bool{false, true} {
				v, err := Verify(context.Background(), bf, bsize, VerifyOptions{ReuseV2ForV1: reuse})
				if err != nil {
					continue // a structural error is a failed verification too
				}
				require.False(t, v.Verified)
				var reasons []string
				for _, s := range v.Schemes {
					reasons = append(reasons, s.Scheme+": "+s.Reason)
				}
				want := tt.want
				if reuse {
					want = "content digest mismatch"
				}
				require.Regexp(t, regexp.MustCompile(want), strings.Join(reasons, "\n"))
			}
		})
	}
}

func TestResignRefusals(t *testing.T) {
	t.Parallel()
	k := apktest.NewKey(t, "rsa", "upload")
	other := apktest.NewKey(t, "rsa", "someone else")
	signed := apktest.ApksignerSign(t, apktest.APK(t, apktest.APKOptions{MinSdk: 21}), k)
	good, err := os.ReadFile(signed)
	require.NoError(t, err)
	f, size := apktest.Open(t, signed)
	a, err := apkzip.Read(f, size, apkzip.Limits{})
	require.NoError(t, err)
	eocd := a.EOCDOffset
	cd := a.CDOffset
	var asset int64
	for _, e := range a.Entries {
		if e.Name == "assets/odd.txt" {
			asset = e.DataOffset
		}
	}

	mutate := func(fn func(b []byte) []byte) []byte { return fn(append([]byte{}, good...)) }
	tests := []struct {
		name string
		in   []byte
		opts func(o *ResignOptions)
		want error
		msg  string
	}{
		{name: "NotZip", in: []byte("this is not a zip file at all, just text"), want: apkzip.ErrFormat, msg: "no zip end record"},
		{name: "Truncated", in: good[:len(good)/2], want: apkzip.ErrFormat, msg: "no zip end record"},
		{name: "Zip64", in: mutate(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[eocd+16:], 0xffffffff)
			return b
		}), want: apkzip.ErrZip64},
		{name: "Encrypted", in: mutate(func(b []byte) []byte {
			b[cd+8] |= 1
			return b
		}), want: apkzip.ErrEncrypted},
		{name: "Duplicate", in: duplicateZip(t), want: apkzip.ErrDuplicate, msg: "AndroidManifest.xml"},
		{name: "OtherKey", in: good, opts: func(o *ResignOptions) { o.Keys = []*signingkey.Key{other.Key} }, want: ErrSignerMismatch, msg: k.Key.CertSHA256()},
		{name: "VersionNotHigher", in: good, opts: func(o *ResignOptions) { o.VersionCode = 42 }, want: ErrVersionNotHigher, msg: "versionCode 42"},
		{name: "PlaySigned", in: withFrosting(t, good), want: ErrPlaySigned, msg: "upload"},
		{name: "Tampered", in: mutate(func(b []byte) []byte {
			b[asset] ^= 0xff
			return b
		}), want: ErrNotVerified, msg: "content digest mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := filepath.Join(dir, "in.apk")
			require.NoError(t, os.WriteFile(p, tt.in, 0o600))
			f, size := apktest.Open(t, p)
			opts := ResignOptions{VersionCode: 43, Keys: []*signingkey.Key{k.Key}}
			if tt.opts != nil {
				tt.opts(&opts)
			}
			out := filepath.Join(dir, "out.apk")
			_, err := Resign(context.Background(), f, size, out, opts)
			require.Error(t, err)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			}
			require.Contains(t, err.Error(), tt.msg)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "only the input may remain")
		})
	}
}

// withFrosting adds Play's metadata pair to the signing block, the way
// Play-delivered APKs carry it. v2/v3 still verify: the block is outside
// the signed content.
func withFrosting(t *testing.T, apkBytes []byte) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.apk")
	require.NoError(t, os.WriteFile(p, apkBytes, 0o600))
	f, size := apktest.Open(t, p)
	a, blk, err := openArchive(f, size, Limits{})
	require.NoError(t, err)
	require.NotNil(t, blk)
	pairs := append(blk.Pairs, apksigPair(0x2146444e, []byte("frosting")))
	block := encodeBlockForTest(pairs)
	out := append([]byte{}, apkBytes[:blk.Offset]...)
	out = append(out, block...)
	out = append(out, apkBytes[a.CDOffset:a.EOCDOffset]...)
	eocd := append([]byte{}, apkBytes[a.EOCDOffset:]...)
	binary.LittleEndian.PutUint32(eocd[16:], uint32(blk.Offset+int64(len(block))))
	return append(out, eocd...)
}

func apksigPair(id uint32, v []byte) apksig.Pair { return apksig.Pair{ID: id, Value: v} }

func encodeBlockForTest(pairs []apksig.Pair) []byte { return apksig.EncodeBlock(pairs) }

// duplicateZip holds two entries with one name, which archive/zip writes.
func duplicateZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for range 2 {
		w, err := zw.Create("AndroidManifest.xml")
		require.NoError(t, err)
		_, err = w.Write([]byte("x"))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}
