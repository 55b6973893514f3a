package ingestlog

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// segmentSuffix ends every segment file's name; the rest is the decimal
// position the segment starts at, zero-padded so names sort by position.
const segmentSuffix = ".wal"

func segmentName(start int64) string { return fmt.Sprintf("%020d%s", start, segmentSuffix) }

// Log is an open log. Append and Sync may be called concurrently.
type Log struct {
	dir    string
	logger *slog.Logger

	mu       sync.Mutex
	cond     *sync.Cond // signalled when durable advances or a sync fails
	pending  []byte     // framed records appended but not yet written
	end      int64      // position after the last appended record
	durable  int64      // position up to which records are fsynced
	syncing  bool       // a writer is writing and syncing right now
	err      error      // sticky: after a failed write or sync nothing is durable any more
	file     *os.File   // the last segment, open for appending
	segments []int64    // start positions of the segments, ascending
	closed   bool
	lock     *os.File // holds the directory's lock until Close or Abandon
}

// Open opens (or creates) the log in dir. The last segment's tail is
// checked: a torn or corrupt record there — a crash in the middle of a
// write — is cut off, with a warning naming the file, offset, reason and
// bytes dropped. Nothing after a bad record was ever acknowledged as
// durable unless the disk lied about an fsync.
func Open(dir string, logger *slog.Logger) (*Log, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("ingestlog: create directory %s: %w", dir, err)
	}
	l := &Log{dir: dir, logger: logger}
	l.cond = sync.NewCond(&l.mu)
	var err error
	if l.lock, err = lockDir(dir); err != nil {
		return nil, err
	}
	defer func() {
		if l.file == nil {
			l.lock.Close()
		}
	}()
	if l.segments, err = listSegments(dir); err != nil {
		return nil, err
	}
	if len(l.segments) == 0 {
		if err := l.openSegment(0); err != nil {
			return nil, err
		}
		return l, nil
	}
	start := l.segments[len(l.segments)-1]
	path := filepath.Join(dir, segmentName(start))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("ingestlog: open segment: %w", err)
	}
	good, rerr := ReadRecords(bufio.NewReaderSize(f, 1<<20), func(int64, []byte) error { return nil })
	if rerr != nil {
		var ce *CorruptError
		if !errors.As(rerr, &ce) {
			f.Close()
			return nil, fmt.Errorf("ingestlog: check segment %s: %w", path, rerr)
		}
		st, _ := f.Stat()
		logger.Warn("ingest log: cutting a torn or corrupt tail (a crash during a write)",
			slog.String("file", path), slog.Int64("offset", ce.Offset), slog.String("reason", ce.Reason),
			slog.Int64("bytes_dropped", st.Size()-good))
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("ingestlog: truncate %s to %d: %w", path, good, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("ingestlog: sync %s: %w", path, err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("ingestlog: seek %s: %w", path, err)
	}
	l.file, l.end = f, start+good
	l.durable = l.end
	return l, nil
}

func listSegments(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("ingestlog: list %s: %w", dir, err)
	}
	var out []int64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentSuffix)
		if !ok || e.IsDir() {
			continue
		}
		start, err := strconv.ParseInt(name, 10, 64)
		if err != nil || start < 0 {
			return nil, fmt.Errorf("ingestlog: %s in %s is not a segment name (want %s)", e.Name(), dir, segmentName(0))
		}
		out = append(out, start)
	}
	slices.Sort(out)
	return out, nil
}

