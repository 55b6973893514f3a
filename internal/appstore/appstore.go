// Package appstore is Ripcord's App Store Connect client: a small typed
// client of our own (no maintained Go SDK covers review submissions, release
// requests and phased releases), authenticated with ES256 JWTs.
//
// It caches its token until a minute before expiry, follows links.next for
// pagination, retries 429 and 5xx with backoff that honours Retry-After, and
// turns Apple's errors[] body into *Error.
//
// Every write is safe to retry: each operation reads the store's state first
// and does nothing when the store already is where it should be (a version
// with that versionString exists, the submission is already in review, the
// phased release is already paused). When a write's outcome is unknown (a
// lost response, a 5xx), the whole operation is run again from its read, so
// a retry never doubles an action.
//
// Operations: apps, builds (list, wait for VALID), build uploads (API 4.1+),
// App Store versions, review submissions, release requests, phased releases
// and withdrawal from review.
package appstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audience is the aud claim App Store Connect requires.
const Audience = "appstoreconnect-v1"

// MaxTokenLifetime is Apple's limit on a token's lifetime.
const MaxTokenLifetime = 20 * time.Minute

// Config configures a Client.
type Config struct {
	// KeyID is the API key's id (the JWT kid). Required.
	KeyID string
	// IssuerID is the team's issuer id (iss). Required unless Individual.
	IssuerID string
	// Individual marks an individual (per-user) key: no iss, sub "user".
	Individual bool
	// PrivateKeyPEM is the .p8 file: a PKCS#8 EC P-256 key. Required.
	PrivateKeyPEM []byte
	// BaseURL is the API root. Default "https://api.appstoreconnect.apple.com".
	BaseURL string
	// HTTPClient carries the requests. Default: 60-second timeout.
	HTTPClient *http.Client
	// Logger receives retry logs. Default: discards.
	Logger *slog.Logger
	// Now is the clock tokens are signed with. Default time.Now.
	Now func() time.Time
	// TokenLifetime is each token's lifetime, at most MaxTokenLifetime.
	// Default 19 minutes (iat is backdated 60 s for clock skew, as fastlane does).
	TokenLifetime time.Duration
	// MaxAttempts bounds tries of a retryable call. Default 5.
	MaxAttempts int
	// BaseBackoff is the first retry delay, doubled per attempt. Default 1 s.
	BaseBackoff time.Duration
	// MaxBackoff caps one delay, Retry-After included. Default 60 s.
	MaxBackoff time.Duration
	// Sleep waits between retries and polls; tests replace it (and advance a
	// fake store clock in it). Default: a ctx-aware timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Clock is the time polling deadlines (WaitBuildValid, upload and
	// withdrawal waits) are measured on. Default Now. Tests point it at the
	// fake store's clock, which Sleep advances, so nothing sleeps for real.
	Clock func() time.Time
	// PollInterval is the wait between two reads of a changing state.
	// Default 30 s.
	PollInterval time.Duration
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	c.BaseURL = strings.TrimRight(cmp.Or(c.BaseURL, "https://api.appstoreconnect.apple.com"), "/")
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: time.Minute}
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	if c.Now == nil {
		c.Now = time.Now
	}
	c.TokenLifetime = cmp.Or(c.TokenLifetime, 19*time.Minute)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 5)
	c.BaseBackoff = cmp.Or(c.BaseBackoff, time.Second)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, time.Minute)
	if c.Clock == nil {
		c.Clock = c.Now
	}
	c.PollInterval = cmp.Or(c.PollInterval, 30*time.Second)
	if c.Sleep == nil {
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.KeyID == "":
		return errors.New("appstore: Config.KeyID is required (the key's id from App Store Connect, Users and Access, Integrations)")
	case c.IssuerID == "" && !c.Individual:
		return errors.New("appstore: Config.IssuerID is required for a team key (set Individual for a per-user key)")
	case len(c.PrivateKeyPEM) == 0:
		return errors.New("appstore: Config.PrivateKeyPEM is required (the AuthKey_<id>.p8 file)")
	case c.TokenLifetime > MaxTokenLifetime:
		return fmt.Errorf("appstore: Config.TokenLifetime %v exceeds Apple's limit of %v", c.TokenLifetime, MaxTokenLifetime)
	}
	return nil
}

// Client talks to App Store Connect with one API key.
type Client struct {
	cfg Config
	log *slog.Logger
	key *ecdsa.PrivateKey

	mu      sync.Mutex
	token   string
	expires time.Time
}

// New builds a Client.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	key, err := jwt.ParseECPrivateKeyFromPEM(cfg.PrivateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("appstore: parse private key: %w (use the .p8 file downloaded from App Store Connect)", err)
	}
	return &Client{cfg: cfg, log: cfg.Logger, key: key}, nil
}

