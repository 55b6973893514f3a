// Package devpki is a local certificate authority standing in for Apple's
// WWDR: it issues distribution identities and signs provisioning profiles.
// `ripcord demo` re-signs its sample IPA with what it makes at start, and
// tests use it as their Apple; nothing it makes is trusted by a device.
package devpki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"time"

	"howett.net/plist"
	"software.sslmate.com/src/go-pkcs12"
)

// PKI is a test CA standing in for Apple WWDR: it issues distribution
// certificates and signs provisioning profiles.
type PKI struct {
	CA    *x509.Certificate // CA is the self-signed root.
	CAKey crypto.Signer     // CAKey is its P-256 key.
	CAPEM []byte            // CAPEM is CA as PEM, for --roots and openssl -CAfile.
}

// GeneratePKI makes a CA valid from two days ago for ten years.
func GeneratePKI() (*PKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devpki: CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Ripcord Test WWDR CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("devpki: CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devpki: CA certificate: %w", err)
	}
	return &PKI{CA: ca, CAKey: key, CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Roots is a pool holding only the CA, for ipa.VerifyOptions.Roots.
func (p *PKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return pool
}

// Identity is a distribution identity issued by a PKI: a key and its
// certificate "Apple Distribution: Ripcord Test (TEAM)" with OU=TEAM.
type Identity struct {
	Key   crypto.Signer       // Key is the private key (RSA 2048 or P-256).
	Chain []*x509.Certificate // Chain is the leaf, then the CA.
	Team  string              // Team is the team id.
}

// IssueIdentity makes a key (P-256 when ec, else RSA 2048) and a
// code-signing certificate for team, valid from a day ago until notAfter.
func (p *PKI) IssueIdentity(team string, ec bool, notAfter time.Time) (*Identity, error) {
	var key crypto.Signer
	var err error
	if ec {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return nil, fmt.Errorf("devpki: identity key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, fmt.Errorf("devpki: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Apple Distribution: Ripcord Test (" + team + ")", OrganizationalUnit: []string{team}, Organization: []string{"Ripcord Test"}},
		NotBefore:    time.Now().Add(-24 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, key.Public(), p.CAKey)
	if err != nil {
		return nil, fmt.Errorf("devpki: identity certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devpki: identity certificate: %w", err)
	}
	return &Identity{Key: key, Chain: []*x509.Certificate{leaf, p.CA}, Team: team}, nil
}

// EncodeP12 is the identity as a PKCS#12 file (.p12) under password, as
// Keychain Access exports it.
func (id *Identity) EncodeP12(password string) ([]byte, error) {
	b, err := pkcs12.Modern2023.Encode(id.Key, id.Chain[0], id.Chain[1:], password)
	if err != nil {
		return nil, fmt.Errorf("devpki: encode p12: %w", err)
	}
	return b, nil
}

// KeyPEM is the private key as PEM PKCS#8, as `openssl dgst -sign` reads it.
func (id *Identity) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return nil, fmt.Errorf("devpki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ChainPEM is the certificate chain, leaf first, as PEM.
func (id *Identity) ChainPEM() []byte {
	var buf bytes.Buffer
	for _, c := range id.Chain {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

// ProfileSpec describes a provisioning profile to generate.
type ProfileSpec struct {
	Name    string              // Name is the profile's name in the portal.
	Team    string              // Team is the team id.
	AppID   string              // AppID is the application-identifier, e.g. TEAM.com.example.demo.
	Expires time.Time           // Expires is ExpirationDate.
	Certs   []*x509.Certificate // Certs are the DeveloperCertificates.
	// ExtraEntitlements are granted on top of application-identifier, the
	// team id, get-task-allow false and keychain-access-groups TEAM.*.
	ExtraEntitlements map[string]any
}

// BuildProfile builds a profile: a CMS SignedData (encapsulated, DER)
// around the profile plist, signed by the CA as Apple signs real ones.
func (p *PKI) BuildProfile(s ProfileSpec) ([]byte, error) {
	ents := map[string]any{
		"application-identifier":              s.AppID,
		"com.apple.developer.team-identifier": s.Team,
		"get-task-allow":                      false,
		"keychain-access-groups":              []any{s.Team + ".*"},
	}
	maps.Copy(ents, s.ExtraEntitlements)
	certs := [][]byte{}
	for _, c := range s.Certs {
		certs = append(certs, c.Raw)
	}
	doc := map[string]any{
		"Name": s.Name, "UUID": "6f1c2c1e-0000-4000-8000-" + fmt.Sprintf("%012d", len(s.Name)), "TeamIdentifier": []string{s.Team},
		"TeamName": "Ripcord Test", "AppIDName": "Demo", "CreationDate": time.Now().Add(-time.Hour).UTC().Truncate(time.Second),
		"ExpirationDate": s.Expires.UTC().Truncate(time.Second), "Entitlements": ents, "DeveloperCertificates": certs,
		"Platform": []string{"iOS"},
	}
	content, err := plist.MarshalIndent(doc, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("devpki: profile plist: %w", err)
	}
	return signEncapsulated(p.CAKey, p.CA, content)
}

// signEncapsulated wraps content in a CMS SignedData signed by an ECDSA key.
func signEncapsulated(key crypto.Signer, cert *x509.Certificate, content []byte) ([]byte, error) {
	d := sha256.Sum256(content)
	sig, err := key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("devpki: sign profile: %w", err)
	}
	type algID struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	sha := algID{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}}
	octets, err := asn1.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("devpki: profile content: %w", err)
	}
	type issuerSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	type signerInfo struct {
		Version   int
		SID       issuerSerial
		Digest    algID
		SigAlg    algID
		Signature []byte
	}
	type encap struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}
	explicit0 := func(b []byte) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: b}
	}
	type signedData struct {
		Version      int
		Digests      []algID `asn1:"set"`
		Encap        encap
		Certificates asn1.RawValue `asn1:"tag:0"`
		Signers      []signerInfo  `asn1:"set"`
	}
	sd := signedData{
		Version: 1, Digests: []algID{sha},
		Encap:        encap{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}, Content: explicit0(octets)},
		Certificates: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: cert.Raw},
		Signers: []signerInfo{{Version: 1, SID: issuerSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber},
			Digest: sha, SigAlg: algID{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}, Signature: sig}},
	}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("devpki: profile CMS: %w", err)
	}
	out, err := asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}, explicit0(inner)})
	if err != nil {
		return nil, fmt.Errorf("devpki: profile CMS: %w", err)
	}
	return out, nil
}
