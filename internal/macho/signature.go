package macho

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // SHA-1 code directories are part of the format for old iOS targets
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
)

// Blob magics of the code-signing format. All signature structures are
// big-endian.
const (
	MagicSuperBlob       = 0xfade0cc0 // MagicSuperBlob is the embedded signature container.
	MagicCodeDirectory   = 0xfade0c02 // MagicCodeDirectory is a CodeDirectory.
	MagicRequirements    = 0xfade0c01 // MagicRequirements is a requirement set.
	MagicRequirement     = 0xfade0c00 // MagicRequirement is one requirement.
	MagicEntitlements    = 0xfade7171 // MagicEntitlements is the XML entitlements blob.
	MagicEntitlementsDER = 0xfade7172 // MagicEntitlementsDER is the DER entitlements blob.
	MagicBlobWrapper     = 0xfade0b01 // MagicBlobWrapper wraps the CMS signature.
)

// Slots of a superblob and special slots of a CodeDirectory.
const (
	SlotCodeDirectory   = 0       // SlotCodeDirectory holds the primary CodeDirectory.
	SlotInfoPlist       = 1       // SlotInfoPlist binds the bundle's Info.plist bytes.
	SlotRequirements    = 2       // SlotRequirements holds the requirement set.
	SlotResourceDir     = 3       // SlotResourceDir binds _CodeSignature/CodeResources.
	SlotApplication     = 4       // SlotApplication is unused on iOS.
	SlotEntitlements    = 5       // SlotEntitlements holds the XML entitlements.
	SlotRepSpecific     = 6       // SlotRepSpecific is unused on iOS.
	SlotEntitlementsDER = 7       // SlotEntitlementsDER holds the DER entitlements (iOS 15+).
	SlotAlternateCD     = 0x1000  // SlotAlternateCD is the first alternate CodeDirectory.
	SlotSignature       = 0x10000 // SlotSignature holds the CMS blob wrapper.
)

// CodeDirectory hash types.
const (
	HashSHA1         = 1 // HashSHA1 is SHA-1, 20 bytes.
	HashSHA256       = 2 // HashSHA256 is SHA-256, 32 bytes.
	HashSHA256Trunc  = 3 // HashSHA256Trunc is SHA-256 truncated to 20 bytes.
	HashSHA384       = 4 // HashSHA384 is SHA-384, 48 bytes.
	maxSpecialSlots  = 64
	codeDirHeaderLen = 88 // version 0x20400 header
)

// CodeDirectory flags and exec-segment flags signing sets or clears.
const (
	FlagAdhoc        = 0x2     // FlagAdhoc marks a signature without CMS.
	FlagRuntime      = 0x10000 // FlagRuntime is the hardened runtime (macOS).
	FlagLinkerSigned = 0x20000 // FlagLinkerSigned marks the linker's ad-hoc signature; cleared on re-sign.
	ExecSegMain      = 0x1     // ExecSegMain marks the main executable.
)

// NewHash returns the hash function for a CodeDirectory hash type.
func NewHash(t uint8) (hash.Hash, int, error) {
	switch t {
	case HashSHA1:
		return sha1.New(), 20, nil //nolint:gosec // format-mandated
	case HashSHA256:
		return sha256.New(), 32, nil
	case HashSHA256Trunc:
		return sha256.New(), 20, nil
	case HashSHA384:
		return sha512.New384(), 48, nil
	}
	return nil, 0, fmt.Errorf("macho: unsupported code directory hash type %d", t)
}

// HashBytes hashes b with hash type t, truncated to the type's size.
func HashBytes(t uint8, b []byte) ([]byte, error) {
	h, n, err := NewHash(t)
	if err != nil {
		return nil, err
	}
	h.Write(b)
	return h.Sum(nil)[:n], nil
}

// Blob is one entry of a superblob.
type Blob struct {
	Slot uint32 // Slot is the index type (SlotCodeDirectory, ...).
	Data []byte // Data is the whole blob, magic and length included.
}

// Magic is the blob's magic number.
func (b Blob) Magic() uint32 { return binary.BigEndian.Uint32(b.Data) }

// Signature is a parsed embedded signature superblob.
type Signature struct {
	Blobs []Blob // Blobs are in index order.
	// CodeDirectories are the primary (slot 0) first, then alternates.
	CodeDirectories []*CodeDirectory
}

// Blob returns the blob in slot, or nil.
func (s *Signature) Blob(slot uint32) []byte {
	for _, b := range s.Blobs {
		if b.Slot == slot {
			return b.Data
		}
	}
	return nil
}

