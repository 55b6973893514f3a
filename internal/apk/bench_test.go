package apk

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/apk/apktest"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// benchInput is a signed APK of about 100 MB: 60 stored 1 MiB assets and
// about 40 MB of deflated dex, minSdk 21 so v1 is needed too. Set
// RIPCORD_BENCH_APK (and RIPCORD_BENCH_KEY/CERT, PKCS#8 DER and PEM) to
// benchmark a given file, as scripts/bench-apk-resign.sh does.
type benchInput struct {
	path string
	key  *signingkey.Key
}

var (
	benchOnce sync.Once
	benchIn   benchInput
)

func loadBenchInput(b *testing.B) benchInput {
	b.Helper()
	if p := os.Getenv("RIPCORD_BENCH_APK"); p != "" {
		keyData, err := os.ReadFile(os.Getenv("RIPCORD_BENCH_KEY"))
		require.NoError(b, err)
		certData, err := os.ReadFile(os.Getenv("RIPCORD_BENCH_CERT"))
		require.NoError(b, err)
		k, err := signingkey.LoadKeyPair(keyData, certData)
		require.NoError(b, err)
		return benchInput{path: p, key: k}
	}
	benchOnce.Do(func() {
		k := apktest.NewKey(b, "rsa", "bench")
		unsigned := apktest.APK(b, apktest.APKOptions{MinSdk: 21, NativeLib: true, AssetsMiB: 60, DexMiB: 72})
		f, size := apktest.Open(b, unsigned)
		dir, err := os.MkdirTemp("", "ripcord-bench-")
		require.NoError(b, err)
		signed := filepath.Join(dir, "signed.apk")
		_, err = Resign(context.Background(), f, size, signed, ResignOptions{VersionCode: 43, Keys: []*signingkey.Key{k.Key}})
		require.NoError(b, err)
		benchIn = benchInput{path: signed, key: k.Key}
	})
	return benchIn
}

func BenchmarkResign(b *testing.B) {
	in := loadBenchInput(b)
	f, size := apktest.Open(b, in.path)
	out := filepath.Join(b.TempDir(), "out.apk")
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		rep, err := Resign(context.Background(), f, size, out, ResignOptions{VersionCode: 1000, VersionName: "9.9.9", Keys: []*signingkey.Key{in.key}})
		require.NoError(b, err)
		b.ReportMetric(float64(rep.ReusedV1Digests), "reused_v1_digests")
	}
}

func BenchmarkVerify(b *testing.B) {
	in := loadBenchInput(b)
	f, size := apktest.Open(b, in.path)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		v, err := Verify(context.Background(), f, size, VerifyOptions{})
		require.NoError(b, err)
		require.True(b, v.Verified)
	}
}

func BenchmarkVerifyReuseV2ForV1(b *testing.B) {
	in := loadBenchInput(b)
	f, size := apktest.Open(b, in.path)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		v, err := Verify(context.Background(), f, size, VerifyOptions{ReuseV2ForV1: true})
		require.NoError(b, err)
		require.True(b, v.Verified)
	}
}

func BenchmarkInspect(b *testing.B) {
	in := loadBenchInput(b)
	f, size := apktest.Open(b, in.path)
	for b.Loop() {
		_, err := Inspect(context.Background(), f, size, InspectOptions{})
		require.NoError(b, err)
	}
}

// TestWriteBenchFixture writes the benchmark APK and its key for
// scripts/bench-apk-resign.sh when RIPCORD_BENCH_FIXTURE_DIR is set.
func TestWriteBenchFixture(t *testing.T) {
	dir := os.Getenv("RIPCORD_BENCH_FIXTURE_DIR")
	if dir == "" {
		t.Skip("set RIPCORD_BENCH_FIXTURE_DIR to write the benchmark fixture")
	}
	k := apktest.NewKey(t, "rsa", "bench")
	unsigned := apktest.APK(t, apktest.APKOptions{MinSdk: 21, NativeLib: true, AssetsMiB: 60, DexMiB: 72})
	f, size := apktest.Open(t, unsigned)
	_, err := Resign(context.Background(), f, size, filepath.Join(dir, "in.apk"), ResignOptions{VersionCode: 43, Keys: []*signingkey.Key{k.Key}})
	require.NoError(t, err)
	for src, dst := range map[string]string{k.PK8Path: "key.pk8", k.CertPath: "cert.pem"} {
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, dst), b, 0o600))
	}
}
