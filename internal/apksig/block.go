// Package apksig reads, writes and verifies Android APK signatures: the APK
// Signing Block with its v2, v3 and v3.1 schemes (including the v3
// key-rotation lineage) and v1 JAR signatures.
//
// It is written from the published formats (source.android.com's v2/v3/v3.1
// pages and the JAR specification), not from apksig's code.
//
// Threat model: APKs are uploads. Every length prefix is checked against the
// bytes that remain before slicing; the signing block is capped by
// Limits.MaxBlock before it is read; errors are *FormatError and nothing
// panics on input.
package apksig

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Pair IDs inside the APK Signing Block.
const (
	IDv2          = 0x7109871a // IDv2 is APK Signature Scheme v2.
	IDv3          = 0xf05368c0 // IDv3 is APK Signature Scheme v3.
	IDv31         = 0x1b93ad61 // IDv31 is APK Signature Scheme v3.1 (rotated signer, API 33+).
	IDVerityPad   = 0x42726577 // IDVerityPad is the padding pair apksig adds.
	IDSourceStamp = 0x6dff800d // IDSourceStamp is the source stamp v2 (bundletool, Play).
	IDFrosting    = 0x2146444e // IDFrosting is Play's metadata, present on Play-delivered APKs.
)

// Attribute IDs inside signed data.
const (
	AttrStrippingProtection = 0xbeeff00d // AttrStrippingProtection tells v2 verifiers that v3 exists.
	AttrProofOfRotation     = 0x3ba06f8c // AttrProofOfRotation carries the v3 lineage.
	AttrRotationMinSdk      = 0x559f8b02 // AttrRotationMinSdk is the v3 attribute announcing v3.1.
)

const blockMagic = "APK Sig Block 42"

// ErrFormat is matched by every *FormatError.
var ErrFormat = errors.New("apksig: malformed signature data")

// FormatError reports malformed signature data: what, where, which value.
type FormatError struct {
	Offset int64  // Offset is the byte offset in the APK, or in the structure named by Msg.
	Msg    string // Msg says what is wrong.
	Val    any    // Val is the offending value, if any.
}

// Error prints the message, the value and the offset.
func (e *FormatError) Error() string {
	s := "apksig: " + e.Msg
	if e.Val != nil {
		s += fmt.Sprintf(" '%v'", e.Val)
	}
	return s + fmt.Sprintf(" at byte 0x%x", e.Offset)
}

// Is makes errors.Is(err, ErrFormat) true.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// Limits caps allocations; zero fields take defaults.
type Limits struct {
	// MaxBlock is the largest APK Signing Block read. Default 16 MiB;
	// real blocks are a few KiB (4 KiB padded).
	MaxBlock int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxBlock <= 0 {
		l.MaxBlock = 16 << 20
	}
	return l
}

// Pair is one ID–value pair of the signing block.
type Pair struct {
	ID    uint32 // ID names the scheme or metadata.
	Value []byte // Value is the pair's payload.
}

// Block is a parsed APK Signing Block.
type Block struct {
	Offset int64  // Offset is where the block starts (its first size field).
	Size   int64  // Size is the whole block's length, both size fields included.
	Pairs  []Pair // Pairs are in file order.
}

// Pair returns the value of the first pair with id, or nil.
func (b *Block) Pair(id uint32) []byte {
	if b == nil {
		return nil
	}
	for _, p := range b.Pairs {
		if p.ID == id {
			return p.Value
		}
	}
	return nil
}

// FindBlock reads the signing block that ends at cdOffset, or returns
// (nil, nil) when the magic is not there (a v1-only or unsigned APK).
func FindBlock(r io.ReaderAt, cdOffset int64, lim Limits) (*Block, error) {
	lim = lim.withDefaults()
	if cdOffset < 32 {
		return nil, nil
	}
	var foot [24]byte
	if _, err := r.ReadAt(foot[:], cdOffset-24); err != nil {
		return nil, &FormatError{Offset: cdOffset - 24, Msg: "reading signing block footer: " + err.Error()}
	}
	if string(foot[8:]) != blockMagic {
		return nil, nil
	}
	size := binary.LittleEndian.Uint64(foot[:8])
	if size < 24 || size > uint64(lim.MaxBlock) || int64(size)+8 > cdOffset {
		return nil, &FormatError{Offset: cdOffset - 24, Msg: "signing block size out of range", Val: size}
	}
	start := cdOffset - int64(size) - 8
	buf := make([]byte, size+8)
	if _, err := r.ReadAt(buf, start); err != nil {
		return nil, &FormatError{Offset: start, Msg: "reading signing block: " + err.Error()}
	}
	if binary.LittleEndian.Uint64(buf) != size {
		return nil, &FormatError{Offset: start, Msg: "signing block size fields differ", Val: binary.LittleEndian.Uint64(buf)}
	}
	b := &Block{Offset: start, Size: int64(size) + 8}
	pairs := buf[8 : len(buf)-24]
	for off := 0; off < len(pairs); {
		at := start + 8 + int64(off)
		if len(pairs)-off < 8 {
			return nil, &FormatError{Offset: at, Msg: "truncated pair length"}
		}
		n := binary.LittleEndian.Uint64(pairs[off:])
		off += 8
		if n < 4 || n > uint64(len(pairs)-off) {
			return nil, &FormatError{Offset: at, Msg: "pair length out of range", Val: n}
		}
		b.Pairs = append(b.Pairs, Pair{
			ID:    binary.LittleEndian.Uint32(pairs[off:]),
			Value: pairs[off+4 : off+int(n)],
		})
		off += int(n)
	}
	return b, nil
}

// EncodeBlock builds a signing block from pairs, padded with a verity
// padding pair to a multiple of 4096 bytes as apksig does.
func EncodeBlock(pairs []Pair) []byte {
	body := 0
	for _, p := range pairs {
		body += 12 + len(p.Value)
	}
	total := 8 + body + 8 + 16
	if rem := total % 4096; rem != 0 {
		pad := 4096 - rem
		if pad < 12 {
			pad += 4096
		}
		pairs = append(pairs, Pair{ID: IDVerityPad, Value: make([]byte, pad-12)})
		total += pad
	}
	out := make([]byte, 0, total)
	size := uint64(total - 8)
	out = binary.LittleEndian.AppendUint64(out, size)
	for _, p := range pairs {
		out = binary.LittleEndian.AppendUint64(out, uint64(4+len(p.Value)))
		out = binary.LittleEndian.AppendUint32(out, p.ID)
		out = append(out, p.Value...)
	}
	out = binary.LittleEndian.AppendUint64(out, size)
	return append(out, blockMagic...)
}
