package apktest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// Key is a Go-generated signing key with a self-signed certificate.
type Key struct {
	*signingkey.Key        // Key is the loaded key, as the signers take it.
	PKCS8           []byte // PKCS8 is the private key as DER PKCS#8.
	// PK8Path and CertPath are the DER PKCS#8 key and the PEM certificate,
	// as apksigner's --key and --cert want them; set by NewKey and
	// WriteFiles.
	PK8Path, CertPath string
}

// GenerateKey makes a key of kind "rsa" (2048 bits) or "ec" (P-256) with a
// certificate for CN=cn, valid from an hour ago for 30 years.
func GenerateKey(kind, cn string) (*Key, error) {
	var signer crypto.Signer
	var err error
	switch kind {
	case "rsa":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ec":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("apktest: unknown key kind %q; use rsa or ec", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("apktest: generate %s key: %w", kind, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("apktest: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Ripcord Test"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("apktest: certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("apktest: certificate: %w", err)
	}
	k, err := signingkey.New(signer, []*x509.Certificate{cert})
	if err != nil {
		return nil, fmt.Errorf("apktest: %w", err)
	}
	pk8, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("apktest: PKCS#8: %w", err)
	}
	return &Key{Key: k, PKCS8: pk8}, nil
}

// NewKey is GenerateKey for tests; the key and certificate files are
// written to a temporary directory (PK8Path, CertPath).
func NewKey(tb testing.TB, kind, cn string) *Key {
	tb.Helper()
	k, err := GenerateKey(kind, cn)
	require.NoError(tb, err)
	_, err = k.WriteFiles(tb.TempDir(), "key")
	require.NoError(tb, err)
	return k
}

// KeyFiles are the paths WriteFiles wrote.
type KeyFiles struct {
	PK8     string // PK8 is NAME.pk8: DER PKCS#8.
	KeyPEM  string // KeyPEM is NAME.key.pem: PEM "PRIVATE KEY".
	CertPEM string // CertPEM is NAME.pem: PEM certificate.
	CertDER string // CertDER is NAME.der: DER certificate.
	JKS     string // JKS is NAME.jks: alias NAME, store password StorePass, key password KeyPass.
	PKCS12  string // PKCS12 is NAME.p12: password StorePass.
}

// Passwords of the keystores WriteFiles writes.
const (
	StorePass = "storepass" // StorePass opens the JKS and the PKCS#12 keystore.
	KeyPass   = "keypass"   // KeyPass opens the key entry of the JKS.
)

// WriteFiles writes the key in every format into dir, named after name
// (see KeyFiles), and sets PK8Path and CertPath.
func (k *Key) WriteFiles(dir, name string) (KeyFiles, error) {
	base := filepath.Join(dir, name)
	kf := KeyFiles{PK8: base + ".pk8", KeyPEM: base + ".key.pem", CertPEM: base + ".pem", CertDER: base + ".der", JKS: base + ".jks", PKCS12: base + ".p12"}
	jks, err := k.JKS(name, StorePass, KeyPass)
	if err != nil {
		return KeyFiles{}, err
	}
	p12, err := k.PKCS12(StorePass)
	if err != nil {
		return KeyFiles{}, err
	}
	for path, b := range map[string][]byte{
		kf.PK8:     k.PKCS8,
		kf.KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k.PKCS8}),
		kf.CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Cert().Raw}),
		kf.CertDER: k.Cert().Raw,
		kf.JKS:     jks,
		kf.PKCS12:  p12,
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return KeyFiles{}, fmt.Errorf("apktest: %w", err)
		}
	}
	k.PK8Path, k.CertPath = kf.PK8, kf.CertPEM
	return kf, nil
}

// JKS returns a Java KeyStore holding the key under alias.
func (k *Key) JKS(alias, storePass, keyPass string) ([]byte, error) {
	ks := keystore.New()
	if err := ks.SetPrivateKeyEntry(alias, keystore.PrivateKeyEntry{
		CreationTime:     time.Now(),
		PrivateKey:       k.PKCS8,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: k.Cert().Raw}},
	}, []byte(keyPass)); err != nil {
		return nil, fmt.Errorf("apktest: JKS: %w", err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(storePass)); err != nil {
		return nil, fmt.Errorf("apktest: JKS: %w", err)
	}
	return buf.Bytes(), nil
}

// PKCS12 returns a PKCS#12 keystore (modern encryption, as keytool writes
// since JDK 9) holding the key and its certificate.
func (k *Key) PKCS12(pass string) ([]byte, error) {
	b, err := pkcs12.Modern.Encode(k.Signer, k.Cert(), nil, pass)
	if err != nil {
		return nil, fmt.Errorf("apktest: PKCS#12: %w", err)
	}
	return b, nil
}
