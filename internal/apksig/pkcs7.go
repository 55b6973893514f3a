package apksig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // v1 signatures for API < 18 must use SHA-1
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// The PKCS#7 SignedData of a JAR signature is small and fixed in shape, so
// we encode it with encoding/asn1 rather than pull in a CMS library. We write
// no signed attributes: Android before API 19 rejects them. We read both
// forms, since jarsigner writes signed attributes.

var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSHA1          = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidRSA           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECDSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA1     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidAttrMsgDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
)

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	ContentInfo      encapContent
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type encapContent struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
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

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

// v1Hash picks the JAR digest: platforms before API 18 know only SHA-1,
// and before API 21 only SHA-1 with ECDSA.
func v1Hash(minSdk int, ec bool) crypto.Hash {
	if minSdk < 18 || (ec && minSdk < 21) {
		return crypto.SHA1
	}
	return crypto.SHA256
}

func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	if h == crypto.SHA1 {
		return oidSHA1
	}
	return oidSHA256
}

// signPKCS7 returns a detached SignedData over content with no signed
// attributes.
func signPKCS7(key crypto.Signer, chain []*x509.Certificate, content []byte, h crypto.Hash) ([]byte, error) {
	var digest []byte
	if h == crypto.SHA1 {
		d := sha1.Sum(content) //nolint:gosec // required by API < 18
		digest = d[:]
	} else {
		d := sha256.Sum256(content)
		digest = d[:]
	}
	sig, err := key.Sign(rand.Reader, digest, h)
	if err != nil {
		return nil, fmt.Errorf("pkcs7: sign: %w", err)
	}
	var sigAlg pkix.AlgorithmIdentifier
	switch key.Public().(type) {
	case *rsa.PublicKey:
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidRSA, Parameters: asn1.NullRawValue}
	case *ecdsa.PublicKey:
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidECDSASHA256}
		if h == crypto.SHA1 {
			sigAlg.Algorithm = oidECDSASHA1
		}
	default:
		return nil, fmt.Errorf("pkcs7: unsupported key %T", key.Public())
	}
	digestAlg := pkix.AlgorithmIdentifier{Algorithm: hashOID(h), Parameters: asn1.NullRawValue}
	var certs []byte
	for _, c := range chain {
		certs = append(certs, c.Raw...)
	}
	sd := signedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{digestAlg},
		ContentInfo:      encapContent{ContentType: oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerial{Issuer: asn1.RawValue{FullBytes: chain[0].RawIssuer}, Serial: chain[0].SerialNumber},
			DigestAlgorithm:    digestAlg,
			SignatureAlgorithm: sigAlg,
			Signature:          sig,
		}},
	}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("pkcs7: encode: %w", err)
	}
	return asn1.Marshal(contentInfo{
		ContentType: oidSignedData,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner},
	})
}

// verifyPKCS7 checks a detached SignedData over content and returns the
// signer's certificate (DER).
func verifyPKCS7(der, content []byte) (*x509.Certificate, error) {
	var ci contentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil || len(rest) != 0 || !ci.ContentType.Equal(oidSignedData) {
		return nil, errors.New("pkcs7: not a SignedData")
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("pkcs7: SignedData: %w", err)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("pkcs7: %d signer infos; exactly 1 expected", len(sd.SignerInfos))
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pkcs7: certificates: %w", err)
	}
	si := sd.SignerInfos[0]
	var cert *x509.Certificate
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, si.SID.Issuer.FullBytes) && c.SerialNumber.Cmp(si.SID.Serial) == 0 {
			cert = c
			break
		}
	}
	if cert == nil {
		return nil, errors.New("pkcs7: signer certificate not included")
	}
	var h crypto.Hash
	switch {
	case si.DigestAlgorithm.Algorithm.Equal(oidSHA256):
		h = crypto.SHA256
	case si.DigestAlgorithm.Algorithm.Equal(oidSHA1):
		h = crypto.SHA1
	default:
		return nil, fmt.Errorf("pkcs7: unsupported digest %v", si.DigestAlgorithm.Algorithm)
	}
	hashOf := func(b []byte) []byte {
		if h == crypto.SHA1 {
			d := sha1.Sum(b) //nolint:gosec // v1 for API < 18
			return d[:]
		}
		d := sha256.Sum256(b)
		return d[:]
	}
	signed := content
	if len(si.SignedAttrs.Bytes) > 0 {
		// The signature covers the attributes re-tagged as a SET, and
		// the messageDigest attribute binds the content.
		var attrs []attribute
		if _, err := asn1.UnmarshalWithParams(append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...), &attrs, "set"); err != nil {
			return nil, fmt.Errorf("pkcs7: signed attributes: %w", err)
		}
		found := false
		for _, a := range attrs {
			if !a.Type.Equal(oidAttrMsgDigest) {
				continue
			}
			var md []byte
			if _, err := asn1.Unmarshal(a.Values.Bytes, &md); err != nil {
				return nil, fmt.Errorf("pkcs7: messageDigest: %w", err)
			}
			if !bytes.Equal(md, hashOf(content)) {
				return nil, errors.New("pkcs7: messageDigest does not match the signature file")
			}
			found = true
		}
		if !found {
			return nil, errors.New("pkcs7: signed attributes without messageDigest")
		}
		signed = append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	}
	digest := hashOf(signed)
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, h, digest, si.Signature); err != nil {
			return nil, fmt.Errorf("pkcs7: RSA signature: %w", err)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, si.Signature) {
			return nil, errors.New("pkcs7: ECDSA signature does not verify")
		}
	default:
		return nil, fmt.Errorf("pkcs7: unsupported key %T", cert.PublicKey)
	}
	return cert, nil
}
