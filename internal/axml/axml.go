// Package axml reads and rewrites Android's binary XML (AXML), the compiled
// form of AndroidManifest.xml inside an APK.
//
// Threat model: the input comes from an uploaded artifact and may be hostile.
// Every count, size and offset is checked against the bytes that remain before
// it is used; bad input returns a *FormatError and never panics. The whole
// document is held in memory, so its size is capped by Limits.MaxSize.
//
// Rewriting keeps every byte that is not part of the change: versionCode is
// overwritten in place, and a new versionName is appended to the string pool
// (a pool string may be shared by other attributes, so it is never edited).
package axml

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Chunk types used by AndroidManifest.xml (ResChunk_header.type).
const (
	chunkStringPool   = 0x0001
	chunkXML          = 0x0003
	chunkResourceMap  = 0x0180
	chunkStartElement = 0x0102
	chunkEndElement   = 0x0103
)

// Res_value data types the manifest fields use.
const (
	TypeNull      = 0x00 // TypeNull is an absent value.
	TypeReference = 0x01 // TypeReference points at a resource (0xPPTTEEEE).
	TypeString    = 0x03 // TypeString holds a string-pool index.
	TypeIntDec    = 0x10 // TypeIntDec is a decimal integer literal.
	TypeIntHex    = 0x11 // TypeIntHex is a hexadecimal integer literal.
)

// Framework attribute resource IDs; the platform finds manifest attributes by
// ID, not by name, so we do too.
const (
	AttrVersionCode      = 0x0101021b // AttrVersionCode is android:versionCode.
	AttrVersionName      = 0x0101021c // AttrVersionName is android:versionName.
	AttrVersionCodeMajor = 0x01010576 // AttrVersionCodeMajor is android:versionCodeMajor (API 28).
	AttrMinSdkVersion    = 0x0101020c // AttrMinSdkVersion is android:minSdkVersion.
	AttrTargetSdkVersion = 0x01010270 // AttrTargetSdkVersion is android:targetSdkVersion.
)

const (
	noIndex        = 0xFFFFFFFF
	poolFlagSorted = 0x1
	poolFlagUTF8   = 0x100
	androidNS      = "http://schemas.android.com/apk/res/android"
	// maxNewString bounds a versionName we write: long enough for any real
	// version, short enough for the one-word length prefixes of both encodings.
	maxNewString = 1024
)

// ErrFormat is matched by every *FormatError through errors.Is.
var ErrFormat = errors.New("axml: malformed binary XML")

// FormatError reports malformed input: what is wrong, where, and the value
// found, so a bad upload can be diagnosed without a hex dump.
type FormatError struct {
	Offset int64  // Offset is the byte offset in the document.
	Msg    string // Msg says what is wrong.
	Val    any    // Val is the offending value, if any.
}

// Error prints the message, the value and the offset.
func (e *FormatError) Error() string {
	s := "axml: " + e.Msg
	if e.Val != nil {
		s += fmt.Sprintf(" '%v'", e.Val)
	}
	return s + fmt.Sprintf(" at byte 0x%x", e.Offset)
}

// Is makes errors.Is(err, ErrFormat) true for every FormatError.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

func formatErr(off int, msg string, val any) error {
	return &FormatError{Offset: int64(off), Msg: msg, Val: val}
}

// Limits caps what Parse accepts; zero fields take their defaults.
type Limits struct {
	// MaxSize is the largest document accepted. Default 8 MiB; real
	// manifests are a few KiB to a few hundred KiB.
	MaxSize int
	// MaxStrings is the largest string-pool count accepted. Default 1<<20.
	MaxStrings int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = 8 << 20
	}
	if l.MaxStrings <= 0 {
		l.MaxStrings = 1 << 20
	}
	return l
}

// Value is a typed attribute value (Res_value) with its string resolved.
type Value struct {
	Type   uint8  // Type is the Res_value dataType.
	Data   uint32 // Data is the raw 32-bit payload.
	String string // String is the pool string for TypeString.
}

