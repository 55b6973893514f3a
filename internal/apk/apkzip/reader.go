// Package apkzip reads and writes the ZIP container of APKs and AABs with the
// strictness Android's signature schemes need: no ZIP64, no encryption, no
// duplicate names, the central directory right before the end record, and
// entries copied raw (their compressed bytes untouched) with zipalign-style
// alignment.
//
// Threat model: archives are uploads and may be hostile. Read checks every
// count, length and offset against the file before allocating; central
// directory size and entry count are capped by Limits; Open checks the
// inflated size and CRC-32 of each entry. Errors are *FormatError.
package apkzip

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"
)

// Record signatures and sizes from the ZIP APPNOTE.
const (
	sigLocal       = 0x04034b50
	sigCentral     = 0x02014b50
	sigEOCD        = 0x06054b50
	sigZip64Loc    = 0x07064b50
	localHeaderLen = 30
	centralLen     = 46
	eocdLen        = 22
)

// Compression methods Android accepts.
const (
	Store   = 0 // Store is an uncompressed entry.
	Deflate = 8 // Deflate is a raw-deflate entry.
)

// Sentinels that callers match with errors.Is to explain a refusal.
var (
	ErrFormat    = errors.New("apkzip: not a valid zip file")            // ErrFormat is matched by every *FormatError.
	ErrZip64     = errors.New("apkzip: zip64 archives are not accepted") // ErrZip64 marks a ZIP64 archive, which APK verifiers refuse.
	ErrEncrypted = errors.New("apkzip: encrypted entry")                 // ErrEncrypted marks an entry with the encryption flag.
	ErrDuplicate = errors.New("apkzip: duplicate entry name")            // ErrDuplicate marks two entries with one name.
	ErrChecksum  = errors.New("apkzip: checksum or size mismatch")       // ErrChecksum marks inflated data that does not match its header.
)

// FormatError reports where and why an archive is malformed.
type FormatError struct {
	Offset int64  // Offset is the byte offset in the archive.
	Msg    string // Msg says what is wrong.
	Val    any    // Val is the offending value, if any.
	Kind   error  // Kind is the sentinel the error matches (ErrFormat if nil).
}

// Error prints the message, the value and the offset.
func (e *FormatError) Error() string {
	s := "apkzip: " + e.Msg
	if e.Val != nil {
		s += fmt.Sprintf(" %q", fmt.Sprint(e.Val))
	}
	return s + fmt.Sprintf(" at byte 0x%x", e.Offset)
}

// Is matches ErrFormat and the error's Kind.
func (e *FormatError) Is(target error) bool {
	return target == ErrFormat || (e.Kind != nil && target == e.Kind)
}

func formatErr(off int64, msg string, val any) error {
	return &FormatError{Offset: off, Msg: msg, Val: val}
}

// Limits caps what Read accepts; zero fields take their defaults.
type Limits struct {
	// MaxEntries is the largest entry count. Default 65535, the most a
	// non-ZIP64 archive can hold.
	MaxEntries int
	// MaxCentralDirectory is the largest central directory in bytes.
	// Default 32 MiB.
	MaxCentralDirectory int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = 65535
	}
	if l.MaxCentralDirectory <= 0 {
		l.MaxCentralDirectory = 32 << 20
	}
	return l
}

// Entry is one file of the archive, as its central directory record and
// local header describe it.
type Entry struct {
	Name             string // Name is the entry path.
	Method           uint16 // Method is Store or Deflate (others are refused on Open).
	Flags            uint16 // Flags is the general-purpose bit flag.
	ModTime, ModDate uint16 // ModTime and ModDate are the MS-DOS timestamp.
	CRC32            uint32 // CRC32 is of the uncompressed data.
	CompressedSize   int64  // CompressedSize is the stored byte count.
	UncompressedSize int64  // UncompressedSize is the inflated byte count.
	HeaderOffset     int64  // HeaderOffset is where the local header starts.
	DataOffset       int64  // DataOffset is where the compressed data starts.
	LocalExtra       []byte // LocalExtra is the local header's extra field.
	// central is the raw central directory record, reused on rewrite so
	// fields we do not touch (attributes, extra, comment) stay as they were.
	central []byte
}

