package fakestore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// File names the fake writes so any client can be pointed at it.
const (
	ASCKeyFile         = "asc-key.p8"
	ASCKeyMetaFile     = "asc-key.json"
	PlayServiceAccount = "play-service-account.json"
)

// OAuth scopes the fake checks, as Google does.
const (
	ScopeAndroidPublisher = "https://www.googleapis.com/auth/androidpublisher"
	ScopeReporting        = "https://www.googleapis.com/auth/playdeveloperreporting"
)

// ASCAudience is the aud claim App Store Connect requires of team and
// individual keys.
const ASCAudience = "appstoreconnect-v1"

// ascMaxTokenLifetime is Apple's limit: "Tokens that expire more than 20
// minutes into the future are not valid."
const ascMaxTokenLifetime = 20 * time.Minute

// Credentials is the key material the fake accepts.
type Credentials struct {
	// ASCKeyID is the kid App Store Connect JWTs must carry.
	ASCKeyID string `json:"key_id"`
	// ASCIssuerID is the iss of team-key JWTs.
	ASCIssuerID string `json:"issuer_id"`
	// ASCPrivateKeyPEM is the PKCS#8 EC P-256 key, as Apple's .p8 download.
	ASCPrivateKeyPEM []byte `json:"-"`
	// PlayServiceAccountJSON is a Google service-account key file whose
	// token_uri points at this fake.
	PlayServiceAccountJSON []byte `json:"-"`
	// PlayClientEmail is the service account's email, the only one the token
	// endpoint issues tokens for.
	PlayClientEmail string `json:"-"`
}