// Entitlements is the XML entitlements payload (slot 5), or nil.
func (s *Signature) Entitlements() []byte { return payload(s.Blob(SlotEntitlements)) }

// EntitlementsDER is the DER entitlements payload (slot 7), or nil.
func (s *Signature) EntitlementsDER() []byte { return payload(s.Blob(SlotEntitlementsDER)) }

// CMS is the DER CMS SignedData (slot 0x10000), or nil; ad-hoc signatures
// have none or an empty wrapper.
func (s *Signature) CMS() []byte { return payload(s.Blob(SlotSignature)) }

func payload(b []byte) []byte {
	if len(b) < 8 {
		return nil
	}
	return b[8:]
}

// ParseSignature parses an embedded signature superblob. Trailing zero
// padding after the superblob is allowed, as signers reserve space.
func ParseSignature(b []byte, lim Limits) (*Signature, error) {
	lim = lim.withDefaults()
	be := binary.BigEndian
	if len(b) < 12 {
		return nil, formatErr(0, "signature shorter than a superblob header", len(b))
	}
	if m := be.Uint32(b); m != MagicSuperBlob {
		return nil, formatErr(0, "bad superblob magic", fmt.Sprintf("0x%x", m))
	}
	length, count := be.Uint32(b[4:]), be.Uint32(b[8:])
	if length < 12 || uint64(length) > uint64(len(b)) {
		return nil, formatErr(4, "superblob length out of range", length)
	}
	b = b[:length]
	if int(count) > lim.MaxBlobs || uint64(count) > uint64(length-12)/8 {
		return nil, formatErr(8, "superblob blob count out of range", count)
	}
	s := &Signature{}
	for i := range int(count) {
		slot, off := be.Uint32(b[12+8*i:]), be.Uint32(b[16+8*i:])
		if off < 12+8*count || uint64(off)+8 > uint64(length) {
			return nil, formatErr(int64(16+8*i), "blob offset out of range", off)
		}
		bl := be.Uint32(b[off+4:])
		if bl < 8 || uint64(off)+uint64(bl) > uint64(length) {
			return nil, formatErr(int64(off+4), "blob length out of range", bl)
		}
		data := b[off : off+bl]
		s.Blobs = append(s.Blobs, Blob{Slot: slot, Data: data})
		if slot == SlotCodeDirectory || slot >= SlotAlternateCD && slot < SlotAlternateCD+5 {
			cd, err := ParseCodeDirectory(data)
			if err != nil {
				return nil, fmt.Errorf("slot 0x%x: %w", slot, err)
			}
			cd.Slot = slot
			if slot == SlotCodeDirectory {
				s.CodeDirectories = append([]*CodeDirectory{cd}, s.CodeDirectories...)
			} else {
				s.CodeDirectories = append(s.CodeDirectories, cd)
			}
		}
	}
	if len(s.CodeDirectories) == 0 || s.CodeDirectories[0].Slot != SlotCodeDirectory {
		return nil, formatErr(0, "signature has no primary code directory", nil)
	}
	return s, nil
}

// CodeDirectory is a parsed CodeDirectory blob.
type CodeDirectory struct {
	Raw          []byte   // Raw is the whole blob; its hash is the cdhash.
	Slot         uint32   // Slot is the superblob slot it came from.
	Version      uint32   // Version is the structure version (0x20400 and so on).
	Flags        uint32   // Flags are the code-signing flags (FlagAdhoc, ...).
	HashType     uint8    // HashType is HashSHA1, HashSHA256, ...
	HashSize     uint8    // HashSize is the size of each slot hash.
	Platform     uint8    // Platform is the platform byte (0 for third-party code).
	PageSizeLog2 uint8    // PageSizeLog2 is log2 of the page size; 0 means one page.
	Ident        string   // Ident is the signing identifier.
	TeamID       string   // TeamID is the team identifier; "" for ad-hoc.
	CodeLimit    uint64   // CodeLimit is where the hashed code ends (the signature's offset).
	ExecSegBase  uint64   // ExecSegBase is __TEXT's file offset.
	ExecSegLimit uint64   // ExecSegLimit is __TEXT's file size.
	ExecSegFlags uint64   // ExecSegFlags holds ExecSegMain and friends.
	Special      [][]byte // Special[i] is the hash of special slot i+1.
	Code         [][]byte // Code[i] is the hash of page i.
}

// CDHash is the full hash of the CodeDirectory blob with its own hash type;
// signers and CodeResources truncate it to 20 bytes.
func (cd *CodeDirectory) CDHash() []byte {
	h, _ := HashBytes(cd.HashType, cd.Raw) // the type was checked by the parser
	return h
}

