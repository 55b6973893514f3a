package daemon

import (
	"context"
	"fmt"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/jobs"
	"github.com/ripcordhq/ripcord/internal/rollback"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// withdrawer withdraws iOS rollbacks for the API, reaching App Store
// Connect with the app's stored API key (the use is audited as the caller).
type withdrawer struct {
	deps jobs.Deps
	prep *rollback.Preparer
}

func newWithdrawer(d jobs.Deps) (*withdrawer, error) {
	p, err := rollback.New(rollback.Config{Store: d.Store, Artifacts: d.Artifacts, Credentials: d.Credentials, Now: d.Now, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	return &withdrawer{deps: d, prep: p}, nil
}

// RollbackBuildWithdraw withdraws a target's iOS rollback (release
// manager); the withdrawal is audited as the caller.
func (r rollbacks) RollbackBuildWithdraw(ctx context.Context, app, version string) (*ripcord.RollbackBuild, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	if r.withdraw == nil {
		return nil, ripcord.Errorf(ripcord.EUNAVAILABLE, "withdrawing iOS rollbacks is not configured on this server")
	}
	if _, _, err := rollback.Status(ctx, r.store, app, ripcord.IOS, version); err != nil {
		return nil, err
	}
	c, err := jobs.OpenAppStore(ctx, r.withdraw.deps, app)
	if err != nil {
		return nil, ripcord.Errorf(ripcord.EINVALID, "cannot reach App Store Connect for %s: %v", app, err)
	}
	return r.withdraw.prep.WithdrawIOS(ctx, rollback.WithdrawRequest{App: app, TargetVersion: version, AppStore: c})
}

// enqueueFollow queues the iOS follow-up with a resubmission allowed: a
// person asked to prepare again a rollback whose build is ready, so what
// is left is its App Store version (e.g. resubmitting after a rejection).
func (r rollbacks) enqueueFollow(ctx context.Context, tx storage.Tx, app *ripcord.App, version string) error {
	if err := tx.JobInsert(ctx, jobs.RollbackFollowArgs{App: app.Name, Platform: ripcord.IOS, TargetVersion: version, Resubmit: true}, nil); err != nil {
		return fmt.Errorf("queue rollback_follow: %w", err)
	}
	return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, r.now().UTC(), "rollback.follow_requested",
		fmt.Sprintf("app/%s/rollbacks/%s/%s", app.Name, ripcord.IOS, version), nil, map[string]any{"job": "rollback_follow", "resubmit": true}))
}
