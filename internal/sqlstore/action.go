package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const actionColumns = `id, app_id, release_id, platform, kind, state, idempotency_key, actor, reason, steps, pending_step, error, created_at, updated_at`

func scanAction(r Row) (*ripcord.RolloutAction, error) {
	var a ripcord.RolloutAction
	var platform, kind, state, steps string
	if err := r.Scan(&a.ID, &a.AppID, &a.ReleaseID, &platform, &kind, &state, &a.IdempotencyKey, &a.Actor, &a.Reason,
		&steps, &a.PendingStep, &a.Error, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(steps), &a.Steps); err != nil {
		return nil, fmt.Errorf("rollout action %d: steps are not JSON: %w", a.ID, err)
	}
	for i := range a.Steps {
		a.Steps[i].At = a.Steps[i].At.UTC()
	}
	a.Platform, a.Kind, a.State = ripcord.Platform(platform), ripcord.ActionKind(kind), ripcord.ActionState(state)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

func stepsJSON(a *ripcord.RolloutAction) (string, error) {
	steps := a.Steps
	if steps == nil {
		steps = []ripcord.ActionStep{}
	}
	b, err := json.Marshal(steps)
	return string(b), err
}

// RolloutActionCreate inserts a and sets its ID. ON CONFLICT DO NOTHING
// (no target: either unique rule) keeps a PostgreSQL transaction usable
// after losing the race, unlike a unique violation.
func (s *Queries) RolloutActionCreate(ctx context.Context, a *ripcord.RolloutAction) error {
	steps, err := stepsJSON(a)
	if err != nil {
		return fmt.Errorf("insert rollout action: %w", err)
	}
	rows, err := s.q.Query(ctx, `INSERT INTO rollout_actions (app_id, release_id, platform, kind, state, idempotency_key, actor, reason, steps,
			pending_step, error, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING RETURNING id`,
		a.AppID, a.ReleaseID, string(a.Platform), string(a.Kind), string(a.State), a.IdempotencyKey, a.Actor, a.Reason, steps,
		a.PendingStep, a.Error, a.CreatedAt.UTC(), a.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("insert %s action on release %d (%s): %w", a.Kind, a.ReleaseID, a.Platform, s.err(err))
	}
	ids, err := collect(rows, func(r Row) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	}, s, "insert rollout action")
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("insert %s action on release %d (%s): another action is active or the idempotency key is taken: %w",
			a.Kind, a.ReleaseID, a.Platform, storage.ErrConflict)
	}
	a.ID = ids[0]
	return nil
}

// RolloutActionUpdate stores an action's progress.
func (s *Queries) RolloutActionUpdate(ctx context.Context, a *ripcord.RolloutAction) error {
	steps, err := stepsJSON(a)
	if err != nil {
		return fmt.Errorf("update rollout action %d: %w", a.ID, err)
	}
	n, err := s.q.Exec(ctx, `UPDATE rollout_actions SET state = $2, steps = $3, pending_step = $4, error = $5, updated_at = $6 WHERE id = $1`,
		a.ID, string(a.State), steps, a.PendingStep, a.Error, a.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("update rollout action %d: %w", a.ID, s.err(err))
	}
	if n == 0 {
		return fmt.Errorf("update rollout action %d: %w", a.ID, errNotFound)
	}
	return nil
}

// RolloutActionGet returns an action by id.
func (s *Queries) RolloutActionGet(ctx context.Context, id int64) (*ripcord.RolloutAction, error) {
	a, err := scanAction(s.q.QueryRow(ctx, `SELECT `+actionColumns+` FROM rollout_actions WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get rollout action %d: %w", id, s.err(err))
	}
	return a, nil
}

// RolloutActionGetByKey returns an app's action with an idempotency key.
func (s *Queries) RolloutActionGetByKey(ctx context.Context, appID int64, key string) (*ripcord.RolloutAction, error) {
	a, err := scanAction(s.q.QueryRow(ctx, `SELECT `+actionColumns+` FROM rollout_actions WHERE app_id = $1 AND idempotency_key = $2`, appID, key))
	if err != nil {
		return nil, fmt.Errorf("get rollout action with key %q of app %d: %w", key, appID, s.err(err))
	}
	return a, nil
}

// RolloutActionActive returns the active action on a release's platform.
func (s *Queries) RolloutActionActive(ctx context.Context, releaseID int64, platform ripcord.Platform) (*ripcord.RolloutAction, error) {
	a, err := scanAction(s.q.QueryRow(ctx, `SELECT `+actionColumns+` FROM rollout_actions
		WHERE release_id = $1 AND platform = $2 AND state IN ('queued', 'running')`, releaseID, string(platform)))
	if err != nil {
		return nil, fmt.Errorf("get active action on release %d (%s): %w", releaseID, platform, s.err(err))
	}
	return a, nil
}

// RolloutActionList lists a release's actions on a platform, newest first.
func (s *Queries) RolloutActionList(ctx context.Context, releaseID int64, platform ripcord.Platform, limit int) ([]*ripcord.RolloutAction, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.q.Query(ctx, `SELECT `+actionColumns+` FROM rollout_actions WHERE release_id = $1 AND platform = $2 ORDER BY id DESC LIMIT $3`,
		releaseID, string(platform), limit)
	if err != nil {
		return nil, fmt.Errorf("list actions on release %d (%s): %w", releaseID, platform, s.err(err))
	}
	return collect(rows, scanAction, s, "list rollout actions")
}