// Text renders the value the way aapt does for a human: the string, the
// integer, or @0x… for a reference.
func (v Value) Text() string {
	switch v.Type {
	case TypeString:
		return v.String
	case TypeIntDec, TypeIntHex:
		return strconv.FormatUint(uint64(v.Data), 10)
	case TypeReference:
		return fmt.Sprintf("@0x%08x", v.Data)
	case TypeNull:
		return ""
	default:
		return fmt.Sprintf("(type 0x%02x)0x%x", v.Type, v.Data)
	}
}

// IsInt reports whether the value is an integer literal.
func (v Value) IsInt() bool { return v.Type == TypeIntDec || v.Type == TypeIntHex }

// pool is a parsed string pool; strings are decoded on demand.
type pool struct {
	start, size  int // chunk offset and size in the document
	headerSize   int
	count        int
	styleCount   int
	flags        uint32
	stringsStart int // relative to chunk start
	stylesStart  int // relative to chunk start; 0 if no styles
	offsets      int // absolute offset of the string offset array
}

type element struct {
	chunk     int // absolute chunk offset
	size      int // chunk size
	attrStart int // absolute offset of the first attribute
	attrSize  int
	attrCount int
	extOff    int // absolute offset of ResXMLTree_attrExt
}

// File is a parsed AXML document. It keeps the input bytes; rewrites
// produce new slices.
type File struct {
	b        []byte
	pool     pool
	resMap   []uint32
	resMapAt int // chunk offset of the resource map, -1 if absent
	manifest element
	usesSdk  *element
}

// Parse validates the chunk structure of b and locates the <manifest> and
// <uses-sdk> elements. b is retained by the File and must not be modified.
func Parse(b []byte, lim Limits) (*File, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxSize {
		return nil, formatErr(0, "document larger than limit", len(b))
	}
	if len(b) < 8 {
		return nil, formatErr(0, "document shorter than a chunk header", len(b))
	}
	if typ := binary.LittleEndian.Uint16(b); typ != chunkXML {
		return nil, formatErr(0, "not a binary XML document: chunk type", fmt.Sprintf("0x%04x", typ))
	}
	_, hsize, size, err := chunkHeader(b, 0, len(b))
	if err != nil {
		return nil, err
	}
	f := &File{b: b, resMapAt: -1, pool: pool{start: -1}}
	end := size
	depth := 0
	manifestFound := false
	for off := hsize; off < end; {
		ctyp, _, csize, err := chunkHeader(b, off, end)
		if err != nil {
			return nil, err
		}
		switch ctyp {
		case chunkStringPool:
			if f.pool.start >= 0 {
				return nil, formatErr(off, "second string pool", nil)
			}
			p, err := parsePool(b, off, csize, lim)
			if err != nil {
				return nil, err
			}
			f.pool = p
		case chunkResourceMap:
			if f.resMapAt >= 0 {
				return nil, formatErr(off, "second resource map", nil)
			}
			_, h, _, _ := chunkHeader(b, off, end)
			n := (csize - h) / 4
			f.resMap = make([]uint32, n)
			for i := range n {
				f.resMap[i] = binary.LittleEndian.Uint32(b[off+h+4*i:])
			}
			f.resMapAt = off
		case chunkStartElement:
			if f.pool.start < 0 {
				return nil, formatErr(off, "element before the string pool", nil)
			}
			el, name, err := f.parseElement(off, csize)
			if err != nil {
				return nil, err
			}
			switch {
			case depth == 0 && !manifestFound:
				if name != "manifest" {
					return nil, formatErr(off, "root element is not <manifest>", name)
				}
				f.manifest = el
				manifestFound = true
			case depth == 1 && name == "uses-sdk" && f.usesSdk == nil:
				e := el
				f.usesSdk = &e
			}
			depth++
		case chunkEndElement:
			depth--
			if depth < 0 {
				return nil, formatErr(off, "end element without start", nil)
			}
		}
		off += csize
	}
	if !manifestFound {
		return nil, formatErr(0, "no <manifest> element", nil)
	}
	return f, nil
}

