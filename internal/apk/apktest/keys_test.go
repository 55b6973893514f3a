package apktest

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// TestWriteFiles loads every file WriteFiles writes with Ripcord's own
// loaders: each must give the same certificate.
func TestWriteFiles(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"rsa", "ec"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			k, err := GenerateKey(kind, "upload")
			require.NoError(t, err)
			kf, err := k.WriteFiles(t.TempDir(), "upload")
			require.NoError(t, err)
			require.Equal(t, kf.PK8, k.PK8Path)
			require.Equal(t, kf.CertPEM, k.CertPath)
			read := func(p string) []byte {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				return b
			}
			loaded := map[string]func() (*signingkey.Key, error){
				"DER": func() (*signingkey.Key, error) { return signingkey.LoadKeyPair(read(kf.PK8), read(kf.CertDER)) },
				"PEM": func() (*signingkey.Key, error) { return signingkey.LoadKeyPair(read(kf.KeyPEM), read(kf.CertPEM)) },
				"JKS": func() (*signingkey.Key, error) {
					return signingkey.LoadKeystore(read(kf.JKS), StorePass, "upload", KeyPass)
				},
				"PKCS12": func() (*signingkey.Key, error) { return signingkey.LoadKeystore(read(kf.PKCS12), StorePass, "", "") },
			}
			for name, load := range loaded {
				got, err := load()
				require.NoError(t, err, name)
				require.Equal(t, k.CertSHA256(), got.CertSHA256(), name)
			}
			_, err = signingkey.LoadKeystore(read(kf.JKS), StorePass, "upload", StorePass)
			require.ErrorIs(t, err, signingkey.ErrWrongPassword, "the JKS key password differs from the store's")
		})
	}
	_, err := GenerateKey("dsa", "x")
	require.Error(t, err)
}