// openSegment creates the segment starting at start and syncs the
// directory so the new name survives a crash.
func (l *Log) openSegment(start int64) error {
	path := filepath.Join(l.dir, segmentName(start))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("ingestlog: create segment: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.file, l.end, l.durable = f, start, start
	if len(l.segments) == 0 || l.segments[len(l.segments)-1] != start {
		l.segments = append(l.segments, start)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("ingestlog: open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("ingestlog: sync directory %s: %w", dir, err)
	}
	return nil
}

// Append adds a record to the log buffer and returns its position; it
// becomes durable at the next Sync that reaches it. It does no I/O, so a
// caller may hold its own lock around Append to keep the log's order equal
// to the order it applied changes in.
func (l *Log) Append(payload []byte) (int64, error) {
	if len(payload) == 0 || len(payload) > MaxRecordBytes {
		return 0, fmt.Errorf("ingestlog: record of %d bytes: need 1..%d", len(payload), MaxRecordBytes)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, errors.New("ingestlog: log is closed")
	}
	if l.err != nil {
		return 0, l.err
	}
	l.pending = appendRecord(l.pending, payload)
	l.end += headerBytes + int64(len(payload))
	return l.end, nil
}

// Sync returns once every record up to pos is on disk (written and
// fsynced). Concurrent callers share syncs: one writes and syncs all that
// is pending while the others wait, then the next leader takes what
// arrived meanwhile. After a failed write or sync the log refuses more
// work: the caller must not acknowledge anything.
func (l *Log) Sync(ctx context.Context, pos int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.durable < pos {
		if l.err != nil {
			return l.err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ingestlog: waiting for sync: %w", err)
		}
		if l.syncing {
			l.cond.Wait()
			continue
		}
		l.syncLocked()
	}
	return l.err
}

// syncLocked writes and fsyncs the pending records, releasing the lock
// during I/O so appenders keep going. Called with l.mu held.
func (l *Log) syncLocked() {
	buf, upto, f := l.pending, l.end, l.file
	l.pending = nil
	l.syncing = true
	l.mu.Unlock()
	var err error
	if len(buf) > 0 {
		_, err = f.Write(buf)
	}
	if err == nil {
		err = f.Sync()
	}
	l.mu.Lock()
	l.syncing = false
	if err != nil {
		l.err = fmt.Errorf("ingestlog: write or sync %s: %w", f.Name(), err)
	} else {
		l.durable = max(l.durable, upto)
		if cap(l.pending) == 0 && cap(buf) <= 4<<20 {
			l.pending = buf[:0] // reuse the buffer unless it grew huge
		}
	}
	l.cond.Broadcast()
}

// End returns the position after the last appended record.
func (l *Log) End() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end
}

// Rotate syncs everything appended and starts a new segment at the end,
// so the segments before it can later be removed as a whole. It returns
// the new segment's start.
func (l *Log) Rotate(ctx context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.syncing || l.durable < l.end {
		if l.err != nil {
			return 0, l.err
		}
		if l.syncing {
			l.cond.Wait()
			continue
		}
		l.syncLocked()
	}
	if l.err != nil {
		return 0, l.err
	}
	if l.end == l.segments[len(l.segments)-1] {
		return l.end, nil // the current segment is empty
	}
	if err := l.file.Close(); err != nil {
		return 0, fmt.Errorf("ingestlog: close segment: %w", err)
	}
	if err := l.openSegment(l.end); err != nil {
		l.err = err
		return 0, err
	}
	return l.end, nil
}

// SkipTo moves the end of an empty or shorter log forward to pos by
// starting a new segment there, for a log directory that was replaced
// while the database kept its position: positions must never repeat.
func (l *Log) SkipTo(ctx context.Context, pos int64) error {
	if _, err := l.Rotate(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if pos <= l.end {
		return nil
	}
	cur := l.segments[len(l.segments)-1]
	if err := l.file.Close(); err != nil {
		return fmt.Errorf("ingestlog: close segment: %w", err)
	}
	if cur == l.end { // empty: replace it rather than leave an empty file behind
		if err := os.Remove(filepath.Join(l.dir, segmentName(cur))); err != nil {
			return fmt.Errorf("ingestlog: remove empty segment: %w", err)
		}
		l.segments = l.segments[:len(l.segments)-1]
	}
	if err := l.openSegment(pos); err != nil {
		l.err = err
		return err
	}
	return nil
}

// RemoveBefore deletes the segments whose every record ends at or before
// pos (a segment ends where the next begins); the current one is kept.
func (l *Log) RemoveBefore(pos int64) (int, error) {
	l.mu.Lock()
	segs := slices.Clone(l.segments)
	l.mu.Unlock()
	removed := 0
	for i := 0; i+1 < len(segs) && segs[i+1] <= pos; i++ {
		if err := os.Remove(filepath.Join(l.dir, segmentName(segs[i]))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("ingestlog: remove old segment: %w", err)
		}
		removed++
	}
	if removed == 0 {
		return 0, nil
	}
	l.mu.Lock()
	l.segments = slices.DeleteFunc(l.segments, func(s int64) bool { return slices.Contains(segs[:removed], s) })
	l.mu.Unlock()
	return removed, syncDir(l.dir)
}

// Replay calls fn with every durable record that ends after from, in
// order, with its position. Call it before appending (at start). A corrupt
// record in a segment other than the last is an error naming the file and
// offset: it was synced and then damaged, and skipping it would lose data
// silently.
func (l *Log) Replay(from int64, fn func(pos int64, payload []byte) error) error {
	l.mu.Lock()
	segs, durable := slices.Clone(l.segments), l.durable
	l.mu.Unlock()
	if len(segs) > 0 && from < segs[0] && from != 0 {
		l.logger.Warn("ingest log: replay starts before the oldest segment; records between were removed",
			slog.Int64("from", from), slog.Int64("oldest_segment", segs[0]))
	}
	for i, start := range segs {
		next := durable
		if i+1 < len(segs) {
			next = segs[i+1]
		}
		if next <= from {
			continue
		}
		path := filepath.Join(l.dir, segmentName(start))
		if err := replaySegment(path, start, from, durable, fn); err != nil {
			return err
		}
	}
	return nil
}

func replaySegment(path string, start, from, durable int64, fn func(int64, []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ingestlog: open %s: %w", path, err)
	}
	defer f.Close()
	_, err = ReadRecords(bufio.NewReaderSize(f, 1<<20), func(end int64, p []byte) error {
		pos := start + end
		if pos <= from || pos > durable {
			return nil
		}
		return fn(pos, p)
	})
	if err != nil {
		return fmt.Errorf("ingestlog: replay %s: %w", path, err)
	}
	return nil
}

// Segments returns the start positions of the segment files, for tests
// and metrics.
func (l *Log) Segments() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.segments)
}

// Close syncs what is pending and closes the file. It is safe to call
// twice.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	for l.syncing || (l.durable < l.end && l.err == nil) {
		if l.syncing {
			l.cond.Wait()
			continue
		}
		l.syncLocked()
	}
	l.closed = true
	defer l.lock.Close()
	return cmp.Or(l.err, l.file.Close())
}

// Abandon closes the file without syncing what is pending, as a crash
// would: records appended but not yet synced are lost. For crash tests.
func (l *Log) Abandon() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.syncing {
		l.cond.Wait()
	}
	l.pending = nil
	l.closed = true
	l.err = errors.New("ingestlog: log was abandoned")
	l.cond.Broadcast()
	l.file.Close()
	l.lock.Close()
}