// chunkHeader reads and checks a ResChunk_header at off that must fit before end.
func chunkHeader(b []byte, off, end int) (typ uint16, hsize, size int, err error) {
	if off < 0 || end-off < 8 {
		return 0, 0, 0, formatErr(off, "truncated chunk header", nil)
	}
	typ = binary.LittleEndian.Uint16(b[off:])
	hsize = int(binary.LittleEndian.Uint16(b[off+2:]))
	size64 := uint64(binary.LittleEndian.Uint32(b[off+4:]))
	// Every chunk header aapt writes is a multiple of 4 bytes; rewriting
	// relies on that to keep chunks aligned.
	if hsize < 8 || hsize%4 != 0 || uint64(hsize) > size64 {
		return 0, 0, 0, formatErr(off, "bad chunk header size", hsize)
	}
	if size64 > uint64(end-off) {
		return 0, 0, 0, formatErr(off, "chunk extends past its parent", size64)
	}
	if size64%4 != 0 && typ != chunkXML {
		return 0, 0, 0, formatErr(off, "chunk size not a multiple of 4", size64)
	}
	return typ, hsize, int(size64), nil
}

func parsePool(b []byte, off, size int, lim Limits) (pool, error) {
	if size < 28 || binary.LittleEndian.Uint16(b[off+2:]) < 28 {
		return pool{}, formatErr(off, "string pool header too short", size)
	}
	p := pool{
		start:        off,
		size:         size,
		headerSize:   int(binary.LittleEndian.Uint16(b[off+2:])),
		flags:        binary.LittleEndian.Uint32(b[off+16:]),
		stringsStart: int(binary.LittleEndian.Uint32(b[off+20:])),
		stylesStart:  int(binary.LittleEndian.Uint32(b[off+24:])),
	}
	count := uint64(binary.LittleEndian.Uint32(b[off+8:]))
	styles := uint64(binary.LittleEndian.Uint32(b[off+12:]))
	if count > uint64(lim.MaxStrings) || styles > uint64(lim.MaxStrings) {
		return pool{}, formatErr(off+8, "string pool count above limit", count)
	}
	p.count, p.styleCount = int(count), int(styles)
	p.offsets = off + p.headerSize
	arrays := 4 * (p.count + p.styleCount)
	if p.headerSize+arrays > size {
		return pool{}, formatErr(off+8, "string pool offsets past the chunk", count)
	}
	if p.count > 0 && (p.stringsStart < p.headerSize+arrays || p.stringsStart > size) {
		return pool{}, formatErr(off+20, "bad stringsStart", p.stringsStart)
	}
	if p.styleCount > 0 && (p.stylesStart < p.stringsStart || p.stylesStart > size) {
		return pool{}, formatErr(off+24, "bad stylesStart", p.stylesStart)
	}
	if p.styleCount == 0 && p.stylesStart != 0 && (p.stylesStart < p.stringsStart || p.stylesStart > size) {
		return pool{}, formatErr(off+24, "bad stylesStart", p.stylesStart)
	}
	if p.count == 0 {
		p.stringsStart = p.headerSize + arrays
	}
	return p, nil
}

// stringDataEnd is the chunk-relative end of the string data region.
func (p pool) stringDataEnd() int {
	if p.stylesStart != 0 {
		return p.stylesStart
	}
	return p.size
}

func (p pool) utf8() bool { return p.flags&poolFlagUTF8 != 0 }

// str decodes pool string i, checking every length against the region.
func (f *File) str(i uint32) (string, error) { return poolString(f.b, f.pool, i) }

// poolString decodes string i of pool p inside document b.
func poolString(b []byte, p pool, i uint32) (string, error) {
	if uint64(i) >= uint64(p.count) {
		return "", formatErr(p.start, "string index out of range", i)
	}
	rel := binary.LittleEndian.Uint32(b[p.offsets+4*int(i):])
	base := p.start + p.stringsStart
	end := p.start + p.stringDataEnd()
	if uint64(rel) >= uint64(end-base) {
		return "", formatErr(p.offsets+4*int(i), "string offset past the pool", rel)
	}
	at := base + int(rel)
	if p.utf8() {
		_, n, ok := utf8Len(b, at, end)
		if !ok {
			return "", formatErr(at, "truncated string length", i)
		}
		at += n
		blen, n, ok := utf8Len(b, at, end)
		if !ok {
			return "", formatErr(at, "truncated string length", i)
		}
		at += n
		if blen > end-at {
			return "", formatErr(at, "string past the pool", blen)
		}
		return string(b[at : at+blen]), nil
	}
	if end-at < 2 {
		return "", formatErr(at, "truncated string length", i)
	}
	n := int(binary.LittleEndian.Uint16(b[at:]))
	at += 2
	if n&0x8000 != 0 {
		if end-at < 2 {
			return "", formatErr(at, "truncated string length", i)
		}
		n = (n&0x7fff)<<16 | int(binary.LittleEndian.Uint16(b[at:]))
		at += 2
	}
	if n > (end-at)/2 {
		return "", formatErr(at, "string past the pool", n)
	}
	u := make([]uint16, n)
	for k := range n {
		u[k] = binary.LittleEndian.Uint16(b[at+2*k:])
	}
	return string(utf16.Decode(u)), nil
}

