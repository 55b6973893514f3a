package apkzip

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestReadFixtures(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"apksigner-rsa.apk", "apksigner-ec.apk", "ripcord-rsa.apk"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := fixture(t, name)
			a, err := Read(bytes.NewReader(b), int64(len(b)), Limits{})
			require.NoError(t, err)
			// archive/zip agrees on names, sizes and contents.
			zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			require.NoError(t, err)
			require.Len(t, a.Entries, len(zr.File))
			for i, zf := range zr.File {
				e := a.Entries[i]
				require.Equal(t, zf.Name, e.Name)
				require.Equal(t, int64(zf.UncompressedSize64), e.UncompressedSize)
				want, err := zf.Open()
				require.NoError(t, err)
				wantBytes, err := io.ReadAll(want)
				require.NoError(t, err)
				got, err := e.ReadAll(bytes.NewReader(b), 1<<20)
				require.NoError(t, err)
				require.Equal(t, wantBytes, got, e.Name)
			}
			require.LessOrEqual(t, a.EntriesEnd, a.CDOffset)
		})
	}
}

func TestCopyAligns(t *testing.T) {
	t.Parallel()
	b := fixture(t, "apksigner-rsa.apk")
	src := bytes.NewReader(b)
	a, err := Read(src, int64(len(b)), Limits{})
	require.NoError(t, err)
	var out bytes.Buffer
	w := NewWriter(&out)
	// An odd-sized first entry shifts everything after it.
	require.NoError(t, w.CreateEntry("x", Store, 0xcbf43926, 9, []byte("123456789"), 0, 0, 1))
	for _, e := range a.Entries {
		align := Alignment(e.Name, e.Method)
		if e.Name == "resources.arsc" {
			align = AlignNative // exercise the large alignment on a stored entry
		}
		require.NoError(t, w.CopyEntry(e, src, align))
	}
	cd := w.CentralDirectory()
	cdOff := w.Offset()
	out.Write(cd)
	out.Write(EndRecord(w.Count(), int64(len(cd)), cdOff))
	ob := out.Bytes()
	got, err := Read(bytes.NewReader(ob), int64(len(ob)), Limits{})
	require.NoError(t, err)
	require.Len(t, got.Entries, len(a.Entries)+1)
	for i, e := range a.Entries {
		g := got.Entries[i+1]
		require.Equal(t, e.Name, g.Name)
		require.Equal(t, e.Method, g.Method)
		// Compressed bytes are copied, never re-encoded.
		require.Equal(t, b[e.DataOffset:e.DataOffset+e.CompressedSize], ob[g.DataOffset:g.DataOffset+g.CompressedSize])
		switch {
		case e.Name == "resources.arsc":
			require.Zero(t, g.DataOffset%AlignNative)
		case e.Method == Store:
			require.Zero(t, g.DataOffset%AlignStored, e.Name)
		}
	}
}

func TestReadFailure(t *testing.T) {
	t.Parallel()
	good := fixture(t, "apksigner-rsa.apk")
	a, err := Read(bytes.NewReader(good), int64(len(good)), Limits{})
	require.NoError(t, err)
	mut := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	eocd, cd := a.EOCDOffset, a.CDOffset
	tests := []struct {
		name string
		in   []byte
		lim  Limits
		want error
		msg  string
	}{
		{name: "Empty", in: nil, want: ErrFormat, msg: "too short"},
		{name: "NotZip", in: bytes.Repeat([]byte("x"), 100), want: ErrFormat, msg: "no zip end record"},
		{name: "Truncated", in: good[:len(good)-1], want: ErrFormat, msg: "no zip end record"},
		{name: "TruncatedFront", in: good[1000:], want: ErrFormat},
		{name: "Zip64Count", in: mut(func(b []byte) {
			binary.LittleEndian.PutUint16(b[eocd+10:], 0xffff)
			binary.LittleEndian.PutUint16(b[eocd+8:], 0xffff)
		}), want: ErrZip64},
		{name: "Zip64Entry", in: mut(func(b []byte) { binary.LittleEndian.PutUint32(b[cd+20:], 0xffffffff) }), want: ErrZip64},
		{name: "Encrypted", in: mut(func(b []byte) { b[cd+8] |= 1 }), want: ErrEncrypted},
		{name: "TooManyEntries", in: good, lim: Limits{MaxEntries: 2}, want: ErrFormat, msg: "above limit"},
		{name: "CDTooLarge", in: good, lim: Limits{MaxCentralDirectory: 10}, want: ErrFormat, msg: "larger than limit"},
		{name: "HugeCount", in: mut(func(b []byte) {
			binary.LittleEndian.PutUint16(b[eocd+10:], 60000)
			binary.LittleEndian.PutUint16(b[eocd+8:], 60000)
		}), want: ErrFormat, msg: "does not fit"},
		{name: "BadLocalOffset", in: mut(func(b []byte) { binary.LittleEndian.PutUint32(b[cd+42:], uint32(cd)) }), want: ErrFormat, msg: "local header"},
		{name: "NonLocalName", in: mut(func(b []byte) { copy(b[cd+46:], "../") }), want: ErrFormat, msg: "not a local path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Read(bytes.NewReader(tt.in), int64(len(tt.in)), tt.lim)
			require.ErrorIs(t, err, tt.want)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestOpenChecks(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("a.txt")
	require.NoError(t, err)
	_, err = w.Write(bytes.Repeat([]byte("hello "), 1000))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	good := buf.Bytes()
	a, err := Read(bytes.NewReader(good), int64(len(good)), Limits{})
	require.NoError(t, err)
	e := *a.Entries[0]
	tests := []struct {
		name string
		mod  func(e *Entry)
		want error
	}{
		{name: "OK"},
		{name: "SizeTooSmall", mod: func(e *Entry) { e.UncompressedSize = 10 }, want: ErrChecksum},
		{name: "SizeTooLarge", mod: func(e *Entry) { e.UncompressedSize = 7000 }, want: ErrChecksum},
		{name: "CRC", mod: func(e *Entry) { e.CRC32++ }, want: ErrChecksum},
		{name: "Method", mod: func(e *Entry) { e.Method = 12 }, want: ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := e
			if tt.mod != nil {
				tt.mod(&e)
			}
			_, err := e.ReadAll(bytes.NewReader(good), 1<<20)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func FuzzRead(f *testing.F) {
	for _, name := range []string{"apksigner-rsa.apk", "apksigner-ec.apk", "ripcord-rsa.apk"} {
		f.Add(fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		a, err := Read(r, int64(len(b)), Limits{MaxEntries: 1000, MaxCentralDirectory: 1 << 20})
		if err != nil {
			return
		}
		for _, e := range a.Entries {
			_, _ = e.ReadAll(r, 1<<20)
		}
		var out bytes.Buffer
		w := NewWriter(&out)
		for _, e := range a.Entries {
			if err := w.CopyEntry(e, r, Alignment(e.Name, e.Method)); err != nil {
				t.Fatalf("copy of a parsed entry failed: %v", err)
			}
		}
	})
}
