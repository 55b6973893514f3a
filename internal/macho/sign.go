package macho

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// SignParams says how to sign one slice.
type SignParams struct {
	Ident  string // Ident is the signing identifier (the bundle id for a bundle's executable); "" keeps the original's.
	TeamID string // TeamID is written into each CodeDirectory; "" for ad-hoc.
	// HashTypes lists the CodeDirectory hash types, primary first; the rest
	// go to alternate slots 0x1000, 0x1001, ... Default: the original's
	// types in the original's order, or {HashSHA256} for unsigned input.
	HashTypes []uint8
	// Flags are the CodeDirectory flags; 0 keeps the original's. FlagAdhoc is set when Signer is
	// nil and cleared otherwise; FlagLinkerSigned is kept only when
	// LinkerSigned is set.
	Flags uint32
	// LinkerSigned reproduces the Go and Apple linkers' ad-hoc signature
	// (no requirement set, no CMS); used to check our layout against theirs.
	LinkerSigned bool
	// ExecSegFlags overrides the exec-segment flags; default the original's,
	// or ExecSegMain for an unsigned MH_EXECUTE and 0 otherwise.
	ExecSegFlags *uint64
	InfoPlist    []byte // InfoPlist is the bundle's Info.plist bytes (slot 1); nil for none.
	Resources    []byte // Resources is the bundle's CodeResources bytes (slot 3); nil for none.
	// Requirements is the requirement set blob (slot 2); nil writes an
	// empty set.
	Requirements    []byte
	Entitlements    []byte     // Entitlements is the XML entitlements payload (slot 5); nil for none.
	EntitlementsDER []byte     // EntitlementsDER is the DER entitlements payload (slot 7); nil for none.
	Signer          *CMSSigner // Signer makes the CMS signature; nil signs ad-hoc.
	SigningTime     time.Time  // SigningTime goes into the CMS signed attributes.
	Limits          Limits     // Limits bounds the parse of the input slice.
}

