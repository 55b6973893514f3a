// Package catalog is the use-case layer for what a release team registers
// with Ripcord: apps, the builds CI uploads, and the releases built from
// them. Every change is authorised by the caller's role and audited in the
// same transaction.
package catalog

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Artifacts is where uploaded build artifacts go.
type Artifacts interface {
	// Put streams r to key, refusing more than limit bytes with
	// blob.ErrTooLarge, and leaves nothing under key on error.
	Put(ctx context.Context, key string, r io.Reader, limit int64) (blob.Stored, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Config holds the service's dependencies.
type Config struct {
	Store     storage.Store // required
	Artifacts Artifacts     // required
	// MaxArtifactBytes limits one upload. Default 4 GiB.
	MaxArtifactBytes int64
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
	// ReleaseCreated, when set, runs inside the transaction that creates a
	// release, after the release row: the daemon queues the rollback
	// build's preparation with it, so the job exists exactly when the
	// release does. An error aborts the creation.
	ReleaseCreated func(ctx context.Context, tx storage.Tx, app *ripcord.App, rel *ripcord.Release) error
}

// Service registers apps, builds and releases.
type Service struct {
	store     storage.Store
	artifacts Artifacts
	maxBytes  int64
	now       func() time.Time
	logger    *slog.Logger
	created   func(ctx context.Context, tx storage.Tx, app *ripcord.App, rel *ripcord.Release) error
}

// DefaultMaxArtifactBytes is the upload limit when none is configured.
const DefaultMaxArtifactBytes int64 = 4 << 30

// New builds the service.
func New(cfg Config) *Service {
	s := &Service{
		store:     cfg.Store,
		artifacts: cfg.Artifacts,
		maxBytes:  cmp.Or(cfg.MaxArtifactBytes, DefaultMaxArtifactBytes),
		now:       cfg.Now,
		logger:    cmp.Or(cfg.Logger, slog.Default()),
		created:   cfg.ReleaseCreated,
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// clock returns the current time truncated to microseconds, the finest
// precision both databases keep, so what is returned equals what is stored.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// MaxArtifactBytes is the configured upload limit, for transports that
// reject oversized bodies early.
func (s *Service) MaxArtifactBytes() int64 { return s.maxBytes }

// AppCreate registers an app. Admin only.
func (s *Service) AppCreate(ctx context.Context, a ripcord.App) (*ripcord.App, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleAdmin); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	now := s.clock()
	a.ID, a.CreatedAt, a.UpdatedAt = 0, now, now
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.AppCreate(ctx, &a); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return appConflict(ctx, tx, &a)
			}
			return err
		}
		if err := createSentryProjects(ctx, tx, &a, now); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "app.create", "app/"+a.Name, nil, appSummary(&a)))
	})
	if err != nil {
		return nil, fmt.Errorf("create app %s: %w", a.Name, err)
	}
	return &a, nil
}

// createSentryProjects gives the app a Sentry project, and so a DSN, per
// platform, as Sentry has one project per platform. The public key is 16
// random bytes in hex, Sentry's form.
func createSentryProjects(ctx context.Context, tx storage.Tx, a *ripcord.App, now time.Time) error {
	for _, p := range a.Platforms() {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("make a DSN key: %w", err)
		}
		if err := tx.SentryProjectCreate(ctx, &storage.SentryProject{AppID: a.ID, Platform: p, PublicKey: hex.EncodeToString(b[:]), CreatedAt: now}); err != nil {
			return err
		}
	}
	return nil
}

// appConflict says which of the app's unique fields is taken, and by whom.
func appConflict(ctx context.Context, q storage.Queries, a *ripcord.App) error {
	if _, err := q.AppGetByName(ctx, a.Name); err == nil {
		return ripcord.Errorf(ripcord.ECONFLICT, "app %q already exists; pick another name or use the existing app", a.Name)
	}
	apps, err := q.AppList(ctx)
	if err != nil {
		return err
	}
	for _, o := range apps {
		if a.IOSBundleID != "" && o.IOSBundleID == a.IOSBundleID {
			return ripcord.Errorf(ripcord.ECONFLICT, "iOS bundle id %s already belongs to app %q", a.IOSBundleID, o.Name)
		}
		if a.AndroidPackage != "" && o.AndroidPackage == a.AndroidPackage {
			return ripcord.Errorf(ripcord.ECONFLICT, "Android package %s already belongs to app %q", a.AndroidPackage, o.Name)
		}
	}
	return ripcord.Errorf(ripcord.ECONFLICT, "app %q conflicts with an existing app", a.Name)
}

func appSummary(a *ripcord.App) map[string]any {
	return map[string]any{"name": a.Name, "ios_bundle_id": a.IOSBundleID, "android_package": a.AndroidPackage}
}

// AppGet returns an app by name.
func (s *Service) AppGet(ctx context.Context, name string) (*ripcord.App, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	return s.app(ctx, s.store, name)
}

func (s *Service) app(ctx context.Context, q storage.Queries, name string) (*ripcord.App, error) {
	a, err := q.AppGetByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %q does not exist; `ripcord app list` shows the apps, `ripcord app create` adds one", name)
	}
	return a, err
}

// AppList returns every app.
func (s *Service) AppList(ctx context.Context) ([]*ripcord.App, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	return s.store.AppList(ctx)
}
