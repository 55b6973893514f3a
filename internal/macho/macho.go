// Package macho reads thin and universal (fat) Mach-O files and reads,
// builds and verifies their embedded code signatures, so Ripcord can re-sign
// iOS executables on Linux.
//
// It is written from the published formats (loader.h and the code-signing
// blob layouts described in docs/reference/rollback-builds.md §3), not from
// another signer's code.
//
// Threat model: executables come from uploaded IPAs. Every count, size and
// offset is checked against the bytes that remain before it is used; header
// counts are capped by Limits before anything is allocated; malformed input
// yields a *FormatError and never a panic.
package macho

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Mach-O magics, file types and load commands this package reads.
const (
	Magic32  = 0xfeedface // Magic32 is a 32-bit little-endian Mach-O header.
	Magic64  = 0xfeedfacf // Magic64 is a 64-bit little-endian Mach-O header.
	MagicFat = 0xcafebabe // MagicFat is a universal header with 32-bit offsets.
	// MagicFat64 is a universal header with 64-bit offsets.
	MagicFat64 = 0xcafebabf

	TypeExecute = 0x2 // TypeExecute is MH_EXECUTE, the main binary of an app.
	TypeDylib   = 0x6 // TypeDylib is MH_DYLIB, a framework or loose library.
	TypeBundle  = 0x8 // TypeBundle is MH_BUNDLE, a loadable plug-in.

	LoadSegment          = 0x1        // LoadSegment is LC_SEGMENT.
	LoadSegment64        = 0x19       // LoadSegment64 is LC_SEGMENT_64.
	LoadCodeSignature    = 0x1d       // LoadCodeSignature is LC_CODE_SIGNATURE.
	LoadEncryptionInfo   = 0x21       // LoadEncryptionInfo is LC_ENCRYPTION_INFO.
	LoadEncryptionInfo64 = 0x2c       // LoadEncryptionInfo64 is LC_ENCRYPTION_INFO_64.
	LoadVersionMinIPhone = 0x25       // LoadVersionMinIPhone is LC_VERSION_MIN_IPHONEOS.
	LoadBuildVersion     = 0x32       // LoadBuildVersion is LC_BUILD_VERSION.
	cpuArch64            = 0x01000000 // cpuArch64 marks 64-bit CPU types.
)

// CPU types the Inspection reports by name.
const (
	CPUX86    = 7                  // CPUX86 is i386.
	CPUX86_64 = CPUX86 | cpuArch64 // CPUX86_64 is x86_64.
	CPUARM    = 12                 // CPUARM is 32-bit ARM.
	CPUARM64  = CPUARM | cpuArch64 // CPUARM64 is arm64.
)

// ErrFormat is matched by every *FormatError.
var ErrFormat = errors.New("macho: malformed Mach-O data")

// ErrEncrypted marks a FairPlay-encrypted slice (cryptid != 0): the App Store
// download of an app, which can neither be re-signed nor resubmitted.
var ErrEncrypted = errors.New("macho: executable is FairPlay-encrypted")

// FormatError reports malformed input: what is wrong, where, which value.
type FormatError struct {
	Offset int64  // Offset is the byte offset in the file or blob being parsed.
	Msg    string // Msg says what is wrong.
	Val    any    // Val is the offending value, if any.
}

// Error prints the message, the value and the offset.
func (e *FormatError) Error() string {
	s := "macho: " + e.Msg
	if e.Val != nil {
		s += fmt.Sprintf(" '%v'", e.Val)
	}
	return s + fmt.Sprintf(" at byte 0x%x", e.Offset)
}

// Is makes errors.Is(err, ErrFormat) true.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

func formatErr(off int64, msg string, val any) error {
	return &FormatError{Offset: off, Msg: msg, Val: val}
}

// Limits caps what a parse may allocate; zero fields take defaults.
type Limits struct {
	// MaxSlices caps the architectures in a universal file. Default 16.
	MaxSlices int
	// MaxLoadCommands caps ncmds. Default 4096; real binaries have < 100.
	MaxLoadCommands int
	// MaxCommandBytes caps sizeofcmds. Default 1 MiB.
	MaxCommandBytes int
	// MaxSignature caps the code signature read from a slice. Default 64 MiB
	// (a SHA-1 plus SHA-256 directory for a 1 GiB binary is ~13 MiB).
	MaxSignature int
	// MaxBlobs caps the blobs in one signature superblob. Default 64.
	MaxBlobs int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSlices <= 0 {
		l.MaxSlices = 16
	}
	if l.MaxLoadCommands <= 0 {
		l.MaxLoadCommands = 4096
	}
	if l.MaxCommandBytes <= 0 {
		l.MaxCommandBytes = 1 << 20
	}
	if l.MaxSignature <= 0 {
		l.MaxSignature = 64 << 20
	}
	if l.MaxBlobs <= 0 {
		l.MaxBlobs = 64
	}
	return l
}

