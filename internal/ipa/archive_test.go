package ipa

import (
	"archive/zip"
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestArchiveRejectsUnsafeNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"../evil", "/abs", `Payload\x.app`, "a//b"} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		_, err := zw.Create(name)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		_, err = newArchive(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{}.withDefaults())
		require.ErrorIs(t, err, ErrFormat, name)
	}
	// Declared sizes past the limit are refused before inflating.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("big")
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 1<<20))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	_, err = newArchive(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{MaxTotal: 1 << 10}.withDefaults())
	require.True(t, errors.Is(err, ErrFormat))
}