func utf8Len(b []byte, at, end int) (n, used int, ok bool) {
	if at >= end {
		return 0, 0, false
	}
	n = int(b[at])
	if n&0x80 == 0 {
		return n, 1, true
	}
	if at+1 >= end {
		return 0, 0, false
	}
	return (n&0x7f)<<8 | int(b[at+1]), 2, true
}

func (f *File) parseElement(off, size int) (element, string, error) {
	b := f.b
	hsize := int(binary.LittleEndian.Uint16(b[off+2:]))
	ext := off + hsize
	if hsize < 16 || size-hsize < 20 {
		return element{}, "", formatErr(off, "start element too short", size)
	}
	name, err := f.str(binary.LittleEndian.Uint32(b[ext+4:]))
	if err != nil {
		return element{}, "", err
	}
	el := element{
		chunk:     off,
		size:      size,
		extOff:    ext,
		attrStart: ext + int(binary.LittleEndian.Uint16(b[ext+8:])),
		attrSize:  int(binary.LittleEndian.Uint16(b[ext+10:])),
		attrCount: int(binary.LittleEndian.Uint16(b[ext+12:])),
	}
	// aapt writes 20-byte attributes; the format allows larger ones, which
	// we accept up to a small bound so a rewrite cannot balloon.
	if el.attrSize < 20 || el.attrSize > 64 || el.attrSize%4 != 0 {
		return element{}, "", formatErr(ext+10, "attribute size not a multiple of 4 from 20 to 64", el.attrSize)
	}
	if el.attrStart < ext+20 || el.attrStart+el.attrCount*el.attrSize > off+size {
		return element{}, "", formatErr(ext+8, "attributes past the element", el.attrCount)
	}
	return el, name, nil
}

// attr is one attribute of an element.
type attr struct {
	off   int // absolute offset
	ns    uint32
	name  uint32
	raw   uint32
	resID uint32 // 0 when the name has no resource-map entry
	val   Value
}

func (f *File) attrs(el element) ([]attr, error) {
	out := make([]attr, 0, el.attrCount)
	for i := range el.attrCount {
		at := el.attrStart + i*el.attrSize
		a := attr{
			off:  at,
			ns:   binary.LittleEndian.Uint32(f.b[at:]),
			name: binary.LittleEndian.Uint32(f.b[at+4:]),
			raw:  binary.LittleEndian.Uint32(f.b[at+8:]),
			val: Value{
				Type: f.b[at+15],
				Data: binary.LittleEndian.Uint32(f.b[at+16:]),
			},
		}
		if uint64(a.name) < uint64(len(f.resMap)) {
			a.resID = f.resMap[a.name]
		}
		if a.val.Type == TypeString {
			s, err := f.str(a.val.Data)
			if err != nil {
				return nil, err
			}
			a.val.String = s
		}
		out = append(out, a)
	}
	return out, nil
}

func findAttr(as []attr, id uint32) (attr, bool) {
	for _, a := range as {
		if a.resID == id {
			return a, true
		}
	}
	return attr{}, false
}

// Manifest is what the rollback pipeline needs from AndroidManifest.xml.
type Manifest struct {
	Package          string // Package is the manifest's package attribute.
	VersionCode      *Value // VersionCode is nil when the attribute is absent.
	VersionCodeMajor *Value // VersionCodeMajor is nil when absent.
	VersionName      *Value // VersionName is nil when absent; may be a reference.
	MinSdk           *Value // MinSdk is uses-sdk minSdkVersion; nil when absent.
	TargetSdk        *Value // TargetSdk is uses-sdk targetSdkVersion; nil when absent.
}