// File is a parsed thin or universal Mach-O.
type File struct {
	Fat    bool     // Fat is true for a universal file.
	Slices []*Slice // Slices holds one entry for a thin file, one per architecture otherwise.
}

// Segment is the part of a segment command signing needs.
type Segment struct {
	CmdOffset int64  // CmdOffset is where the command starts in the slice.
	FileOff   uint64 // FileOff is the segment's file offset in the slice.
	FileSize  uint64 // FileSize is its size in the file.
	VMAddr    uint64 // VMAddr is its load address.
	VMSize    uint64 // VMSize is its size in memory.
}

// Slice is one architecture: header facts, the commands signing edits, and
// the parsed signature if there is one. Offsets inside are slice-relative.
type Slice struct {
	Offset     int64  // Offset is where the slice starts in the file.
	Size       int64  // Size is the slice's length.
	Align      uint32 // Align is the fat_arch alignment (log2); 0 for a thin file.
	CPUType    uint32 // CPUType is the header's cputype.
	CPUSubtype uint32 // CPUSubtype is the header's cpusubtype.
	Type       uint32 // Type is the file type (TypeExecute, TypeDylib, ...).
	Is64       bool   // Is64 is true for a 64-bit header.
	HeaderSize int    // HeaderSize is 28 or 32.
	NCmds      uint32 // NCmds is the number of load commands.
	SizeOfCmds uint32 // SizeOfCmds is their total size.

	// FirstSection is the lowest file offset of any section with data, the
	// limit for growing the load commands.
	FirstSection uint64
	Text         *Segment // Text is __TEXT, the executable segment the CodeDirectory names.
	LinkEdit     *Segment // LinkEdit is __LINKEDIT, which holds the signature.
	// SigCmdOffset is where LC_CODE_SIGNATURE starts; -1 if there is none.
	SigCmdOffset int64
	SigOffset    uint32 // SigOffset is the signature's dataoff.
	SigSize      uint32 // SigSize is the signature's datasize.
	// CryptID is the encryption id of LC_ENCRYPTION_INFO(_64); non-zero
	// means FairPlay-encrypted.
	CryptID uint32
	// MinOS is the minimum OS version as "major.minor.patch"; "" if absent.
	MinOS string
	// Platform is LC_BUILD_VERSION's platform (2 is iOS); 0 if unknown.
	Platform uint32
	// Signature is the parsed embedded signature; nil if unsigned.
	Signature *Signature
}

// Arch names the CPU as lipo does.
func (s *Slice) Arch() string {
	switch s.CPUType {
	case CPUARM64:
		if s.CPUSubtype&0xff == 2 {
			return "arm64e"
		}
		return "arm64"
	case CPUX86_64:
		return "x86_64"
	case CPUARM:
		return "armv7"
	case CPUX86:
		return "i386"
	}
	return fmt.Sprintf("cpu%d", s.CPUType)
}

// Parse reads a thin or universal Mach-O through r, which holds size bytes.
func Parse(r io.ReaderAt, size int64, lim Limits) (*File, error) {
	return parse(r, size, lim, false)
}

// ParseHeaders reads only the headers and load commands, leaving
// Slice.Signature nil: enough to refuse an encrypted binary from the first
// bytes of a compressed entry, before inflating all of it. Universal slices
// whose commands cannot be read are left out.
func ParseHeaders(r io.ReaderAt, size int64, lim Limits) (*File, error) {
	return parse(r, size, lim, true)
}

