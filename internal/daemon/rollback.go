package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/jobs"
	"github.com/ripcordhq/ripcord/internal/rollback"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// rollbacks serves the API's rollback-build endpoints: reads go to
// rollback.Status, preparation is a prepare_rollback job.
type rollbacks struct {
	store storage.Store
	now   func() time.Time
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
	app, _, err := rollback.Status(ctx, r.store, appName, platform, version)
	if err != nil {
		return nil, err
	}
	if platform != ripcord.Android {
		return nil, ripcord.Errorf(ripcord.EINVALID, "rollback builds are prepared for android only so far, not %s", platform)
	}
	if !app.Has(ripcord.Android) {
		return nil, ripcord.Errorf(ripcord.EINVALID, "app %s has no Android package, so it has no Android rollback build", app.Name)
	}
	err = r.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if _, err := tx.CredentialGet(ctx, app.ID, credentials.KindPlayServiceAccount); errors.Is(err, storage.ErrNotFound) {
			return ripcord.Errorf(ripcord.EINVALID, "app %s has no %s credential, so Ripcord cannot reach Play to prepare its rollback; store it with `ripcord app credentials %s --play-service-account FILE`",
				app.Name, credentials.KindPlayServiceAccount, app.Name)
		} else if err != nil {
			return err
		}
		return r.enqueue(ctx, tx, app, version, "rollback.prepare_requested")
	})
	if err != nil {
		return nil, fmt.Errorf("queue the rollback build of %s %s: %w", appName, version, err)
	}
	_, rb, err := rollback.Status(ctx, r.store, appName, platform, version)
	return rb, err
}

// enqueue queues the Android rollback preparation of app's release in tx
// and audits who asked.
func (r rollbacks) enqueue(ctx context.Context, tx storage.Tx, app *ripcord.App, version, action string) error {
	if err := tx.JobInsert(ctx, jobs.PrepareRollbackArgs{App: app.Name, TargetVersion: version, Platform: ripcord.Android}, nil); err != nil {
		return fmt.Errorf("queue prepare_rollback: %w", err)
	}
	return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, r.now().UTC().Truncate(time.Microsecond), action,
		fmt.Sprintf("app/%s/rollbacks/%s/%s", app.Name, ripcord.Android, version), nil, map[string]any{"job": "prepare_rollback"}))
}

// prepareOnReleaseCreate queues the rollback build's preparation with a new
// Android release, in its transaction, when the app can reach Play.
func (r rollbacks) releaseCreated(ctx context.Context, tx storage.Tx, app *ripcord.App, rel *ripcord.Release) error {
	if !app.Has(ripcord.Android) {
		return nil
	}
	if _, err := tx.CredentialGet(ctx, app.ID, credentials.KindPlayServiceAccount); errors.Is(err, storage.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return r.enqueue(ctx, tx, app, rel.Version, "rollback.prepare_queued")
}
