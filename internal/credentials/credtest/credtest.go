// Package credtest makes store credentials and signing material for tests:
// an App Store Connect .p8 key, a Play service-account JSON, Android
// keystores (JKS, PKCS#12, PEM), an iOS distribution identity (.p12) and
// App Store provisioning profiles, all generated at run time with the
// expiry a test asks for. Test code only.
package credtest

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
	"encoding/json"
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

	"github.com/ripcordhq/ripcord/internal/ipa/ipatest"
)

// Fixed values of the generated material.
const (
	ASCKeyID    = "2X9R4HXF34"                           // ASCKeyID is the App Store Connect key id.
	ASCIssuerID = "57246542-96fe-1a63-e053-0824d011072a" // ASCIssuerID is the team's issuer id.
	PlayEmail   = "ripcord@acme-shop.iam.gserviceaccount.com"
	StorePass   = "storepass-S3cr3t" // StorePass opens the keystores.
	KeyPass     = "keypass-S3cr3t"   // KeyPass opens the JKS key entry.
	KeyAlias    = "upload"           // KeyAlias names the JKS key entry.
	P12Pass     = "identity-S3cr3t"  // P12Pass opens the iOS identity.
	TeamID      = "TEAM123456"       // TeamID is the Apple team.
)

// Cert is a private key with a certificate.
type Cert struct {
	Key   crypto.Signer
	PKCS8 []byte
	Cert  *x509.Certificate
}

// NewCert makes an RSA key with a self-signed certificate for cn valid
// until notAfter (and from a day before it or an hour ago, whichever is
// earlier).
func NewCert(tb testing.TB, cn string, notAfter time.Time) *Cert {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(tb, err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	require.NoError(tb, err)
	notBefore := time.Now().Add(-time.Hour)
	if nb := notAfter.Add(-24 * time.Hour); nb.Before(notBefore) {
		notBefore = nb
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, OrganizationalUnit: []string{TeamID}, Organization: []string{"Acme Shop"}},
		NotBefore:    notBefore, NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(tb, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(tb, err)
	return &Cert{Key: key, PKCS8: pk8, Cert: cert}
}

// KeyPEM is the key as PEM PKCS#8.
func (c *Cert) KeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: c.PKCS8})
}

// CertPEM is the certificate as PEM.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// SHA256 is the certificate's hex SHA-256.
func (c *Cert) SHA256() string {
	d := sha256.Sum256(c.Cert.Raw)
	return fmt.Sprintf("%x", d)
}

// JKS is a Java KeyStore holding the key under KeyAlias.
func (c *Cert) JKS(tb testing.TB) []byte {
	tb.Helper()
	ks := keystore.New()
	require.NoError(tb, ks.SetPrivateKeyEntry(KeyAlias, keystore.PrivateKeyEntry{
		CreationTime: time.Now(), PrivateKey: c.PKCS8,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: c.Cert.Raw}},
	}, []byte(KeyPass)))
	var buf bytes.Buffer
	require.NoError(tb, ks.Store(&buf, []byte(StorePass)))
	return buf.Bytes()
}

// PKCS12 is a PKCS#12 file holding the key and certificate under pass.
func (c *Cert) PKCS12(tb testing.TB, pass string) []byte {
	tb.Helper()
	b, err := pkcs12.Modern.Encode(c.Key, c.Cert, nil, pass)
	require.NoError(tb, err)
	return b
}