func parse(r io.ReaderAt, size int64, lim Limits, headersOnly bool) (*File, error) {
	lim = lim.withDefaults()
	var hdr [8]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, formatErr(0, "file too short for a Mach-O header", size)
	}
	be := binary.BigEndian.Uint32(hdr[:])
	if be != MagicFat && be != MagicFat64 {
		s, err := parseSlice(r, 0, size, lim, headersOnly)
		if err != nil {
			return nil, err
		}
		return &File{Slices: []*Slice{s}}, nil
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n == 0 || int(n) > lim.MaxSlices {
		return nil, formatErr(4, "universal file architecture count out of range", n)
	}
	entSize := int64(20)
	if be == MagicFat64 {
		entSize = 32
	}
	tbl := make([]byte, int64(n)*entSize)
	if _, err := r.ReadAt(tbl, 8); err != nil {
		return nil, formatErr(8, "universal header truncated", n)
	}
	f := &File{Fat: true}
	for i := range int64(n) {
		e := tbl[i*entSize:]
		var off, sz uint64
		var align uint32
		if be == MagicFat64 {
			off, sz, align = binary.BigEndian.Uint64(e[8:]), binary.BigEndian.Uint64(e[16:]), binary.BigEndian.Uint32(e[24:])
		} else {
			off, sz, align = uint64(binary.BigEndian.Uint32(e[8:])), uint64(binary.BigEndian.Uint32(e[12:])), binary.BigEndian.Uint32(e[16:])
		}
		if off > uint64(size) || sz > uint64(size)-off || align > 16 {
			return nil, formatErr(8+i*entSize, "universal slice outside the file", fmt.Sprintf("offset %d size %d align %d", off, sz, align))
		}
		s, err := parseSlice(r, int64(off), int64(sz), lim, headersOnly)
		if err != nil && headersOnly {
			continue // best effort: r may hold only the file's first bytes
		}
		if err != nil {
			return nil, fmt.Errorf("slice %d: %w", i, err)
		}
		s.Align = align
		if s.CPUType != binary.BigEndian.Uint32(e) {
			return nil, formatErr(8+i*entSize, "universal cputype differs from the slice header", s.CPUType)
		}
		f.Slices = append(f.Slices, s)
	}
	return f, nil
}

// ParseSlice parses one thin Mach-O held in memory.
func ParseSlice(b []byte, lim Limits) (*Slice, error) {
	return parseSlice(byteReaderAt(b), 0, int64(len(b)), lim.withDefaults(), false)
}

type byteReaderAt []byte

func (b byteReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func parseSlice(r io.ReaderAt, base, size int64, lim Limits, headersOnly bool) (*Slice, error) {
	var h [32]byte
	if size < 28 {
		return nil, formatErr(base, "slice too short for a Mach-O header", size)
	}
	if _, err := r.ReadAt(h[:min(32, size)], base); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("macho: read header: %w", err)
	}
	magic := binary.LittleEndian.Uint32(h[:])
	s := &Slice{Offset: base, Size: size, SigCmdOffset: -1}
	switch magic {
	case Magic64:
		s.Is64, s.HeaderSize = true, 32
	case Magic32:
		s.HeaderSize = 28
	case 0xcefaedfe, 0xcffaedfe:
		return nil, formatErr(base, "big-endian Mach-O slices are not supported", fmt.Sprintf("0x%x", magic))
	default:
		return nil, formatErr(base, "not a Mach-O file (bad magic)", fmt.Sprintf("0x%x", magic))
	}
	if int64(s.HeaderSize) > size {
		return nil, formatErr(base, "slice too short for a 64-bit header", size)
	}
	le := binary.LittleEndian
	s.CPUType, s.CPUSubtype, s.Type = le.Uint32(h[4:]), le.Uint32(h[8:]), le.Uint32(h[12:])
	s.NCmds, s.SizeOfCmds = le.Uint32(h[16:]), le.Uint32(h[20:])
	if int(s.NCmds) > lim.MaxLoadCommands || s.NCmds > s.SizeOfCmds/8 && s.NCmds > 0 {
		return nil, formatErr(base+16, "load command count out of range", s.NCmds)
	}
	if int(s.SizeOfCmds) > lim.MaxCommandBytes || int64(s.SizeOfCmds) > size-int64(s.HeaderSize) {
		return nil, formatErr(base+20, "load commands larger than the file", s.SizeOfCmds)
	}
	cmds := make([]byte, s.SizeOfCmds)
	if _, err := r.ReadAt(cmds, base+int64(s.HeaderSize)); err != nil {
		return nil, formatErr(base+int64(s.HeaderSize), "load commands truncated", err)
	}
	s.FirstSection = uint64(size)
	off := 0
	for i := range s.NCmds {
		at := int64(s.HeaderSize + off)
		if len(cmds)-off < 8 {
			return nil, formatErr(base+at, "load command truncated", i)
		}
		cmd, csz := le.Uint32(cmds[off:]), le.Uint32(cmds[off+4:])
		if csz < 8 || uint64(csz) > uint64(len(cmds)-off) {
			return nil, formatErr(base+at+4, "load command size out of range", csz)
		}
		c := cmds[off : off+int(csz)]
		if err := s.loadCommand(cmd, c, at, size); err != nil {
			return nil, err
		}
		off += int(csz)
	}
	if s.SigCmdOffset >= 0 {
		if uint64(s.SigOffset)+uint64(s.SigSize) > uint64(size) {
			return nil, formatErr(base+s.SigCmdOffset, "code signature outside the file", fmt.Sprintf("offset %d size %d", s.SigOffset, s.SigSize))
		}
		if int(s.SigSize) > lim.MaxSignature {
			return nil, formatErr(base+s.SigCmdOffset, "code signature larger than the limit", s.SigSize)
		}
		if s.SigSize > 0 && !headersOnly {
			b := make([]byte, s.SigSize)
			if _, err := r.ReadAt(b, base+int64(s.SigOffset)); err != nil {
				return nil, formatErr(base+int64(s.SigOffset), "code signature truncated", err)
			}
			sig, err := ParseSignature(b, lim)
			if err != nil {
				return nil, fmt.Errorf("code signature at 0x%x: %w", base+int64(s.SigOffset), err)
			}
			s.Signature = sig
		}
	}
	return s, nil
}

