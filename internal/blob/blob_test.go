package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/blob"
)

func openDir(t *testing.T) (*blob.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "artifacts")
	s, err := blob.Open(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// files lists every file under dir, temporary ones included.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	}))
	return out
}

func TestPutHashesAndStores(t *testing.T) {
	t.Parallel()
	s, _ := openDir(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("ripcord"), 100000)
	st, err := s.Put(ctx, "a/b/c.apk", bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	require.Equal(t, hex.EncodeToString(sum[:]), st.SHA256)
	require.Equal(t, int64(len(data)), st.Size)

	r, err := s.Open(ctx, "a/b/c.apk")
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	r.Close()
	require.Equal(t, data, got)

	var keys []string
	require.NoError(t, s.List(ctx, "a/", func(o blob.Object) error { keys = append(keys, o.Key); return nil }))
	require.Equal(t, []string{"a/b/c.apk"}, keys)

	require.NoError(t, s.Delete(ctx, "a/b/c.apk"))
	require.NoError(t, s.Delete(ctx, "a/b/c.apk"), "deleting twice is fine")
	_, err = s.Open(ctx, "a/b/c.apk")
	require.ErrorIs(t, err, blob.ErrNotFound)
}

func TestPutTooLargeLeavesNothing(t *testing.T) {
	t.Parallel()
	s, dir := openDir(t)
	_, err := s.Put(context.Background(), "big", bytes.NewReader(make([]byte, 1001)), 1000)
	require.ErrorIs(t, err, blob.ErrTooLarge)
	require.Empty(t, files(t, dir))
	// Exactly at the limit is fine.
	_, err = s.Put(context.Background(), "ok", bytes.NewReader(make([]byte, 1000)), 1000)
	require.NoError(t, err)
}

// failingReader hands out some bytes, then fails like a client that hung up.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestPutInterruptedLeavesNothing(t *testing.T) {
	t.Parallel()
	s, dir := openDir(t)
	_, err := s.Put(context.Background(), "x/partial.apk", &failingReader{n: 300000}, 1<<30)
	require.ErrorContains(t, err, "connection reset")
	require.Empty(t, files(t, dir), "no partial or temporary file stays")
}

func TestOpenMemURL(t *testing.T) {
	t.Parallel()
	s, err := blob.Open(context.Background(), "mem://")
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Put(context.Background(), "k", bytes.NewReader([]byte("x")), 10)
	require.NoError(t, err)
}
