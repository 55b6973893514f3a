package apksig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
)

// Signature algorithm IDs of the v2/v3 schemes.
const (
	AlgRSAPSSSHA256   = 0x0101 // AlgRSAPSSSHA256 is RSASSA-PSS with SHA-256.
	AlgRSAPSSSHA512   = 0x0102 // AlgRSAPSSSHA512 is RSASSA-PSS with SHA-512.
	AlgRSAPKCS1SHA256 = 0x0103 // AlgRSAPKCS1SHA256 is RSASSA-PKCS1-v1_5 with SHA-256; what we sign RSA keys with.
	AlgRSAPKCS1SHA512 = 0x0104 // AlgRSAPKCS1SHA512 is RSASSA-PKCS1-v1_5 with SHA-512.
	AlgECDSASHA256    = 0x0201 // AlgECDSASHA256 is ECDSA with SHA-256; what we sign EC keys with.
	AlgECDSASHA512    = 0x0202 // AlgECDSASHA512 is ECDSA with SHA-512.
)

// algInfo describes a signature algorithm we can verify.
type algInfo struct {
	digest int // content digest: DigestSHA256 or DigestSHA512
	hash   crypto.Hash
	pss    bool
	ec     bool
	rank   int // higher is preferred when a signer offers several
}

func lookupAlg(id uint32) (algInfo, bool) {
	switch id {
	case AlgRSAPSSSHA256:
		return algInfo{DigestSHA256, crypto.SHA256, true, false, 3}, true
	case AlgRSAPSSSHA512:
		return algInfo{DigestSHA512, crypto.SHA512, true, false, 6}, true
	case AlgRSAPKCS1SHA256:
		return algInfo{DigestSHA256, crypto.SHA256, false, false, 2}, true
	case AlgRSAPKCS1SHA512:
		return algInfo{DigestSHA512, crypto.SHA512, false, false, 5}, true
	case AlgECDSASHA256:
		return algInfo{DigestSHA256, crypto.SHA256, false, true, 1}, true
	case AlgECDSASHA512:
		return algInfo{DigestSHA512, crypto.SHA512, false, true, 4}, true
	}
	return algInfo{}, false
}

// AlgName names an algorithm ID for reports.
func AlgName(id uint32) string {
	switch id {
	case AlgRSAPSSSHA256:
		return "RSA-PSS-SHA256"
	case AlgRSAPSSSHA512:
		return "RSA-PSS-SHA512"
	case AlgRSAPKCS1SHA256:
		return "RSA-PKCS1-SHA256"
	case AlgRSAPKCS1SHA512:
		return "RSA-PKCS1-SHA512"
	case AlgECDSASHA256:
		return "ECDSA-SHA256"
	case AlgECDSASHA512:
		return "ECDSA-SHA512"
	case 0x0301:
		return "DSA-SHA256"
	case 0x0421, 0x0423, 0x0425:
		return fmt.Sprintf("VERITY-0x%04x", id)
	}
	return fmt.Sprintf("0x%04x", id)
}

// Attr is an additional attribute of signed data, kept verbatim on re-sign.
type Attr struct {
	ID    uint32 // ID names the attribute.
	Value []byte // Value is its payload.
}

// AlgBytes pairs an algorithm ID with a digest or signature.
type AlgBytes struct {
	Alg   uint32 // Alg is the signature algorithm ID.
	Bytes []byte // Bytes is the digest or signature.
}

// Signer is one signer of a v2, v3 or v3.1 block.
type Signer struct {
	SignedData []byte     // SignedData is the exact bytes the signatures cover.
	Digests    []AlgBytes // Digests are the content digests, per algorithm.
	Certs      [][]byte   // Certs are DER certificates, signer's first.
	MinSDK     uint32     // MinSDK (v3) is the first platform version this signer targets.
	MaxSDK     uint32     // MaxSDK (v3) is the last.
	Attrs      []Attr     // Attrs are the additional attributes.
	Signatures []AlgBytes // Signatures are over SignedData, per algorithm.
	PublicKey  []byte     // PublicKey is the DER SubjectPublicKeyInfo.
}

type lpReader struct {
	b   []byte
	off int
	err error
}

func (r *lpReader) fail(msg string, val any) {
	if r.err == nil {
		r.err = &FormatError{Offset: int64(r.off), Msg: msg, Val: val}
	}
}

func (r *lpReader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.off < 4 {
		r.fail("truncated integer", nil)
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *lpReader) lp() []byte {
	n := r.u32()
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		r.fail("length prefix past its parent", n)
		return nil
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v
}

func (r *lpReader) more() bool { return r.err == nil && r.off < len(r.b) }

// lpList splits a length-prefixed sequence of length-prefixed items.
func lpList(b []byte) ([][]byte, error) {
	r := &lpReader{b: b}
	var out [][]byte
	for r.more() {
		out = append(out, r.lp())
	}
	return out, r.err
}

func algBytesList(b []byte) ([]AlgBytes, error) {
	items, err := lpList(b)
	if err != nil {
		return nil, err
	}
	out := make([]AlgBytes, 0, len(items))
	for _, it := range items {
		r := &lpReader{b: it}
		ab := AlgBytes{Alg: r.u32(), Bytes: r.lp()}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, ab)
	}
	return out, nil
}

