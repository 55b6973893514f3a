package cli_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/credentials/credtest"
)

// credentialFixtures are store credentials and signing material for the
// com.acme.shop app, generated once per test binary (RSA keys are slow).
type credentialFixtures struct{ dir string }

func newCredentialFixtures(t *testing.T) *credentialFixtures {
	t.Helper()
	dir := t.TempDir()
	set := credtest.NewSet(t, "com.acme.shop")
	set.WriteFiles(t, dir)
	expired := credtest.Profile(t, "Old", credtest.TeamID+".com.acme.shop", set.Identity.Cert, time.Now().Add(-24*time.Hour))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "expired.mobileprovision"), expired, 0o600))
	return &credentialFixtures{dir: dir}
}

// cmdMakeCredentials copies the fixtures into DIR: asc.p8, play.json,
// upload.jks (alias upload; passwords storepass-S3cr3t, keypass-S3cr3t),
// upload.p12, upload.key.pem, upload.pem, identity.p12 (identity-S3cr3t),
// shop.mobileprovision and expired.mobileprovision.
func (f *credentialFixtures) cmdMakeCredentials(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: make-credentials DIR")
	}
	dst := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dst, 0o700))
	entries, err := os.ReadDir(f.dir)
	ts.Check(err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(f.dir, e.Name()))
		ts.Check(err)
		ts.Check(os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600))
	}
}

// scriptSecretKey is the script's RIPCORD_SECRET_KEY for serve-bg, or nil.
func scriptSecretKey(ts *testscript.TestScript) []byte {
	s := ts.Getenv("RIPCORD_SECRET_KEY")
	if s == "" {
		return nil
	}
	k, err := base64.StdEncoding.DecodeString(s)
	ts.Check(err)
	return k
}