// SignSlice returns data, a thin Mach-O, re-signed as p says. An existing
// signature is replaced in place; an unsigned binary gets LC_CODE_SIGNATURE
// added if the load commands have room, otherwise an error. __LINKEDIT is
// grown or shrunk to end at the new signature.
func SignSlice(ctx context.Context, data []byte, p SignParams) ([]byte, error) {
	s, err := ParseSlice(data, p.Limits)
	if err != nil {
		return nil, err
	}
	if s.CryptID != 0 {
		return nil, fmt.Errorf("%w (cryptid %d)", ErrEncrypted, s.CryptID)
	}
	if s.LinkEdit == nil {
		return nil, formatErr(0, "no __LINKEDIT segment to hold the signature", nil)
	}
	if s.Text == nil {
		return nil, formatErr(0, "no __TEXT segment", nil)
	}
	le := binary.LittleEndian
	linkEnd := s.LinkEdit.FileOff + s.LinkEdit.FileSize
	var codeLimit uint64
	if s.SigCmdOffset >= 0 {
		codeLimit = uint64(s.SigOffset)
		if uint64(s.SigOffset)+uint64(s.SigSize) != linkEnd {
			return nil, formatErr(s.SigCmdOffset, "code signature is not at the end of __LINKEDIT", s.SigOffset)
		}
	} else {
		if linkEnd != uint64(len(data)) {
			return nil, formatErr(s.LinkEdit.CmdOffset, "data after __LINKEDIT; cannot append a signature", len(data))
		}
		codeLimit = (linkEnd + 15) &^ 15
		if uint64(s.HeaderSize)+uint64(s.SizeOfCmds)+16 > s.FirstSection {
			return nil, formatErr(20, "no room after the load commands for LC_CODE_SIGNATURE; relink with -headerpad", s.SizeOfCmds)
		}
	}
	cmdEnd := uint64(s.HeaderSize) + uint64(s.SizeOfCmds)
	if s.SigCmdOffset < 0 {
		cmdEnd += 16
	}
	if codeLimit < cmdEnd {
		return nil, formatErr(s.SigCmdOffset, "code signature overlaps the load commands", codeLimit)
	}
	if codeLimit < s.LinkEdit.FileOff {
		return nil, formatErr(s.LinkEdit.CmdOffset, "__LINKEDIT starts after the signature", s.LinkEdit.FileOff)
	}

	hashTypes := p.HashTypes
	if len(hashTypes) == 0 && s.Signature != nil {
		for _, cd := range s.Signature.CodeDirectories {
			hashTypes = append(hashTypes, cd.HashType)
		}
	}
	if len(hashTypes) == 0 {
		hashTypes = []uint8{HashSHA256}
	}
	if p.Flags == 0 && s.Signature != nil {
		p.Flags = s.Signature.CodeDirectories[0].Flags
	}
	if p.Ident == "" && s.Signature != nil {
		p.Ident = s.Signature.CodeDirectories[0].Ident
	}
	if p.Ident == "" {
		return nil, errors.New("macho: no signing identifier given and none to keep")
	}
	if len(hashTypes) > 5 {
		return nil, fmt.Errorf("macho: %d code directories; at most 5 fit the alternate slots", len(hashTypes))
	}
	flags := p.Flags &^ (FlagAdhoc | FlagLinkerSigned)
	if p.Signer == nil {
		flags |= FlagAdhoc
	}
	if p.LinkerSigned {
		flags |= FlagLinkerSigned
	}
	execFlags := uint64(0)
	if s.Type == TypeExecute {
		execFlags = ExecSegMain
	}
	if s.Signature != nil && s.Signature.CodeDirectories[0].Version >= 0x20400 {
		execFlags = s.Signature.CodeDirectories[0].ExecSegFlags
	}
	if p.ExecSegFlags != nil {
		execFlags = *p.ExecSegFlags
	}

	var blobs []Blob // non-CodeDirectory blobs, keyed by slot
	var special [8][]byte
	if !p.LinkerSigned {
		req := p.Requirements
		if req == nil {
			req = EmptyRequirements()
		}
		blobs = append(blobs, Blob{Slot: SlotRequirements, Data: req})
		special[SlotRequirements] = req
		if p.Entitlements != nil {
			b := WrapBlob(MagicEntitlements, p.Entitlements)
			blobs = append(blobs, Blob{Slot: SlotEntitlements, Data: b})
			special[SlotEntitlements] = b
		}
		if p.EntitlementsDER != nil {
			b := WrapBlob(MagicEntitlementsDER, p.EntitlementsDER)
			blobs = append(blobs, Blob{Slot: SlotEntitlementsDER, Data: b})
			special[SlotEntitlementsDER] = b
		}
		special[SlotInfoPlist] = p.InfoPlist
		special[SlotResourceDir] = p.Resources
		// Slots below the highest are zero-filled; an empty non-nil entry
		// would hash "" instead, so leave them nil.
	}
	params := make([]CodeDirectoryParams, len(hashTypes))
	size := 12 + 8*(len(hashTypes)+len(blobs))
	for i, t := range hashTypes {
		params[i] = CodeDirectoryParams{
			Ident: p.Ident, TeamID: p.TeamID, Flags: flags, HashType: t, PageSizeLog2: 12,
			CodeLimit: codeLimit, ExecSegBase: s.Text.FileOff, ExecSegLimit: s.Text.FileSize,
			ExecSegFlags: execFlags, Special: special,
		}
		n, err := codeDirectorySize(&params[i])
		if err != nil {
			return nil, err
		}
		size += n
	}
	for _, b := range blobs {
		size += len(b.Data)
	}
	if p.Signer != nil {
		// The CMS size is known only after signing, which needs the
		// CodeDirectories, which need the size: reserve an upper bound (its
		// index entry, wrapper header and estimate) and pad with zeros.
		size += 8 + 8 + p.Signer.sizeEstimate(len(hashTypes))
		size = (size + 15) &^ 15
	}
	if uint64(size) > 1<<32-1-codeLimit {
		return nil, formatErr(0, "signed slice would exceed 4 GiB", size)
	}

	out := make([]byte, codeLimit+uint64(size))
	copy(out, data[:min(uint64(len(data)), codeLimit)])
	// Point LC_CODE_SIGNATURE at the new signature, adding it if needed.
	sigCmd := s.SigCmdOffset
	if sigCmd < 0 {
		sigCmd = int64(s.HeaderSize) + int64(s.SizeOfCmds)
		le.PutUint32(out[sigCmd:], LoadCodeSignature)
		le.PutUint32(out[sigCmd+4:], 16)
		le.PutUint32(out[16:], s.NCmds+1)
		le.PutUint32(out[20:], s.SizeOfCmds+16)
	}
	le.PutUint32(out[sigCmd+8:], uint32(codeLimit))
	le.PutUint32(out[sigCmd+12:], uint32(size))
	// Grow __LINKEDIT to end at the signature.
	newFileSize := codeLimit + uint64(size) - s.LinkEdit.FileOff
	le2 := s.LinkEdit.CmdOffset
	if s.Is64 {
		le.PutUint64(out[le2+48:], newFileSize)
		if s.LinkEdit.VMSize < newFileSize {
			le.PutUint64(out[le2+32:], alignUp(newFileSize, 0x4000))
		}
	} else {
		le.PutUint32(out[le2+36:], uint32(newFileSize))
		if s.LinkEdit.VMSize < newFileSize {
			le.PutUint32(out[le2+28:], uint32(alignUp(newFileSize, 0x4000)))
		}
	}

	cds, err := BuildCodeDirectories(out[:codeLimit], params)
	if err != nil {
		return nil, err
	}
	all := make([]Blob, 0, len(cds)+len(blobs)+1)
	all = append(all, Blob{Slot: SlotCodeDirectory, Data: cds[0]})
	all = append(all, blobs...)
	for i, cd := range cds[1:] {
		all = append(all, Blob{Slot: SlotAlternateCD + uint32(i), Data: cd})
	}
	if p.Signer != nil {
		cms, err := p.Signer.Sign(ctx, cds, hashTypes, p.SigningTime)
		if err != nil {
			return nil, err
		}
		all = append(all, Blob{Slot: SlotSignature, Data: WrapBlob(MagicBlobWrapper, cms)})
	}
	sb := BuildSuperBlob(all)
	if len(sb) > size {
		return nil, fmt.Errorf("macho: signature of %d bytes exceeds the %d reserved; the CMS estimate is too small", len(sb), size)
	}
	copy(out[codeLimit:], sb)
	return out, nil
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