// ParseSigners parses a v2 (v3=false) or v3/v3.1 (v3=true) block value.
func ParseSigners(value []byte, v3 bool) ([]Signer, error) {
	outer := &lpReader{b: value}
	list := outer.lp()
	if outer.err != nil {
		return nil, outer.err
	}
	items, err := lpList(list)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, &FormatError{Msg: "no signers"}
	}
	signers := make([]Signer, 0, len(items))
	for i, it := range items {
		s, err := parseSigner(it, v3)
		if err != nil {
			return nil, fmt.Errorf("signer #%d: %w", i+1, err)
		}
		signers = append(signers, s)
	}
	return signers, nil
}

func parseSigner(b []byte, v3 bool) (Signer, error) {
	r := &lpReader{b: b}
	var s Signer
	s.SignedData = r.lp()
	var outerMin, outerMax uint32
	if v3 {
		outerMin, outerMax = r.u32(), r.u32()
	}
	sigs := r.lp()
	s.PublicKey = r.lp()
	if r.err != nil {
		return s, r.err
	}
	var err error
	if s.Signatures, err = algBytesList(sigs); err != nil {
		return s, err
	}
	sd := &lpReader{b: s.SignedData}
	digests := sd.lp()
	certs := sd.lp()
	if v3 {
		s.MinSDK, s.MaxSDK = sd.u32(), sd.u32()
	}
	attrs := sd.lp()
	if sd.err != nil {
		return s, sd.err
	}
	if s.Digests, err = algBytesList(digests); err != nil {
		return s, err
	}
	if s.Certs, err = lpList(certs); err != nil {
		return s, err
	}
	attrItems, err := lpList(attrs)
	if err != nil {
		return s, err
	}
	for _, a := range attrItems {
		if len(a) < 4 {
			return s, &FormatError{Msg: "attribute shorter than its ID", Val: len(a)}
		}
		s.Attrs = append(s.Attrs, Attr{ID: binary.LittleEndian.Uint32(a), Value: a[4:]})
	}
	if v3 && (outerMin != s.MinSDK || outerMax != s.MaxSDK) {
		return s, &FormatError{Msg: "v3 signer SDK range differs from its signed data", Val: fmt.Sprintf("%d-%d vs %d-%d", outerMin, outerMax, s.MinSDK, s.MaxSDK)}
	}
	return s, nil
}

func appendLP(dst, v []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
	return append(dst, v...)
}

func encodeAlgBytes(list []AlgBytes) []byte {
	var out []byte
	for _, ab := range list {
		var it []byte
		it = binary.LittleEndian.AppendUint32(it, ab.Alg)
		it = appendLP(it, ab.Bytes)
		out = appendLP(out, it)
	}
	return out
}

// SignerTemplate is what a new signature needs besides the digest: the key,
// the certificates, and for v3 the SDK range and attributes (kept verbatim
// from the input so lineage and v3.1 markers survive).
type SignerTemplate struct {
	Key    crypto.Signer // Key signs; RSA or ECDSA.
	Certs  [][]byte      // Certs are DER certificates, the key's first.
	MinSDK uint32        // MinSDK is used by v3 and v3.1 only.
	MaxSDK uint32        // MaxSDK is used by v3 and v3.1 only.
	Attrs  []Attr        // Attrs are the additional attributes of signed data.
}

// SignAlg picks the signature algorithm for a key: SHA-256 based, which
// every API level with v2 accepts.
func SignAlg(k crypto.Signer) (uint32, error) {
	switch k.Public().(type) {
	case *rsa.PublicKey:
		return AlgRSAPKCS1SHA256, nil
	case *ecdsa.PublicKey:
		return AlgECDSASHA256, nil
	}
	return 0, fmt.Errorf("apksig: unsupported key type %T; use RSA or EC", k.Public())
}