// ASCKey is an App Store Connect API key file (AuthKey_<id>.p8): an EC
// P-256 key as PEM PKCS#8.
func ASCKey(tb testing.TB) []byte {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(tb, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PlayServiceAccount is a Google service-account key file.
func PlayServiceAccount(tb testing.TB) []byte {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(tb, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(tb, err)
	b, err := json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": "acme-shop", "private_key_id": "0123456789abcdef0123456789abcdef01234567",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": PlayEmail, "client_id": "100000000000000000001",
		"token_uri": "https://oauth2.googleapis.com/token",
	}, "", "  ")
	require.NoError(tb, err)
	return b
}

// Profile is an App Store provisioning profile named name for appID
// ("TEAMID.com.acme.shop" or "TEAMID.*") listing cert, expiring at
// expires: a CMS SignedData around the plist, signed by a throwaway CA
// as Apple signs real ones.
func Profile(tb testing.TB, name, appID string, cert *x509.Certificate, expires time.Time) []byte {
	tb.Helper()
	return ipatest.NewPKI(tb).Profile(tb, ipatest.ProfileSpec{
		Name: name, Team: TeamID, AppID: appID, Expires: expires, Certs: []*x509.Certificate{cert},
	})
}

// Set is one app's worth of material, for tests that store everything.
type Set struct {
	ASCKey         []byte // .p8
	ServiceAccount []byte // Play JSON
	Upload         *Cert  // Android upload key
	JKS, PKCS12    []byte // Upload in a JKS (KeyAlias, StorePass, KeyPass) and a PKCS#12 (StorePass)
	Identity       *Cert  // iOS distribution identity, valid a year
	P12            []byte // Identity under P12Pass
	Profile        []byte // App Store profile "Shop App Store" for TEAMID.<bundle id>, valid 200 days
}

// NewSet makes a Set for an app with iOS bundle id bundleID.
func NewSet(tb testing.TB, bundleID string) *Set {
	tb.Helper()
	s := &Set{ASCKey: ASCKey(tb), ServiceAccount: PlayServiceAccount(tb)}
	s.Upload = NewCert(tb, "Acme Upload", time.Now().Add(25*365*24*time.Hour))
	s.JKS, s.PKCS12 = s.Upload.JKS(tb), s.Upload.PKCS12(tb, StorePass)
	s.Identity = NewCert(tb, "Apple Distribution: Acme Shop ("+TeamID+")", time.Now().Add(365*24*time.Hour))
	s.P12 = s.Identity.PKCS12(tb, P12Pass)
	s.Profile = Profile(tb, "Shop App Store", TeamID+"."+bundleID, s.Identity.Cert, time.Now().Add(200*24*time.Hour))
	return s
}

// Secrets lists every secret of the set as it could leak (passwords, key
// bytes and their PEM text), for tests that scan outputs for them.
func (s *Set) Secrets() [][]byte {
	out := [][]byte{
		[]byte(StorePass), []byte(KeyPass), []byte(P12Pass),
		s.Upload.PKCS8, s.Identity.PKCS8, s.JKS, s.PKCS12, s.P12,
	}
	for _, pemText := range [][]byte{s.ASCKey, s.Upload.KeyPEM(), s.Identity.KeyPEM()} {
		out = append(out, pemBody(pemText)...)
	}
	var sa struct {
		PrivateKey string `json:"private_key"`
	}
	if json.Unmarshal(s.ServiceAccount, &sa) == nil {
		out = append(out, pemBody([]byte(sa.PrivateKey))...)
	}
	return out
}

// pemBody returns the base64 lines of a PEM block long enough to be
// recognisable, so a scan finds key text even when re-wrapped.
func pemBody(b []byte) [][]byte {
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) >= 40 && !bytes.HasPrefix(line, []byte("-----")) {
			out = append(out, line)
		}
	}
	return out
}

// WriteFiles writes the set into dir as asc.p8, play.json, upload.jks,
// upload.p12, upload.key.pem, upload.pem, identity.p12 and
// shop.mobileprovision.
func (s *Set) WriteFiles(tb testing.TB, dir string) {
	tb.Helper()
	for name, b := range map[string][]byte{
		"asc.p8": s.ASCKey, "play.json": s.ServiceAccount, "upload.jks": s.JKS, "upload.p12": s.PKCS12,
		"upload.key.pem": s.Upload.KeyPEM(), "upload.pem": s.Upload.CertPEM(), "identity.p12": s.P12,
		"shop.mobileprovision": s.Profile,
	} {
		require.NoError(tb, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
}
