package apksig

import (
	"bytes"
	"crypto/x509"
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
	Cert         []byte // Cert is the DER certificate.
	ParentSigAlg uint32 // ParentSigAlg is the algorithm the previous key signed this node with.
	Flags        uint32 // Flags are the capabilities granted to this (older) key.
	SigAlg       uint32 // SigAlg is the algorithm recorded for this node's own signature field.
	Signature    []byte // Signature is the previous key's signature over the node's signed data.
}

// ParseLineage reads a proof-of-rotation attribute value and checks that
// each node is signed by the one before it.
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
	nodes := make([]LineageNode, 0, len(items))
	for i, it := range items {
		nr := &lpReader{b: it}
		signed := nr.lp()
		n := LineageNode{Flags: nr.u32(), SigAlg: nr.u32(), Signature: nr.lp()}
		sr := &lpReader{b: signed}
		n.Cert = sr.lp()
		n.ParentSigAlg = sr.u32()
		if nr.err != nil || sr.err != nil {
			return nil, fmt.Errorf("lineage node %d: %w", i, errors.Join(nr.err, sr.err))
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
