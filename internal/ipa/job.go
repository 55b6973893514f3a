package ipa

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/ripcordhq/ripcord/internal/macho"
)

// job is one pass over an IPA: the archive, the bytes that replace or add
// entries, and a memo of file digests so a file sealed by a bundle and by
// its parent's legacy list is hashed once.
type job struct {
	a       *archive
	root    *bundle
	overlay map[string][]byte     // replaced or added entries held in memory
	spilled map[string]*spillFile // replaced entries held compressed in temp files (signed executables)
	added   []string              // overlay names not in the archive, in creation order
	hashes  map[string]fileHash
	seals   map[string]nestedSeal // full zip path of nested code -> seal
	workDir string
	buf     []byte
}

func newJob(a *archive) *job {
	return &job{
		a: a, overlay: map[string][]byte{},
		spilled: map[string]*spillFile{},
		hashes:  map[string]fileHash{}, seals: map[string]nestedSeal{}, buf: make([]byte, 256<<10),
	}
}

func (j *job) exists(name string) bool {
	_, inArchive := j.a.files[name]
	_, inOverlay := j.overlay[name]
	return inArchive || inOverlay
}

// set replaces or adds an entry held in memory.
func (j *job) set(name string, b []byte) {
	if !j.exists(name) && j.spilled[name] == nil {
		j.added = append(j.added, name)
	}
	j.overlay[name] = b
	delete(j.hashes, name)
}

// spillFile is a signed executable, deflated into a temp file by a
// background goroutine so compression overlaps the signing of the next
// bundle; the archive writer copies it raw.
type spillFile struct {
	path             string
	crc              uint32
	size, compressed uint64
	done             chan error
}

// spill replaces an entry with bytes compressed into a temp file, so signed
// executables do not stay in memory until the archive is written.
func (j *job) spill(name string, b []byte, level int) error {
	// At most one compression runs in the background, so at most one
	// signed executable waits in memory besides the one being signed.
	if err := j.wait(); err != nil {
		return err
	}
	// Only a parent seals a file by digest; the app's own executable has
	// no parent, so skip hashing 10s of MB for nothing.
	if j.root == nil || name != j.root.exe {
		j.hashes[name] = hashBytes(b)
	}
	delete(j.overlay, name)
	sf := &spillFile{size: uint64(len(b)), crc: crc32.ChecksumIEEE(b), done: make(chan error, 1)}
	j.spilled[name] = sf
	f, err := os.CreateTemp(j.workDir, "exe-*")
	if err != nil {
		return fmt.Errorf("ipa: spill %s: %w", name, err)
	}
	sf.path = f.Name()
	go func() {
		cw := &countWriter{w: f}
		zw, err := flate.NewWriter(cw, level)
		if err == nil {
			_, err = zw.Write(b)
			err = errors.Join(err, zw.Close())
		}
		sf.compressed = uint64(cw.n)
		sf.done <- errors.Join(err, f.Close())
	}()
	return nil
}

