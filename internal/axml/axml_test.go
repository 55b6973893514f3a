package axml

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/testenv"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".axml"))
	require.NoError(t, err)
	return b
}

func ptr[T any](v T) *T { return &v }

func TestParseFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		pkg                  string
		code                 int64
		versionName          string
		minSdk, targetSdk    string
		nameType             uint8
		wantCodeAbsent       bool
		wantNameAbsent       bool
		wantTargetSdkAbsence bool
	}{
		{name: "basic", pkg: "com.example.fx", code: 42, versionName: "1.2.3", minSdk: "21", targetSdk: "29", nameType: TypeString},
		{name: "refname", pkg: "com.example.ref", code: 42, versionName: "@0x7f010002", minSdk: "28", targetSdk: "35", nameType: TypeReference},
		{name: "noversion", pkg: "com.example.nov", minSdk: "24", targetSdk: "36", wantCodeAbsent: true, wantNameAbsent: true},
		{name: "shared", pkg: "com.example.shared", code: 7, versionName: "10.0.0", minSdk: "16", nameType: TypeString, wantTargetSdkAbsence: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, utf8Pool := range []bool{false, true} {
				b := readFixture(t, tt.name)
				if utf8Pool {
					b = transcodeUTF8(t, b)
				}
				f, err := Parse(b, Limits{})
				require.NoError(t, err)
				m, err := f.Manifest()
				require.NoError(t, err)
				require.Equal(t, tt.pkg, m.Package)
				require.Equal(t, tt.code, m.LongVersionCode())
				require.Equal(t, tt.wantCodeAbsent, m.VersionCode == nil)
				require.Equal(t, tt.wantNameAbsent, m.VersionName == nil)
				if m.VersionName != nil {
					require.Equal(t, tt.nameType, m.VersionName.Type)
					if tt.nameType == TypeString {
						require.Equal(t, tt.versionName, m.VersionName.Text())
					}
				}
				require.Equal(t, tt.minSdk, m.MinSdk.Text())
				require.Equal(t, tt.wantTargetSdkAbsence, m.TargetSdk == nil)
				if m.TargetSdk != nil {
					require.Equal(t, tt.targetSdk, m.TargetSdk.Text())
				}
			}
		})
	}
}

func TestRewrite(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"basic", "refname", "noversion", "shared"} {
		for _, utf8Pool := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/utf16", true: "/utf8"}[utf8Pool], func(t *testing.T) {
				t.Parallel()
				in := readFixture(t, name)
				if utf8Pool {
					in = transcodeUTF8(t, in)
				}
				f, err := Parse(in, Limits{})
				require.NoError(t, err)
				before, err := f.Manifest()
				require.NoError(t, err)

				out, err := f.Rewrite(Update{VersionCode: ptr(uint32(2_000_000_001)), VersionName: ptr("9.9.10-rollback ü")})
				require.NoError(t, err)
				g, err := Parse(out, Limits{})
				require.NoError(t, err)
				after, err := g.Manifest()
				require.NoError(t, err)
				require.Equal(t, int64(2_000_000_001), after.LongVersionCode())
				require.Equal(t, uint8(TypeIntDec), after.VersionCode.Type)
				require.Equal(t, "9.9.10-rollback ü", after.VersionName.Text())
				require.Equal(t, before.Package, after.Package)
				require.Equal(t, before.MinSdk, after.MinSdk)
				require.Equal(t, before.TargetSdk, after.TargetSdk)
				// Every existing pool string keeps its index and text.
				for i := range f.pool.count {
					a, err := f.str(uint32(i))
					require.NoError(t, err)
					b, err := g.str(uint32(i))
					require.NoError(t, err)
					require.Equal(t, a, b, "string %d", i)
				}
				require.Equal(t, f.pool.utf8(), g.pool.utf8())
				// Chunks after <manifest> are byte-identical.
				require.Equal(t, in[f.manifest.chunk+f.manifest.size:], out[g.manifest.chunk+g.manifest.size:])
			})
		}
	}
}