// Archive is a parsed ZIP file.
type Archive struct {
	Entries    []*Entry // Entries are in central-directory order.
	CDOffset   int64    // CDOffset is where the central directory starts.
	CDSize     int64    // CDSize is its length.
	EOCDOffset int64    // EOCDOffset is where the end record starts.
	Size       int64    // Size is the archive length.
	// EntriesEnd is the end of the last entry's data: the central directory
	// or APK Signing Block starts at or after it.
	EntriesEnd int64
}

// Read parses the end record, the central directory and every local header.
func Read(r io.ReaderAt, size int64, lim Limits) (*Archive, error) {
	lim = lim.withDefaults()
	if size < eocdLen {
		return nil, formatErr(0, "file too short for a zip end record", size)
	}
	eocdOff, eocd, err := findEOCD(r, size)
	if err != nil {
		return nil, err
	}
	if eocdOff >= 20 {
		var loc [4]byte
		if _, err := r.ReadAt(loc[:], eocdOff-20); err == nil && binary.LittleEndian.Uint32(loc[:]) == sigZip64Loc {
			return nil, &FormatError{Offset: eocdOff - 20, Msg: "zip64 end locator present; rebuild the archive without zip64", Kind: ErrZip64}
		}
	}
	disk := binary.LittleEndian.Uint16(eocd[4:])
	cdDisk := binary.LittleEndian.Uint16(eocd[6:])
	onDisk := binary.LittleEndian.Uint16(eocd[8:])
	total := binary.LittleEndian.Uint16(eocd[10:])
	cdSize := int64(binary.LittleEndian.Uint32(eocd[12:]))
	cdOff := int64(binary.LittleEndian.Uint32(eocd[16:]))
	if total == 0xffff || cdSize == 0xffffffff || cdOff == 0xffffffff {
		return nil, &FormatError{Offset: eocdOff, Msg: "zip64 marker in end record; rebuild the archive without zip64", Kind: ErrZip64}
	}
	if disk != 0 || cdDisk != 0 || onDisk != total {
		return nil, formatErr(eocdOff, "multi-disk archives are not supported", disk)
	}
	if cdOff+cdSize != eocdOff {
		return nil, formatErr(eocdOff+16, "central directory does not end at the end record (truncated or has trailing data)", cdOff)
	}
	if cdSize > lim.MaxCentralDirectory {
		return nil, formatErr(eocdOff+12, "central directory larger than limit", cdSize)
	}
	if int(total) > lim.MaxEntries {
		return nil, formatErr(eocdOff+10, "entry count above limit", total)
	}
	if int64(total)*centralLen > cdSize {
		return nil, formatErr(eocdOff+10, "entry count does not fit the central directory", total)
	}
	cd := make([]byte, cdSize)
	if _, err := r.ReadAt(cd, cdOff); err != nil {
		return nil, formatErr(cdOff, "reading central directory: "+err.Error(), nil)
	}
	a := &Archive{CDOffset: cdOff, CDSize: cdSize, EOCDOffset: eocdOff, Size: size}
	a.Entries = make([]*Entry, 0, total)
	seen := make(map[string]struct{}, total)
	var lh [localHeaderLen]byte
	for p := 0; len(a.Entries) < int(total); {
		at := cdOff + int64(p)
		if len(cd)-p < centralLen || binary.LittleEndian.Uint32(cd[p:]) != sigCentral {
			return nil, formatErr(at, "bad central directory record", len(a.Entries))
		}
		rec := cd[p:]
		nameLen := int(binary.LittleEndian.Uint16(rec[28:]))
		extraLen := int(binary.LittleEndian.Uint16(rec[30:]))
		commentLen := int(binary.LittleEndian.Uint16(rec[32:]))
		n := centralLen + nameLen + extraLen + commentLen
		if n > len(rec) {
			return nil, formatErr(at, "central directory record past the directory", n)
		}
		e := &Entry{
			Name:             string(rec[centralLen : centralLen+nameLen]),
			Flags:            binary.LittleEndian.Uint16(rec[8:]),
			Method:           binary.LittleEndian.Uint16(rec[10:]),
			ModTime:          binary.LittleEndian.Uint16(rec[12:]),
			ModDate:          binary.LittleEndian.Uint16(rec[14:]),
			CRC32:            binary.LittleEndian.Uint32(rec[16:]),
			CompressedSize:   int64(binary.LittleEndian.Uint32(rec[20:])),
			UncompressedSize: int64(binary.LittleEndian.Uint32(rec[24:])),
			HeaderOffset:     int64(binary.LittleEndian.Uint32(rec[42:])),
			central:          rec[:n:n],
		}
		if e.CompressedSize == 0xffffffff || e.UncompressedSize == 0xffffffff || e.HeaderOffset == 0xffffffff {
			return nil, &FormatError{Offset: at, Msg: "zip64 entry; rebuild the archive without zip64", Val: e.Name, Kind: ErrZip64}
		}
		if e.Flags&0x1 != 0 {
			return nil, &FormatError{Offset: at, Msg: "encrypted entry; Android cannot read encrypted entries", Val: e.Name, Kind: ErrEncrypted}
		}
		if err := checkName(e.Name); err != nil {
			return nil, formatErr(at, err.Error(), e.Name)
		}
		if _, dup := seen[e.Name]; dup {
			return nil, &FormatError{Offset: at, Msg: "duplicate entry name", Val: e.Name, Kind: ErrDuplicate}
		}
		seen[e.Name] = struct{}{}
		// Local header: the data starts after its own name and extra.
		if e.HeaderOffset > cdOff-localHeaderLen {
			return nil, formatErr(at+42, "local header offset past the entries", e.HeaderOffset)
		}
		if _, err := r.ReadAt(lh[:], e.HeaderOffset); err != nil {
			return nil, formatErr(e.HeaderOffset, "reading local header: "+err.Error(), e.Name)
		}
		if binary.LittleEndian.Uint32(lh[:]) != sigLocal {
			return nil, formatErr(e.HeaderOffset, "bad local header signature", e.Name)
		}
		lNameLen := int64(binary.LittleEndian.Uint16(lh[26:]))
		lExtraLen := int64(binary.LittleEndian.Uint16(lh[28:]))
		e.DataOffset = e.HeaderOffset + localHeaderLen + lNameLen + lExtraLen
		if e.DataOffset > cdOff || e.CompressedSize > cdOff-e.DataOffset {
			return nil, formatErr(e.HeaderOffset, "entry data past the central directory (truncated file?)", e.Name)
		}
		var lname = make([]byte, lNameLen+lExtraLen)
		if _, err := r.ReadAt(lname, e.HeaderOffset+localHeaderLen); err != nil {
			return nil, formatErr(e.HeaderOffset, "reading local header name: "+err.Error(), e.Name)
		}
		if string(lname[:lNameLen]) != e.Name {
			return nil, formatErr(e.HeaderOffset, "local header name differs from central directory", e.Name)
		}
		if lm := binary.LittleEndian.Uint16(lh[8:]); lm != e.Method {
			return nil, formatErr(e.HeaderOffset+8, "local header method differs from central directory", e.Name)
		}
		e.LocalExtra = lname[lNameLen:]
		a.EntriesEnd = max(a.EntriesEnd, e.DataOffset+e.CompressedSize)
		a.Entries = append(a.Entries, e)
		p += n
	}
	return a, nil
}

