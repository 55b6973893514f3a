package web_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/web"
)

// fakeIdP is a minimal OpenID provider: discovery, keys, an authorize
// endpoint that signs in whoever it is told to, and a token endpoint that
// checks the code, the PKCE verifier and the client secret before it
// issues an RS256 ID token.
type fakeIdP struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	mu    sync.Mutex
	email string
	codes map[string]authz // code → what was authorised
}

type authz struct{ nonce, challenge string }

func newFakeIdP(t *testing.T) *fakeIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	f := &fakeIdP{key: key, codes: map[string]authz{}}
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/authorize",
			"token_endpoint": f.srv.URL + "/token", "jwks_uri": f.srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "ripcord" || q.Get("code_challenge_method") != "S256" {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		code := "code-" + q.Get("state")[:8]
		f.codes[code] = authz{nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
		f.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		f.mu.Lock()
		a, known := f.codes[r.PostFormValue("code")]
		delete(f.codes, r.PostFormValue("code"))
		email := f.email
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if id != "ripcord" || secret != "s3cret" || !known || b64(sum[:]) != a.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		now := time.Now()
		tok := f.sign(t, map[string]any{"iss": f.srv.URL, "aud": "ripcord", "sub": "u-" + email, "email": email, "email_verified": true,
			"nonce": a.nonce, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": tok})
	})
	return f
}

func (f *fakeIdP) signInAs(email string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.email = email
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (f *fakeIdP) sign(t *testing.T, claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	in := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	return in + "." + b64(sig)
}

// follow walks redirects across the dashboard and the provider, as a
// browser would, and returns the last answer.
func (b *browser) follow(t *testing.T, start string) *http.Response {
	t.Helper()
	next := start
	for range 10 {
		resp, err := b.Get(next)
		require.NoError(t, err)
		readBody(t, resp)
		loc := resp.Header.Get("Location")
		if loc == "" {
			return resp
		}
		u, err := resp.Request.URL.Parse(loc)
		require.NoError(t, err)
		next = u.String()
	}
	t.Fatal("too many redirects")
	return nil
}

// TestOIDCSignIn signs in through an OpenID provider: the provider's
// verified email maps to a local user, whose role applies; an email with
// no Ripcord account is refused, and so is an answer whose state does not
// match the sign-in started here.
func TestOIDCSignIn(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	tb := setupWith(t, openSQLite, func(cfg *web.Config, base string) {
		o, err := web.NewOIDC(context.Background(), web.OIDCConfig{Issuer: idp.srv.URL, ClientID: "ripcord", ClientSecret: "s3cret", RedirectURL: base + "/ui/oidc/callback"})
		require.NoError(t, err)
		cfg.OIDC = o
	})

	b := tb.browser(t)
	_, page := b.get(t, "/ui/login")
	require.Contains(t, page, "Sign in with single sign-on")
	idp.signInAs("viewer@example.com")
	resp := b.follow(t, tb.srv.URL+"/ui/oidc/start?next=/ui/admin")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "signed in as a viewer, who may not see the admin page")
	_, page = b.get(t, "/ui/")
	require.Contains(t, page, "Signed in as <strong>user:viewer@example.com</strong> (viewer)")
	require.Contains(t, tb.auditActions(t), "session.sign_in user/viewer@example.com by user:viewer@example.com")

	stranger := tb.browser(t)
	idp.signInAs("stranger@example.com")
	resp = stranger.follow(t, tb.srv.URL+"/ui/oidc/start")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = stranger.get(t, "/ui/")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "no session for an unknown email")

	// A callback that was not started here (no state cookie) is refused.
	forged := tb.browser(t)
	resp, page = forged.get(t, "/ui/oidc/callback?code=code-x&state=abcdefgh")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, page, "did not match a sign-in started here")
	require.False(t, strings.Contains(page, "Signed in as"))
}
