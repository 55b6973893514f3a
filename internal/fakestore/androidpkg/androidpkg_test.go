package androidpkg_test

import (
	"bytes"
	"errors"
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
	f.Add(androidpkg.BinaryXML(androidpkg.Manifest{Package: "com.x", VersionCode: 7, VersionName: "v"}))
	f.Add([]byte{3, 0, 8, 0, 8, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := androidpkg.ParseBinaryXML(b, androidpkg.Limits{MaxStrings: 1024})
		if err == nil && m.Package == "" {
			t.Fatal("accepted a manifest without a package")
		}
	})
}

func FuzzParseProtoXML(f *testing.F) {
	f.Add(androidpkg.ProtoXML(androidpkg.Manifest{Package: "com.x", VersionCode: 7, VersionName: "v"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := androidpkg.ParseProtoXML(b)
		if err == nil && m.Package == "" {
			t.Fatal("accepted a manifest without a package")
		}
	})
}