// checkName refuses names that are not local paths: they could escape an
// extraction directory and no build tool writes them.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty entry name")
	case strings.ContainsRune(name, 0):
		return errors.New("NUL in entry name")
	case strings.HasPrefix(name, "/") || strings.Contains(name, "\\"):
		return errors.New("entry name is not a local path")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return errors.New("entry name is not a local path")
		}
	}
	return nil
}

// findEOCD finds the end record whose comment runs exactly to the end of
// the file, searching back at most 64 KiB as the format allows.
func findEOCD(r io.ReaderAt, size int64) (int64, []byte, error) {
	n := min(size, eocdLen+0xffff)
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-n); err != nil {
		return 0, nil, formatErr(size-n, "reading end of file: "+err.Error(), nil)
	}
	for i := len(buf) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) != sigEOCD {
			continue
		}
		commentLen := int(binary.LittleEndian.Uint16(buf[i+20:]))
		if i+eocdLen+commentLen == len(buf) {
			return size - n + int64(i), buf[i:], nil
		}
	}
	return 0, nil, formatErr(size, "no zip end record (not a zip, or truncated)", nil)
}

// Raw returns the entry's compressed bytes as a view of r.
func (e *Entry) Raw(r io.ReaderAt) *io.SectionReader {
	return io.NewSectionReader(r, e.DataOffset, e.CompressedSize)
}

