package apkzip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// AlignExtraID is the extra-field ID apksig uses to pad local headers so
// entry data lands on an alignment boundary (u16 alignment, then zeros).
const AlignExtraID = 0xd935

// Alignments Android expects for stored data: 4 bytes so resources can be
// mmapped, and a 16 KiB page for native libraries loaded in place on
// 16 KB-page devices (4 KiB pages divide it, so older devices are served too).
const (
	AlignStored = 4
	AlignNative = 16384
)

// Alignment returns the data alignment Android wants for an entry: none for
// compressed entries, AlignNative for stored .so files, AlignStored otherwise.
func Alignment(name string, method uint16) int64 {
	switch {
	case method != Store:
		return 1
	case strings.HasSuffix(name, ".so"):
		return AlignNative
	default:
		return AlignStored
	}
}

// Writer writes entries one after another, remembering their central
// directory records. It never writes data descriptors or ZIP64 records.
type Writer struct {
	w       io.Writer
	off     int64
	central []byte
	count   int
}

// NewWriter writes to w; offsets are counted from 0.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Offset is the number of bytes written so far: where the next entry, or
// the signing block, starts.
func (w *Writer) Offset() int64 { return w.off }

// Count is the number of entries written.
func (w *Writer) Count() int { return w.count }

// CentralDirectory returns the records of every entry written so far.
func (w *Writer) CentralDirectory() []byte { return w.central }

func (w *Writer) write(p []byte) error {
	n, err := w.w.Write(p)
	w.off += int64(n)
	return err
}

// CopyEntry writes e with its compressed bytes copied unchanged from src.
// Only the local header changes: the data-descriptor flag is cleared (sizes
// go in the header) and the extra field is re-padded to align.
func (w *Writer) CopyEntry(e *Entry, src io.ReaderAt, align int64) error {
	rec := append([]byte{}, e.central...)
	if err := w.header(rec, e.Name, e.LocalExtra, align); err != nil {
		return err
	}
	n, err := io.Copy(w.w, e.Raw(src))
	w.off += n
	if err != nil {
		return fmt.Errorf("apkzip: copy %s: %w", e.Name, err)
	}
	return nil
}

// ReplaceEntry writes e with new content, keeping e's name, attributes and
// central-directory extras. compressed is already encoded with method.
func (w *Writer) ReplaceEntry(e *Entry, method uint16, crc uint32, size int64, compressed []byte, align int64) error {
	rec := append([]byte{}, e.central...)
	binary.LittleEndian.PutUint16(rec[10:], method)
	binary.LittleEndian.PutUint32(rec[16:], crc)
	binary.LittleEndian.PutUint32(rec[20:], uint32(len(compressed)))
	binary.LittleEndian.PutUint32(rec[24:], uint32(size))
	if err := w.header(rec, e.Name, e.LocalExtra, align); err != nil {
		return err
	}
	return w.write(compressed)
}

// CreateEntry writes a new entry (used for the v1 signature files).
func (w *Writer) CreateEntry(name string, method uint16, crc uint32, size int64, compressed []byte, modTime, modDate uint16, align int64) error {
	rec := make([]byte, centralLen+len(name))
	binary.LittleEndian.PutUint32(rec[0:], sigCentral)
	binary.LittleEndian.PutUint16(rec[4:], 20) // made by: MS-DOS, 2.0
	binary.LittleEndian.PutUint16(rec[6:], 20) // needed: 2.0
	binary.LittleEndian.PutUint16(rec[8:], 0x800)
	binary.LittleEndian.PutUint16(rec[10:], method)
	binary.LittleEndian.PutUint16(rec[12:], modTime)
	binary.LittleEndian.PutUint16(rec[14:], modDate)
	binary.LittleEndian.PutUint32(rec[16:], crc)
	binary.LittleEndian.PutUint32(rec[20:], uint32(len(compressed)))
	binary.LittleEndian.PutUint32(rec[24:], uint32(size))
	binary.LittleEndian.PutUint16(rec[28:], uint16(len(name)))
	copy(rec[centralLen:], name)
	if err := w.header(rec, name, nil, align); err != nil {
		return err
	}
	return w.write(compressed)
}

// header writes the local header built from central record rec and records
// rec, with its offset fixed, in the central directory.
func (w *Writer) header(rec []byte, name string, localExtra []byte, align int64) error {
	if w.off > 0xfffffffe || w.count >= 0xffff {
		return errors.New("apkzip: output would need zip64")
	}
	if int64(binary.LittleEndian.Uint32(rec[20:])) > 0xfffffffe {
		return errors.New("apkzip: entry would need zip64")
	}
	flags := binary.LittleEndian.Uint16(rec[8:]) &^ 0x8 // sizes are in the header
	binary.LittleEndian.PutUint16(rec[8:], flags)
	binary.LittleEndian.PutUint32(rec[42:], uint32(w.off))

	extra := filterExtra(localExtra)
	if align > 1 {
		start := w.off + localHeaderLen + int64(len(name)) + int64(len(extra)) + 6
		pad := (align - start%align) % align
		f := make([]byte, 6+pad)
		binary.LittleEndian.PutUint16(f[0:], AlignExtraID)
		binary.LittleEndian.PutUint16(f[2:], uint16(2+pad))
		binary.LittleEndian.PutUint16(f[4:], uint16(min(align, 0xffff)))
		extra = append(extra, f...)
	}
	if len(extra) > 0xffff {
		return fmt.Errorf("apkzip: %s: local extra field too long", name)
	}
	h := make([]byte, localHeaderLen, localHeaderLen+len(name)+len(extra))
	binary.LittleEndian.PutUint32(h[0:], sigLocal)
	copy(h[4:6], rec[6:8]) // version needed
	binary.LittleEndian.PutUint16(h[6:], flags)
	copy(h[8:26], rec[10:28]) // method, time, date, crc, sizes
	binary.LittleEndian.PutUint16(h[26:], uint16(len(name)))
	binary.LittleEndian.PutUint16(h[28:], uint16(len(extra)))
	h = append(h, name...)
	h = append(h, extra...)
	w.central = append(w.central, rec...)
	w.count++
	return w.write(h)
}

// filterExtra drops earlier alignment padding (our 0xd935 field, and the
// zero bytes zipalign appends, which read as fields with ID 0) and any
// malformed tail, keeping every other extra field.
func filterExtra(b []byte) []byte {
	var out []byte
	for len(b) >= 4 {
		id := binary.LittleEndian.Uint16(b)
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if 4+n > len(b) {
			break
		}
		if id != AlignExtraID && id != 0 {
			out = append(out, b[:4+n]...)
		}
		b = b[4+n:]
	}
	return out
}

// EndRecord builds the end-of-central-directory record (no comment).
func EndRecord(count int, cdSize, cdOffset int64) []byte {
	b := make([]byte, eocdLen)
	binary.LittleEndian.PutUint32(b[0:], sigEOCD)
	binary.LittleEndian.PutUint16(b[8:], uint16(count))
	binary.LittleEndian.PutUint16(b[10:], uint16(count))
	binary.LittleEndian.PutUint32(b[12:], uint32(cdSize))
	binary.LittleEndian.PutUint32(b[16:], uint32(cdOffset))
	return b
}