// ParseCodeDirectory parses one CodeDirectory blob.
func ParseCodeDirectory(b []byte) (*CodeDirectory, error) {
	be := binary.BigEndian
	if len(b) < 44 {
		return nil, formatErr(0, "code directory truncated", len(b))
	}
	if m := be.Uint32(b); m != MagicCodeDirectory {
		return nil, formatErr(0, "bad code directory magic", fmt.Sprintf("0x%x", m))
	}
	if int(be.Uint32(b[4:])) != len(b) {
		return nil, formatErr(4, "code directory length mismatch", be.Uint32(b[4:]))
	}
	cd := &CodeDirectory{
		Raw: b, Version: be.Uint32(b[8:]), Flags: be.Uint32(b[12:]),
		CodeLimit: uint64(be.Uint32(b[32:])), HashSize: b[36], HashType: b[37], Platform: b[38], PageSizeLog2: b[39],
	}
	hashOff, identOff := be.Uint32(b[16:]), be.Uint32(b[20:])
	nSpecial, nCode := be.Uint32(b[24:]), be.Uint32(b[28:])
	_, size, err := NewHash(cd.HashType)
	if err != nil {
		return nil, formatErr(37, "unsupported hash type", cd.HashType)
	}
	if int(cd.HashSize) != size {
		return nil, formatErr(36, "hash size does not match hash type", cd.HashSize)
	}
	if cd.PageSizeLog2 != 0 && (cd.PageSizeLog2 < 9 || cd.PageSizeLog2 > 24) {
		return nil, formatErr(39, "page size out of range", cd.PageSizeLog2)
	}
	hdr := 44
	if cd.Version >= 0x20200 && len(b) >= 52 {
		if t := be.Uint32(b[48:]); t != 0 {
			s, err := cString(b, t)
			if err != nil {
				return nil, err
			}
			cd.TeamID = s
		}
		hdr = 52
	}
	if cd.Version >= 0x20300 {
		if len(b) < 64 {
			return nil, formatErr(52, "code directory v0x20300 header truncated", len(b))
		}
		if l := be.Uint64(b[56:]); l != 0 {
			cd.CodeLimit = l
		}
		hdr = 64
	}
	if cd.Version >= 0x20400 {
		if len(b) < 88 {
			return nil, formatErr(64, "code directory v0x20400 header truncated", len(b))
		}
		cd.ExecSegBase, cd.ExecSegLimit, cd.ExecSegFlags = be.Uint64(b[64:]), be.Uint64(b[72:]), be.Uint64(b[80:])
		hdr = 88
	}
	if identOff < uint32(hdr) {
		return nil, formatErr(20, "identifier offset inside the header", identOff)
	}
	if cd.Ident, err = cString(b, identOff); err != nil {
		return nil, err
	}
	if nSpecial > maxSpecialSlots {
		return nil, formatErr(24, "special slot count out of range", nSpecial)
	}
	hs := uint64(cd.HashSize)
	if uint64(hashOff) < uint64(nSpecial)*hs || uint64(hashOff)+uint64(nCode)*hs > uint64(len(b)) {
		return nil, formatErr(16, "hash slots outside the code directory", fmt.Sprintf("offset %d special %d code %d", hashOff, nSpecial, nCode))
	}
	if uint64(hashOff)-uint64(nSpecial)*hs < uint64(hdr) {
		return nil, formatErr(16, "special slots overlap the header", hashOff)
	}
	if want := pageCount(cd.CodeLimit, cd.PageSizeLog2); want != uint64(nCode) {
		return nil, formatErr(28, "code slot count does not cover the code limit", fmt.Sprintf("%d slots for %d bytes", nCode, cd.CodeLimit))
	}
	cd.Special = make([][]byte, nSpecial)
	for i := range nSpecial {
		at := uint64(hashOff) - uint64(i+1)*hs
		cd.Special[i] = b[at : at+hs]
	}
	cd.Code = make([][]byte, nCode)
	for i := range uint64(nCode) {
		at := uint64(hashOff) + i*hs
		cd.Code[i] = b[at : at+hs]
	}
	return cd, nil
}

func pageCount(limit uint64, log2 uint8) uint64 {
	if log2 == 0 {
		if limit == 0 {
			return 0
		}
		return 1
	}
	ps := uint64(1) << log2
	return (limit + ps - 1) / ps
}

func cString(b []byte, off uint32) (string, error) {
	if uint64(off) >= uint64(len(b)) {
		return "", formatErr(int64(off), "string offset outside the blob", off)
	}
	i := bytes.IndexByte(b[off:], 0)
	if i < 0 {
		return "", formatErr(int64(off), "string not NUL-terminated", nil)
	}
	return string(b[off : off+uint32(i)]), nil
}