// Open returns the entry's uncompressed content. The reader fails with
// ErrChecksum when the data inflates past UncompressedSize, ends short, or
// has the wrong CRC-32, so a lying header cannot make it allocate or loop.
func (e *Entry) Open(r io.ReaderAt) (io.Reader, error) {
	var rc io.Reader
	switch e.Method {
	case Store:
		if e.CompressedSize != e.UncompressedSize {
			return nil, formatErr(e.HeaderOffset, "stored entry with different sizes", e.Name)
		}
		rc = e.Raw(r)
	case Deflate:
		// flate reads byte by byte; a large buffer keeps ReadAt calls
		// (syscalls on a file) few.
		rc = flate.NewReader(bufio.NewReaderSize(e.Raw(r), int(min(max(e.CompressedSize, 16), 256<<10))))
	default:
		return nil, formatErr(e.HeaderOffset, fmt.Sprintf("compression method %d is not supported by Android", e.Method), e.Name)
	}
	return &checkReader{r: rc, e: e, h: crc32.NewIEEE(), left: e.UncompressedSize}, nil
}

// ReadAll reads an entry's content, refusing entries larger than max.
func (e *Entry) ReadAll(r io.ReaderAt, max int64) ([]byte, error) {
	if e.UncompressedSize > max {
		return nil, formatErr(e.HeaderOffset, fmt.Sprintf("entry larger than the %d-byte limit", max), e.Name)
	}
	rc, err := e.Open(r)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(int(e.UncompressedSize))
	if _, err := io.Copy(&buf, rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type checkReader struct {
	r    io.Reader
	e    *Entry
	h    hash.Hash32
	left int64
	err  error
}

func (c *checkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1] // one extra byte detects overlong data
	}
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		c.err = &FormatError{Offset: c.e.HeaderOffset, Msg: "entry inflates past its declared size", Val: c.e.Name, Kind: ErrChecksum}
		return 0, c.err
	}
	c.h.Write(p[:n])
	c.left -= int64(n)
	if err == io.EOF || (err == nil && c.left == 0 && n == 0) {
		switch {
		case c.left != 0:
			c.err = &FormatError{Offset: c.e.HeaderOffset, Msg: "entry shorter than its declared size", Val: c.e.Name, Kind: ErrChecksum}
		case c.h.Sum32() != c.e.CRC32:
			c.err = &FormatError{Offset: c.e.HeaderOffset, Msg: "entry CRC-32 mismatch", Val: c.e.Name, Kind: ErrChecksum}
		default:
			c.err = io.EOF
		}
		if n > 0 && c.err == io.EOF {
			return n, nil
		}
		return n, c.err
	}
	if err != nil {
		c.err = &FormatError{Offset: c.e.HeaderOffset, Msg: "reading entry: " + err.Error(), Val: c.e.Name, Kind: ErrChecksum}
		return n, c.err
	}
	return n, nil
}