// wait blocks until every spilled file is compressed.
func (j *job) wait() error {
	var errs []error
	for name, sf := range j.spilled {
		if sf.done == nil {
			continue
		}
		if err := <-sf.done; err != nil {
			errs = append(errs, fmt.Errorf("ipa: compress %s: %w", name, err))
		}
		sf.done = nil
	}
	return errors.Join(errs...)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// content returns an entry's current bytes, bounded by max.
func (j *job) content(name string, max int64) ([]byte, error) {
	if b, ok := j.overlay[name]; ok {
		return b, nil
	}
	if sf, ok := j.spilled[name]; ok {
		if err := j.wait(); err != nil {
			return nil, err
		}
		f, err := os.Open(sf.path)
		if err != nil {
			return nil, fmt.Errorf("ipa: read back %s: %w", name, err)
		}
		defer f.Close()
		return io.ReadAll(flate.NewReader(f))
	}
	return j.a.read(name, max)
}

// hash returns the SHA-1 and SHA-256 of an entry's current bytes,
// streaming archive entries through the hashes.
func (j *job) hash(name string) (fileHash, error) {
	if h, ok := j.hashes[name]; ok {
		return h, nil
	}
	var h fileHash
	switch {
	case j.overlay[name] != nil:
		h = hashBytes(j.overlay[name])
	case j.spilled[name] != nil:
		b, err := j.content(name, j.a.lim.MaxExecutable)
		if err != nil {
			return fileHash{}, err
		}
		h = hashBytes(b)
	default:
		zf, ok := j.a.files[name]
		if !ok {
			return fileHash{}, fmt.Errorf("%w: %s is missing", ErrFormat, name)
		}
		rc, err := zf.Open()
		if err != nil {
			return fileHash{}, fmt.Errorf("ipa: open %s: %w", name, err)
		}
		h, err = hashReader(rc, j.buf)
		rc.Close()
		if err != nil {
			return fileHash{}, fmt.Errorf("ipa: read %s: %w", name, err)
		}
	}
	j.hashes[name] = h
	return h, nil
}

// resourceInput gathers what sealing bundle b needs, from the current
// state of the job.
func (j *job) resourceInput(b *bundle) (*resourceInput, error) {
	in := &resourceInput{files: map[string]fileHash{}, symlinks: map[string]string{}, nested: map[string]nestedSeal{}, exe: b.rel(b.exe)}
	prefix := b.dir + "/"
	names := make([]string, 0)
	for name := range j.a.files {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	for _, name := range j.added {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	for _, name := range names {
		rel := b.rel(name)
		if in.excluded(rel) {
			continue
		}
		if zf, ok := j.a.files[name]; ok && isSymlink(zf) {
			target, err := j.a.read(name, 4096)
			if err != nil {
				return nil, err
			}
			in.symlinks[rel] = string(target)
			continue
		}
		h, err := j.hash(name)
		if err != nil {
			return nil, err
		}
		in.files[rel] = h
	}
	for _, c := range b.children {
		s, ok := j.seals[c.dir]
		if !ok {
			return nil, fmt.Errorf("ipa: internal error: %s sealed before its nested %s", b.dir, c.dir)
		}
		in.nested[b.rel(c.dir)] = s
	}
	for _, d := range b.dylibs {
		s, ok := j.seals[d]
		if !ok {
			return nil, fmt.Errorf("ipa: internal error: %s sealed before its library %s", b.dir, d)
		}
		in.nested[b.rel(d)] = s
	}
	return in, nil
}

// sealOf is the parent's record of signed code: the first slice's primary
// cdhash, truncated to 20 bytes.
func sealOf(signed []byte, requirement string) (nestedSeal, *macho.File, error) {
	f, err := macho.Parse(bytes.NewReader(signed), int64(len(signed)), macho.Limits{})
	if err != nil {
		return nestedSeal{}, nil, err
	}
	sig := f.Slices[0].Signature
	if sig == nil {
		return nestedSeal{}, nil, fmt.Errorf("%w: code is not signed", ErrVerify)
	}
	h := sig.CodeDirectories[0].CDHash()
	return nestedSeal{cdhash: h[:min(20, len(h))], requirement: requirement}, f, nil
}

func hexHash(b []byte) string { return hex.EncodeToString(b) }

func byteReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// prehash hashes names on workers goroutines and fills the memo, so the
// sealing pass, which runs bundle by bundle, mostly finds digests ready.
// Files that signing will replace are left out by the caller.
func (j *job) prehash(ctx context.Context, names []string, workers int) error {
	type result struct {
		name string
		h    fileHash
		err  error
	}
	work := make(chan string)
	results := make(chan result)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for name := range work {
				zf := j.a.files[name]
				rc, err := zf.Open()
				if err != nil {
					results <- result{name: name, err: fmt.Errorf("ipa: open %s: %w", name, err)}
					continue
				}
				h, err := hashReader(rc, buf)
				rc.Close()
				if err != nil {
					err = fmt.Errorf("ipa: read %s: %w", name, err)
				}
				results <- result{name, h, err}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, n := range names {
			select {
			case work <- n:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	var errs []error
	for r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		j.hashes[r.name] = r.h
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
