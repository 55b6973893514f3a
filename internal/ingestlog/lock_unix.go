//go:build unix

package ingestlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive lock on dir/LOCK so that two processes never
// append to one log (their records would interleave and their in-memory
// dedupe state would disagree). The lock goes with the process.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("ingestlog: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("ingestlog: another process uses the ingest log in %s; stop it or give this one its own directory", dir)
		}
		return nil, fmt.Errorf("ingestlog: lock %s: %w", dir, err)
	}
	return f, nil
}