// CodeDirectoryParams describes a CodeDirectory to build.
type CodeDirectoryParams struct {
	Ident        string // Ident is the signing identifier (the bundle id for a bundle).
	TeamID       string // TeamID is the team id; "" for ad-hoc.
	Flags        uint32 // Flags are the code-signing flags.
	HashType     uint8  // HashType is HashSHA256 and so on.
	PageSizeLog2 uint8  // PageSizeLog2 is 12 (4 KiB) for iOS.
	CodeLimit    uint64 // CodeLimit is the signature's file offset.
	ExecSegBase  uint64 // ExecSegBase is __TEXT's file offset.
	ExecSegLimit uint64 // ExecSegLimit is __TEXT's file size.
	ExecSegFlags uint64 // ExecSegFlags holds ExecSegMain and friends.
	// Special holds the bytes whose hashes fill special slots; index i is
	// slot i (index 0 unused). nil entries are zero-filled; the slot count is
	// the highest non-nil index.
	Special [8][]byte
}

// codeDirectorySize is the blob size for p, known before hashing so the
// signature size can be written into the load commands first.
func codeDirectorySize(p *CodeDirectoryParams) (int, error) {
	_, hs, err := NewHash(p.HashType)
	if err != nil {
		return 0, err
	}
	n := codeDirHeaderLen + len(p.Ident) + 1
	if p.TeamID != "" {
		n += len(p.TeamID) + 1
	}
	n += (nSpecial(p) + int(pageCount(p.CodeLimit, p.PageSizeLog2))) * hs
	return n, nil
}

func nSpecial(p *CodeDirectoryParams) int {
	n := 0
	for i := 1; i < len(p.Special); i++ {
		if p.Special[i] != nil {
			n = i
		}
	}
	return n
}

// BuildCodeDirectories hashes the first CodeLimit bytes of code once and
// returns one CodeDirectory blob per params entry, in order. All entries must
// share CodeLimit and PageSizeLog2.
func BuildCodeDirectories(code []byte, ps []CodeDirectoryParams) ([][]byte, error) {
	if len(ps) == 0 {
		return nil, fmt.Errorf("macho: no code directory requested")
	}
	limit, log2 := ps[0].CodeLimit, ps[0].PageSizeLog2
	if limit > uint64(len(code)) {
		return nil, fmt.Errorf("macho: code limit %d beyond %d bytes of code", limit, len(code))
	}
	if limit > 1<<32-1 {
		return nil, fmt.Errorf("macho: code limit %d needs codeLimit64; slices over 4 GiB are not supported", limit)
	}
	out := make([][]byte, len(ps))
	hashes := make([]hash.Hash, len(ps))
	sizes := make([]int, len(ps))
	pos := make([]int, len(ps))
	for i := range ps {
		p := &ps[i]
		if p.CodeLimit != limit || p.PageSizeLog2 != log2 {
			return nil, fmt.Errorf("macho: code directories disagree on code limit or page size")
		}
		size, err := codeDirectorySize(p)
		if err != nil {
			return nil, err
		}
		h, hs, _ := NewHash(p.HashType)
		hashes[i], sizes[i] = h, hs
		b := make([]byte, size)
		be := binary.BigEndian
		ns := nSpecial(p)
		identOff := codeDirHeaderLen
		teamOff := 0
		next := identOff + len(p.Ident) + 1
		if p.TeamID != "" {
			teamOff = next
			next += len(p.TeamID) + 1
		}
		hashOff := next + ns*hs
		be.PutUint32(b[0:], MagicCodeDirectory)
		be.PutUint32(b[4:], uint32(size))
		be.PutUint32(b[8:], 0x20400)
		be.PutUint32(b[12:], p.Flags)
		be.PutUint32(b[16:], uint32(hashOff))
		be.PutUint32(b[20:], uint32(identOff))
		be.PutUint32(b[24:], uint32(ns))
		be.PutUint32(b[28:], uint32(pageCount(limit, log2)))
		be.PutUint32(b[32:], uint32(limit))
		b[36], b[37], b[39] = byte(hs), p.HashType, log2
		be.PutUint32(b[48:], uint32(teamOff))
		be.PutUint64(b[64:], p.ExecSegBase)
		be.PutUint64(b[72:], p.ExecSegLimit)
		be.PutUint64(b[80:], p.ExecSegFlags)
		copy(b[identOff:], p.Ident)
		if teamOff != 0 {
			copy(b[teamOff:], p.TeamID)
		}
		for slot := 1; slot <= ns; slot++ {
			if p.Special[slot] == nil {
				continue
			}
			h.Reset()
			h.Write(p.Special[slot])
			copy(b[hashOff-slot*hs:], h.Sum(nil)[:hs])
		}
		out[i], pos[i] = b, hashOff
	}
	page := limit
	if log2 != 0 {
		page = 1 << log2
	}
	var sum [64]byte
	for off := uint64(0); off < limit; off += page {
		end := min(off+page, limit)
		for i, h := range hashes {
			hs := sizes[i]
			h.Reset()
			h.Write(code[off:end])
			copy(out[i][pos[i]:], h.Sum(sum[:0])[:hs])
			pos[i] += hs
		}
	}
	return out, nil
}

