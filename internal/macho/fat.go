package macho

import (
	"context"
	"encoding/binary"
	"fmt"
)

// FatSlice is one architecture to lay out in a universal file.
type FatSlice struct {
	CPUType    uint32 // CPUType is the slice's cputype.
	CPUSubtype uint32 // CPUSubtype is the slice's cpusubtype.
	Align      uint32 // Align is log2 of the slice alignment (14 for arm64, 12 for x86_64 by lipo).
	Data       []byte // Data is the thin Mach-O.
}

// BuildFat lays slices out as a universal file with 32-bit offsets, each
// slice aligned to 2^Align. Nothing in the standard library writes them.
func BuildFat(slices []FatSlice) ([]byte, error) {
	if len(slices) == 0 {
		return nil, fmt.Errorf("macho: universal file needs at least one slice")
	}
	hdr := 8 + 20*len(slices)
	off := uint64(hdr)
	offs := make([]uint64, len(slices))
	for i, s := range slices {
		if s.Align > 16 {
			return nil, fmt.Errorf("macho: slice %d alignment 2^%d too large", i, s.Align)
		}
		off = alignUp(off, 1<<s.Align)
		offs[i] = off
		off += uint64(len(s.Data))
	}
	if off > 1<<32-1 {
		return nil, fmt.Errorf("macho: universal file of %d bytes needs 64-bit offsets", off)
	}
	out := make([]byte, off)
	be := binary.BigEndian
	be.PutUint32(out, MagicFat)
	be.PutUint32(out[4:], uint32(len(slices)))
	for i, s := range slices {
		e := out[8+20*i:]
		be.PutUint32(e, s.CPUType)
		be.PutUint32(e[4:], s.CPUSubtype)
		be.PutUint32(e[8:], uint32(offs[i]))
		be.PutUint32(e[12:], uint32(len(s.Data)))
		be.PutUint32(e[16:], s.Align)
		copy(out[offs[i]:], s.Data)
	}
	return out, nil
}

// SignFile signs every slice of a thin or universal Mach-O held in memory
// and returns the new file; a universal file is laid out again with each
// slice's original alignment.
func SignFile(ctx context.Context, data []byte, p SignParams) ([]byte, error) {
	f, err := Parse(byteReaderAt(data), int64(len(data)), p.Limits)
	if err != nil {
		return nil, err
	}
	if !f.Fat {
		return SignSlice(ctx, data, p)
	}
	out := make([]FatSlice, len(f.Slices))
	for i, s := range f.Slices {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		signed, err := SignSlice(ctx, data[s.Offset:s.Offset+s.Size], p)
		if err != nil {
			return nil, fmt.Errorf("slice %s: %w", s.Arch(), err)
		}
		out[i] = FatSlice{CPUType: s.CPUType, CPUSubtype: s.CPUSubtype, Align: s.Align, Data: signed}
	}
	return BuildFat(out)
}