// bearer returns a cached token, signing a new one when less than a minute
// of the old one's life remains.
func (c *Client) bearer(force bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if !force && c.token != "" && now.Add(time.Minute).Before(c.expires) {
		return c.token, nil
	}
	iat := now.Add(-60 * time.Second)
	exp := iat.Add(c.cfg.TokenLifetime)
	claims := jwt.MapClaims{"aud": Audience, "iat": iat.Unix(), "exp": exp.Unix()}
	if c.cfg.Individual {
		claims["sub"] = "user"
	} else {
		claims["iss"] = c.cfg.IssuerID
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = c.cfg.KeyID
	s, err := t.SignedString(c.key)
	if err != nil {
		return "", fmt.Errorf("appstore: sign token: %w", err)
	}
	c.token, c.expires = s, exp
	return s, nil
}

// do sends one request and decodes a 2xx JSON body into out. GETs are
// retried on 429, 5xx and transport errors; any call is retried once with a
// fresh token after a 401, as fastlane does for Apple's spurious 401s.
func (c *Client) do(ctx context.Context, op, method, rawURL string, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("appstore %s: encode request: %w", op, err)
		}
		body = b
	}
	refreshed := false
	for attempt := 1; ; attempt++ {
		tok, err := c.bearer(refreshed)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("appstore %s: build request: %w", op, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.cfg.HTTPClient.Do(req)
		var apiErr *Error
		var retryAfter time.Duration
		if err == nil {
			rb, rerr := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
			resp.Body.Close()
			switch {
			case rerr != nil:
				err = rerr
			case resp.StatusCode >= 200 && resp.StatusCode < 300:
				if out == nil || len(rb) == 0 {
					return nil
				}
				if err := json.Unmarshal(rb, out); err != nil {
					return fmt.Errorf("appstore %s: decode response: %w", op, err)
				}
				return nil
			default:
				apiErr = parseError(op, resp.StatusCode, rb)
				retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.cfg.Now())
				err = apiErr
			}
		}
		if apiErr != nil && apiErr.Status == http.StatusUnauthorized && !refreshed {
			refreshed = true
			continue
		}
		retryable := apiErr == nil && ctx.Err() == nil ||
			apiErr != nil && (apiErr.Status == http.StatusTooManyRequests || apiErr.Status >= 500)
		if apiErr != nil && apiErr.Status != http.StatusTooManyRequests && method != http.MethodGet {
			retryable = false // a 5xx write may have happened: the caller re-reads
		}
		if apiErr == nil && method != http.MethodGet {
			retryable = false
		}
		if !retryable {
			if method != http.MethodGet && ctx.Err() == nil && (apiErr == nil || apiErr.uncertain()) {
				// The write may or may not have happened: the operation
				// re-reads state and runs again (see idempotent).
				return &uncertainError{op: op, err: err}
			}
			if apiErr != nil {
				return apiErr
			}
			return fmt.Errorf("appstore %s: %w", op, err)
		}
		if attempt >= c.cfg.MaxAttempts {
			return fmt.Errorf("appstore %s: gave up after %d attempts: %w", op, attempt, err)
		}
		wait := retryAfter
		if wait <= 0 {
			wait = c.cfg.BaseBackoff << (attempt - 1)
		}
		wait = min(wait, c.cfg.MaxBackoff)
		c.log.WarnContext(ctx, "appstore call retried", slog.String("op", op), slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Any("err", err))
		if serr := c.cfg.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("appstore %s: %w (last error: %w)", op, serr, err)
		}
	}
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

func (c *Client) url(path string, q url.Values) string {
	u := c.cfg.BaseURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// pageLinks is the JSON:API links object of a list response.
type pageLinks struct {
	Self string `json:"self"`
	Next string `json:"next"`
}

// list follows links.next verbatim from first until absent, calling each
// with every page's raw data array.
func (c *Client) list(ctx context.Context, op, first string, each func(data json.RawMessage) error) error {
	next := first
	for pages := 0; next != ""; pages++ {
		if pages >= 1000 {
			return fmt.Errorf("appstore %s: more than 1000 pages; narrow the filter", op)
		}
		var page struct {
			Data  json.RawMessage `json:"data"`
			Links pageLinks       `json:"links"`
		}
		if err := c.do(ctx, op, http.MethodGet, next, nil, &page); err != nil {
			return err
		}
		if err := each(page.Data); err != nil {
			return fmt.Errorf("appstore %s: decode page: %w", op, err)
		}
		next = page.Links.Next
	}
	return nil
}
