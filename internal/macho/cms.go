package macho

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// CMS object identifiers. Apple's code signatures use id-data as the
// eContentType of a detached SignedData over the primary CodeDirectory.
var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSHA1          = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidRSA           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECDSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidAttrCType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMsgDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSignTime  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	// OIDCDHashesPlist is Apple's signed attribute holding an XML plist of
	// truncated cdhashes, one per CodeDirectory.
	OIDCDHashesPlist = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 9, 1}
	// OIDCDHashes is Apple's signed attribute holding one SEQUENCE{digest
	// algorithm, full digest} per CodeDirectory.
	OIDCDHashes = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 9, 2}
)

// Signature algorithms an external signer is asked for.
const (
	AlgRSAPKCS1SHA256  = "rsa-pkcs1-sha256"  // AlgRSAPKCS1SHA256 is RSA PKCS#1 v1.5 over SHA-256.
	AlgECDSAP256SHA256 = "ecdsa-p256-sha256" // AlgECDSAP256SHA256 is ECDSA P-256 over SHA-256, DER-encoded.
)

// CMSSigner makes the CMS signature of a code signature. Ripcord builds
// the SignedData itself and needs only a signature over the DER signed
// attributes, so keys in an HSM or a KMS plug in through SignAttrs.
type CMSSigner struct {
	// Chain is the signing certificate chain, leaf first; all of it is
	// embedded in the CMS.
	Chain []*x509.Certificate
	// SignAttrs returns the signature over der, the DER signed attributes
	// (a SET): PKCS#1 v1.5 bytes for RSA, an ASN.1 signature for ECDSA, both
	// over SHA-256.
	SignAttrs func(ctx context.Context, der []byte) ([]byte, error)
}

// KeySigner signs with a private key held in memory.
func KeySigner(key crypto.Signer, chain []*x509.Certificate) *CMSSigner {
	return &CMSSigner{Chain: chain, SignAttrs: func(_ context.Context, der []byte) ([]byte, error) {
		d := sha256.Sum256(der)
		return key.Sign(rand.Reader, d[:], crypto.SHA256)
	}}
}

// SignAlgorithm names the algorithm the leaf key needs.
func SignAlgorithm(cert *x509.Certificate) (string, error) {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return AlgRSAPKCS1SHA256, nil
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize != 256 {
			return "", fmt.Errorf("macho: ECDSA key on %s; only P-256 is supported", k.Curve.Params().Name)
		}
		return AlgECDSAP256SHA256, nil
	}
	return "", fmt.Errorf("macho: unsupported signing key %T; use RSA or ECDSA P-256", cert.PublicKey)
}

// sizeEstimate bounds the DER size of the SignedData so the signature
// space can be reserved before the CodeDirectories are hashed.
func (s *CMSSigner) sizeEstimate(nCD int) int {
	n := 2048 + 160*nCD
	for _, c := range s.Chain {
		n += len(c.Raw) + 8
		n += len(s.Chain[0].RawIssuer)
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok && c == s.Chain[0] {
			n += k.Size()
		}
	}
	return n
}

func hashOID(t uint8) (asn1.ObjectIdentifier, error) {
	switch t {
	case HashSHA1:
		return oidSHA1, nil
	case HashSHA256, HashSHA256Trunc:
		return oidSHA256, nil
	case HashSHA384:
		return oidSHA384, nil
	}
	return nil, fmt.Errorf("macho: no digest OID for hash type %d", t)
}

// CDHashesPlist is the XML plist Apple carries in the 100.9.1 attribute.
func CDHashesPlist(hashes [][]byte) []byte {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n\t<key>cdhashes</key>\n\t<array>\n")
	for _, h := range hashes {
		b.WriteString("\t\t<data>\n\t\t" + base64.StdEncoding.EncodeToString(h[:min(20, len(h))]) + "\n\t\t</data>\n")
	}
	b.WriteString("\t</array>\n</dict>\n</plist>\n")
	return []byte(b.String())
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type signerInfo struct {
	Version            int
	SID                issuerAndSerial
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type encapContent struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	ContentInfo      encapContent
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

// derSet encodes elements as a DER SET OF: sorted by encoding.
func derSet(elems [][]byte) []byte {
	s := slices.Clone(elems)
	slices.SortFunc(s, bytes.Compare)
	var body []byte
	for _, e := range s {
		body = append(body, e...)
	}
	out, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: body})
	return out
}

