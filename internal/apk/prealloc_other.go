//go:build !linux

package apk

import (
	"io"
	"os"
)

// preallocate is a no-op where fallocate does not exist.
func preallocate(*os.File, int64) {}

// newWriteback writes straight to f where sync_file_range does not exist.
func newWriteback(f *os.File) io.Writer { return f }
