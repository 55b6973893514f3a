package apksig

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
)

// Lineage flags, per node: what the older key may still do.
const (
	LineageInstalledData = 1  // LineageInstalledData lets the old key's data be kept.
	LineageSharedUID     = 2  // LineageSharedUID lets apps signed with it share a UID.
	LineagePermission    = 4  // LineagePermission grants its signature permissions.
	LineageRollback      = 8  // LineageRollback lets an update signed with it be installed.
	LineageAuth          = 16 // LineageAuth lets it authenticate.
)

// LineageNode is one certificate of a key-rotation lineage, oldest first.
type LineageNode struct {
	SignedData   []byte // SignedData is the exact bytes the previous key signed: Cert and ParentSigAlg, encoded.
	Cert         []byte // Cert is the DER certificate.
	ParentSigAlg uint32 // ParentSigAlg is the algorithm the previous key signed this node with.
	Flags        uint32 // Flags are the capabilities granted to this (older) key.
	SigAlg       uint32 // SigAlg is the algorithm recorded for this node's own signature field.
	Signature    []byte // Signature is the previous key's signature over the node's signed data.
}

// MaxLineageNodes caps the certificates of a lineage: each costs a
// signature verification, and real apps rotate a handful of times at most.
const MaxLineageNodes = 64

// ParseLineage reads a proof-of-rotation attribute value (the v3 signer
// attribute AttrProofOfRotation) and checks that each node is signed by the
// one before it and that no certificate repeats.
//
// Layout, little-endian: u32 version (1), then length-prefixed nodes, each
// length-prefixed signed data (length-prefixed DER certificate, u32
// algorithm the previous key signed it with), u32 flags, u32 algorithm
// this node's key signs the next node with, length-prefixed signature by
// the previous key over the signed data (empty for the first node).
func ParseLineage(b []byte) ([]LineageNode, error) {
	r := &lpReader{b: b}
	if v := r.u32(); r.err == nil && v != 1 {
		return nil, &FormatError{Msg: "unsupported lineage version", Val: v}
	}
	if r.err != nil {
		return nil, r.err
	}
	items, err := lpList(b[r.off:])
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, &FormatError{Msg: "empty lineage"}
	}
	if len(items) > MaxLineageNodes {
		return nil, &FormatError{Msg: "too many lineage nodes", Val: len(items)}
	}
	nodes := make([]LineageNode, 0, len(items))
	for i, it := range items {
		nr := &lpReader{b: it}
		signed := nr.lp()
		n := LineageNode{SignedData: signed, Flags: nr.u32(), SigAlg: nr.u32(), Signature: nr.lp()}
		sr := &lpReader{b: signed}
		n.Cert = sr.lp()
		n.ParentSigAlg = sr.u32()
		if nr.err != nil || sr.err != nil {
			return nil, fmt.Errorf("lineage node %d: %w", i, errors.Join(nr.err, sr.err))
		}
		for j := range nodes {
			if bytes.Equal(nodes[j].Cert, n.Cert) {
				return nil, &FormatError{Msg: fmt.Sprintf("lineage node %d repeats the certificate of node %d", i, j)}
			}
		}
		if i > 0 {
			prev, err := x509.ParseCertificate(nodes[i-1].Cert)
			if err != nil {
				return nil, fmt.Errorf("lineage node %d: certificate: %w", i-1, err)
			}
			if err := verifySig(prev.RawSubjectPublicKeyInfo, n.ParentSigAlg, signed, n.Signature); err != nil {
				return nil, fmt.Errorf("lineage node %d: not signed by node %d: %w", i, i-1, err)
			}
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// CheckLineageTail verifies that a lineage ends with the signer's certificate.
func CheckLineageTail(nodes []LineageNode, cert []byte) error {
	if len(nodes) == 0 || !bytes.Equal(nodes[len(nodes)-1].Cert, cert) {
		return errors.New("lineage does not end with the signer's certificate")
	}
	return nil
}

// Lineage file layout (what `apksigner rotate --out` writes and `apksigner
// sign --lineage` reads): u32 magic, u32 version (1), then the
// proof-of-rotation attribute value, length-prefixed.
const (
	lineageFileMagic   = 0x3eff39d1
	lineageFileVersion = 1
	// MaxLineageFile caps a lineage file read into memory. Real files are a
	// few KiB: about 1 KiB per certificate.
	MaxLineageFile = 1 << 20
)

// ParseLineageFile reads a SigningCertificateLineage file, as written by
// `apksigner rotate`, and checks it like ParseLineage. Input longer than
// MaxLineageFile is refused before parsing.
func ParseLineageFile(b []byte) ([]LineageNode, error) {
	if len(b) > MaxLineageFile {
		return nil, &FormatError{Msg: "lineage file larger than the limit", Val: len(b)}
	}
	r := &lpReader{b: b}
	magic, version := r.u32(), r.u32()
	if r.err != nil {
		return nil, &FormatError{Msg: "lineage file truncated: no header"}
	}
	if magic != lineageFileMagic {
		return nil, &FormatError{Msg: "not a lineage file (bad magic; expected what `apksigner rotate --out` writes)", Val: fmt.Sprintf("0x%08x", magic)}
	}
	if version != lineageFileVersion {
		return nil, &FormatError{Offset: 4, Msg: "unsupported lineage file version", Val: version}
	}
	val := r.lp()
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(b) {
		return nil, &FormatError{Offset: int64(r.off), Msg: "trailing bytes after the lineage", Val: len(b) - r.off}
	}
	nodes, err := ParseLineage(val)
	if err != nil {
		return nil, fmt.Errorf("lineage file: %w", err)
	}
	return nodes, nil
}

// EncodeLineage encodes nodes as a proof-of-rotation attribute value, the
// inverse of ParseLineage: each node's SignedData is written as it was
// signed (built from Cert and ParentSigAlg when empty).
func EncodeLineage(nodes []LineageNode) []byte {
	out := binary.LittleEndian.AppendUint32(nil, 1)
	for _, n := range nodes {
		signed := n.SignedData
		if len(signed) == 0 {
			signed = binary.LittleEndian.AppendUint32(appendLP(nil, n.Cert), n.ParentSigAlg)
		}
		node := appendLP(nil, signed)
		node = binary.LittleEndian.AppendUint32(node, n.Flags)
		node = binary.LittleEndian.AppendUint32(node, n.SigAlg)
		node = appendLP(node, n.Signature)
		out = appendLP(out, node)
	}
	return out
}

// EncodeLineageFile encodes nodes as a SigningCertificateLineage file, the
// inverse of ParseLineageFile.
func EncodeLineageFile(nodes []LineageNode) []byte {
	out := binary.LittleEndian.AppendUint32(nil, lineageFileMagic)
	out = binary.LittleEndian.AppendUint32(out, lineageFileVersion)
	return appendLP(out, EncodeLineage(nodes))
}
