// Package blob stores build artifacts: a local directory by default, or any
// gocloud.dev/blob bucket URL (s3://, including S3-compatible servers, and
// mem:// for tests). Writes are streamed, hashed while streaming and atomic:
// a write that fails or is cancelled leaves no object behind.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	gcblob "gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob" // mem:// URLs, for tests and demos
	_ "gocloud.dev/blob/s3blob"  // s3:// URLs, for teams at scale
	"gocloud.dev/gcerrors"
)

// ErrTooLarge is returned by Put when the content exceeds the limit.
var ErrTooLarge = errors.New("blob: content exceeds the size limit")

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("blob: not found")

// Store is an artifact store.
type Store struct {
	bucket *gcblob.Bucket
	where  string // for messages: the directory or URL
}

// Open opens the store at location: a directory path (created if missing), a
// file:// URL, or another gocloud.dev/blob URL.
func Open(ctx context.Context, location string) (*Store, error) {
	if location == "" {
		return nil, fmt.Errorf("blob: no artifact store location; set artifacts.url")
	}
	u, err := url.Parse(location)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // "C:" is a path
		return openDir(location)
	}
	if u.Scheme == "file" {
		return openDir(u.Path)
	}
	b, err := gcblob.OpenBucket(ctx, location)
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", location, err)
	}
	return &Store{bucket: b, where: location}, nil
}

func openDir(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: artifact directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("blob: create artifact directory %s: %w", abs, err)
	}
	// NoTempDir: temporary files sit next to their target, so the final
	// rename never crosses file systems.
	b, err := fileblob.OpenBucket(abs, &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		return nil, fmt.Errorf("blob: open artifact directory %s: %w", abs, err)
	}
	return &Store{bucket: b, where: abs}, nil
}

// String names the store for logs and messages.
func (s *Store) String() string { return s.where }

// Stored describes content written by Put.
type Stored struct {
	Key    string
	SHA256 string // hex
	Size   int64
}

// Put streams r to key, hashing as it goes, and refuses more than limit bytes
// (ErrTooLarge). On any error, including ctx cancellation and a client that
// disconnects mid-upload, nothing is left under key.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, limit int64) (Stored, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &gcblob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return Stored{}, fmt.Errorf("blob: write %s: %w", key, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		err = ErrTooLarge
	}
	if err != nil {
		cancel() // aborts the write: gocloud discards a writer closed after cancel
		_ = w.Close()
		_ = s.bucket.Delete(context.WithoutCancel(ctx), key) // in case a driver committed anyway
		return Stored{}, fmt.Errorf("blob: write %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return Stored{}, fmt.Errorf("blob: commit %s: %w", key, err)
	}
	return Stored{Key: key, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// Open returns a reader of the content at key (ErrNotFound if absent).
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("blob: read %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("blob: read %s: %w", key, err)
	}
	return r, nil
}

// Delete removes key; deleting a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

// Object is one stored key, as listed.
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// List calls fn for every object whose key starts with prefix.
func (s *Store) List(ctx context.Context, prefix string, fn func(Object) error) error {
	it := s.bucket.List(&gcblob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("blob: list %s: %w", prefix, err)
		}
		if obj.IsDir || strings.HasSuffix(obj.Key, "/") {
			continue
		}
		if err := fn(Object{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime}); err != nil {
			return err
		}
	}
}

// Close releases the bucket.
func (s *Store) Close() error { return s.bucket.Close() }
