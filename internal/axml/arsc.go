package axml

import (
	"encoding/binary"
	"fmt"
)

// resources.arsc chunk types and flags this resolver reads.
const (
	chunkTable      = 0x0002
	chunkPackage    = 0x0200
	chunkType       = 0x0201
	typeFlagSparse  = 0x01
	typeFlagOffset6 = 0x02 // FLAG_OFFSET16: u16 offsets, in units of 4 bytes
	entryFlagMap    = 0x0001
	entryFlagCompct = 0x0008
	noEntry16       = 0xffff
	maxRefHops      = 8
)

// ResolveString looks a string resource up in resources.arsc, for showing a
// versionName given as @string/…. It takes the default configuration's
// value (the first configuration if there is no default) and follows
// reference chains a few hops. Anything else (plurals, styled or compact
// entries) is refused with an error saying so.
func ResolveString(arsc []byte, ref uint32, lim Limits) (string, error) {
	lim = lim.withDefaults()
	if len(arsc) > lim.MaxSize*8 {
		return "", formatErr(0, "resources.arsc larger than limit", len(arsc))
	}
	if len(arsc) < 12 || binary.LittleEndian.Uint16(arsc) != chunkTable {
		return "", formatErr(0, "not a resource table", nil)
	}
	_, hsize, size, err := chunkHeader(arsc, 0, len(arsc))
	if err != nil {
		return "", err
	}
	var global pool
	global.start = -1
	var pkgs []int
	for off := hsize; off < size; {
		typ, _, csize, err := chunkHeader(arsc, off, size)
		if err != nil {
			return "", err
		}
		switch typ {
		case chunkStringPool:
			if global.start < 0 {
				if global, err = parsePool(arsc, off, csize, lim); err != nil {
					return "", err
				}
			}
		case chunkPackage:
			pkgs = append(pkgs, off)
		}
		off += csize
	}
	if global.start < 0 {
		return "", formatErr(0, "resource table without a string pool", nil)
	}
	for hop := 0; hop < maxRefHops; hop++ {
		typ, data, err := lookup(arsc, pkgs, ref)
		if err != nil {
			return "", err
		}
		switch typ {
		case TypeString:
			return poolString(arsc, global, data)
		case TypeReference:
			ref = data
		default:
			return "", fmt.Errorf("axml: resource 0x%08x is not a string (type 0x%02x)", ref, typ)
		}
	}
	return "", fmt.Errorf("axml: resource 0x%08x: reference chain longer than %d", ref, maxRefHops)
}

// lookup finds the value of resource ref in the default configuration.
func lookup(b []byte, pkgs []int, ref uint32) (uint8, uint32, error) {
	pkgID, typeID, entry := ref>>24, (ref>>16)&0xff, ref&0xffff
	for _, p := range pkgs {
		_, phsize, psize, err := chunkHeader(b, p, len(b))
		if err != nil {
			return 0, 0, err
		}
		if phsize < 12 || binary.LittleEndian.Uint32(b[p+8:]) != pkgID {
			continue
		}
		var first *[2]uint32
		for off := p + phsize; off < p+psize; {
			typ, th, tsize, err := chunkHeader(b, off, p+psize)
			if err != nil {
				return 0, 0, err
			}
			if typ == chunkType && th >= 20+4 && uint32(b[off+8]) == typeID {
				t, d, found, err := typeEntry(b, off, th, tsize, entry)
				if err != nil {
					return 0, 0, err
				}
				if found {
					if isDefaultConfig(b[off+20 : off+th]) {
						return uint8(t), d, nil
					}
					if first == nil {
						first = &[2]uint32{t, d}
					}
				}
			}
			off += tsize
		}
		if first != nil {
			return uint8(first[0]), first[1], nil
		}
	}
	return 0, 0, fmt.Errorf("axml: resource 0x%08x not found in resources.arsc", ref)
}

func isDefaultConfig(cfg []byte) bool {
	for _, c := range cfg[4:] {
		if c != 0 {
			return false
		}
	}
	return true
}

// typeEntry reads entry idx of the ResTable_type chunk at off.
func typeEntry(b []byte, off, hsize, size int, idx uint32) (typ, data uint32, found bool, err error) {
	flags := b[off+9]
	count := int(binary.LittleEndian.Uint32(b[off+12:]))
	start := int(binary.LittleEndian.Uint32(b[off+16:]))
	width := 4 // u32 offsets, or sparse (u16 index, u16 offset) pairs
	if flags&typeFlagOffset6 != 0 && flags&typeFlagSparse == 0 {
		width = 2
	}
	if count < 0 || count > (size-hsize)/width || start > size {
		return 0, 0, false, formatErr(off, "type chunk entry table out of range", count)
	}
	offs := off + hsize
	var eoff int
	switch {
	case flags&typeFlagSparse != 0:
		// Sorted (u16 index, u16 offset/4) pairs.
		found := false
		for i := range count {
			if uint32(binary.LittleEndian.Uint16(b[offs+4*i:])) == idx {
				eoff = int(binary.LittleEndian.Uint16(b[offs+4*i+2:])) * 4
				found = true
				break
			}
		}
		if !found {
			return 0, 0, false, nil
		}
	case flags&typeFlagOffset6 != 0:
		if idx >= uint32(count) {
			return 0, 0, false, nil
		}
		v := binary.LittleEndian.Uint16(b[offs+2*int(idx):])
		if v == noEntry16 {
			return 0, 0, false, nil
		}
		eoff = int(v) * 4
	default:
		if idx >= uint32(count) {
			return 0, 0, false, nil
		}
		v := binary.LittleEndian.Uint32(b[offs+4*int(idx):])
		if v == noIndex {
			return 0, 0, false, nil
		}
		eoff = int(v)
	}
	at := off + start + eoff
	if eoff < 0 || at+8 > off+size {
		return 0, 0, false, formatErr(off, "entry past its type chunk", eoff)
	}
	esize := int(binary.LittleEndian.Uint16(b[at:]))
	eflags := binary.LittleEndian.Uint16(b[at+2:])
	if eflags&entryFlagCompct != 0 {
		return 0, 0, false, fmt.Errorf("axml: compact resource entries are not supported")
	}
	if eflags&entryFlagMap != 0 {
		return 0, 0, false, fmt.Errorf("axml: resource is a bag (plurals, array or style), not a string")
	}
	v := at + esize
	if esize < 8 || v+8 > off+size {
		return 0, 0, false, formatErr(at, "entry value past its type chunk", esize)
	}
	return uint32(b[v+3]), binary.LittleEndian.Uint32(b[v+4:]), true, nil
}