func TestRewriteSharedStringUntouched(t *testing.T) {
	t.Parallel()
	// "10.0.0" is both versionName and compileSdkVersionCodename here: the
	// codename must survive a versionName change.
	f, err := Parse(readFixture(t, "shared"), Limits{})
	require.NoError(t, err)
	before, err := f.Manifest()
	require.NoError(t, err)
	out, err := f.Rewrite(Update{VersionName: ptr("10.0.1")})
	require.NoError(t, err)
	g, err := Parse(out, Limits{})
	require.NoError(t, err)
	after, err := g.Manifest()
	require.NoError(t, err)
	require.Equal(t, "10.0.1", after.VersionName.Text())
	require.NotEqual(t, before.VersionName.Data, after.VersionName.Data)
	s, err := g.str(before.VersionName.Data)
	require.NoError(t, err)
	require.Equal(t, "10.0.0", s)
}

func TestParseFailure(t *testing.T) {
	t.Parallel()
	good := readFixture(t, "basic")
	mut := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		lim  Limits
		msg  string
	}{
		{name: "Empty", in: nil, msg: "shorter than a chunk header"},
		{name: "NotXML", in: []byte("PK\x03\x04aaaaaaaaaaaa"), msg: "not a binary XML"},
		{name: "Truncated", in: good[:len(good)/2], msg: "past its parent"},
		{name: "TooLarge", in: good, lim: Limits{MaxSize: 100}, msg: "larger than limit"},
		{name: "HugeStringCount", in: mut(func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 0xffffffff) }), msg: "count above limit"},
		{name: "StringOffsetPastPool", in: mut(func(b []byte) {
			for i := range 19 {
				binary.LittleEndian.PutUint32(b[36+4*i:], 0x7fffffff)
			}
		}), msg: "string offset past the pool"},
		{name: "BadChunkHeader", in: mut(func(b []byte) { binary.LittleEndian.PutUint16(b[10:], 2) }), msg: "bad chunk header size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse(tt.in, tt.lim)
			if err == nil {
				_, err = f.Manifest()
			}
			require.Error(t, err)
			require.ErrorIs(t, err, ErrFormat)
			var fe *FormatError
			require.True(t, errors.As(err, &fe))
			require.Contains(t, fe.Error(), tt.msg)
		})
	}
}

// TestRewriteAapt checks rewritten manifests with the platform's own parser:
// aapt dump badging on an APK built by aapt2 whose manifest we replaced.
func TestRewriteAapt(t *testing.T) {
	t.Parallel()
	aapt := testenv.LookPath(t, "aapt", "apt-get install aapt")
	tests := []struct {
		name     string
		fixture  string
		utf8Pool bool
		want     string
	}{
		{name: "UTF16", fixture: "basic", want: "versionCode='43' versionName='1.2.4-rollback'"},
		{name: "UTF8", fixture: "basic", utf8Pool: true, want: "versionCode='43' versionName='1.2.4-rollback'"},
		{name: "Reference", fixture: "refname", want: "versionCode='43' versionName='1.2.4-rollback'"},
		{name: "Missing", fixture: "noversion", want: "versionCode='43' versionName='1.2.4-rollback'"},
		{name: "MissingUTF8", fixture: "noversion", utf8Pool: true, want: "versionCode='43' versionName='1.2.4-rollback'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := readFixture(t, tt.fixture)
			if tt.utf8Pool {
				in = transcodeUTF8(t, in)
			}
			f, err := Parse(in, Limits{})
			require.NoError(t, err)
			out, err := f.Rewrite(Update{VersionCode: ptr(uint32(43)), VersionName: ptr("1.2.4-rollback")})
			require.NoError(t, err)
			apk := filepath.Join(t.TempDir(), "a.apk")
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			w, err := zw.Create("AndroidManifest.xml")
			require.NoError(t, err)
			_, err = w.Write(out)
			require.NoError(t, err)
			require.NoError(t, zw.Close())
			require.NoError(t, os.WriteFile(apk, buf.Bytes(), 0o600))
			got, err := exec.Command(aapt, "dump", "badging", apk).CombinedOutput()
			require.NoError(t, err, "%s", got)
			require.Contains(t, string(got), tt.want)
		})
	}
}

