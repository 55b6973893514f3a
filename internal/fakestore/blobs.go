package fakestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
)

// blobDirName is the state directory's subdirectory for uploaded bytes:
// Play resumable-upload sessions and App Store Connect upload parts. Bytes
// never go into state.json, which only names the files, so large artifacts
// neither bloat it nor sit in memory.
const blobDirName = "uploads"

// spooledBody is a request body the fake streamed to a file in the blob
// directory before taking the state lock, so that a slow or large upload
// neither holds the lock nor sits in memory.
type spooledBody struct {
	// Path is the spool file; a handler that keeps the bytes renames it
	// and sets Path to "" (wrap removes whatever is left).
	Path string
	// Size is the body's length in bytes.
	Size int64
}

// spoolFunc serves one streaming operation with s.mu held.
type spoolFunc func(r *http.Request, body *spooledBody) (int, any, error)

// headedResponse lets a handler set response headers (Location, Range…)
// besides the status and the JSON value.
type headedResponse struct {
	header http.Header
	body   any
}

// blobDir returns the directory for uploaded bytes: <StateDir>/uploads, or,
// for an in-memory fake, a temporary directory created on first use and
// removed by Close.
func (s *Server) blobDir() (string, error) {
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	if s.blobPath != "" {
		return s.blobPath, nil
	}
	if s.cfg.StateDir == "" {
		dir, err := os.MkdirTemp("", "fakestore-uploads-")
		if err != nil {
			return "", fmt.Errorf("fakestore: create upload directory: %w", err)
		}
		s.blobPath, s.blobTemp = dir, true
		return dir, nil
	}
	dir := filepath.Join(s.cfg.StateDir, blobDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("fakestore: create upload directory %s: %w", dir, err)
	}
	s.blobPath = dir
	return dir, nil
}

// blobFile returns the path of the blob named name (a name the fake made).
func (s *Server) blobFile(name string) (string, error) {
	dir, err := s.blobDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// removeBlob deletes a blob, logging nothing when it is already gone.
func (s *Server) removeBlob(ctx context.Context, name string) {
	p, err := s.blobFile(name)
	if err != nil {
		return
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.WarnContext(ctx, "fakestore blob remove failed", slog.String("path", p), slog.Any("err", err))
	}
}

// removeTempBlobs deletes the temporary blob directory of an in-memory fake.
func (s *Server) removeTempBlobs() error {
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	if !s.blobTemp || s.blobPath == "" {
		return nil
	}
	err := os.RemoveAll(s.blobPath)
	s.blobPath, s.blobTemp = "", false
	if err != nil {
		return fmt.Errorf("fakestore: remove upload directory: %w", err)
	}
	return nil
}

// spool streams r's body, at most limit bytes, to a new file in the blob
// directory. A body over the limit returns *http.MaxBytesError.
func (s *Server) spool(w http.ResponseWriter, r *http.Request, limit int64) (*spooledBody, error) {
	dir, err := s.blobDir()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".spool-*")
	if err != nil {
		return nil, fmt.Errorf("fakestore: spool request body: %w", err)
	}
	n, err := io.Copy(f, http.MaxBytesReader(w, r.Body, limit))
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("fakestore: spool request body: %w", cerr)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return nil, err
	}
	return &spooledBody{Path: f.Name(), Size: n}, nil
}

// copyRange appends src[skip:] to the file at dst, which is first cut to
// offset: bytes past what state.json records (a crash between write and
// persist) are dropped, never trusted.
func copyRange(dst string, offset int64, src string, skip int64) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("fakestore: open %s: %w", dst, err)
	}
	defer out.Close()
	if err := out.Truncate(offset); err != nil {
		return fmt.Errorf("fakestore: truncate %s: %w", dst, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("fakestore: open spooled body: %w", err)
	}
	defer in.Close()
	if _, err := in.Seek(skip, io.SeekStart); err != nil {
		return fmt.Errorf("fakestore: seek spooled body: %w", err)
	}
	if _, err := io.Copy(io.NewOffsetWriter(out, offset), in); err != nil {
		return fmt.Errorf("fakestore: write %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("fakestore: close %s: %w", dst, err)
	}
	return nil
}
