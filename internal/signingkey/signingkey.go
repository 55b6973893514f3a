// Package signingkey loads the private key and certificate an artifact is
// signed with, from the formats Android teams keep them in: JKS and PKCS#12
// keystores, or a PKCS#8 key with an X.509 certificate (PEM or DER).
//
// Every loader checks that the key and the certificate belong together, so
// a mismatch is reported when the key is loaded, not as an unverifiable
// artifact later.
package signingkey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Sentinels callers match to tell the user what to fix.
var (
	ErrWrongPassword = errors.New("signingkey: wrong keystore or key password")             // ErrWrongPassword marks a password that does not open the keystore or key.
	ErrMismatch      = errors.New("signingkey: private key does not match the certificate") // ErrMismatch marks a key whose public half differs from the certificate's.
	ErrUnsupported   = errors.New("signingkey: unsupported key type; use RSA or EC")        // ErrUnsupported marks DSA, Ed25519 and other keys Android signing here does not use.
	ErrNotFound      = errors.New("signingkey: alias not found in keystore")                // ErrNotFound marks a missing alias.
)

// Key is a signing key with its certificate chain, leaf first.
type Key struct {
	Signer crypto.Signer       // Signer is an *rsa.PrivateKey or *ecdsa.PrivateKey.
	Chain  []*x509.Certificate // Chain is the certificate chain, leaf first; never empty.
}

// Cert is the leaf certificate, the identity Android compares across updates.
func (k *Key) Cert() *x509.Certificate { return k.Chain[0] }

// CertSHA256 is the hex SHA-256 of the leaf certificate, as apksigner prints it.
func (k *Key) CertSHA256() string { return CertDigest(k.Chain[0].Raw) }

// CertDigest is the hex SHA-256 of a DER certificate.
func CertDigest(der []byte) string {
	d := sha256.Sum256(der)
	return hex.EncodeToString(d[:])
}

// New checks that signer and chain belong together and builds a Key.
func New(signer crypto.Signer, chain []*x509.Certificate) (*Key, error) {
	if len(chain) == 0 {
		return nil, errors.New("signingkey: no certificate for the key")
	}
	switch signer.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
	default:
		return nil, fmt.Errorf("%w (got %T)", ErrUnsupported, signer)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := signer.Public().(equaler)
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, fmt.Errorf("%w: certificate %q (SHA-256 %s); pass the certificate issued for this key", ErrMismatch, chain[0].Subject.String(), CertDigest(chain[0].Raw))
	}
	return &Key{Signer: signer, Chain: chain}, nil
}

// LoadKeystore reads a JKS or PKCS#12 keystore (detected from its magic).
// alias picks the entry in a JKS (case-insensitive, as keytool treats it);
// an empty alias takes the only key entry. keyPass defaults to storePass.
func LoadKeystore(data []byte, storePass, alias, keyPass string) (*Key, error) {
	if keyPass == "" {
		keyPass = storePass
	}
	if bytes.HasPrefix(data, []byte{0xfe, 0xed, 0xfe, 0xed}) {
		return loadJKS(data, storePass, alias, keyPass)
	}
	return loadPKCS12(data, storePass)
}

func loadJKS(data []byte, storePass, alias, keyPass string) (*Key, error) {
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(data), []byte(storePass)); err != nil {
		if strings.Contains(err.Error(), "digest") {
			return nil, fmt.Errorf("jks: %w", ErrWrongPassword)
		}
		return nil, fmt.Errorf("jks: read keystore: %w", err)
	}
	if alias == "" {
		var keys []string
		for _, a := range ks.Aliases() {
			if ks.IsPrivateKeyEntry(a) {
				keys = append(keys, a)
			}
		}
		if len(keys) != 1 {
			return nil, fmt.Errorf("jks: keystore holds %d key entries %v; give the key alias", len(keys), keys)
		}
		alias = keys[0]
	}
	alias = strings.ToLower(alias)
	if !ks.IsPrivateKeyEntry(alias) {
		return nil, fmt.Errorf("jks: %w: %q (keystore has %v)", ErrNotFound, alias, ks.Aliases())
	}
	e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPass))
	if err != nil {
		return nil, fmt.Errorf("jks: key %q: %w", alias, ErrWrongPassword)
	}
	signer, err := parsePrivateKey(e.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("jks: key %q: %w", alias, err)
	}
	chain := make([]*x509.Certificate, 0, len(e.CertificateChain))
	for i, c := range e.CertificateChain {
		cert, err := x509.ParseCertificate(c.Content)
		if err != nil {
			return nil, fmt.Errorf("jks: key %q: certificate %d: %w", alias, i, err)
		}
		chain = append(chain, cert)
	}
	return New(signer, chain)
}

func loadPKCS12(data []byte, pass string) (*Key, error) {
	priv, cert, cas, err := pkcs12.DecodeChain(data, pass)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, fmt.Errorf("pkcs12: %w", ErrWrongPassword)
		}
		return nil, fmt.Errorf("pkcs12: read keystore (JKS and PKCS#12 are accepted): %w", err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pkcs12: %w (got %T)", ErrUnsupported, priv)
	}
	return New(signer, append([]*x509.Certificate{cert}, cas...))
}

// LoadKeyPair reads a PKCS#8 (or PKCS#1 / SEC 1) private key and a
// certificate chain, each PEM or DER.
func LoadKeyPair(keyData, certData []byte) (*Key, error) {
	der := keyData
	if b, _ := pem.Decode(keyData); b != nil {
		if strings.Contains(b.Type, "ENCRYPTED") {
			return nil, errors.New("signingkey: encrypted PEM keys are not supported; export an unencrypted PKCS#8 key or use a keystore")
		}
		der = b.Bytes
	}
	signer, err := parsePrivateKey(der)
	if err != nil {
		return nil, err
	}
	var chain []*x509.Certificate
	rest := certData
	for {
		b, r := pem.Decode(rest)
		if b == nil {
			break
		}
		rest = r
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signingkey: certificate: %w", err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		cs, err := x509.ParseCertificates(certData)
		if err != nil {
			return nil, fmt.Errorf("signingkey: certificate is neither PEM nor DER: %w", err)
		}
		chain = cs
	}
	return New(signer, chain)
}

func parsePrivateKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w (got %T)", ErrUnsupported, k)
		}
		return s, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("signingkey: private key is not PKCS#8, PKCS#1 or SEC 1 (PEM or DER)")
}
