package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

var errNoRelease = errors.New("no release of that version")

// releaseByVersion finds the app's release whose version equals v by the
// stores' ordering, so "1.2" finds "1.2.0".
func (s *Service) releaseByVersion(ctx context.Context, q storage.Queries, app *ripcord.App, v string) (*ripcord.Release, error) {
	want, err := ripcord.ParseVersion(v)
	if err != nil {
		return nil, err
	}
	if r, err := q.ReleaseGetByVersion(ctx, app.ID, v); err == nil {
		return r, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	rels, err := q.ReleaseList(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range rels {
		if got, err := ripcord.ParseVersion(r.Version); err == nil && got.Compare(want) == 0 {
			return r, nil
		}
	}
	return nil, errNoRelease
}

// ReleaseCreate starts a release of app at version. Each platform the app
// ships on starts as a draft, or as uploaded when a build of that version is
// already there (the highest build number wins). Release managers only.
func (s *Service) ReleaseCreate(ctx context.Context, appName, version string) (*ripcord.Release, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	if _, err := ripcord.ParseVersion(version); err != nil {
		return nil, err
	}
	now := s.clock()
	var rel *ripcord.Release
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		app, err := s.app(ctx, tx, appName)
		if err != nil {
			return err
		}
		switch existing, err := s.releaseByVersion(ctx, tx, app, version); {
		case err == nil:
			return ripcord.Errorf(ripcord.ECONFLICT, "release %s of %s already exists (as %s); `ripcord release show %s %s` shows it",
				version, app.Name, existing.Version, app.Name, existing.Version)
		case !errors.Is(err, errNoRelease):
			return err
		}
		rel = &ripcord.Release{AppID: app.ID, Version: version, CreatedBy: ripcord.ActorFromContext(ctx).Name, CreatedAt: now}
		for _, p := range app.Platforms() {
			rel.Platforms = append(rel.Platforms, ripcord.ReleasePlatform{Platform: p, Status: ripcord.StatusDraft, UpdatedAt: now})
		}
		// Builds store their version as uploaded, so look under every way of
		// writing this one ("1.2" and "1.2.0"); AttachBuild compares them as
		// the stores do.
		var builds []*ripcord.Build
		for _, spelling := range versionSpellings(version) {
			bs, err := tx.BuildList(ctx, storage.BuildListParams{AppID: app.ID, Version: spelling, Limit: 1000})
			if err != nil {
				return err
			}
			builds = append(builds, bs...)
		}
		for _, b := range builds {
			var current *ripcord.Build
			if rp := rel.Platform(b.Platform); rp != nil && rp.BuildID != 0 {
				current = findBuild(builds, rp.BuildID)
			}
			rel.AttachBuild(b, current, now)
		}
		if err := tx.ReleaseCreate(ctx, rel); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return ripcord.Errorf(ripcord.ECONFLICT, "release %s of %s already exists", version, app.Name)
			}
			return err
		}
		if err := tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "release.create", fmt.Sprintf("release/%s/%s", app.Name, version), nil, releaseSummary(rel))); err != nil {
			return err
		}
		if s.created != nil {
			return s.created(ctx, tx, app, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create release %s %s: %w", appName, version, err)
	}
	return rel, nil
}

// versionSpellings returns v as given plus each equal version written with
// one, two or three parts: "1.2" gives "1.2", "1.2.0"; "1" gives "1", "1.0",
// "1.0.0". v must be a valid version.
func versionSpellings(v string) []string {
	out := []string{v}
	short := strings.TrimSuffix(strings.TrimSuffix(ripcord.MustParseVersion(v).String(), ".0"), ".0")
	for s := short; strings.Count(s, ".") < 3; s += ".0" {
		if s != v {
			out = append(out, s)
		}
	}
	return out
}

func findBuild(bs []*ripcord.Build, id int64) *ripcord.Build {
	for _, b := range bs {
		if b.ID == id {
			return b
		}
	}
	return nil
}

// ReleaseGet returns one release of an app.
func (s *Service) ReleaseGet(ctx context.Context, appName, version string) (*ripcord.Release, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	rel, err := s.releaseByVersion(ctx, s.store, app, version)
	if errors.Is(err, errNoRelease) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no release %s; `ripcord release list %s` shows its releases", app.Name, version, app.Name)
	}
	return rel, err
}

// ReleaseList returns an app's releases, newest first.
func (s *Service) ReleaseList(ctx context.Context, appName string) ([]*ripcord.Release, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	return s.store.ReleaseList(ctx, app.ID)
}

// BuildGet returns one build of an app by ID.
func (s *Service) BuildGet(ctx context.Context, appName string, id int64) (*ripcord.Build, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	b, err := s.store.BuildGetByID(ctx, id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && b.AppID != app.ID) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no build %d; `ripcord build list --app %s` shows its builds", app.Name, id, app.Name)
	}
	return b, err
}

func releaseSummary(r *ripcord.Release) map[string]any {
	ps := make([]any, 0, len(r.Platforms))
	for i := range r.Platforms {
		ps = append(ps, releasePlatformSummary(&r.Platforms[i]))
	}
	return map[string]any{"version": r.Version, "platforms": ps}
}

func releasePlatformSummary(rp *ripcord.ReleasePlatform) map[string]any {
	if rp == nil {
		return nil
	}
	return map[string]any{"platform": rp.Platform, "build_id": rp.BuildID, "status": rp.Status}
}
