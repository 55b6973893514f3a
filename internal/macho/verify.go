package macho

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"howett.net/plist"
)

// ErrVerify is matched by every verification failure, so callers can tell
// a bad signature from unreadable input.
var ErrVerify = errors.New("macho: signature does not verify")

func verifyErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrVerify, fmt.Sprintf(format, a...))
}

// VerifyInputs are the bundle files special slots bind.
type VerifyInputs struct {
	InfoPlist []byte // InfoPlist is the bundle's Info.plist (slot 1); nil if the binary is not a bundle executable.
	Resources []byte // Resources is _CodeSignature/CodeResources (slot 3); nil likewise.
}

// SliceCheck is what verification learned about one signed slice.
type SliceCheck struct {
	Arch         string              // Arch names the CPU.
	Ident        string              // Ident is the signing identifier.
	TeamID       string              // TeamID is the CodeDirectory's team id.
	Flags        uint32              // Flags are the primary CodeDirectory flags.
	HashTypes    []uint8             // HashTypes are the CodeDirectory hash types, primary first.
	CDHash       []byte              // CDHash is the primary CodeDirectory's full hash.
	Adhoc        bool                // Adhoc is true when there is no CMS signature.
	Signer       *x509.Certificate   // Signer is the CMS signing certificate; nil for ad-hoc.
	Certificates []*x509.Certificate // Certificates are all certificates in the CMS.
	Entitlements []byte              // Entitlements is the XML entitlements payload.
	Slice        *Slice              // Slice is the parsed slice.
}

// VerifyFile verifies every slice of a thin or universal Mach-O.
func VerifyFile(data []byte, in VerifyInputs, lim Limits) ([]*SliceCheck, error) {
	f, err := Parse(byteReaderAt(data), int64(len(data)), lim)
	if err != nil {
		return nil, err
	}
	var out []*SliceCheck
	for _, s := range f.Slices {
		c, err := verifySlice(data[s.Offset:s.Offset+s.Size], s, in)
		if err != nil {
			return nil, fmt.Errorf("slice %s: %w", s.Arch(), err)
		}
		out = append(out, c)
	}
	return out, nil
}