// LongVersionCode is (versionCodeMajor << 32) | versionCode, the number
// stores and the platform compare; 0 when versionCode is absent.
func (m Manifest) LongVersionCode() int64 {
	var v int64
	if m.VersionCode != nil && m.VersionCode.IsInt() {
		v = int64(m.VersionCode.Data)
	}
	if m.VersionCodeMajor != nil && m.VersionCodeMajor.IsInt() {
		v |= int64(m.VersionCodeMajor.Data) << 32
	}
	return v
}

// Manifest reads the package, version and SDK attributes.
func (f *File) Manifest() (Manifest, error) {
	as, err := f.attrs(f.manifest)
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	for _, a := range as {
		switch a.resID {
		case AttrVersionCode:
			v := a.val
			m.VersionCode = &v
		case AttrVersionName:
			v := a.val
			m.VersionName = &v
		case AttrVersionCodeMajor:
			v := a.val
			m.VersionCodeMajor = &v
		case 0:
			if a.ns != noIndex {
				continue
			}
			name, err := f.str(a.name)
			if err != nil {
				return Manifest{}, err
			}
			if name == "package" && a.val.Type == TypeString {
				m.Package = a.val.String
			}
		}
	}
	if f.usesSdk != nil {
		as, err := f.attrs(*f.usesSdk)
		if err != nil {
			return Manifest{}, err
		}
		if a, ok := findAttr(as, AttrMinSdkVersion); ok {
			v := a.val
			m.MinSdk = &v
		}
		if a, ok := findAttr(as, AttrTargetSdkVersion); ok {
			v := a.val
			m.TargetSdk = &v
		}
	}
	return m, nil
}

// Update is a version change; nil fields are left as they are.
type Update struct {
	VersionCode *uint32 // VersionCode replaces android:versionCode (written as a decimal literal).
	VersionName *string // VersionName replaces android:versionName with a new pool string.
}

