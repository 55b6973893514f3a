// Package play is Ripcord's Google Play connector: publishing through the
// Play Developer API (androidpublisher v3: edits, uploads, tracks, staged
// rollouts, halt, resume, complete) and Android vitals through the Play
// Developer Reporting API (v1beta1).
//
// Every write is safe to retry: each operation opens its own edit, reads the
// current state first, does nothing when the store already is in the wanted
// state, and deletes its edit on any failure so none is left open. A retry
// after a crash or a lost response therefore never doubles an action.
package play

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	androidpublisher "google.golang.org/api/androidpublisher/v3"
	"google.golang.org/api/option"
	reporting "google.golang.org/api/playdeveloperreporting/v1beta1"
)

// Scopes the connector asks for.
const (
	scopePublisher = "https://www.googleapis.com/auth/androidpublisher"
	scopeReporting = "https://www.googleapis.com/auth/playdeveloperreporting"
)

// Config configures a Client.
type Config struct {
	// ServiceAccountJSON is a Google service-account key file. Its token_uri
	// is where access tokens are fetched (the fake store serves one). Required.
	ServiceAccountJSON []byte
	// Endpoint is the Play Developer API root. Default
	// "https://androidpublisher.googleapis.com/".
	Endpoint string
	// ReportingEndpoint is the Play Developer Reporting API root. Default
	// "https://playdeveloperreporting.googleapis.com/".
	ReportingEndpoint string
	// HTTPClient carries every request, token fetches included. Default: a
	// client with a 5-minute timeout (Google advises at least 2 minutes for
	// bundle uploads).
	HTTPClient *http.Client
	// Logger receives retry and cleanup logs. Default: discards.
	Logger *slog.Logger
	// MaxAttempts bounds tries of one operation on retryable errors (429,
	// 5xx, 409, network). Default 5.
	MaxAttempts int
	// BaseBackoff is the first retry delay, doubled per attempt and capped
	// at MaxBackoff; a Retry-After header overrides it. Default 1 s.
	BaseBackoff time.Duration
	// MaxBackoff caps one retry delay. Default 60 s.
	MaxBackoff time.Duration
	// Sleep waits between retries; tests replace it to avoid real waits.
	// Default: a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	c.Endpoint = cmp.Or(c.Endpoint, "https://androidpublisher.googleapis.com/")
	c.ReportingEndpoint = cmp.Or(c.ReportingEndpoint, "https://playdeveloperreporting.googleapis.com/")
	if !strings.HasSuffix(c.Endpoint, "/") {
		c.Endpoint += "/"
	}
	if !strings.HasSuffix(c.ReportingEndpoint, "/") {
		c.ReportingEndpoint += "/"
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 5 * time.Minute}
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 5)
	c.BaseBackoff = cmp.Or(c.BaseBackoff, time.Second)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, time.Minute)
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	return c
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Client talks to Google Play for one service account.
type Client struct {
	cfg Config
	log *slog.Logger
	pub *androidpublisher.Service
	rep *reporting.Service
	// editor is the service account's email: Play keeps one open edit per
	// app per API user, so it names whose edits these are in logs.
	editor string
}

// New builds a Client. Credentials are the service-account key file's: the
// token is fetched with the OAuth 2.0 JWT-bearer grant from the file's
// token_uri, through cfg.HTTPClient. Building the token source ourselves
// (rather than option.WithCredentialsJSON) keeps token_uri honoured whatever
// auth library the generated client switches to.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if len(cfg.ServiceAccountJSON) == 0 {
		return nil, errors.New("play: Config.ServiceAccountJSON is required (a Google service-account key file with Play Console access)")
	}
	jwtCfg, err := google.JWTConfigFromJSON(cfg.ServiceAccountJSON, scopePublisher, scopeReporting)
	if err != nil {
		return nil, fmt.Errorf("play: parse service-account key: %w (download a JSON key for the service account from Google Cloud)", err)
	}
	// The token source keeps this context for its token fetches; it carries
	// only the HTTP client, never request deadlines.
	tokCtx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, cfg.HTTPClient)
	hc := &http.Client{
		Timeout: cfg.HTTPClient.Timeout,
		// Wrapped so http.Client's timeout cancels through the request
		// context, not oauth2.Transport's deprecated CancelRequest (which
		// only logs a warning).
		Transport: roundTripperOnly{&oauth2.Transport{
			Source: oauth2.ReuseTokenSource(nil, jwtCfg.TokenSource(tokCtx)),
			Base:   transportOf(cfg.HTTPClient),
		}},
	}
	pub, err := androidpublisher.NewService(ctx, option.WithHTTPClient(hc), option.WithEndpoint(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("play: create publisher client: %w", err)
	}
	rep, err := reporting.NewService(ctx, option.WithHTTPClient(hc), option.WithEndpoint(cfg.ReportingEndpoint))
	if err != nil {
		return nil, fmt.Errorf("play: create reporting client: %w", err)
	}
	return &Client{cfg: cfg, log: cfg.Logger, pub: pub, rep: rep, editor: jwtCfg.Email}, nil
}

// roundTripperOnly hides every method of its RoundTripper but RoundTrip.
type roundTripperOnly struct{ rt http.RoundTripper }

func (r roundTripperOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.rt.RoundTrip(req)
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}
