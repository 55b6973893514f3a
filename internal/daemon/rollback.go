package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/jobs"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/rollback"
	"github.com/ripcordhq/ripcord/internal/rollout"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// rollbacks serves the API's rollback-build endpoints: reads go to
// rollback.Status, preparation is a prepare_rollback job.
type rollbacks struct {
	store    storage.Store
	now      func() time.Time
	withdraw *withdrawer // iOS rollback withdrawal (helper ios)
}

// RollbackBuildGet reports a target release's rollback build.
func (r rollbacks) RollbackBuildGet(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.RollbackBuild, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	_, rb, err := rollback.Status(ctx, r.store, app, platform, version)
	return rb, err
}

// RollbackBuildPrepare queues the preparation (audited, unique while not
// finished) and returns the current state.
func (r rollbacks) RollbackBuildPrepare(ctx context.Context, appName, version string, platform ripcord.Platform) (*ripcord.RollbackBuild, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	app, cur, err := rollback.Status(ctx, r.store, appName, platform, version)
	if err != nil {
		return nil, err
	}
	store, ok := storeCredential(platform)
	if !ok {
		return nil, ripcord.Errorf(ripcord.EINVALID, "rollback builds are prepared for ios and android, not %s", platform)
	}
	if !app.Has(platform) {
		return nil, ripcord.Errorf(ripcord.EINVALID, "app %s is not on %s, so it has no %s rollback build", app.Name, platform, platform)
	}
	err = r.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if _, err := tx.CredentialGet(ctx, app.ID, store.kind); errors.Is(err, storage.ErrNotFound) {
			return ripcord.Errorf(ripcord.EINVALID, "app %s has no %s credential, so Ripcord cannot reach %s to prepare its rollback; store it with `ripcord app credentials %s %s`",
				app.Name, store.kind, store.name, app.Name, store.flags)
		} else if err != nil {
			return err
		}
		if platform == ripcord.IOS && cur.State == ripcord.RollbackReady && cur.SupersededAt.IsZero() {
			return r.enqueueFollow(ctx, tx, app, version)
		}
		return r.enqueue(ctx, tx, app, platform, version, "rollback.prepare_requested")
	})
	if err != nil {
		return nil, fmt.Errorf("queue the rollback build of %s %s: %w", appName, version, err)
	}
	_, rb, err := rollback.Status(ctx, r.store, appName, platform, version)
	return rb, err
}

// storeAccess says how a preparation reaches a platform's store.
type storeAccess struct{ kind, name, flags string }

// storeCredential returns the credential a preparation reaches the
// platform's store with; false for a platform Ripcord does not prepare.
func storeCredential(p ripcord.Platform) (storeAccess, bool) {
	switch p {
	case ripcord.Android:
		return storeAccess{credentials.KindPlayServiceAccount, "Play", "--play-service-account FILE"}, true
	case ripcord.IOS:
		return storeAccess{credentials.KindASCAPIKey, "App Store Connect", "--asc-key FILE --asc-key-id ID --asc-issuer-id ID"}, true
	}
	return storeAccess{}, false
}

// enqueue queues the rollback preparation of app's release on platform in
// tx and audits who asked.
func (r rollbacks) enqueue(ctx context.Context, tx storage.Tx, app *ripcord.App, platform ripcord.Platform, version, action string) error {
	if err := tx.JobInsert(ctx, jobs.PrepareRollbackArgs{App: app.Name, TargetVersion: version, Platform: platform}, nil); err != nil {
		return fmt.Errorf("queue prepare_rollback: %w", err)
	}
	return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, r.now().UTC().Truncate(time.Microsecond), action,
		fmt.Sprintf("app/%s/rollbacks/%s/%s", app.Name, platform, version), nil, map[string]any{"job": "prepare_rollback"}))
}

// releaseCreated queues the rollback build's preparation with a new
// release, in its transaction, on each platform of the app whose store
// Ripcord can reach.
func (r rollbacks) releaseCreated(ctx context.Context, tx storage.Tx, app *ripcord.App, rel *ripcord.Release) error {
	for _, platform := range []ripcord.Platform{ripcord.Android, ripcord.IOS} {
		if !app.Has(platform) {
			continue
		}
		store, _ := storeCredential(platform)
		if _, err := tx.CredentialGet(ctx, app.ID, store.kind); errors.Is(err, storage.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		if err := r.enqueue(ctx, tx, app, platform, rel.Version, "rollback.prepare_queued"); err != nil {
			return err
		}
	}
	return nil
}

// playOpener builds a Play client for an app from its stored service
// account (the use is audited under the caller's name), reaching Play at
// url (config stores.google_play_url; empty for Google's).
func playOpener(creds *credentials.Service, url string, logger *slog.Logger) rollout.PlayOpener {
	return func(ctx context.Context, app *ripcord.App) (rollout.Play, error) {
		m, err := creds.Open(ctx, app.Name, credentials.KindPlayServiceAccount)
		if err != nil {
			return nil, fmt.Errorf("open the Play service account of %s (store it with `ripcord app credentials %s --play-service-account FILE`): %w", app.Name, app.Name, err)
		}
		pc, err := play.New(ctx, play.Config{ServiceAccountJSON: m.ServiceAccount, Endpoint: url, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("the Play service account of %s is not usable; store a new key with `ripcord app credentials %s --play-service-account FILE`: %w", app.Name, app.Name, err)
		}
		return pc, nil
	}
}