// Rewrite returns a new document with u applied. Every chunk other than the
// string pool, the resource map and <manifest> is copied byte for byte; the
// string pool only gains strings at its end, so existing indices stay valid.
// A missing versionCode or versionName attribute is inserted in resource-ID
// order, as aapt2 writes them.
func (f *File) Rewrite(u Update) ([]byte, error) {
	as, err := f.attrs(f.manifest)
	if err != nil {
		return nil, err
	}
	var newStrings []string
	addString := func(s string) uint32 {
		newStrings = append(newStrings, s)
		return uint32(f.pool.count + len(newStrings) - 1)
	}
	resMap := f.resMap
	// Attribute bytes of <manifest>, edited in a copy.
	attrBytes := make([]byte, f.manifest.attrCount*f.manifest.attrSize)
	copy(attrBytes, f.b[f.manifest.attrStart:])
	type insert struct {
		id    uint32
		bytes []byte
	}
	var inserts []insert
	androidNSIdx := uint32(noIndex)

	setAttr := func(id uint32, raw uint32, typ uint8, data uint32) error {
		if a, ok := findAttr(as, id); ok {
			p := attrBytes[a.off-f.manifest.attrStart:]
			binary.LittleEndian.PutUint32(p[8:], raw)
			binary.LittleEndian.PutUint16(p[12:], 8)
			p[14] = 0
			p[15] = typ
			binary.LittleEndian.PutUint32(p[16:], data)
			return nil
		}
		// Insert: the name needs a string whose resource-map entry is id.
		if f.resMapAt < 0 {
			return fmt.Errorf("axml: <manifest> has no attribute 0x%08x and the document has no resource map to add one", id)
		}
		if androidNSIdx == noIndex {
			idx, err := f.findString(androidNS)
			if err != nil {
				return fmt.Errorf("axml: cannot add attribute 0x%08x: %w", id, err)
			}
			androidNSIdx = idx
		}
		nameIdx := uint32(noIndex)
		for i, r := range resMap {
			if r == id {
				nameIdx = uint32(i)
				break
			}
		}
		if nameIdx == noIndex {
			nameIdx = addString(attrName(id))
			// The map is indexed by pool index: pad with 0 (no ID) up to
			// the new string, which lands after every existing string.
			grown := make([]uint32, int(nameIdx)+1)
			copy(grown, resMap)
			grown[nameIdx] = id
			resMap = grown
		}
		a := make([]byte, f.manifest.attrSize)
		binary.LittleEndian.PutUint32(a[0:], androidNSIdx)
		binary.LittleEndian.PutUint32(a[4:], nameIdx)
		binary.LittleEndian.PutUint32(a[8:], raw)
		binary.LittleEndian.PutUint16(a[12:], 8)
		a[15] = typ
		binary.LittleEndian.PutUint32(a[16:], data)
		inserts = append(inserts, insert{id: id, bytes: a})
		return nil
	}

	if u.VersionCode != nil {
		if err := setAttr(AttrVersionCode, noIndex, TypeIntDec, *u.VersionCode); err != nil {
			return nil, err
		}
	}
	if u.VersionName != nil {
		s := *u.VersionName
		if !utf8.ValidString(s) || len(utf16.Encode([]rune(s))) > maxNewString || len(s) > maxNewString {
			return nil, fmt.Errorf("axml: versionName must be valid UTF-8 of at most %d characters", maxNewString)
		}
		idx := addString(s)
		if err := setAttr(AttrVersionName, idx, TypeString, idx); err != nil {
			return nil, err
		}
	}
	if f.pool.count+len(newStrings) > 0x7fffffff {
		return nil, errors.New("axml: string pool full")
	}

	// Build the new <manifest> attribute array, inserting in ID order.
	newAttrs := attrBytes
	idIdx := []int{12 + 2, 12 + 4, 12 + 6} // idIndex, classIndex, styleIndex in attrExt
	ext := make([]byte, f.manifest.attrStart-f.manifest.extOff)
	copy(ext, f.b[f.manifest.extOff:f.manifest.attrStart])
	for _, ins := range inserts {
		cur, _ := parseAttrIDs(newAttrs, f.manifest.attrSize, resMap)
		pos := len(cur)
		for i, id := range cur {
			if id == 0 || id > ins.id {
				pos = i
				break
			}
		}
		at := pos * f.manifest.attrSize
		grown := make([]byte, 0, len(newAttrs)+len(ins.bytes))
		grown = append(grown, newAttrs[:at]...)
		grown = append(grown, ins.bytes...)
		grown = append(grown, newAttrs[at:]...)
		newAttrs = grown
		count := binary.LittleEndian.Uint16(ext[12:])
		if count == 0xffff {
			return nil, errors.New("axml: <manifest> has too many attributes")
		}
		binary.LittleEndian.PutUint16(ext[12:], count+1)
		for _, o := range idIdx[:3] {
			// These are 1-based attribute positions; 0 means none.
			if v := binary.LittleEndian.Uint16(ext[o:]); v != 0 && int(v) > pos {
				binary.LittleEndian.PutUint16(ext[o:], v+1)
			}
		}
	}

	// Assemble the document.
	out := make([]byte, 0, len(f.b)+256)
	xmlHsize := int(binary.LittleEndian.Uint16(f.b[2:]))
	xmlSize := int(binary.LittleEndian.Uint32(f.b[4:]))
	out = append(out, f.b[:xmlHsize]...)
	for off := xmlHsize; off < xmlSize; {
		csize := int(binary.LittleEndian.Uint32(f.b[off+4:]))
		switch {
		case off == f.pool.start:
			out = append(out, f.rebuildPool(newStrings)...)
		case off == f.resMapAt:
			h := int(binary.LittleEndian.Uint16(f.b[off+2:]))
			chunk := append([]byte{}, f.b[off:off+h]...)
			for _, id := range resMap {
				chunk = binary.LittleEndian.AppendUint32(chunk, id)
			}
			binary.LittleEndian.PutUint32(chunk[4:], uint32(len(chunk)))
			out = append(out, chunk...)
		case off == f.manifest.chunk:
			m := f.manifest
			start := len(out)
			out = append(out, f.b[off:m.extOff]...)
			out = append(out, ext...)
			out = append(out, newAttrs...)
			out = append(out, f.b[m.attrStart+m.attrCount*m.attrSize:off+csize]...)
			binary.LittleEndian.PutUint32(out[start+4:], uint32(len(out)-start))
		default:
			out = append(out, f.b[off:off+csize]...)
		}
		off += csize
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)))
	out = append(out, f.b[xmlSize:]...) // trailing bytes, if any, stay
	return out, nil
}