// EmptyRequirements is a requirement set with no requirements. Signers
// always emit one, because verification fails without it.
func EmptyRequirements() []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint32(b, MagicRequirements)
	binary.BigEndian.PutUint32(b[4:], 12)
	return b
}

// Requirement expression opcodes and match operators.
const (
	opIdentifier         = 2
	opAnd                = 6
	opCertField          = 11
	opCertGeneric        = 14
	opAnchorAppleGeneric = 15
	matchExists          = 0
	matchEqual           = 1
	reqDesignated        = 3
	reqKindExpr          = 1
)

// oidAppleIOSDistribution is field.1.2.840.113635.100.6.2.1, the WWDR
// intermediate marker, DER-encoded without tag and length.
var oidAppleWWDRMarker = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x02, 0x01}

// DesignatedRequirement builds the requirement set Xcode writes for code
// signed by a WWDR-issued certificate and returns it with its text form,
// which parents record in CodeResources for nested code.
func DesignatedRequirement(ident, leafCN string) (blob []byte, text string) {
	var e []byte
	u32 := func(v uint32) { e = binary.BigEndian.AppendUint32(e, v) }
	data := func(s []byte) {
		u32(uint32(len(s)))
		e = append(e, s...)
		for len(e)%4 != 0 {
			e = append(e, 0)
		}
	}
	// "a and b and c and d" nests to the right: and(a, and(b, and(c, d))).
	u32(opAnd)
	u32(opIdentifier)
	data([]byte(ident))
	u32(opAnd)
	u32(opAnchorAppleGeneric)
	u32(opAnd)
	u32(opCertField)
	u32(0) // leaf
	data([]byte("subject.CN"))
	u32(matchEqual)
	data([]byte(leafCN))
	u32(opCertGeneric)
	u32(1)
	data(oidAppleWWDRMarker)
	u32(matchExists)

	req := make([]byte, 12, 12+len(e))
	binary.BigEndian.PutUint32(req, MagicRequirement)
	binary.BigEndian.PutUint32(req[4:], uint32(12+len(e)))
	binary.BigEndian.PutUint32(req[8:], reqKindExpr)
	req = append(req, e...)

	set := make([]byte, 20, 20+len(req))
	binary.BigEndian.PutUint32(set, MagicRequirements)
	binary.BigEndian.PutUint32(set[4:], uint32(20+len(req)))
	binary.BigEndian.PutUint32(set[8:], 1)
	binary.BigEndian.PutUint32(set[12:], reqDesignated)
	binary.BigEndian.PutUint32(set[16:], 20)
	set = append(set, req...)
	text = fmt.Sprintf(`identifier "%s" and anchor apple generic and certificate leaf[subject.CN] = "%s" and certificate 1[field.1.2.840.113635.100.6.2.1] /* exists */`, ident, leafCN)
	return set, text
}

// WrapBlob prefixes payload with magic and length.
func WrapBlob(magic uint32, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(b, magic)
	binary.BigEndian.PutUint32(b[4:], uint32(8+len(payload)))
	return append(b, payload...)
}

// BuildSuperBlob lays blobs out in the given order behind a superblob index.
func BuildSuperBlob(blobs []Blob) []byte {
	n := 12 + 8*len(blobs)
	total := n
	for _, b := range blobs {
		total += len(b.Data)
	}
	out := make([]byte, n, total)
	be := binary.BigEndian
	be.PutUint32(out, MagicSuperBlob)
	be.PutUint32(out[4:], uint32(total))
	be.PutUint32(out[8:], uint32(len(blobs)))
	off := n
	for i, b := range blobs {
		be.PutUint32(out[12+8*i:], b.Slot)
		be.PutUint32(out[16+8*i:], uint32(off))
		off += len(b.Data)
		out = append(out, b.Data...)
	}
	return out
}
