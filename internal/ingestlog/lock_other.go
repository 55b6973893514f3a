//go:build !unix

package ingestlog

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir only creates dir/LOCK where advisory locks are not available;
// running two processes on one log directory is then the operator's to
// avoid.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("ingestlog: open lock file: %w", err)
	}
	return f, nil
}