func (s *Slice) loadCommand(cmd uint32, c []byte, at, size int64) error {
	le := binary.LittleEndian
	switch cmd {
	case LoadSegment64, LoadSegment:
		var seg Segment
		var nsect uint32
		var sectOff, sectSize int
		if cmd == LoadSegment64 {
			if len(c) < 72 {
				return formatErr(at, "segment command truncated", len(c))
			}
			seg = Segment{CmdOffset: at, VMAddr: le.Uint64(c[24:]), VMSize: le.Uint64(c[32:]), FileOff: le.Uint64(c[40:]), FileSize: le.Uint64(c[48:])}
			nsect, sectOff, sectSize = le.Uint32(c[64:]), 72, 80
		} else {
			if len(c) < 56 {
				return formatErr(at, "segment command truncated", len(c))
			}
			seg = Segment{CmdOffset: at, VMAddr: uint64(le.Uint32(c[24:])), VMSize: uint64(le.Uint32(c[28:])), FileOff: uint64(le.Uint32(c[32:])), FileSize: uint64(le.Uint32(c[36:]))}
			nsect, sectOff, sectSize = le.Uint32(c[48:]), 56, 68
		}
		if uint64(nsect) > uint64(len(c)-sectOff)/uint64(sectSize) {
			return formatErr(at, "segment section count out of range", nsect)
		}
		for i := range int(nsect) {
			sc := c[sectOff+i*sectSize:]
			var fo uint32
			var sz uint64
			var flags uint32
			if cmd == LoadSegment64 {
				sz, fo, flags = le.Uint64(sc[40:]), le.Uint32(sc[48:]), le.Uint32(sc[64:])
			} else {
				sz, fo, flags = uint64(le.Uint32(sc[36:])), le.Uint32(sc[40:]), le.Uint32(sc[56:])
			}
			// Zero-fill sections (S_ZEROFILL 1, S_GB_ZEROFILL 12,
			// S_THREAD_LOCAL_ZEROFILL 18) occupy no file bytes.
			typ := flags & 0xff
			if sz > 0 && fo > 0 && typ != 1 && typ != 12 && typ != 18 && uint64(fo) < s.FirstSection {
				s.FirstSection = uint64(fo)
			}
		}
		name := string(trimNUL(c[8:24]))
		switch name {
		case "__TEXT":
			s.Text = &seg
		case "__LINKEDIT":
			s.LinkEdit = &seg
		}
	case LoadCodeSignature:
		if len(c) != 16 {
			return formatErr(at, "LC_CODE_SIGNATURE size is not 16", len(c))
		}
		if s.SigCmdOffset >= 0 {
			return formatErr(at, "two LC_CODE_SIGNATURE commands", nil)
		}
		s.SigCmdOffset, s.SigOffset, s.SigSize = at, le.Uint32(c[8:]), le.Uint32(c[12:])
	case LoadEncryptionInfo, LoadEncryptionInfo64:
		if len(c) < 20 {
			return formatErr(at, "encryption info command truncated", len(c))
		}
		s.CryptID = le.Uint32(c[16:])
	case LoadBuildVersion:
		if len(c) < 24 {
			return formatErr(at, "build version command truncated", len(c))
		}
		s.Platform = le.Uint32(c[8:])
		s.MinOS = nibbleVersion(le.Uint32(c[12:]))
	case LoadVersionMinIPhone:
		if len(c) < 16 {
			return formatErr(at, "version-min command truncated", len(c))
		}
		s.Platform = 2
		s.MinOS = nibbleVersion(le.Uint32(c[8:]))
	}
	return nil
}

// nibbleVersion prints the xxxx.yy.zz encoding of Mach-O versions.
func nibbleVersion(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v>>16, (v>>8)&0xff, v&0xff)
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
