package ipa

import (
	"archive/zip"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// writeAtomic writes the job's archive to out through a temp file in the
// same directory, fsyncs it and renames it into place; on any error the
// temp file is removed and out is untouched.
func (j *job) writeAtomic(ctx context.Context, out string, level int) (err error) {
	dir := filepath.Dir(out)
	f, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return fmt.Errorf("ipa: create output in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := j.writeZip(ctx, f, level); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("ipa: chmod output: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("ipa: sync output: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ipa: close output: %w", err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return fmt.Errorf("ipa: rename output into %s: %w", out, err)
	}
	return nil
}

func (j *job) writeZip(ctx context.Context, w io.Writer, level int) error {
	if err := j.wait(); err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, level)
	})
	for _, zf := range j.a.zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := zf.Name
		_, inMem := j.overlay[name]
		spilled, onDisk := j.spilled[name]
		if !inMem && !onDisk {
			// Unchanged entries are copied compressed, headers (modes,
			// symlink bits, times) and all.
			if err := zw.Copy(zf); err != nil {
				return fmt.Errorf("ipa: copy %s: %w", name, err)
			}
			continue
		}
		fh := zf.FileHeader
		fh.CRC32, fh.CompressedSize64, fh.UncompressedSize64 = 0, 0, 0
		fh.CompressedSize, fh.UncompressedSize = 0, 0 //nolint:staticcheck // clear legacy fields too
		fh.Method = zip.Deflate
		fh.Extra = nil // stale sizes in a zip64 extra field would be wrong
		if err := j.writeEntry(zw, &fh, name, spilled, onDisk); err != nil {
			return err
		}
	}
	for _, name := range j.added {
		fh := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		fh.SetMode(0o644)
		if err := j.writeEntry(zw, fh, name, j.spilled[name], j.spilled[name] != nil); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("ipa: finish zip: %w", err)
	}
	return nil
}

func (j *job) writeEntry(zw *zip.Writer, fh *zip.FileHeader, name string, spilled *spillFile, onDisk bool) error {
	if !onDisk {
		ew, err := zw.CreateHeader(fh)
		if err == nil {
			_, err = ew.Write(j.overlay[name])
		}
		if err != nil {
			return fmt.Errorf("ipa: write %s: %w", name, err)
		}
		return nil
	}
	// Spilled executables are already deflated: copy them raw.
	fh.CRC32, fh.UncompressedSize64, fh.CompressedSize64 = spilled.crc, spilled.size, spilled.compressed
	ew, err := zw.CreateRaw(fh)
	if err == nil {
		var src *os.File
		src, err = os.Open(spilled.path)
		if err == nil {
			_, err = io.CopyBuffer(ew, src, j.buf)
			err = errors.Join(err, src.Close())
		}
	}
	if err != nil {
		return fmt.Errorf("ipa: write %s: %w", name, err)
	}
	return nil
}
