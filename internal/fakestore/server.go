// Package fakestore serves faithful fakes of App Store Connect, the Google Play
// Developer API, the Play Developer Reporting API and Google's OAuth token
// endpoint on one http.Handler, so Ripcord's real connectors, the demo and
// people can exercise store behaviour without store accounts.
//
// The fakes keep state machines and the stores' rules (see rules.md beside
// this file), not canned responses. Store time is a controllable clock that
// drives build processing, review and phased-release days; credentials are
// checked against wall time (Config.Now) because real clients sign with it.
// State persists as JSON in the state directory after every change.
package fakestore

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config configures a Server. Zero values take the defaults documented per field.
type Config struct {
	// StateDir holds the key files and state.json. Empty keeps everything in
	// memory (keys are generated per Server and never written).
	StateDir string
	// BaseURL is the URL clients reach the server at, without a trailing
	// slash, e.g. "http://127.0.0.1:8089". Required: it becomes token_uri in
	// play-service-account.json and the host of pagination links.
	BaseURL string
	// Logger receives request and state logs. Default: discards.
	Logger *slog.Logger
	// Now is the wall clock credentials are checked against. Default time.Now.
	Now func() time.Time
	// BuildProcessingDelay is how long an App Store build stays PROCESSING.
	// Default 10 minutes of store time.
	BuildProcessingDelay time.Duration
	// ReviewWaitDelay is how long a submission stays WAITING_FOR_REVIEW.
	// Default 12 hours of store time.
	ReviewWaitDelay time.Duration
	// ReviewDelay is how long a submission stays IN_REVIEW before its outcome.
	// Default 12 hours of store time.
	ReviewDelay time.Duration
	// CancelDelay is how long a canceled submission stays CANCELING, since
	// Apple's cancellation is not immediately visible. Default 1 minute.
	CancelDelay time.Duration
	// EditLifetime is how long a Play edit stays usable. Google does not
	// document it; default 7 days of store time.
	EditLifetime time.Duration
	// MaxUploadBytes caps one uploaded artifact. Default 256 MiB.
	MaxUploadBytes int64
	// UploadPartSize is the part length of App Store Connect uploadOperations.
	// Default 8 MiB.
	UploadPartSize int64
	// UploadImportDelay is how long a committed App Store Connect buildUpload
	// stays PROCESSING before its build appears. Default 2 minutes.
	UploadImportDelay time.Duration
	// UploadSessionLifetime is how long a Play resumable-upload session URI
	// stays usable, in store time. Default 7 days (Google's resumable
	// sessions expire after a week).
	UploadSessionLifetime time.Duration
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	if c.Now == nil {
		c.Now = time.Now
	}
	c.BuildProcessingDelay = cmp.Or(c.BuildProcessingDelay, 10*time.Minute)
	c.ReviewWaitDelay = cmp.Or(c.ReviewWaitDelay, 12*time.Hour)
	c.ReviewDelay = cmp.Or(c.ReviewDelay, 12*time.Hour)
	c.CancelDelay = cmp.Or(c.CancelDelay, time.Minute)
	c.EditLifetime = cmp.Or(c.EditLifetime, 7*24*time.Hour)
	c.MaxUploadBytes = cmp.Or(c.MaxUploadBytes, 256<<20)
	c.UploadPartSize = cmp.Or(c.UploadPartSize, 8<<20)
	c.UploadImportDelay = cmp.Or(c.UploadImportDelay, 2*time.Minute)
	c.UploadSessionLifetime = cmp.Or(c.UploadSessionLifetime, 7*24*time.Hour)
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

func (c Config) validate() error {
	if c.BaseURL == "" {
		return errors.New("fakestore: Config.BaseURL is required (the URL clients reach the server at, e.g. http://127.0.0.1:8089)")
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return fmt.Errorf("fakestore: Config.BaseURL %q must start with http:// or https://", c.BaseURL)
	}
	return nil
}

// Server is one fake of both stores with its state.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler

	// mu serialises every request's state access: the fake favours exact
	// store semantics over throughput.
	mu     sync.Mutex
	st     *state
	ascKey *ecdsa.PrivateKey
	saKey  *rsa.PrivateKey
	creds  Credentials

	// blobMu guards the upload directory's path, resolved on first use.
	blobMu   sync.Mutex
	blobPath string
	blobTemp bool // created by MkdirTemp for an in-memory fake
}

// New loads or creates the state directory and returns a Server ready to serve.
func New(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	if err := s.loadKeys(); err != nil {
		return nil, err
	}
	st, err := s.loadState()
	if err != nil {
		return nil, err
	}
	s.st = st
	if err := s.loadSeed(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the http.Handler serving every fake API and the admin API.
func (s *Server) Handler() http.Handler { return s.handler }

// Close writes the state one last time and, for an in-memory fake, removes
// its temporary upload directory. The Server must not be used after.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.persistLocked(), s.removeTempBlobs())
}

// Credentials returns the key material the fake accepts, also written to the
// state directory, so in-process clients need not read files.
func (s *Server) Credentials() Credentials { return s.creds }

// Now returns the store clock's current time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

// Advance moves the store clock forward by d and applies every transition
// that became due (build processing, review, phased-release days).
func (s *Server) Advance(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Clock.Offset += d
	if s.st.Clock.Frozen {
		s.st.Clock.At = s.st.Clock.At.Add(d)
	}
	s.tickLocked()
	s.log.InfoContext(ctx, "fakestore clock advanced", slog.Duration("by", d), slog.Time("now", s.nowLocked()))
	return s.persistLocked()
}

// SetTime freezes the store clock at t (it moves only through Advance/SetTime
// afterwards) and applies due transitions.
func (s *Server) SetTime(ctx context.Context, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Clock = clockState{Frozen: true, At: t.UTC()}
	s.tickLocked()
	s.log.InfoContext(ctx, "fakestore clock set", slog.Time("now", t))
	return s.persistLocked()
}

func (s *Server) nowLocked() time.Time {
	if s.st.Clock.Frozen {
		return s.st.Clock.At
	}
	return s.cfg.Now().Add(s.st.Clock.Offset).UTC()
}

// tickLocked applies every time-driven transition that is due at the store
// clock's now; called before each request and after each clock change.
func (s *Server) tickLocked() {
	now := s.nowLocked()
	s.ascTick(now)
	s.playUploadTick(now)
}
