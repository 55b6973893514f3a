package healthwatch

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/ripcordhq/ripcord/internal/storage"
)

// The session snapshot holds the dedupe state of sessions as of a log
// position, so a restart replays only the log after it. It is written
// while ingest goes on ("fuzzy"): entries changed during the writing may
// be seen old or new, which is harmless because every change after the
// position is in the log too and states merge monotonically. The horizon
// is read at the end, so a session evicted while writing is covered by it.
//
//	"ripcord-ingest-snapshot 1\n"
//	varint log position
//	per session: 0x01, uvarint project, 16-byte sid, varint seq,
//	             varint started, flags byte, ended byte
//	0x00, varint horizon, uvarint session count
//	uint32 little-endian CRC-32C of all the bytes before it

const (
	snapshotMagic = "ripcord-ingest-snapshot 1\n"
	snapshotName  = "sessions.snapshot"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// snapshotWriter writes a snapshot file under a temporary name.
type snapshotWriter struct {
	f     *os.File
	w     *bufio.Writer
	crc   hash.Hash32
	count uint64
	buf   []byte
}

func createSnapshot(dir string, pos int64) (*snapshotWriter, error) {
	f, err := os.CreateTemp(dir, snapshotName+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create session snapshot: %w", err)
	}
	s := &snapshotWriter{f: f, crc: crc32.New(crcTable)}
	s.w = bufio.NewWriterSize(io.MultiWriter(f, s.crc), 1<<20)
	s.buf = append(s.buf[:0], snapshotMagic...)
	s.buf = binary.AppendVarint(s.buf, pos)
	_, err = s.w.Write(s.buf)
	return s, err
}

func (s *snapshotWriter) add(k sessionKey, st sessionState) error {
	b := append(s.buf[:0], 1)
	b = binary.AppendUvarint(b, uint64(k.project))
	b = append(b, k.sid[:]...)
	b = binary.AppendVarint(b, st.seq)
	b = binary.AppendVarint(b, st.started)
	b = append(b, byte(st.flags), boolByte(st.ended))
	s.buf = b
	s.count++
	_, err := s.w.Write(b)
	return err
}

// commit writes the trailer, syncs and renames the file into place.
func (s *snapshotWriter) commit(dir string, horizon int64) error {
	b := append(s.buf[:0], 0)
	b = binary.AppendVarint(b, horizon)
	b = binary.AppendUvarint(b, s.count)
	if _, err := s.w.Write(b); err != nil {
		return s.fail(err)
	}
	if err := s.w.Flush(); err != nil {
		return s.fail(err)
	}
	if _, err := s.f.Write(binary.LittleEndian.AppendUint32(nil, s.crc.Sum32())); err != nil {
		return s.fail(err)
	}
	if err := s.f.Sync(); err != nil {
		return s.fail(err)
	}
	if err := s.f.Close(); err != nil {
		return s.fail(err)
	}
	if err := os.Rename(s.f.Name(), filepath.Join(dir, snapshotName)); err != nil {
		return s.fail(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	return d.Sync()
}

func (s *snapshotWriter) fail(err error) error {
	s.f.Close()
	os.Remove(s.f.Name())
	return fmt.Errorf("write session snapshot: %w", err)
}

// abort removes a snapshot that will not be committed.
func (s *snapshotWriter) abort() { _ = s.fail(nil) }

// readSnapshot loads the snapshot in dir into t and returns its log
// position; (0, nil) when there is none. A damaged snapshot is an error:
// starting without it would forget which sessions were counted. The file
// is read whole (about 30 bytes per session) and checked before parsing.
func readSnapshot(dir string, t *sessionTable) (int64, error) {
	path := filepath.Join(dir, snapshotName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read session snapshot: %w", err)
	}
	bad := func(what string) error {
		return fmt.Errorf("session snapshot %s is damaged (%s); move it away to start without it, accepting that retries of sessions counted before it may count again", path, what)
	}
	if len(data) < len(snapshotMagic)+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return 0, bad("not a snapshot of this format")
	}
	body, sum := data[:len(data)-4], data[len(data)-4:]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(sum) {
		return 0, bad("checksum mismatch")
	}
	r := bytes.NewReader(body[len(snapshotMagic):])
	pos, err := binary.ReadVarint(r)
	if err != nil {
		return 0, bad("no position")
	}
	var n uint64
	for {
		tag, err := r.ReadByte()
		if err != nil {
			return 0, bad("ends before its trailer")
		}
		if tag == 0 {
			break
		}
		if tag != 1 {
			return 0, bad(fmt.Sprintf("entry tag %d", tag))
		}
		var k sessionKey
		var st sessionState
		p, err1 := binary.ReadUvarint(r)
		_, err2 := io.ReadFull(r, k.sid[:])
		seq, err3 := binary.ReadVarint(r)
		started, err4 := binary.ReadVarint(r)
		flags, err5 := r.ReadByte()
		ended, err6 := r.ReadByte()
		if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
			return 0, bad("truncated entry")
		}
		k.project = int64(p)
		st.seq, st.started, st.flags, st.ended = seq, started, storage.SessionFlags(flags), ended == 1
		t.restore(k, st)
		n++
	}
	horizon, err1 := binary.ReadVarint(r)
	count, err2 := binary.ReadUvarint(r)
	if errors.Join(err1, err2) != nil {
		return 0, bad("truncated trailer")
	}
	if count != n || r.Len() != 0 {
		return 0, bad(fmt.Sprintf("%d entries and %d stray bytes, trailer says %d entries", n, r.Len(), count))
	}
	t.horizon = max(t.horizon, horizon)
	return pos, nil
}
