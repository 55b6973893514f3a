//go:build linux

package apk

import (
	"os"

	"golang.org/x/sys/unix"
)

// preallocate reserves n bytes for f without changing its size
// (FALLOC_FL_KEEP_SIZE), so the filesystem allocates the output's blocks
// in one go instead of during every write. Best effort: errors (a
// filesystem without fallocate) are ignored.
func preallocate(f *os.File, n int64) {
	_ = unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, n)
}

// writebackEvery is how much output accumulates before we ask the kernel
// to start writing it out.
const writebackEvery = 8 << 20

// writeback passes writes to f and starts asynchronous writeback of every
// 8 MiB written (sync_file_range), so the final fsync finds little left to
// do instead of flushing the whole file while we wait.
type writeback struct {
	f            *os.File
	off, started int64
}

func newWriteback(f *os.File) *writeback { return &writeback{f: f} }

// Write writes p and kicks off writeback when enough has accumulated.
func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.started >= writebackEvery {
		_ = unix.SyncFileRange(int(w.f.Fd()), w.started, w.off-w.started, unix.SYNC_FILE_RANGE_WRITE)
		w.started = w.off
	}
	return n, err
}