func parseAttrIDs(b []byte, size int, resMap []uint32) ([]uint32, error) {
	n := len(b) / size
	ids := make([]uint32, n)
	for i := range n {
		name := binary.LittleEndian.Uint32(b[i*size+4:])
		if uint64(name) < uint64(len(resMap)) {
			ids[i] = resMap[name]
		}
	}
	return ids, nil
}

func attrName(id uint32) string {
	switch id {
	case AttrVersionCode:
		return "versionCode"
	case AttrVersionName:
		return "versionName"
	}
	return fmt.Sprintf("attr_%08x", id)
}

func (f *File) findString(s string) (uint32, error) {
	for i := range f.pool.count {
		v, err := f.str(uint32(i))
		if err != nil {
			return 0, err
		}
		if v == s {
			return uint32(i), nil
		}
	}
	return 0, fmt.Errorf("string %q not in the pool", s)
}

// rebuildPool returns the pool chunk with extra strings appended. Existing
// string and style bytes are copied as they are; only offsets move.
func (f *File) rebuildPool(extra []string) []byte {
	p := f.pool
	b := f.b[p.start : p.start+p.size]
	if len(extra) == 0 {
		return append([]byte{}, b...)
	}
	data := append([]byte{}, b[p.stringsStart:p.stringDataEnd()]...)
	offs := make([]uint32, 0, p.count+len(extra))
	for i := range p.count {
		offs = append(offs, binary.LittleEndian.Uint32(b[p.headerSize+4*i:]))
	}
	for _, s := range extra {
		offs = append(offs, uint32(len(data)))
		data = appendPoolString(data, s, p.utf8())
	}
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	var styleOffs, styleData []byte
	if p.styleCount > 0 {
		styleOffs = b[p.headerSize+4*p.count : p.headerSize+4*(p.count+p.styleCount)]
		styleData = b[p.stylesStart:]
	}
	out := make([]byte, 0, p.headerSize+4*len(offs)+len(styleOffs)+len(data)+len(styleData))
	out = append(out, b[:p.headerSize]...)
	for _, o := range offs {
		out = binary.LittleEndian.AppendUint32(out, o)
	}
	out = append(out, styleOffs...)
	stringsStart := len(out)
	out = append(out, data...)
	stylesStart := 0
	if p.styleCount > 0 {
		stylesStart = len(out)
		out = append(out, styleData...)
	}
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)))
	binary.LittleEndian.PutUint32(out[8:], uint32(len(offs)))
	// Appending breaks any sort order the pool claimed.
	binary.LittleEndian.PutUint32(out[16:], p.flags&^poolFlagSorted)
	binary.LittleEndian.PutUint32(out[20:], uint32(stringsStart))
	binary.LittleEndian.PutUint32(out[24:], uint32(stylesStart))
	return out
}

// appendPoolString encodes s in the pool's encoding; callers keep s short
// enough for the length prefixes (maxNewString).
func appendPoolString(dst []byte, s string, utf8Pool bool) []byte {
	u := utf16.Encode([]rune(s))
	if utf8Pool {
		dst = appendUTF8Len(dst, len(u))
		dst = appendUTF8Len(dst, len(s))
		dst = append(dst, s...)
		return append(dst, 0)
	}
	if len(u) > 0x7fff {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(u)>>16)|0x8000)
	}
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(u)))
	for _, c := range u {
		dst = binary.LittleEndian.AppendUint16(dst, c)
	}
	return binary.LittleEndian.AppendUint16(dst, 0)
}

func appendUTF8Len(dst []byte, n int) []byte {
	if n > 0x7f {
		return append(dst, byte(n>>8)|0x80, byte(n))
	}
	return append(dst, byte(n))
}
