package daemon_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/credentials/credtest"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/secretbox"
)

// lockedBuffer collects the server's logs while it writes them.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func secretKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, secretbox.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// rawCall sends a request and returns the status and the raw body, so a
// test can scan exactly what a client receives.
func (tb *testBundle) rawCall(t testing.TB, token, method, path string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, tb.url+path, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

// TestCredentials stores every kind of credential through the API on both
// databases, lists and deletes them, and then scans every response, the
// audit log and the server's logs for the secrets; it finally restarts on
// the same database with no key and with a wrong key, which must fail
// clearly.
func TestCredentials(t *testing.T) {
	t.Parallel()
	set := credtest.NewSet(t, "com.acme.shop")
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			key := secretKey(t)
			tweak := []func(*config.Config){func(c *config.Config) { c.SecretKey = key }}
			if dialect == "postgres" {
				u := postgresURL(t)
				tweak = append(tweak, func(c *config.Config) { c.DatabaseURL = u })
			}
			logs := &lockedBuffer{}
			tb := setupLogged(t, daemon.Options{}, logs, tweak...)
			testCredentials(t, tb, set, logs, key)
		})
	}
}

func testCredentials(t *testing.T, tb *testBundle, set *credtest.Set, logs *lockedBuffer, key []byte) {
	tb.createApp(t)
	viewer := tb.token(t, "viewer", ripcord.RoleViewer)
	rm := tb.token(t, "rm", ripcord.RoleReleaseManager)
	var responses []string
	call := func(token, method, path string, body any, want int) string {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = jsonBody(body)
		}
		status, data := tb.rawCall(t, token, method, path, rd)
		require.Equal(t, want, status, "%s %s: %s", method, path, data)
		responses = append(responses, data)
		return data
	}
	puts := map[string]httpapi.CredentialPutRequest{
		"asc_api_key":          {ASCKey: set.ASCKey, ASCKeyID: credtest.ASCKeyID, ASCIssuerID: credtest.ASCIssuerID},
		"play_service_account": {ServiceAccount: set.ServiceAccount},
		"android_keystore":     {Keystore: set.JKS, KeystorePassword: credtest.StorePass, KeyAlias: credtest.KeyAlias, KeyPassword: credtest.KeyPass},
		"ios_identity":         {Identity: set.P12, IdentityPassword: credtest.P12Pass},
		"ios_profile":          {Profile: set.Profile},
	}
	for _, kind := range []string{"asc_api_key", "play_service_account", "android_keystore", "ios_identity", "ios_profile"} {
		call(tb.admin, "PUT", "/api/v1/apps/shop/credentials/"+kind, puts[kind], http.StatusOK)
	}
	// Refusals answer in the API's error shape and echo no secret.
	wrong := puts["android_keystore"]
	wrong.KeystorePassword = "not-the-password"
	require.Contains(t, call(tb.admin, "PUT", "/api/v1/apps/shop/credentials/android_keystore", wrong, http.StatusBadRequest), "password is wrong")
	call(rm, "PUT", "/api/v1/apps/shop/credentials/play_service_account", puts["play_service_account"], http.StatusForbidden)
	call(tb.admin, "PUT", "/api/v1/apps/shop/credentials/nope", puts["play_service_account"], http.StatusBadRequest)

	var list httpapi.List[httpapi.Credential]
	resp := tb.call(t, viewer, "GET", "/api/v1/apps/shop/credentials", nil, &list)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	kinds := map[string]httpapi.Credential{}
	for _, c := range list.Items {
		kinds[c.Kind] = c
	}
	require.Len(t, kinds, 5)
	require.Equal(t, credtest.ASCKeyID, kinds["asc_api_key"].Metadata["key_id"])
	prof := kinds["ios_profile:com.acme.shop"]
	require.Equal(t, "ok", prof.Expiry)
	require.NotNil(t, prof.DaysLeft)
	require.InDelta(t, 199, *prof.DaysLeft, 1)
	require.Nil(t, kinds["asc_api_key"].DaysLeft, "API keys do not expire")

	// Later services open material; each use is audited.
	m, err := tb.d.Credentials.Open(daemon.LocalContext(context.Background(), "test"), "shop", "ios_identity")
	require.NoError(t, err)
	require.Equal(t, set.P12, m.Identity)

	call(rm, "DELETE", "/api/v1/apps/shop/credentials/play_service_account", nil, http.StatusForbidden)
	call(tb.admin, "DELETE", "/api/v1/apps/shop/credentials/play_service_account", nil, http.StatusNoContent)
	call(tb.admin, "DELETE", "/api/v1/apps/shop/credentials/play_service_account", nil, http.StatusNotFound)
	call(viewer, "GET", "/api/v1/apps/shop/credentials", nil, http.StatusOK)
	audit := call(viewer, "GET", "/api/v1/audit?limit=1000", nil, http.StatusOK)
	for _, action := range []string{"credentials.put", "credentials.use", "credentials.delete"} {
		require.Contains(t, audit, `"action": "`+action+`"`)
	}
	verify := call(viewer, "GET", "/api/v1/audit/verify", nil, http.StatusOK)
	require.Contains(t, verify, `"ok": true`)
	call(viewer, "GET", "/metrics", nil, http.StatusOK)

	for i, r := range responses {
		requireNoSecret(t, set, "response "+string(rune('0'+i%10)), r)
	}
	require.Contains(t, logs.String(), "credential stored", "the scan reads real logs")
	requireNoSecret(t, set, "server logs", logs.String())

	// A restart on the same database with no key, or another key, refuses
	// to start and says why.
	for name, k := range map[string][]byte{"no key": nil, "wrong key": otherKey(t, key)} {
		cfg := config.Default()
		cfg.Addr, cfg.DatabaseURL, cfg.Artifacts.URL = "127.0.0.1:0", tb.d.Config().DatabaseURL, tb.d.Config().Artifacts.URL
		cfg.SecretKey = k
		d, err := daemon.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if d != nil {
			d.Close()
		}
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "refusing to start", name)
		if k == nil {
			require.Contains(t, err.Error(), "no secret key is configured", name)
			require.Contains(t, err.Error(), "RIPCORD_SECRET_KEY", name)
		} else {
			require.Contains(t, err.Error(), "cannot decrypt credential", name)
			require.Contains(t, err.Error(), "set secret_key to the key the credentials were stored with", name)
		}
	}
	cfg := *tb.d.Config()
	cfg.Addr = "127.0.0.1:0"
	// The first server still runs and holds the ingest log's lock, so this
	// one gets a log directory of its own.
	d, err := daemon.OpenWith(context.Background(), &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), daemon.Options{IngestDir: t.TempDir()})
	require.NoError(t, err, "the right key starts")
	require.NoError(t, d.Close())
}

func otherKey(t *testing.T, key []byte) []byte {
	t.Helper()
	for {
		k := secretKey(t)
		if secretbox.KeyID(k) != secretbox.KeyID(key) {
			return k
		}
	}
}

// requireNoSecret fails when any of the set's secrets appears in text, or
// its base64 (how JSON carries bytes).
func requireNoSecret(t *testing.T, set *credtest.Set, where, text string) {
	t.Helper()
	for _, s := range set.Secrets() {
		require.False(t, strings.Contains(text, string(s)), "%s contains a secret (%.12q...)", where, s)
		if len(s) > 48 {
			require.False(t, strings.Contains(text, b64(s[:48])), "%s contains a secret in base64", where)
		}
	}
}

// TestCredentialsNeedSecretKey shows a server without a secret key refuses
// to store credentials and says how to set one.
func TestCredentialsNeedSecretKey(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.createApp(t)
	status, body := tb.rawCall(t, tb.admin, "PUT", "/api/v1/apps/shop/credentials/play_service_account",
		jsonBody(httpapi.CredentialPutRequest{ServiceAccount: []byte(`{"type":"service_account"}`)}))
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, "no secret key")
	require.Contains(t, body, "openssl rand -base64 32")
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
