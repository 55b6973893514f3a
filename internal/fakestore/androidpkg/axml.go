package androidpkg

import (
	"encoding/binary"
	"strconv"
	"unicode/utf16"
)

// Chunk types of Android's binary XML (frameworks/base ResourceTypes.h).
const (
	chunkStringPool   = 0x0001
	chunkXML          = 0x0003
	chunkStartElement = 0x0102
	chunkResourceMap  = 0x0180

	typeString = 0x03
	typeIntDec = 0x10
	typeIntHex = 0x11

	flagUTF8 = 1 << 8

	// Framework resource ids of the attributes Play reads; obfuscated
	// manifests may carry empty names and only these ids.
	resVersionCode = 0x0101021b
	resVersionName = 0x0101021c

	noIndex = 0xffffffff
)

type stringPool struct {
	data    []byte // whole chunk
	base    int64  // offset of chunk in file, for errors
	offsets []uint32
	start   uint32
	utf8    bool
}

func (p *stringPool) get(i uint32) (string, error) {
	if i == noIndex {
		return "", nil
	}
	if int(i) >= len(p.offsets) {
		return "", &FormatError{Offset: p.base, Msg: "string index out of range", Val: i}
	}
	off := uint64(p.start) + uint64(p.offsets[i])
	if off >= uint64(len(p.data)) {
		return "", &FormatError{Offset: p.base, Msg: "string offset out of range", Val: off}
	}
	b := p.data[off:]
	errAt := &FormatError{Offset: p.base + int64(off), Msg: "truncated string"}
	if p.utf8 {
		// UTF-16 length then UTF-8 length, each one or two bytes.
		_, n, ok := utf8Len(b)
		if !ok {
			return "", errAt
		}
		b = b[n:]
		l, n, ok := utf8Len(b)
		if !ok || uint64(n)+uint64(l) > uint64(len(b)) {
			return "", errAt
		}
		return string(b[n : n+l]), nil
	}
	if len(b) < 2 {
		return "", errAt
	}
	l := int(binary.LittleEndian.Uint16(b))
	n := 2
	if l&0x8000 != 0 {
		if len(b) < 4 {
			return "", errAt
		}
		l = (l&0x7fff)<<16 | int(binary.LittleEndian.Uint16(b[2:]))
		n = 4
	}
	if uint64(n)+uint64(l)*2 > uint64(len(b)) {
		return "", errAt
	}
	u := make([]uint16, l)
	for j := range u {
		u[j] = binary.LittleEndian.Uint16(b[n+2*j:])
	}
	return string(utf16.Decode(u)), nil
}

func utf8Len(b []byte) (l, n int, ok bool) {
	if len(b) < 1 {
		return 0, 0, false
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), 1, true
	}
	if len(b) < 2 {
		return 0, 0, false
	}
	return int(b[0]&0x7f)<<8 | int(b[1]), 2, true
}

// ParseBinaryXML reads package, versionCode and versionName from a binary
// (AXML) AndroidManifest.xml.
func ParseBinaryXML(b []byte, lim Limits) (*Manifest, error) {
	lim = lim.WithDefaults()
	if len(b) < 8 {
		return nil, &FormatError{Msg: "file shorter than a chunk header", Val: len(b)}
	}
	if typ := binary.LittleEndian.Uint16(b); typ != chunkXML {
		return nil, &FormatError{Msg: "not a binary XML file", Val: typ}
	}
	hdr := int(binary.LittleEndian.Uint16(b[2:]))
	total := binary.LittleEndian.Uint32(b[4:])
	if uint64(total) > uint64(len(b)) || hdr < 8 || uint64(hdr) > uint64(total) {
		return nil, &FormatError{Offset: 4, Msg: "bad XML chunk size", Val: total}
	}
	b = b[:total]
	var pool *stringPool
	var resIDs []uint32
	for off := hdr; off < len(b); {
		if len(b)-off < 8 {
			return nil, &FormatError{Offset: int64(off), Msg: "truncated chunk header"}
		}
		typ := binary.LittleEndian.Uint16(b[off:])
		chHdr := int(binary.LittleEndian.Uint16(b[off+2:]))
		size := int64(binary.LittleEndian.Uint32(b[off+4:]))
		if size < 8 || size > int64(len(b)-off) || chHdr < 8 || int64(chHdr) > size {
			return nil, &FormatError{Offset: int64(off), Msg: "bad chunk size", Val: size}
		}
		ch := b[off : off+int(size)]
		switch typ {
		case chunkStringPool:
			p, err := parsePool(ch, int64(off), lim)
			if err != nil {
				return nil, err
			}
			pool = p
		case chunkResourceMap:
			n := (len(ch) - chHdr) / 4
			resIDs = make([]uint32, n)
			for i := range resIDs {
				resIDs[i] = binary.LittleEndian.Uint32(ch[chHdr+4*i:])
			}
		case chunkStartElement:
			if pool == nil {
				return nil, &FormatError{Offset: int64(off), Msg: "element before string pool"}
			}
			return parseManifestElement(ch, chHdr, int64(off), pool, resIDs)
		}
		off += int(size)
	}
	return nil, &FormatError{Msg: "no <manifest> element"}
}

