package apksig

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"
)

// ChunkSize is the v2/v3 content-digest chunk: sections are hashed in
// independent 1 MiB chunks, which is what lets us use every core.
const ChunkSize = 1 << 20

// Content digest algorithms (the digest half of a signature algorithm).
const (
	DigestSHA256 = 1 // DigestSHA256 is CHUNKED_SHA256.
	DigestSHA512 = 2 // DigestSHA512 is CHUNKED_SHA512.
)

func newDigestHash(d int) hash.Hash {
	if d == DigestSHA512 {
		return sha512.New()
	}
	return sha256.New()
}

func chunkDigest(d int, chunk []byte) []byte {
	h := newDigestHash(d)
	var pre [5]byte
	pre[0] = 0xa5
	binary.LittleEndian.PutUint32(pre[1:], uint32(len(chunk)))
	h.Write(pre[:])
	h.Write(chunk)
	return h.Sum(nil)
}

// topDigest combines chunk digests into the content digest.
func topDigest(d int, chunks [][]byte) []byte {
	h := newDigestHash(d)
	var pre [5]byte
	pre[0] = 0x5a
	binary.LittleEndian.PutUint32(pre[1:], uint32(len(chunks)))
	h.Write(pre[:])
	for _, c := range chunks {
		h.Write(c)
	}
	return h.Sum(nil)
}

// ChunkWriter passes the bytes of section 1 (the zip entries) through to
// dst and computes their CHUNKED_SHA256 chunk digests on all cores while the
// caller keeps writing. Memory is bounded: at most 2×GOMAXPROCS+1 chunk
// buffers exist at once.
type ChunkWriter struct {
	dst     io.Writer
	cur     []byte
	free    chan []byte
	jobs    chan chunkJob
	wg      sync.WaitGroup
	digests []*[sha256.Size]byte
	err     error
}

type chunkJob struct {
	buf []byte
	out *[sha256.Size]byte
}

// NewChunkWriter starts the hashing workers; call Close to stop them.
func NewChunkWriter(dst io.Writer) *ChunkWriter {
	workers := runtime.GOMAXPROCS(0)
	w := &ChunkWriter{
		dst:  dst,
		free: make(chan []byte, 2*workers+1),
		jobs: make(chan chunkJob, workers),
	}
	for range 2*workers + 1 {
		w.free <- make([]byte, 0, ChunkSize)
	}
	w.cur = <-w.free
	for range workers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for j := range w.jobs {
				copy(j.out[:], chunkDigest(DigestSHA256, j.buf))
				w.free <- j.buf[:0]
			}
		}()
	}
	return w
}

func (w *ChunkWriter) flush() error {
	if len(w.cur) == 0 {
		return nil
	}
	if _, err := w.dst.Write(w.cur); err != nil {
		w.err = err
		return err
	}
	out := new([sha256.Size]byte)
	w.digests = append(w.digests, out)
	w.jobs <- chunkJob{buf: w.cur, out: out}
	w.cur = <-w.free
	return nil
}

// Write buffers p into chunks, writing and hashing each full chunk.
func (w *ChunkWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		k := copy(w.cur[len(w.cur):cap(w.cur)], p)
		w.cur = w.cur[:len(w.cur)+k]
		p = p[k:]
		n += k
		if len(w.cur) == cap(w.cur) {
			if err := w.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// ReadFrom reads r straight into chunk buffers, saving a copy.
func (w *ChunkWriter) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if w.err != nil {
			return total, w.err
		}
		n, err := r.Read(w.cur[len(w.cur):cap(w.cur)])
		w.cur = w.cur[:len(w.cur)+n]
		total += int64(n)
		if len(w.cur) == cap(w.cur) {
			if ferr := w.flush(); ferr != nil {
				return total, ferr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Close flushes the last partial chunk, waits for the workers and returns
// the chunk digests in order.
func (w *ChunkWriter) Close() ([][]byte, error) {
	err := w.err
	if err == nil {
		err = w.flush()
	}
	close(w.jobs)
	w.wg.Wait()
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(w.digests))
	for i, d := range w.digests {
		out[i] = d[:]
	}
	return out, nil
}

// ContentDigest combines the entries' chunk digests with those of the
// central directory and the end record (whose CD offset must already point
// at the signing block's start) into the CHUNKED_SHA256 content digest.
func ContentDigest(entryChunks [][]byte, cd, eocd []byte) []byte {
	all := append([][]byte{}, entryChunks...)
	for _, sec := range [][]byte{cd, eocd} {
		for off := 0; off < len(sec); off += ChunkSize {
			all = append(all, chunkDigest(DigestSHA256, sec[off:min(off+ChunkSize, len(sec))]))
		}
	}
	return topDigest(DigestSHA256, all)
}

// Section is a byte range of the APK that the content digest covers.
type Section struct {
	Off, Len int64
}

// DigestFile computes the content digests (one per algorithm in ds) of an
// APK on disk: entries [0, blockStart), the central directory, and eocd
// (already patched). Chunks are read and hashed by GOMAXPROCS workers, each
// with its own 1 MiB buffer.
func DigestFile(ctx context.Context, r io.ReaderAt, entries, cd Section, eocd []byte, ds []int) (map[int][]byte, error) {
	type chunk struct {
		off int64
		n   int
	}
	var chunks []chunk
	for _, s := range []Section{entries, cd} {
		for off := int64(0); off < s.Len; off += ChunkSize {
			chunks = append(chunks, chunk{s.Off + off, int(min(ChunkSize, s.Len-off))})
		}
	}
	n := len(chunks)
	results := make(map[int][][]byte, len(ds))
	for _, d := range ds {
		results[d] = make([][]byte, n, n+1)
	}
	workers := min(runtime.GOMAXPROCS(0), max(n, 1))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		firstEr error
		next    = make(chan int)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, ChunkSize)
			for i := range next {
				c := chunks[i]
				if _, err := r.ReadAt(buf[:c.n], c.off); err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = fmt.Errorf("apksig: read chunk at %d: %w", c.off, err)
					}
					mu.Unlock()
					continue
				}
				for _, d := range ds {
					results[d][i] = chunkDigest(d, buf[:c.n])
				}
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if firstEr != nil {
		return nil, firstEr
	}
	out := make(map[int][]byte, len(ds))
	for _, d := range ds {
		cs := results[d]
		for off := 0; off < len(eocd); off += ChunkSize {
			cs = append(cs, chunkDigest(d, eocd[off:min(off+ChunkSize, len(eocd))]))
		}
		out[d] = topDigest(d, cs)
	}
	return out, nil
}