func verifySlice(data []byte, s *Slice, in VerifyInputs) (*SliceCheck, error) {
	sig := s.Signature
	if sig == nil {
		return nil, verifyErr("not signed")
	}
	if s.CryptID != 0 {
		return nil, ErrEncrypted
	}
	c := &SliceCheck{Arch: s.Arch(), Slice: s, Entitlements: sig.Entitlements()}
	primary := sig.CodeDirectories[0]
	c.Ident, c.TeamID, c.Flags, c.CDHash = primary.Ident, primary.TeamID, primary.Flags, primary.CDHash()
	blobFor := map[int][]byte{
		SlotInfoPlist: in.InfoPlist, SlotResourceDir: in.Resources,
		SlotRequirements: sig.Blob(SlotRequirements), SlotEntitlements: sig.Blob(SlotEntitlements),
		SlotEntitlementsDER: sig.Blob(SlotEntitlementsDER),
	}
	for _, cd := range sig.CodeDirectories {
		c.HashTypes = append(c.HashTypes, cd.HashType)
		if cd.Ident != primary.Ident || cd.CodeLimit != primary.CodeLimit {
			return nil, verifyErr("code directory in slot 0x%x disagrees with the primary", cd.Slot)
		}
		if cd.CodeLimit != uint64(s.SigOffset) {
			return nil, verifyErr("code limit %d is not the signature offset %d", cd.CodeLimit, s.SigOffset)
		}
		page := cd.CodeLimit
		if cd.PageSizeLog2 != 0 {
			page = 1 << cd.PageSizeLog2
		}
		h, hs, _ := NewHash(cd.HashType) // the parser checked the type
		var sum [64]byte
		for i, want := range cd.Code {
			off := uint64(i) * page
			h.Reset()
			h.Write(data[off:min(off+page, cd.CodeLimit)])
			if got := h.Sum(sum[:0])[:hs]; !bytes.Equal(got, want) {
				return nil, verifyErr("page %d (offset 0x%x) hash mismatch in %s code directory", i, off, hashName(cd.HashType))
			}
		}
		for i, want := range cd.Special {
			slot := i + 1
			content, known := blobFor[slot]
			zero := bytes.Count(want, []byte{0}) == len(want)
			if !known {
				if !zero {
					return nil, verifyErr("special slot %d is set but not checked", slot)
				}
				continue
			}
			if content == nil {
				if zero {
					continue
				}
				if slot == SlotInfoPlist || slot == SlotResourceDir {
					return nil, verifyErr("special slot %d binds a file that is missing", slot)
				}
				return nil, verifyErr("special slot %d set but its blob is missing", slot)
			}
			got, _ := HashBytes(cd.HashType, content)
			if !bytes.Equal(got, want) {
				return nil, verifyErr("special slot %d (%s) hash mismatch", slot, slotName(slot))
			}
		}
		for _, slot := range []int{SlotInfoPlist, SlotResourceDir, SlotRequirements, SlotEntitlements, SlotEntitlementsDER} {
			if blobFor[slot] != nil && slot > len(cd.Special) && (slot != SlotInfoPlist && slot != SlotResourceDir) {
				return nil, verifyErr("%s blob present but not bound by special slot %d", slotName(slot), slot)
			}
		}
	}
	cms := sig.CMS()
	if len(cms) == 0 {
		if primary.Flags&FlagAdhoc == 0 {
			return nil, verifyErr("no CMS signature and not flagged ad-hoc")
		}
		c.Adhoc = true
		return c, nil
	}
	p, err := ParseCMS(cms)
	if err != nil {
		return nil, fmt.Errorf("CMS blob: %w", err)
	}
	signer, err := p.Verify(primary.Raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	c.Signer, c.Certificates = signer, p.Certificates
	if err := checkCDHashAttrs(p, sig.CodeDirectories); err != nil {
		return nil, err
	}
	return c, nil
}

func checkCDHashAttrs(p *CMS, cds []*CodeDirectory) error {
	vals := p.Attribute(OIDCDHashesPlist)
	if len(vals) == 0 {
		return nil // older signatures carry no CDHashes attributes
	}
	var octets []byte
	if _, err := asn1.Unmarshal(vals[0], &octets); err != nil {
		return verifyErr("CDHashes plist attribute is not an OCTET STRING")
	}
	var pl struct {
		CDHashes [][]byte `plist:"cdhashes"`
	}
	if _, err := plist.Unmarshal(octets, &pl); err != nil {
		return verifyErr("CDHashes plist attribute: %v", err)
	}
	if len(pl.CDHashes) != len(cds) {
		return verifyErr("CDHashes attribute lists %d hashes for %d code directories", len(pl.CDHashes), len(cds))
	}
	for i, cd := range cds {
		h := cd.CDHash()
		if !bytes.Equal(pl.CDHashes[i], h[:min(20, len(h))]) {
			return verifyErr("CDHashes attribute entry %d does not match code directory in slot 0x%x", i, cd.Slot)
		}
	}
	return nil
}

func hashName(t uint8) string {
	switch t {
	case HashSHA1:
		return "SHA-1"
	case HashSHA256:
		return "SHA-256"
	case HashSHA256Trunc:
		return "SHA-256/20"
	case HashSHA384:
		return "SHA-384"
	}
	return fmt.Sprintf("type-%d", t)
}

// HashName names a CodeDirectory hash type for reports.
func HashName(t uint8) string { return hashName(t) }

func slotName(slot int) string {
	switch slot {
	case SlotInfoPlist:
		return "Info.plist"
	case SlotRequirements:
		return "requirements"
	case SlotResourceDir:
		return "CodeResources"
	case SlotEntitlements:
		return "entitlements"
	case SlotEntitlementsDER:
		return "DER entitlements"
	}
	return fmt.Sprintf("slot %d", slot)
}