func mustMarshal(v any) ([]byte, error) {
	b, err := asn1.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("macho: encode CMS: %w", err)
	}
	return b, nil
}

// Sign returns a detached CMS SignedData over the primary CodeDirectory
// (cds[0]) with Apple's CDHashes attributes covering every CodeDirectory.
func (s *CMSSigner) Sign(ctx context.Context, cds [][]byte, types []uint8, t time.Time) ([]byte, error) {
	if len(s.Chain) == 0 {
		return nil, errors.New("macho: CMS signer has no certificate")
	}
	alg, err := SignAlgorithm(s.Chain[0])
	if err != nil {
		return nil, err
	}
	if t.IsZero() {
		t = time.Now()
	}
	md := sha256.Sum256(cds[0])
	var truncated [][]byte
	var cdhashVals [][]byte
	for i, cd := range cds {
		full, err := HashBytes(types[i], cd)
		if err != nil {
			return nil, err
		}
		truncated = append(truncated, full)
		oid, err := hashOID(types[i])
		if err != nil {
			return nil, err
		}
		v, err := mustMarshal(struct {
			Alg    asn1.ObjectIdentifier
			Digest []byte
		}{oid, full})
		if err != nil {
			return nil, err
		}
		cdhashVals = append(cdhashVals, v)
	}
	one := func(v any) ([]byte, error) {
		b, err := mustMarshal(v)
		if err != nil {
			return nil, err
		}
		return derSet([][]byte{b}), nil
	}
	var attrs [][]byte
	add := func(oid asn1.ObjectIdentifier, set []byte) error {
		b, err := mustMarshal(attribute{Type: oid, Values: asn1.RawValue{FullBytes: set}})
		attrs = append(attrs, b)
		return err
	}
	ctSet, err := one(oidData)
	if err != nil {
		return nil, err
	}
	tmSet, err := one(t.UTC())
	if err != nil {
		return nil, err
	}
	mdSet, err := one(md[:])
	if err != nil {
		return nil, err
	}
	plSet, err := one(CDHashesPlist(truncated))
	if err != nil {
		return nil, err
	}
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		set []byte
	}{{oidAttrCType, ctSet}, {oidAttrSignTime, tmSet}, {oidAttrMsgDigest, mdSet}, {OIDCDHashesPlist, plSet}, {OIDCDHashes, derSet(cdhashVals)}} {
		if err := add(a.oid, a.set); err != nil {
			return nil, err
		}
	}
	signedSet := derSet(attrs)
	sig, err := s.SignAttrs(ctx, signedSet)
	if err != nil {
		return nil, fmt.Errorf("macho: sign CMS attributes: %w", err)
	}
	if err := checkSignature(s.Chain[0], signedSet, sig); err != nil {
		return nil, fmt.Errorf("macho: the signer's output does not verify with certificate %q (wrong key for the chain?): %w", s.Chain[0].Subject.CommonName, err)
	}
	sigAlg := pkix.AlgorithmIdentifier{Algorithm: oidRSA, Parameters: asn1.NullRawValue}
	if alg == AlgECDSAP256SHA256 {
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidECDSASHA256}
	}
	digestAlg := pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}
	digestAlgs, err := mustMarshal(digestAlg)
	if err != nil {
		return nil, err
	}
	var certs []byte
	for _, c := range s.Chain {
		certs = append(certs, c.Raw...)
	}
	leaf := s.Chain[0]
	sd := signedData{
		Version:          1,
		DigestAlgorithms: asn1.RawValue{FullBytes: derSet([][]byte{digestAlgs})},
		ContentInfo:      encapContent{ContentType: oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerial{Issuer: asn1.RawValue{FullBytes: leaf.RawIssuer}, Serial: leaf.SerialNumber},
			DigestAlgorithm:    digestAlg,
			SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: signedSet[setHeaderLen(signedSet):]},
			SignatureAlgorithm: sigAlg,
			Signature:          sig,
		}},
	}
	inner, err := mustMarshal(sd)
	if err != nil {
		return nil, err
	}
	return mustMarshal(contentInfo{ContentType: oidSignedData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
}

func setHeaderLen(der []byte) int {
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(der, &rv); err != nil {
		return 0
	}
	return len(rv.FullBytes) - len(rv.Bytes)
}

func checkSignature(cert *x509.Certificate, signed, sig []byte) error {
	d := sha256.Sum256(signed)
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, d[:], sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported key %T", cert.PublicKey)
}

// CMS is a parsed CMS SignedData with one signer.
type CMS struct {
	Certificates []*x509.Certificate // Certificates are the embedded certificates.
	Content      []byte              // Content is the encapsulated content; nil when detached.
	Signer       *x509.Certificate   // Signer is the certificate matching the SignerInfo.
	signedAttrs  []byte              // DER SET the signature covers; nil without attributes
	attrs        []attribute
	digestAlg    asn1.ObjectIdentifier
	signature    []byte
}

// ParseCMS parses a DER or BER ContentInfo holding a SignedData (BER as in
// Apple's provisioning profiles, which use indefinite lengths).
func ParseCMS(der []byte) (*CMS, error) {
	norm, err := BERToDER(der)
	if err != nil {
		return nil, err
	}
	var ci contentInfo
	rest, err := asn1.Unmarshal(norm, &ci)
	if err != nil || len(rest) != 0 || !ci.ContentType.Equal(oidSignedData) {
		return nil, formatErr(0, "not a CMS SignedData", err)
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, formatErr(0, "malformed SignedData", err)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, formatErr(0, "SignedData must have exactly one signer", len(sd.SignerInfos))
	}
	c := &CMS{}
	if len(sd.ContentInfo.Content.Bytes) > 0 {
		var octets []byte
		if _, err := asn1.Unmarshal(sd.ContentInfo.Content.Bytes, &octets); err != nil {
			return nil, formatErr(0, "encapsulated content is not an OCTET STRING", err)
		}
		c.Content = octets
	}
	if len(sd.Certificates.Bytes) > 0 {
		certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
		if err != nil {
			return nil, formatErr(0, "malformed certificates", err)
		}
		c.Certificates = certs
	}
	si := sd.SignerInfos[0]
	for _, cert := range c.Certificates {
		if si.SID.Serial != nil && bytes.Equal(cert.RawIssuer, si.SID.Issuer.FullBytes) && cert.SerialNumber.Cmp(si.SID.Serial) == 0 {
			c.Signer = cert
			break
		}
	}
	c.digestAlg, c.signature = si.DigestAlgorithm.Algorithm, si.Signature
	if len(si.SignedAttrs.FullBytes) > 0 {
		c.signedAttrs = append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
		if _, err := asn1.UnmarshalWithParams(c.signedAttrs, &c.attrs, "set"); err != nil {
			return nil, formatErr(0, "malformed signed attributes", err)
		}
	}
	return c, nil
}

// Attribute returns the DER values of a signed attribute, or nil.
func (c *CMS) Attribute(oid asn1.ObjectIdentifier) [][]byte {
	for _, a := range c.attrs {
		if !a.Type.Equal(oid) {
			continue
		}
		var vals [][]byte
		rest := a.Values.Bytes
		for len(rest) > 0 {
			var rv asn1.RawValue
			r, err := asn1.Unmarshal(rest, &rv)
			if err != nil {
				return vals
			}
			vals = append(vals, rv.FullBytes)
			rest = r
		}
		return vals
	}
	return nil
}

// Verify checks the signature over content (or the encapsulated content
// when content is nil) and returns the signer's certificate. It does not
// check the chain; callers do that against the roots they trust.
func (c *CMS) Verify(content []byte) (*x509.Certificate, error) {
	if content == nil {
		content = c.Content
	}
	if c.Signer == nil {
		return nil, errors.New("macho: CMS signer certificate is not included")
	}
	if !c.digestAlg.Equal(oidSHA256) {
		return nil, fmt.Errorf("macho: CMS digest %v is not supported; SHA-256 only", c.digestAlg)
	}
	signed := content
	if c.signedAttrs != nil {
		d := sha256.Sum256(content)
		mds := c.Attribute(oidAttrMsgDigest)
		if len(mds) != 1 {
			return nil, errors.New("macho: CMS signed attributes lack messageDigest")
		}
		var md []byte
		if _, err := asn1.Unmarshal(mds[0], &md); err != nil || !bytes.Equal(md, d[:]) {
			return nil, errors.New("macho: CMS messageDigest does not match the signed content")
		}
		signed = c.signedAttrs
	}
	if err := checkSignature(c.Signer, signed, c.signature); err != nil {
		return nil, fmt.Errorf("macho: CMS signature: %w", err)
	}
	return c.Signer, nil
}

// BERToDER rewrites BER indefinite lengths and constructed strings as DER
// definite lengths so encoding/asn1 can read Apple's profiles. Nesting and
// size are bounded by the input.
func BERToDER(b []byte) ([]byte, error) {
	out, rest, err := berElem(b, 0, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, formatErr(int64(len(b)-len(rest)), "trailing bytes after ASN.1 value", len(rest))
	}
	return out, nil
}

func berElem(b []byte, base int64, depth int) (der, rest []byte, err error) {
	if depth > 64 {
		return nil, nil, formatErr(base, "ASN.1 nesting too deep", depth)
	}
	if len(b) < 2 {
		return nil, nil, formatErr(base, "ASN.1 value truncated", len(b))
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return nil, nil, formatErr(base, "multi-byte ASN.1 tags are not supported", tag)
	}
	i := 1
	l := int(b[i])
	i++
	indefinite := false
	switch {
	case l == 0x80:
		indefinite = true
	case l > 0x80:
		n := l & 0x7f
		if n > 4 || len(b) < i+n {
			return nil, nil, formatErr(base+1, "ASN.1 length out of range", n)
		}
		l = 0
		for _, c := range b[i : i+n] {
			l = l<<8 | int(c)
		}
		i += n
		if l < 0 || l > len(b)-i {
			return nil, nil, formatErr(base+1, "ASN.1 length beyond the data", l)
		}
	default:
		if l > len(b)-i {
			return nil, nil, formatErr(base+1, "ASN.1 length beyond the data", l)
		}
	}
	constructed := tag&0x20 != 0
	if !constructed {
		if indefinite {
			return nil, nil, formatErr(base, "indefinite length on a primitive value", tag)
		}
		return b[:i+l], b[i+l:], nil
	}
	var body []byte
	var content []byte
	if indefinite {
		content = b[i:]
	} else {
		content = b[i : i+l]
	}
	pos := int64(i)
	for {
		if indefinite {
			if len(content) < 2 {
				return nil, nil, formatErr(base+pos, "missing end-of-contents", nil)
			}
			if content[0] == 0 && content[1] == 0 {
				content = content[2:]
				break
			}
		} else if len(content) == 0 {
			break
		}
		d, r, err := berElem(content, base+pos, depth+1)
		if err != nil {
			return nil, nil, err
		}
		pos += int64(len(content) - len(r))
		body = append(body, d...)
		content = r
	}
	outTag := tag
	// A constructed OCTET STRING (BER) becomes one primitive string.
	if tag == 0x24 {
		var joined []byte
		rest := body
		for len(rest) > 0 {
			var rv asn1.RawValue
			r, err := asn1.Unmarshal(rest, &rv)
			if err != nil || rv.Tag != asn1.TagOctetString {
				return nil, nil, formatErr(base, "constructed OCTET STRING holds a non-string", nil)
			}
			joined = append(joined, rv.Bytes...)
			rest = r
		}
		body, outTag = joined, 0x04
	}
	hdr := []byte{outTag}
	hdr = appendLength(hdr, len(body))
	der = append(hdr, body...)
	if indefinite {
		return der, content, nil
	}
	return der, b[i+l:], nil
}

func appendLength(b []byte, n int) []byte {
	if n < 0x80 {
		return append(b, byte(n))
	}
	var tmp []byte
	for v := n; v > 0; v >>= 8 {
		tmp = append([]byte{byte(v)}, tmp...)
	}
	b = append(b, 0x80|byte(len(tmp)))
	return append(b, tmp...)
}