// EncodeSigners signs each template over contentDigest (CHUNKED_SHA256)
// and returns the block value for a v2 (v3=false) or v3/v3.1 pair. Each
// signature is checked with the public key before it is returned.
func EncodeSigners(templates []SignerTemplate, contentDigest []byte, v3 bool) ([]byte, error) {
	var signers []byte
	for i, t := range templates {
		alg, err := SignAlg(t.Key)
		if err != nil {
			return nil, err
		}
		pub, err := x509.MarshalPKIXPublicKey(t.Key.Public())
		if err != nil {
			return nil, fmt.Errorf("apksig: signer #%d: encode public key: %w", i+1, err)
		}
		var sd []byte
		sd = appendLP(sd, encodeAlgBytes([]AlgBytes{{Alg: alg, Bytes: contentDigest}}))
		var certs []byte
		for _, c := range t.Certs {
			certs = appendLP(certs, c)
		}
		sd = appendLP(sd, certs)
		if v3 {
			sd = binary.LittleEndian.AppendUint32(sd, t.MinSDK)
			sd = binary.LittleEndian.AppendUint32(sd, t.MaxSDK)
		}
		var attrs []byte
		for _, a := range t.Attrs {
			var it []byte
			it = binary.LittleEndian.AppendUint32(it, a.ID)
			it = append(it, a.Value...)
			attrs = appendLP(attrs, it)
		}
		sd = appendLP(sd, attrs)
		sig, err := signWith(t.Key, alg, sd)
		if err != nil {
			return nil, fmt.Errorf("apksig: signer #%d: %w", i+1, err)
		}
		if err := verifySig(pub, alg, sd, sig); err != nil {
			return nil, fmt.Errorf("apksig: signer #%d: own signature does not verify: %w", i+1, err)
		}
		var s []byte
		s = appendLP(s, sd)
		if v3 {
			s = binary.LittleEndian.AppendUint32(s, t.MinSDK)
			s = binary.LittleEndian.AppendUint32(s, t.MaxSDK)
		}
		s = appendLP(s, encodeAlgBytes([]AlgBytes{{Alg: alg, Bytes: sig}}))
		s = appendLP(s, pub)
		signers = appendLP(signers, s)
	}
	return appendLP(nil, signers), nil
}

func digestOf(h crypto.Hash, msg []byte) []byte {
	if h == crypto.SHA512 {
		d := sha512.Sum512(msg)
		return d[:]
	}
	d := sha256.Sum256(msg)
	return d[:]
}

func signWith(k crypto.Signer, alg uint32, msg []byte) ([]byte, error) {
	info, ok := lookupAlg(alg)
	if !ok {
		return nil, fmt.Errorf("unsupported algorithm %s", AlgName(alg))
	}
	d := digestOf(info.hash, msg)
	if info.pss {
		return k.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: info.hash.Size(), Hash: info.hash})
	}
	return k.Sign(rand.Reader, d, info.hash)
}

// verifySig checks sig over msg with a DER SubjectPublicKeyInfo.
func verifySig(spki []byte, alg uint32, msg, sig []byte) error {
	info, ok := lookupAlg(alg)
	if !ok {
		return fmt.Errorf("unsupported signature algorithm %s", AlgName(alg))
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return fmt.Errorf("public key: %w", err)
	}
	d := digestOf(info.hash, msg)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if info.ec {
			return errors.New("RSA key with an ECDSA algorithm")
		}
		if info.pss {
			return rsa.VerifyPSS(k, info.hash, d, sig, &rsa.PSSOptions{SaltLength: info.hash.Size(), Hash: info.hash})
		}
		return rsa.VerifyPKCS1v15(k, info.hash, d, sig)
	case *ecdsa.PublicKey:
		if !info.ec {
			return errors.New("EC key with an RSA algorithm")
		}
		if !ecdsa.VerifyASN1(k, d, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

// VerifySigner checks a signer's signature and structure (but not the
// content digest, which the caller compares with the file's): it returns
// the strongest algorithm verified and its claimed content digest.
func VerifySigner(s Signer) (alg uint32, digest []byte, err error) {
	best := -1
	for i, sig := range s.Signatures {
		info, ok := lookupAlg(sig.Alg)
		if !ok {
			continue
		}
		if best < 0 || info.rank > mustRank(s.Signatures[best].Alg) {
			best = i
		}
	}
	if best < 0 {
		return 0, nil, errors.New("no supported signature algorithm")
	}
	alg = s.Signatures[best].Alg
	if err := verifySig(s.PublicKey, alg, s.SignedData, s.Signatures[best].Bytes); err != nil {
		return 0, nil, fmt.Errorf("signature (%s) over signed data: %w", AlgName(alg), err)
	}
	if len(s.Digests) != len(s.Signatures) {
		return 0, nil, errors.New("digest and signature algorithm lists differ")
	}
	for i := range s.Digests {
		if s.Digests[i].Alg != s.Signatures[i].Alg {
			return 0, nil, errors.New("digest and signature algorithm lists differ")
		}
		if s.Digests[i].Alg == alg {
			digest = s.Digests[i].Bytes
		}
	}
	if len(s.Certs) == 0 {
		return 0, nil, errors.New("no certificates")
	}
	cert, err := x509.ParseCertificate(s.Certs[0])
	if err != nil {
		return 0, nil, fmt.Errorf("certificate: %w", err)
	}
	if !bytes.Equal(cert.RawSubjectPublicKeyInfo, s.PublicKey) {
		return 0, nil, errors.New("public key does not match the first certificate")
	}
	return alg, digest, nil
}

func mustRank(id uint32) int {
	info, _ := lookupAlg(id)
	return info.rank
}

// DigestKind returns the content digest an algorithm uses.
func DigestKind(alg uint32) int {
	info, _ := lookupAlg(alg)
	return info.digest
}
