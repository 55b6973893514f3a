// Package ingestlog is an append-only, group-committed log that makes
// ingested data durable before the server replies. Records are
// length-prefixed and checksummed; many concurrent writers share one fsync
// (whoever finds no sync running writes and syncs everything appended so
// far, the others wait for it). The log lives in a directory of segment
// files named by the position they start at, so segments wholly before a
// checkpoint can be deleted.
//
// A record on disk is
//
//	uint32 little-endian payload length (1 ≤ n ≤ MaxRecordBytes)
//	uint32 little-endian CRC-32C (Castagnoli) of the payload
//	payload
//
// A position is a byte offset from the start of the log (across segments);
// the position of a record is where it ends, so "durable up to P" and
// "applied up to P" both mean every record ending at or before P.
package ingestlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// MaxRecordBytes bounds one record's payload, so a corrupt length cannot
// make the reader allocate gigabytes.
const MaxRecordBytes = 16 << 20

// headerBytes is the length and checksum in front of each payload.
const headerBytes = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt marks a record that is torn (the file ends inside it) or
// whose length or checksum is wrong.
var ErrCorrupt = errors.New("ingestlog: corrupt record")

// CorruptError says where reading stopped and why.
type CorruptError struct {
	Offset int64  // Offset is where the bad record starts, from the start of the reader.
	Reason string // Reason is e.g. "torn header", "checksum mismatch".
}

// Error names the offset and the reason.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("ingestlog: corrupt record at offset %d: %s", e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// appendRecord frames payload onto dst.
func appendRecord(dst, payload []byte) []byte {
	var h [headerBytes]byte
	binary.LittleEndian.PutUint32(h[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(payload, castagnoli))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// ReadRecords calls fn with each record's payload and end offset (from the
// start of r), in order. It returns the offset after the last good record
// and nil at a clean end, or a *CorruptError at the first torn or corrupt
// record (everything before it was delivered). An error from fn stops
// reading and is returned as is. The payload is only valid during fn.
func ReadRecords(r io.Reader, fn func(end int64, payload []byte) error) (int64, error) {
	var off int64
	var h [headerBytes]byte
	buf := make([]byte, 0, 64<<10)
	for {
		n, err := io.ReadFull(r, h[:])
		switch {
		case err == io.EOF:
			return off, nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			return off, &CorruptError{Offset: off, Reason: fmt.Sprintf("torn header: %d of %d bytes", n, headerBytes)}
		case err != nil:
			return off, fmt.Errorf("ingestlog: read at offset %d: %w", off, err)
		}
		size := binary.LittleEndian.Uint32(h[:4])
		if size == 0 || size > MaxRecordBytes {
			return off, &CorruptError{Offset: off, Reason: fmt.Sprintf("length %d outside 1..%d", size, MaxRecordBytes)}
		}
		if cap(buf) < int(size) {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if n, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
				return off, &CorruptError{Offset: off, Reason: fmt.Sprintf("torn payload: %d of %d bytes", n, size)}
			}
			return off, fmt.Errorf("ingestlog: read at offset %d: %w", off, err)
		}
		if crc32.Checksum(buf, castagnoli) != binary.LittleEndian.Uint32(h[4:]) {
			return off, &CorruptError{Offset: off, Reason: "checksum mismatch"}
		}
		end := off + headerBytes + int64(size)
		if err := fn(end, buf); err != nil {
			return off, err
		}
		off = end
	}
}