// transcodeUTF8 re-encodes a UTF-16 pool as UTF-8 (aapt2 only writes UTF-16
// manifests), keeping string order, to build UTF-8 fixtures.
func transcodeUTF8(t testing.TB, b []byte) []byte {
	t.Helper()
	f, err := Parse(b, Limits{})
	require.NoError(t, err)
	require.False(t, f.pool.utf8())
	require.Zero(t, f.pool.styleCount)
	var data []byte
	offs := make([]uint32, f.pool.count)
	for i := range f.pool.count {
		s, err := f.str(uint32(i))
		require.NoError(t, err)
		offs[i] = uint32(len(data))
		data = appendPoolString(data, s, true)
	}
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	p := f.pool
	chunk := append([]byte{}, b[p.start:p.start+p.headerSize]...)
	for _, o := range offs {
		chunk = binary.LittleEndian.AppendUint32(chunk, o)
	}
	ss := len(chunk)
	chunk = append(chunk, data...)
	binary.LittleEndian.PutUint32(chunk[4:], uint32(len(chunk)))
	binary.LittleEndian.PutUint32(chunk[16:], p.flags|poolFlagUTF8)
	binary.LittleEndian.PutUint32(chunk[20:], uint32(ss))
	binary.LittleEndian.PutUint32(chunk[24:], 0)
	out := append([]byte{}, b[:p.start]...)
	out = append(out, chunk...)
	out = append(out, b[p.start+p.size:]...)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)))
	return out
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"basic", "refname", "noversion", "shared"} {
		b := readFixture(f, n)
		f.Add(b)
		f.Add(transcodeUTF8(f, b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b, Limits{MaxSize: 1 << 16, MaxStrings: 1 << 12})
		if err != nil {
			return
		}
		if _, err := file.Manifest(); err != nil {
			return
		}
		out, err := file.Rewrite(Update{VersionCode: ptr(uint32(5)), VersionName: ptr("x")})
		if err != nil {
			return
		}
		g, err := Parse(out, Limits{MaxSize: 1 << 17, MaxStrings: 1 << 13})
		if err != nil {
			t.Fatalf("rewrite produced unparseable output: %v", err)
		}
		if _, err := g.Manifest(); err != nil {
			t.Fatalf("rewrite produced unreadable manifest: %v", err)
		}
	})
}

func TestResolveString(t *testing.T) {
	t.Parallel()
	arsc, err := os.ReadFile(filepath.Join("testdata", "refname.arsc"))
	require.NoError(t, err)
	tests := []struct {
		name string
		ref  uint32
		want string
		err  string
	}{
		{name: "DefaultConfig", ref: 0x7f010002, want: "7.7.7"},
		{name: "Literal", ref: 0x7f010001, want: "Fixture"},
		{name: "ReferenceChain", ref: 0x7f010000, want: "7.7.7"},
		{name: "MissingEntry", ref: 0x7f010009, err: "not found"},
		{name: "MissingType", ref: 0x7f050000, err: "not found"},
		{name: "OtherPackage", ref: 0x01010000, err: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ResolveString(arsc, tt.ref, Limits{})
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	// The manifest's reference resolves to what aapt shows.
	f, err := Parse(readFixture(t, "refname"), Limits{})
	require.NoError(t, err)
	m, err := f.Manifest()
	require.NoError(t, err)
	got, err := ResolveString(arsc, m.VersionName.Data, Limits{})
	require.NoError(t, err)
	require.Equal(t, "7.7.7", got)
}

func FuzzResolveString(f *testing.F) {
	arsc, err := os.ReadFile(filepath.Join("testdata", "refname.arsc"))
	require.NoError(f, err)
	f.Add(arsc, uint32(0x7f010002))
	f.Fuzz(func(t *testing.T, b []byte, ref uint32) {
		_, _ = ResolveString(b, ref, Limits{MaxSize: 1 << 16})
	})
}