type serviceAccountFile struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	ClientID     string `json:"client_id"`
	AuthURI      string `json:"auth_uri"`
	TokenURI     string `json:"token_uri"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b)
}

func (s *Server) tokenURL() string { return s.cfg.BaseURL + "/token" }

// loadKeys reads the key files from the state directory or creates them.
// play-service-account.json is rewritten on every start so token_uri follows
// the current BaseURL while the key stays the same.
func (s *Server) loadKeys() error {
	dir := s.cfg.StateDir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("fakestore: create state dir: %w", err)
		}
	}
	// App Store Connect key.
	var meta struct {
		IssuerID string `json:"issuer_id"`
		KeyID    string `json:"key_id"`
	}
	var ascPEM []byte
	if dir != "" {
		p8, err1 := os.ReadFile(filepath.Join(dir, ASCKeyFile))
		mb, err2 := os.ReadFile(filepath.Join(dir, ASCKeyMetaFile))
		switch {
		case err1 == nil && err2 == nil:
			if err := json.Unmarshal(mb, &meta); err != nil {
				return fmt.Errorf("fakestore: parse %s: %w", ASCKeyMetaFile, err)
			}
			ascPEM = p8
		case errors.Is(err1, fs.ErrNotExist) || errors.Is(err2, fs.ErrNotExist):
		default:
			return fmt.Errorf("fakestore: read asc key: %w", errors.Join(err1, err2))
		}
	}
	if ascPEM == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("fakestore: generate asc key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return fmt.Errorf("fakestore: encode asc key: %w", err)
		}
		ascPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		meta.KeyID = strings.ToUpper(randomHex(5))
		u := randomHex(16)
		meta.IssuerID = u[:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:]
		if dir != "" {
			mb, _ := json.MarshalIndent(meta, "", "  ")
			if err := writeFileAtomic(filepath.Join(dir, ASCKeyFile), ascPEM, 0o600); err != nil {
				return err
			}
			if err := writeFileAtomic(filepath.Join(dir, ASCKeyMetaFile), mb, 0o600); err != nil {
				return err
			}
		}
	}
	ascKey, err := jwt.ParseECPrivateKeyFromPEM(ascPEM)
	if err != nil {
		return fmt.Errorf("fakestore: parse %s: %w", ASCKeyFile, err)
	}
	s.ascKey = ascKey

	// Play service account.
	var sa serviceAccountFile
	if dir != "" {
		b, err := os.ReadFile(filepath.Join(dir, PlayServiceAccount))
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &sa); err != nil {
				return fmt.Errorf("fakestore: parse %s: %w", PlayServiceAccount, err)
			}
		case errors.Is(err, fs.ErrNotExist):
		default:
			return fmt.Errorf("fakestore: read %s: %w", PlayServiceAccount, err)
		}
	}
	if sa.PrivateKey == "" {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return fmt.Errorf("fakestore: generate service account key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return fmt.Errorf("fakestore: encode service account key: %w", err)
		}
		sa = serviceAccountFile{
			Type:         "service_account",
			ProjectID:    "ripcord-fake",
			PrivateKeyID: randomHex(20),
			PrivateKey:   string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
			ClientEmail:  "ripcord-publisher@ripcord-fake.iam.gserviceaccount.com",
			ClientID:     "1" + randomHex(10),
			AuthURI:      s.cfg.BaseURL + "/o/oauth2/auth",
		}
	}
	sa.TokenURI = s.tokenURL()
	saKey, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(sa.PrivateKey))
	if err != nil {
		return fmt.Errorf("fakestore: parse %s private_key: %w", PlayServiceAccount, err)
	}
	s.saKey = saKey
	saJSON, err := json.MarshalIndent(sa, "", "  ")
	if err != nil {
		return fmt.Errorf("fakestore: encode service account: %w", err)
	}
	if dir != "" {
		if err := writeFileAtomic(filepath.Join(dir, PlayServiceAccount), saJSON, 0o600); err != nil {
			return err
		}
	}
	s.creds = Credentials{
		ASCKeyID:               meta.KeyID,
		ASCIssuerID:            meta.IssuerID,
		ASCPrivateKeyPEM:       ascPEM,
		PlayServiceAccountJSON: saJSON,
		PlayClientEmail:        sa.ClientEmail,
	}
	return nil
}

// handleToken is Google's OAuth 2.0 token endpoint for the JWT-bearer grant
// (RFC 7523), as service accounts use it.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "Malformed form body.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	var claims struct {
		jwt.RegisteredClaims
		Scope string `json:"scope"`
	}
	_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), &claims, func(t *jwt.Token) (any, error) {
		return &s.saKey.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.cfg.Now), jwt.WithExpirationRequired(),
		jwt.WithIssuer(s.creds.PlayClientEmail), jwt.WithAudience(s.tokenURL()), jwt.WithLeeway(time.Minute))
	if err != nil {
		oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid JWT: "+err.Error())
		return
	}
	if claims.ExpiresAt != nil && claims.IssuedAt != nil && claims.ExpiresAt.Sub(claims.IssuedAt.Time) > time.Hour {
		oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
		return
	}
	scopes := strings.Fields(claims.Scope)
	if len(scopes) == 0 {
		oauthErr(http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Revoked {
		oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid grant: account not found")
		return
	}
	tok := "ya29.fake-" + randomHex(24)
	expires := s.cfg.Now().Add(time.Hour)
	s.st.Tokens[tok] = token{Email: claims.Issuer, Scopes: scopes, Expires: expires}
	for k, v := range s.st.Tokens { // drop expired tokens so state stays small
		if s.cfg.Now().After(v.Expires) {
			delete(s.st.Tokens, k)
		}
	}
	if err := s.persistLocked(); err != nil {
		s.log.ErrorContext(r.Context(), "fakestore persist failed", slog.Any("err", err))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3599})
}

// checkGoogleAuth enforces an OAuth bearer token carrying scope; it returns
// nil or the error Google answers with. Called with s.mu held.
func (s *Server) checkGoogleAuth(r *http.Request, scope string) *googleError {
	unauth := &googleError{Code: http.StatusUnauthorized, Status: "UNAUTHENTICATED", Reason: "authError",
		Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."}
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return unauth
	}
	t, ok := s.st.Tokens[raw]
	if !ok || s.st.Revoked || s.cfg.Now().After(t.Expires) {
		return unauth
	}
	if !slices.Contains(t.Scopes, scope) {
		return &googleError{Code: http.StatusForbidden, Status: "PERMISSION_DENIED", Reason: "insufficientPermissions",
			Message: "Request had insufficient authentication scopes."}
	}
	return nil
}

// ascUnauthorized is Apple's 401 body for any bad token.
func ascUnauthorized() *ascError {
	return &ascError{Status: http.StatusUnauthorized, Code: "NOT_AUTHORIZED",
		Title:  "Authentication credentials are missing or invalid.",
		Detail: "Provide a properly configured and signed bearer token, and make sure that it has not expired. Learn more about Generating Tokens for API Requests https://developer.apple.com/go/?id=api-generating-tokens"}
}

// checkASCAuth verifies an App Store Connect bearer JWT: ES256 signed by the
// registered key, matching kid, aud appstoreconnect-v1, iss of the team (or
// sub "user" for an individual key), unexpired, and at most 20 minutes of
// lifetime. Called with s.mu held.
func (s *Server) checkASCAuth(r *http.Request) *ascError {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || s.st.Revoked {
		return ascUnauthorized()
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.creds.ASCKeyID {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return &s.ascKey.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(s.cfg.Now), jwt.WithExpirationRequired(),
		jwt.WithAudience(ASCAudience))
	if err != nil {
		return ascUnauthorized()
	}
	switch {
	case claims.Issuer == s.creds.ASCIssuerID:
	case claims.Issuer == "" && claims.Subject == "user":
	default:
		return ascUnauthorized()
	}
	now := s.cfg.Now()
	if claims.ExpiresAt.Sub(now) > ascMaxTokenLifetime+5*time.Second {
		return ascUnauthorized()
	}
	if claims.IssuedAt != nil && claims.ExpiresAt.Sub(claims.IssuedAt.Time) > ascMaxTokenLifetime {
		return ascUnauthorized()
	}
	return nil
}
