package signingkey

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
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/ripcordhq/ripcord/internal/testenv"
)

type testBundle struct {
	signer crypto.Signer
	cert   *x509.Certificate
	pk8    []byte
}

func setup(t *testing.T, kind string) testBundle {
	t.Helper()
	var s crypto.Signer
	var err error
	if kind == "ec" {
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "upload"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.Public(), s)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pk8, err := x509.MarshalPKCS8PrivateKey(s)
	require.NoError(t, err)
	return testBundle{signer: s, cert: cert, pk8: pk8}
}

func jks(t *testing.T, b testBundle, alias, storePass, keyPass string) []byte {
	t.Helper()
	ks := keystore.New()
	require.NoError(t, ks.SetPrivateKeyEntry(alias, keystore.PrivateKeyEntry{
		CreationTime: time.Now(), PrivateKey: b.pk8,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: b.cert.Raw}},
	}, []byte(keyPass)))
	var buf bytes.Buffer
	require.NoError(t, ks.Store(&buf, []byte(storePass)))
	return buf.Bytes()
}

func TestLoadKeystore(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"rsa", "ec"} {
		b := setup(t, kind)
		p12, err := pkcs12.Modern.Encode(b.signer, b.cert, nil, "storepass")
		require.NoError(t, err)
		tests := []struct {
			name                      string
			data                      []byte
			storePass, alias, keyPass string
			want                      error
		}{
			{name: "JKS", data: jks(t, b, "upload", "storepass", "keypass"), storePass: "storepass", alias: "UPLOAD", keyPass: "keypass"},
			{name: "JKSNoAlias", data: jks(t, b, "upload", "storepass", "storepass"), storePass: "storepass"},
			{name: "JKSWrongStorePass", data: jks(t, b, "upload", "storepass", "keypass"), storePass: "nope", alias: "upload", keyPass: "keypass", want: ErrWrongPassword},
			{name: "JKSWrongKeyPass", data: jks(t, b, "upload", "storepass", "keypass"), storePass: "storepass", alias: "upload", keyPass: "nope", want: ErrWrongPassword},
			{name: "JKSUnknownAlias", data: jks(t, b, "upload", "storepass", "keypass"), storePass: "storepass", alias: "other", keyPass: "keypass", want: ErrNotFound},
			{name: "PKCS12", data: p12, storePass: "storepass"},
			{name: "PKCS12WrongPass", data: p12, storePass: "nope", want: ErrWrongPassword},
		}
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				k, err := LoadKeystore(tt.data, tt.storePass, tt.alias, tt.keyPass)
				if tt.want != nil {
					require.ErrorIs(t, err, tt.want)
					return
				}
				require.NoError(t, err)
				require.Equal(t, b.cert.Raw, k.Cert().Raw)
				require.Equal(t, CertDigest(b.cert.Raw), k.CertSHA256())
			})
		}
	}
}

func TestLoadKeyPair(t *testing.T) {
	t.Parallel()
	b := setup(t, "rsa")
	other := setup(t, "ec")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.cert.Raw})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b.pk8})
	tests := []struct {
		name      string
		key, cert []byte
		want      error
	}{
		{name: "PEM", key: keyPEM, cert: certPEM},
		{name: "DER", key: b.pk8, cert: b.cert.Raw},
		{name: "Mismatch", key: other.pk8, cert: certPEM, want: ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := LoadKeyPair(tt.key, tt.cert)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, b.cert.Raw, k.Cert().Raw)
		})
	}
}

// TestLoadKeytoolKeystores reads keystores made by the JDK's keytool, the
// tool Android teams make them with.
func TestLoadKeytoolKeystores(t *testing.T) {
	t.Parallel()
	keytool := testenv.LookPath(t, "keytool", "apt-get install default-jre-headless")
	for _, tt := range []struct{ storeType, keyAlg string }{{"JKS", "RSA"}, {"PKCS12", "RSA"}, {"PKCS12", "EC"}, {"JKS", "EC"}} {
		t.Run(tt.storeType+"/"+tt.keyAlg, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "ks")
			args := []string{"-genkeypair", "-keystore", p, "-storetype", tt.storeType, "-storepass", "storepass",
				"-keypass", "storepass", "-alias", "upload", "-keyalg", tt.keyAlg, "-dname", "CN=upload", "-validity", "1"}
			out, err := exec.Command(keytool, args...).CombinedOutput()
			require.NoError(t, err, "%s", out)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			k, err := LoadKeystore(data, "storepass", "upload", "")
			require.NoError(t, err)
			require.Equal(t, "CN=upload", k.Cert().Subject.String())
			_, err = LoadKeystore(data, "wrong-pass", "upload", "")
			require.ErrorIs(t, err, ErrWrongPassword)
		})
	}
}
