package ingestlog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/ingestlog"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func readAll(t *testing.T, l *ingestlog.Log, from int64) []string {
	t.Helper()
	var out []string
	require.NoError(t, l.Replay(from, func(_ int64, p []byte) error { out = append(out, string(p)); return nil }))
	return out
}

func TestAppendSyncReopenReplays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ingestlog.Open(dir, quiet())
	require.NoError(t, err)
	var mid int64
	for i := range 10 {
		pos, err := l.Append([]byte(fmt.Sprintf("record-%d", i)))
		require.NoError(t, err)
		if i == 4 {
			mid = pos
		}
	}
	require.NoError(t, l.Sync(ctx, l.End()))
	require.NoError(t, l.Close())

	l, err = ingestlog.Open(dir, quiet())
	require.NoError(t, err)
	defer l.Close()
	require.Len(t, readAll(t, l, 0), 10)
	require.Equal(t, []string{"record-5", "record-6", "record-7", "record-8", "record-9"}, readAll(t, l, mid), "replay starts after the position given")
}

func TestUnsyncedRecordsAreLostOnCrashSyncedOnesAreNot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ingestlog.Open(dir, quiet())
	require.NoError(t, err)
	pos, _ := l.Append([]byte("acknowledged"))
	require.NoError(t, l.Sync(ctx, pos))
	_, _ = l.Append([]byte("never synced"))
	l.Abandon()
	l, err = ingestlog.Open(dir, quiet())
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, []string{"acknowledged"}, readAll(t, l, 0))
}

// TestTornTailIsCutWithAPreciseLogLine writes good records, then damages
// the end of the last segment in each way a crash can, and checks that
// Open keeps exactly the good records, logs where and why it cut, and that
// appending afterwards works.
func TestTornTailIsCutWithAPreciseLogLine(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		damage func(good []byte) []byte
		reason string
	}{
		"TornHeader":      {func(b []byte) []byte { return append(b, 9, 0, 0) }, "torn header"},
		"TornPayload":     {func(b []byte) []byte { return append(b, 20, 0, 0, 0, 1, 2, 3, 4, 'x') }, "torn payload"},
		"BadChecksum":     {func(b []byte) []byte { return append(b, 1, 0, 0, 0, 0, 0, 0, 0, 'x') }, "checksum mismatch"},
		"ZeroLength":      {func(b []byte) []byte { return append(b, make([]byte, 64)...) }, "length 0"},
		"FlippedLastByte": {func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }, "checksum mismatch"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			l, err := ingestlog.Open(dir, quiet())
			require.NoError(t, err)
			for _, r := range []string{"one", "two", "three"} {
				_, _ = l.Append([]byte(r))
			}
			require.NoError(t, l.Sync(ctx, l.End()))
			require.NoError(t, l.Close())
			seg := filepath.Join(dir, fmt.Sprintf("%020d.wal", 0))
			good, err := os.ReadFile(seg)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(seg, c.damage(bytes.Clone(good)), 0o640))

			var logged bytes.Buffer
			l, err = ingestlog.Open(dir, slog.New(slog.NewTextHandler(&logged, nil)))
			require.NoError(t, err)
			want := []string{"one", "two", "three"}
			if name == "FlippedLastByte" {
				want = want[:2]
			}
			require.Equal(t, want, readAll(t, l, 0))
			require.Contains(t, logged.String(), "cutting a torn or corrupt tail")
			require.Contains(t, logged.String(), c.reason)
			require.Contains(t, logged.String(), seg)
			pos, err := l.Append([]byte("four"))
			require.NoError(t, err)
			require.NoError(t, l.Sync(ctx, pos))
			require.Equal(t, append(want, "four"), readAll(t, l, 0), "appending continues after the cut")
			require.NoError(t, l.Close())
		})
	}
}

func TestRotateAndRemoveBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ingestlog.Open(dir, quiet())
	require.NoError(t, err)
	defer l.Close()
	_, _ = l.Append([]byte("a"))
	first, err := l.Rotate(ctx)
	require.NoError(t, err)
	_, _ = l.Append([]byte("b"))
	second, err := l.Rotate(ctx)
	require.NoError(t, err)
	pos, _ := l.Append([]byte("c"))
	require.NoError(t, l.Sync(ctx, pos))
	require.Len(t, l.Segments(), 3)
	require.Equal(t, []string{"a", "b", "c"}, readAll(t, l, 0))

	n, err := l.RemoveBefore(second - 1)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the segment wholly before the position goes")
	require.Equal(t, []int64{first, second}, l.Segments())
	require.Equal(t, []string{"b", "c"}, readAll(t, l, first))
	n, err = l.RemoveBefore(pos)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the current segment stays")
	require.Equal(t, []string{"c"}, readAll(t, l, second))
}

