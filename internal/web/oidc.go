package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ripcordhq/ripcord"
)

// OIDCConfig is the identity provider the dashboard signs people in with
// (config keys web.oidc.*).
type OIDCConfig struct {
	Issuer       string // e.g. https://accounts.google.com
	ClientID     string
	ClientSecret string
	RedirectURL  string // https://ripcord.example.com/ui/oidc/callback
}

// OIDC is a discovered identity provider. Signing in with it maps the ID
// token's verified email to a local user, whose role applies: the provider
// proves who someone is, Ripcord decides what they may do.
type OIDC struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// NewOIDC discovers the provider's endpoints and keys.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	switch {
	case cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "":
		return nil, errors.New("web.oidc: issuer, client_id and redirect_url are all needed to sign in with OIDC")
	case cfg.ClientSecret == "":
		return nil, errors.New("web.oidc: client_secret (or client_secret_file) is needed to sign in with OIDC")
	}
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("web.oidc: discover %s (check web.oidc.issuer and that the server can reach it): %w", cfg.Issuer, err)
	}
	return &OIDC{
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile"}},
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
	}, nil
}

// oidcCookie carries the flow's state, nonce, PKCE verifier and where to go
// after, between the redirect to the provider and its callback.
const oidcCookie = "ripcord_oidc"

func (h *handler) oidcStart(w http.ResponseWriter, r *http.Request, _ *session) {
	if h.oidc == nil {
		h.renderError(w, r, nil, ripcord.Errorf(ripcord.ENOTFOUND, "single sign-on is not configured on this server (web.oidc.*); sign in with your email and password"))
		return
	}
	state, err1 := randomToken()
	nonce, err2 := randomToken()
	if err := errors.Join(err1, err2); err != nil {
		h.renderError(w, r, nil, err)
		return
	}
	verifier := oauth2.GenerateVerifier()
	next := safeNext(r.URL.Query().Get("next"))
	h.setCookie(w, r, oidcCookie, strings.Join([]string{state, nonce, verifier, next}, "|"), 10*time.Minute)
	http.Redirect(w, r, h.oidc.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (h *handler) oidcCallback(w http.ResponseWriter, r *http.Request, _ *session) {
	fail := func(msg string) {
		h.showLogin(w, r, http.StatusUnauthorized, loginView{Next: "/ui/", Error: msg})
	}
	if h.oidc == nil {
		fail("Single sign-on is not configured on this server.")
		return
	}
	c, err := r.Cookie(oidcCookie)
	h.setCookie(w, r, oidcCookie, "", 0)
	parts := []string{}
	if err == nil {
		parts = strings.Split(c.Value, "|")
	}
	if len(parts) != 4 || !tokenEqual(r.URL.Query().Get("state"), parts[0]) {
		fail("The single sign-on answer did not match a sign-in started here (or took longer than 10 minutes). Start again.")
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		fail("The identity provider refused the sign-in: " + e + " " + r.URL.Query().Get("error_description"))
		return
	}
	tok, err := h.oidc.oauth.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(parts[2]))
	if err != nil {
		h.logger.WarnContext(r.Context(), "oidc code exchange failed", "error", err.Error())
		fail("The identity provider did not accept the sign-in code. Start again; if it keeps failing, check web.oidc.client_id and client_secret.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := h.oidc.verifier.Verify(r.Context(), raw)
	if err != nil || !tokenEqual(idt.Nonce, parts[1]) {
		fail("The identity provider's answer did not verify. Start again.")
		return
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email == "" || (claims.EmailVerified != nil && !*claims.EmailVerified) {
		fail("The identity provider did not give a verified email address, which Ripcord needs to find your account.")
		return
	}
	actor, err := h.accounts.ActorForUser(r.Context(), claims.Email)
	if err != nil {
		if ripcord.ErrorCode(err) == ripcord.EINTERNAL {
			h.renderError(w, r, nil, err)
			return
		}
		fail(fmt.Sprintf("%s has no active Ripcord account. An administrator creates one with `ripcord user create --email %s --role viewer`.", claims.Email, claims.Email))
		return
	}
	if err := h.signIn(w, r, "oidc", actor); err != nil {
		h.renderError(w, r, nil, err)
		return
	}
	http.Redirect(w, r, safeNext(parts[3]), http.StatusSeeOther)
}
