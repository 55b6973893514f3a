package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// BuildUploadParams describes an upload. Version and BuildNumber come from
// the uploader until the artifact readers can read them from the file.
type BuildUploadParams struct {
	App          string
	Platform     ripcord.Platform
	Version      string
	BuildNumber  string
	SourceCommit string
	Body         io.Reader // the artifact bytes, streamed
}

// BuildUpload stores an artifact and registers its build. Uploading the same
// bytes under the same identity again is idempotent (created is false);
// anything else that clashes with an existing build is a conflict that says
// what clashes. The artifact is streamed to storage and hashed on the way;
// if anything fails, neither a blob nor a build row stays.
func (s *Service) BuildUpload(ctx context.Context, p BuildUploadParams) (b *ripcord.Build, created bool, err error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleEngineer); err != nil {
		return nil, false, err
	}
	app, err := s.app(ctx, s.store, p.App)
	if err != nil {
		return nil, false, err
	}
	if !p.Platform.Valid() {
		return nil, false, ripcord.Errorf(ripcord.EINVALID, "platform %q is not known; use ios or android", p.Platform)
	}
	if !app.Has(p.Platform) {
		return nil, false, ripcord.Errorf(ripcord.EINVALID, "app %q is not registered on %s; add its %s identifier first", app.Name, p.Platform, p.Platform.StoreName())
	}
	b = &ripcord.Build{AppID: app.ID, Platform: p.Platform, Version: p.Version, BuildNumber: p.BuildNumber,
		SourceCommit: p.SourceCommit, UploadedBy: ripcord.ActorFromContext(ctx).Name, SHA256: zeroSHA, Size: 1}
	if err := b.Validate(); err != nil { // identity checks before a byte is stored
		return nil, false, err
	}

	key := fmt.Sprintf("builds/%s/%s/%s", app.Name, p.Platform, randomID())
	stored, err := s.artifacts.Put(ctx, key, p.Body, s.maxBytes)
	if errors.Is(err, blob.ErrTooLarge) {
		return nil, false, ripcord.Errorf(ripcord.ETOOLARGE, "artifact is larger than the %d-byte limit (artifacts.max_bytes)", s.maxBytes).
			WithDetails(map[string]any{"limit_bytes": s.maxBytes})
	}
	if err != nil {
		return nil, false, fmt.Errorf("upload %s build %s of %s: %w", p.Platform, b.Label(), app.Name, err)
	}
	if stored.Size == 0 {
		_ = s.artifacts.Delete(context.WithoutCancel(ctx), key)
		return nil, false, ripcord.Errorf(ripcord.EINVALID, "artifact is empty; send the .apk, .aab or .ipa bytes as the request body")
	}
	b.SHA256, b.Size, b.BlobKey, b.CreatedAt = stored.SHA256, stored.Size, stored.Key, s.clock()

	var existing *ripcord.Build
	err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		existing = nil
		if other, err := findClash(ctx, tx, b); err != nil {
			return err
		} else if other != nil {
			if err := ripcord.UploadConflict(other, b); err != nil {
				return err
			}
			existing = other
			return nil
		}
		if err := tx.BuildCreate(ctx, b); err != nil {
			return err
		}
		if err := tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, b.CreatedAt, "build.upload",
			fmt.Sprintf("build/%s/%s/%d", app.Name, b.Platform, b.ID), nil, buildSummary(b))); err != nil {
			return err
		}
		return s.attachToRelease(ctx, tx, app, b)
	})
	if err != nil || existing != nil {
		// The new blob is not referenced by any build: remove it, even if the
		// request's context is gone.
		if derr := s.artifacts.Delete(context.WithoutCancel(ctx), key); derr != nil {
			s.logger.ErrorContext(ctx, "delete unreferenced artifact", "key", key, "error", derr.Error())
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("register %s build %s of %s: %w", p.Platform, b.Label(), app.Name, err)
	}
	if existing != nil {
		return existing, false, nil
	}
	return b, true, nil
}

// zeroSHA stands in for the digest while the identity is validated before
// the upload starts.
const zeroSHA = "0000000000000000000000000000000000000000000000000000000000000000"

// findClash returns a build that shares b's bytes or store identity.
func findClash(ctx context.Context, q storage.Queries, b *ripcord.Build) (*ripcord.Build, error) {
	other, err := q.BuildGetBySHA256(ctx, b.AppID, b.Platform, b.SHA256)
	if err == nil {
		return other, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	other, err = q.BuildGetByIdentity(ctx, storage.BuildIdentityParams{AppID: b.AppID, Platform: b.Platform, Version: b.Version, BuildNumber: b.BuildNumber})
	if err == nil {
		return other, nil
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return nil, err
}

// attachToRelease makes b the build of the release of its version, when one
// exists and the domain rule allows it.
func (s *Service) attachToRelease(ctx context.Context, tx storage.Tx, app *ripcord.App, b *ripcord.Build) error {
	rel, err := s.releaseByVersion(ctx, tx, app, b.Version)
	if errors.Is(err, errNoRelease) {
		return nil
	}
	if err != nil {
		return err
	}
	var current *ripcord.Build
	if rp := rel.Platform(b.Platform); rp != nil && rp.BuildID != 0 {
		if current, err = tx.BuildGetByID(ctx, rp.BuildID); err != nil {
			return err
		}
	}
	before := releasePlatformSummary(rel.Platform(b.Platform))
	if !rel.AttachBuild(b, current, b.CreatedAt) {
		return nil
	}
	rp := rel.Platform(b.Platform)
	if err := tx.ReleasePlatformUpdate(ctx, rel.ID, *rp); err != nil {
		return err
	}
	return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, b.CreatedAt, "release.attach_build",
		fmt.Sprintf("release/%s/%s", app.Name, rel.Version), before, releasePlatformSummary(rp)))
}

func buildSummary(b *ripcord.Build) map[string]any {
	return map[string]any{"platform": b.Platform, "version": b.Version, "build_number": b.BuildNumber, "sha256": b.SHA256, "size": b.Size}
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// BuildListParams filters a build listing.
type BuildListParams struct {
	App      string
	Platform ripcord.Platform // "" for both
	Version  string           // "" for every version
	Limit    int
}

// BuildList lists an app's builds, newest first.
func (s *Service) BuildList(ctx context.Context, p BuildListParams) ([]*ripcord.Build, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, s.store, p.App)
	if err != nil {
		return nil, err
	}
	if p.Platform != "" && !p.Platform.Valid() {
		return nil, ripcord.Errorf(ripcord.EINVALID, "platform %q is not known; use ios or android", p.Platform)
	}
	if p.Limit < 0 || p.Limit > 1000 {
		return nil, ripcord.Errorf(ripcord.EINVALID, "limit %d is out of range; use 1 to 1000", p.Limit)
	}
	return s.store.BuildList(ctx, storage.BuildListParams{AppID: app.ID, Platform: p.Platform, Version: p.Version, Limit: p.Limit})
}