func TestCorruptSyncedSegmentIsAnErrorNotASkip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ingestlog.Open(dir, quiet())
	require.NoError(t, err)
	_, _ = l.Append([]byte("old"))
	_, err = l.Rotate(ctx)
	require.NoError(t, err)
	pos, _ := l.Append([]byte("new"))
	require.NoError(t, l.Sync(ctx, pos))
	require.NoError(t, l.Close())
	seg := filepath.Join(dir, fmt.Sprintf("%020d.wal", 0))
	b, _ := os.ReadFile(seg)
	b[len(b)-1] ^= 1
	require.NoError(t, os.WriteFile(seg, b, 0o640))
	l, err = ingestlog.Open(dir, quiet())
	require.NoError(t, err)
	defer l.Close()
	err = l.Replay(0, func(int64, []byte) error { return nil })
	require.ErrorIs(t, err, ingestlog.ErrCorrupt)
	require.Contains(t, err.Error(), seg)
	require.Contains(t, err.Error(), "offset 0")
}

// TestConcurrentWritersShareSyncs checks the group commit: every writer's
// record is durable when its Sync returns, and reopening finds them all.
func TestConcurrentWritersShareSyncs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ingestlog.Open(dir, quiet())
	require.NoError(t, err)
	const writers, each = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				pos, err := l.Append([]byte(fmt.Sprintf("%d/%d", w, i)))
				if err == nil {
					err = l.Sync(ctx, pos)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	l.Abandon() // nothing may be pending: every Sync returned
	l, err = ingestlog.Open(dir, quiet())
	require.NoError(t, err)
	defer l.Close()
	require.Len(t, readAll(t, l, 0), writers*each)
}

func TestAppendRejectsEmptyAndHugeRecords(t *testing.T) {
	t.Parallel()
	l, err := ingestlog.Open(t.TempDir(), quiet())
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Append(nil)
	require.Error(t, err)
	_, err = l.Append(make([]byte, ingestlog.MaxRecordBytes+1))
	require.Error(t, err)
}

// FuzzReadRecords feeds arbitrary bytes to the record reader: it never
// panics, delivers only records whose checksums match, stops at a
// classified error, and what it delivered re-frames to exactly the good
// prefix it reports.
func FuzzReadRecords(f *testing.F) {
	dir := f.TempDir()
	l, err := ingestlog.Open(dir, quiet())
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range []string{"a", "hello", string(make([]byte, 300))} {
		_, _ = l.Append([]byte(r))
	}
	if err := l.Sync(context.Background(), l.End()); err != nil {
		f.Fatal(err)
	}
	l.Close()
	good, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d.wal", 0)))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(bytes.Clone(good), 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var framed int64
		var last int64
		n, err := ingestlog.ReadRecords(bytes.NewReader(data), func(end int64, p []byte) error {
			if len(p) == 0 || end <= last {
				t.Fatalf("record ending at %d after %d with %d bytes", end, last, len(p))
			}
			framed += int64(len(p)) + 8
			last = end
			return nil
		})
		if framed != n || n > int64(len(data)) {
			t.Fatalf("good prefix %d, framed %d, input %d", n, framed, len(data))
		}
		if err == nil && n != int64(len(data)) {
			t.Fatalf("clean end at %d of %d bytes", n, len(data))
		}
		if err != nil && !errors.Is(err, ingestlog.ErrCorrupt) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

func TestASecondProcessCannotOpenTheSameLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := ingestlog.Open(dir, quiet())
	require.NoError(t, err)
	_, err = ingestlog.Open(dir, quiet())
	require.ErrorContains(t, err, "another process uses the ingest log")
	require.NoError(t, l.Close())
	l, err = ingestlog.Open(dir, quiet())
	require.NoError(t, err, "the lock goes with Close")
	require.NoError(t, l.Close())
}
