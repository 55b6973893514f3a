package androidpkg_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/fakestore/androidpkg"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	m := androidpkg.Manifest{Package: "com.example.app", VersionCode: 2147483647, VersionName: "1.2.3"}
	tests := []struct {
		name  string
		build func(androidpkg.Manifest) ([]byte, error)
		kind  string
	}{
		{"APK", androidpkg.BuildAPK, "apk"},
		{"AAB", androidpkg.BuildAAB, "aab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := tt.build(m)
			require.NoError(t, err)
			got, kind, err := androidpkg.Read(b, androidpkg.Limits{})
			require.NoError(t, err)
			require.Equal(t, tt.kind, kind)
			require.Equal(t, m, *got)
		})
	}
}

func TestParseFailures(t *testing.T) {
	t.Parallel()
	good := androidpkg.BinaryXML(androidpkg.Manifest{Package: "p", VersionCode: 1})
	tests := []struct {
		name string
		in   []byte
	}{
		{"Empty", nil},
		{"NotXML", []byte("PK\x03\x04 not a manifest at all")},
		{"Truncated", good[:len(good)/2]},
		{"SizeTooLarge", append([]byte{3, 0, 8, 0, 0xff, 0xff, 0xff, 0x7f}, good[8:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := androidpkg.ParseBinaryXML(tt.in, androidpkg.Limits{})
			var fe *androidpkg.FormatError
			require.True(t, errors.As(err, &fe), "got %v", err)
		})
	}
}

func TestVersionCodeMustBePositive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
	}{
		{"ProtoZero", androidpkg.ProtoXML(androidpkg.Manifest{Package: "p", VersionCode: 0})},
		{"ProtoNegative", androidpkg.ProtoXML(androidpkg.Manifest{Package: "p", VersionCode: -5})},
		{"BinaryZero", androidpkg.BinaryXML(androidpkg.Manifest{Package: "p", VersionCode: 0})},
		{"BinaryOver32Bits", androidpkg.BinaryXML(androidpkg.Manifest{Package: "p", VersionCode: 1 << 31})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if strings.HasPrefix(tt.name, "Proto") {
				_, err = androidpkg.ParseProtoXML(tt.in)
			} else {
				_, err = androidpkg.ParseBinaryXML(tt.in, androidpkg.Limits{})
			}
			var fe *androidpkg.FormatError
			require.ErrorAs(t, err, &fe)
			require.Contains(t, fe.Msg, "versionCode must be a positive 32-bit integer")
		})
	}
}

func TestReadNoManifest(t *testing.T) {
	t.Parallel()
	_, _, err := androidpkg.Read([]byte("not a zip"), androidpkg.Limits{})
	require.Error(t, err)
	b, err := androidpkg.BuildAPK(androidpkg.Manifest{Package: "p", VersionCode: 1})
	require.NoError(t, err)
	_, err = androidpkg.ReadAAB(bytes.NewReader(b), int64(len(b)), androidpkg.Limits{})
	require.ErrorIs(t, err, androidpkg.ErrNoManifest)
}

func TestManifestLimit(t *testing.T) {
	t.Parallel()
	b, err := androidpkg.BuildAPK(androidpkg.Manifest{Package: "p", VersionCode: 1})
	require.NoError(t, err)
	_, err = androidpkg.ReadAPK(bytes.NewReader(b), int64(len(b)), androidpkg.Limits{MaxManifestBytes: 16})
	var fe *androidpkg.FormatError
	require.ErrorAs(t, err, &fe)
}

func FuzzParseBinaryXML(f *testing.F) {
	good := androidpkg.BinaryXML(androidpkg.Manifest{Package: "com.x", VersionCode: 7, VersionName: "v"})
	f.Add(good)
	f.Add(androidpkg.BinaryXML(androidpkg.Manifest{Package: "com.example.app", VersionCode: 2147483647}))
	f.Add(good[:len(good)/2])
	f.Add([]byte{3, 0, 8, 0, 8, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := androidpkg.ParseBinaryXML(b, androidpkg.Limits{MaxStrings: 1024})
		if err == nil && m.Package == "" {
			t.Fatal("accepted a manifest without a package")
		}
	})
}

func FuzzParseProtoXML(f *testing.F) {
	good := androidpkg.ProtoXML(androidpkg.Manifest{Package: "com.x", VersionCode: 7, VersionName: "v"})
	f.Add(good)
	f.Add(androidpkg.ProtoXML(androidpkg.Manifest{Package: "com.example.app", VersionCode: 2147483647, VersionName: "1.2.3"}))
	f.Add(androidpkg.ProtoXML(androidpkg.Manifest{Package: "p", VersionCode: -1}))
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}) // element length far past the end
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := androidpkg.ParseProtoXML(b)
		if err != nil {
			var fe *androidpkg.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a *FormatError: %v", err)
			}
			return
		}
		if m.Package == "" {
			t.Fatal("accepted a manifest without a package")
		}
		// What parsed must survive a round trip through the encoder.
		again, err := androidpkg.ParseProtoXML(androidpkg.ProtoXML(*m))
		if err != nil {
			t.Fatalf("re-encoded manifest %+v does not parse: %v", *m, err)
		}
		if *again != *m {
			t.Fatalf("round trip changed the manifest: %+v, then %+v", *m, *again)
		}
	})
}