func parsePool(ch []byte, base int64, lim Limits) (*stringPool, error) {
	if len(ch) < 28 {
		return nil, &FormatError{Offset: base, Msg: "truncated string pool header"}
	}
	count := binary.LittleEndian.Uint32(ch[8:])
	flags := binary.LittleEndian.Uint32(ch[16:])
	start := binary.LittleEndian.Uint32(ch[20:])
	hdr := int(binary.LittleEndian.Uint16(ch[2:]))
	if uint64(count) > uint64(lim.MaxStrings) {
		return nil, &FormatError{Offset: base + 8, Msg: "too many strings", Val: count}
	}
	// The offsets table must fit in the chunk before any allocation.
	if uint64(hdr)+uint64(count)*4 > uint64(len(ch)) || uint64(start) > uint64(len(ch)) {
		return nil, &FormatError{Offset: base + 8, Msg: "string pool count exceeds chunk", Val: count}
	}
	p := &stringPool{data: ch, base: base, start: start, utf8: flags&flagUTF8 != 0, offsets: make([]uint32, count)}
	for i := range p.offsets {
		p.offsets[i] = binary.LittleEndian.Uint32(ch[hdr+4*i:])
	}
	return p, nil
}

func parseManifestElement(ch []byte, hdr int, base int64, pool *stringPool, resIDs []uint32) (*Manifest, error) {
	// Element extension: ns, name, attrStart u16, attrSize u16, attrCount u16, 3×u16.
	if len(ch) < hdr+20 {
		return nil, &FormatError{Offset: base, Msg: "truncated element"}
	}
	ext := ch[hdr:]
	name, err := pool.get(binary.LittleEndian.Uint32(ext[4:]))
	if err != nil {
		return nil, err
	}
	if name != "manifest" {
		return nil, &FormatError{Offset: base, Msg: "root element is not manifest", Val: name}
	}
	attrStart := int(binary.LittleEndian.Uint16(ext[8:]))
	attrSize := int(binary.LittleEndian.Uint16(ext[10:]))
	attrCount := int(binary.LittleEndian.Uint16(ext[12:]))
	if attrSize < 20 || hdr+attrStart+attrSize*attrCount > len(ch) {
		return nil, &FormatError{Offset: base, Msg: "attributes exceed element chunk", Val: attrCount}
	}
	m := &Manifest{}
	var haveCode bool
	for i := range attrCount {
		a := ch[hdr+attrStart+i*attrSize:]
		nameIdx := binary.LittleEndian.Uint32(a[4:])
		raw := binary.LittleEndian.Uint32(a[8:])
		dataType := a[15]
		data := binary.LittleEndian.Uint32(a[16:])
		aname, err := pool.get(nameIdx)
		if err != nil {
			return nil, err
		}
		var resID uint32
		if int(nameIdx) < len(resIDs) {
			resID = resIDs[nameIdx]
		}
		switch {
		case aname == "package":
			if m.Package, err = pool.get(raw); err != nil {
				return nil, err
			}
		case aname == "versionCode" || resID == resVersionCode:
			switch dataType {
			case typeIntDec, typeIntHex:
				m.VersionCode = int64(data)
			case typeString:
				s, err := pool.get(raw)
				if err != nil {
					return nil, err
				}
				v, err := strconv.ParseInt(s, 10, 32)
				if err != nil {
					return nil, &FormatError{Offset: base, Msg: "versionCode is not an integer", Val: s}
				}
				m.VersionCode = v
			default:
				return nil, &FormatError{Offset: base, Msg: "versionCode has unexpected type", Val: dataType}
			}
			haveCode = true
		case aname == "versionName" || resID == resVersionName:
			if raw != noIndex {
				if m.VersionName, err = pool.get(raw); err != nil {
					return nil, err
				}
			}
		}
	}
	if m.Package == "" {
		return nil, &FormatError{Offset: base, Msg: "manifest has no package"}
	}
	if !haveCode {
		return nil, &FormatError{Offset: base, Msg: "manifest has no versionCode"}
	}
	if err := checkVersionCode(m.VersionCode, base); err != nil {
		return nil, err
	}
	return m, nil
}
