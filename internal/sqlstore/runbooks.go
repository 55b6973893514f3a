package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/ripcordhq/ripcord/internal/storage"
)

const runbookVersionColumns = `id, app_id, runbook_id, flow, title, content, content_hash, git_sha, removed, confirmed, pushed_by, pushed_at`

func scanRunbookVersion(r Row) (storage.RunbookVersion, error) {
	var v storage.RunbookVersion
	var removed int64
	err := r.Scan(&v.ID, &v.AppID, &v.RunbookID, &v.Flow, &v.Title, &v.Content, &v.ContentHash, &v.GitSHA, &removed, &v.Confirmed, &v.PushedBy, &v.PushedAt)
	v.Removed, v.PushedAt = removed == 1, v.PushedAt.UTC()
	return v, err
}

// RunbookVersionCreate inserts a runbook version.
func (s *Queries) RunbookVersionCreate(ctx context.Context, v *storage.RunbookVersion) error {
	err := s.q.QueryRow(ctx, `INSERT INTO runbook_versions (app_id, runbook_id, flow, title, content, content_hash, git_sha, removed, confirmed, pushed_by, pushed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		v.AppID, v.RunbookID, v.Flow, v.Title, v.Content, v.ContentHash, v.GitSHA, boolInt(v.Removed), v.Confirmed, v.PushedBy, v.PushedAt.UTC()).Scan(&v.ID)
	if err != nil {
		return fmt.Errorf("create runbook version %s of app %d: %w", v.RunbookID, v.AppID, s.err(err))
	}
	return nil
}

// RunbookVersionConfirm stores a version's confirmed rollback times.
func (s *Queries) RunbookVersionConfirm(ctx context.Context, id int64, confirmed string) error {
	n, err := s.q.Exec(ctx, `UPDATE runbook_versions SET confirmed = $2 WHERE id = $1`, id, confirmed)
	if err != nil {
		return fmt.Errorf("confirm runbook version %d: %w", id, s.err(err))
	}
	if n == 0 {
		return fmt.Errorf("confirm runbook version %d: %w", id, errNotFound)
	}
	return nil
}

// RunbookCurrentList returns each runbook's newest version unless removed.
func (s *Queries) RunbookCurrentList(ctx context.Context, appID int64) ([]storage.RunbookVersion, error) {
	rows, err := s.q.Query(ctx, `SELECT `+runbookVersionColumns+` FROM runbook_versions v
		WHERE app_id = $1 AND removed = 0
		AND id = (SELECT MAX(id) FROM runbook_versions w WHERE w.app_id = v.app_id AND w.runbook_id = v.runbook_id)
		ORDER BY runbook_id`, appID)
	if err != nil {
		return nil, fmt.Errorf("list runbooks of app %d: %w", appID, s.err(err))
	}
	return collect(rows, scanRunbookVersion, s, "list runbooks")
}

// RunbookVersionList returns a runbook's versions, newest first.
func (s *Queries) RunbookVersionList(ctx context.Context, appID int64, runbookID string) ([]storage.RunbookVersion, error) {
	rows, err := s.q.Query(ctx, `SELECT `+runbookVersionColumns+` FROM runbook_versions
		WHERE app_id = $1 AND runbook_id = $2 ORDER BY id DESC`, appID, runbookID)
	if err != nil {
		return nil, fmt.Errorf("list versions of runbook %s of app %d: %w", runbookID, appID, s.err(err))
	}
	return collect(rows, scanRunbookVersion, s, "list runbook versions")
}

// RunbookVersionGet returns one version.
func (s *Queries) RunbookVersionGet(ctx context.Context, appID, id int64) (*storage.RunbookVersion, error) {
	v, err := scanRunbookVersion(s.q.QueryRow(ctx, `SELECT `+runbookVersionColumns+` FROM runbook_versions WHERE app_id = $1 AND id = $2`, appID, id))
	if err != nil {
		return nil, fmt.Errorf("get runbook version %d of app %d: %w", id, appID, s.err(err))
	}
	return &v, nil
}

// GateVersionCreate inserts a gate file version.
func (s *Queries) GateVersionCreate(ctx context.Context, v *storage.GateVersion) error {
	err := s.q.QueryRow(ctx, `INSERT INTO gate_versions (app_id, content, content_hash, git_sha, pushed_by, pushed_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, v.AppID, v.Content, v.ContentHash, v.GitSHA, v.PushedBy, v.PushedAt.UTC()).Scan(&v.ID)
	if err != nil {
		return fmt.Errorf("create gate version of app %d: %w", v.AppID, s.err(err))
	}
	return nil
}

// GateVersionLatest returns the newest gate file.
func (s *Queries) GateVersionLatest(ctx context.Context, appID int64) (*storage.GateVersion, error) {
	var v storage.GateVersion
	err := s.q.QueryRow(ctx, `SELECT id, app_id, content, content_hash, git_sha, pushed_by, pushed_at FROM gate_versions
		WHERE app_id = $1 ORDER BY id DESC LIMIT 1`, appID).Scan(&v.ID, &v.AppID, &v.Content, &v.ContentHash, &v.GitSHA, &v.PushedBy, &v.PushedAt)
	if err != nil {
		return nil, fmt.Errorf("get gate of app %d: %w", appID, s.err(err))
	}
	v.PushedAt = v.PushedAt.UTC()
	return &v, nil
}

const rehearsalColumns = `id, app_id, runbook_version_id, runbook_id, content_hash, env, state, record, revision, outcome, result, started_by, started_at, finished_at`

func scanRehearsal(r Row) (storage.Rehearsal, error) {
	var h storage.Rehearsal
	var finished sql.NullTime
	err := r.Scan(&h.ID, &h.AppID, &h.RunbookVersionID, &h.RunbookID, &h.ContentHash, &h.Env, &h.State, &h.Record, &h.Revision,
		&h.Outcome, &h.Result, &h.StartedBy, &h.StartedAt, &finished)
	h.StartedAt = h.StartedAt.UTC()
	if finished.Valid {
		h.FinishedAt = finished.Time.UTC()
	}
	return h, err
}

// RehearsalCreate inserts a rehearsal.
func (s *Queries) RehearsalCreate(ctx context.Context, r *storage.Rehearsal) error {
	err := s.q.QueryRow(ctx, `INSERT INTO rehearsals (app_id, runbook_version_id, runbook_id, content_hash, env, state, record, revision, outcome, result, started_by, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		r.AppID, r.RunbookVersionID, r.RunbookID, r.ContentHash, r.Env, r.State, r.Record, r.Revision, r.Outcome, r.Result, r.StartedBy, r.StartedAt.UTC(), nullTime(r.FinishedAt)).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("create rehearsal of runbook %s: %w", r.RunbookID, s.err(err))
	}
	return nil
}

// RehearsalUpdate writes r over the revision it was read at.
func (s *Queries) RehearsalUpdate(ctx context.Context, r *storage.Rehearsal) error {
	n, err := s.q.Exec(ctx, `UPDATE rehearsals SET state = $3, record = $4, outcome = $5, result = $6, finished_at = $7, revision = revision + 1
		WHERE id = $1 AND revision = $2`, r.ID, r.Revision, r.State, r.Record, r.Outcome, r.Result, nullTime(r.FinishedAt))
	if err != nil {
		return fmt.Errorf("update rehearsal %d: %w", r.ID, s.err(err))
	}
	if n == 0 {
		if _, err := s.RehearsalGet(ctx, r.ID); err != nil {
			return fmt.Errorf("update rehearsal %d: %w", r.ID, err)
		}
		return fmt.Errorf("update rehearsal %d: another update came first: %w", r.ID, storage.ErrConflict)
	}
	r.Revision++
	return nil
}

// RehearsalGet returns a rehearsal.
func (s *Queries) RehearsalGet(ctx context.Context, id int64) (*storage.Rehearsal, error) {
	h, err := scanRehearsal(s.q.QueryRow(ctx, `SELECT `+rehearsalColumns+` FROM rehearsals WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get rehearsal %d: %w", id, s.err(err))
	}
	return &h, nil
}

// RehearsalList returns an app's rehearsals, newest first.
func (s *Queries) RehearsalList(ctx context.Context, appID int64, runbookID string) ([]storage.Rehearsal, error) {
	rows, err := s.q.Query(ctx, `SELECT `+rehearsalColumns+` FROM rehearsals
		WHERE app_id = $1 AND ($2 = '' OR runbook_id = $2) ORDER BY id DESC`, appID, runbookID)
	if err != nil {
		return nil, fmt.Errorf("list rehearsals of app %d: %w", appID, s.err(err))
	}
	return collect(rows, scanRehearsal, s, "list rehearsals")
}

// ReleaseChangesPut stores what a release changes, replacing an earlier report.
func (s *Queries) ReleaseChangesPut(ctx context.Context, c *storage.ReleaseChanges) error {
	paths, err := json.Marshal(nonNil(c.Paths))
	if err != nil {
		return fmt.Errorf("encode paths: %w", err)
	}
	flags, err := json.Marshal(nonNil(c.Flags))
	if err != nil {
		return fmt.Errorf("encode flags: %w", err)
	}
	_, err = s.q.Exec(ctx, `INSERT INTO release_changes (app_id, version, paths, flags, source, recorded_by, recorded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (app_id, version) DO UPDATE SET paths = excluded.paths, flags = excluded.flags, source = excluded.source,
			recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at`,
		c.AppID, c.Version, string(paths), string(flags), c.Source, c.RecordedBy, c.RecordedAt.UTC())
	if err != nil {
		return fmt.Errorf("put changes of release %s of app %d: %w", c.Version, c.AppID, s.err(err))
	}
	return nil
}

// ReleaseChangesGet returns what a release changes.
func (s *Queries) ReleaseChangesGet(ctx context.Context, appID int64, version string) (*storage.ReleaseChanges, error) {
	c := storage.ReleaseChanges{AppID: appID, Version: version}
	var paths, flags string
	err := s.q.QueryRow(ctx, `SELECT paths, flags, source, recorded_by, recorded_at FROM release_changes WHERE app_id = $1 AND version = $2`,
		appID, version).Scan(&paths, &flags, &c.Source, &c.RecordedBy, &c.RecordedAt)
	if err != nil {
		return nil, fmt.Errorf("get changes of release %s of app %d: %w", version, appID, s.err(err))
	}
	c.RecordedAt = c.RecordedAt.UTC()
	if err := json.Unmarshal([]byte(paths), &c.Paths); err != nil {
		return nil, fmt.Errorf("changes of release %s: paths: %w", version, err)
	}
	if err := json.Unmarshal([]byte(flags), &c.Flags); err != nil {
		return nil, fmt.Errorf("changes of release %s: flags: %w", version, err)
	}
	return &c, nil
}

// GateApprovalCreate inserts an approval.
func (s *Queries) GateApprovalCreate(ctx context.Context, a *storage.GateApproval) error {
	err := s.q.QueryRow(ctx, `INSERT INTO gate_approvals (app_id, version, item_id, role, actor, evidence, approved_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, a.AppID, a.Version, a.ItemID, a.Role, a.Actor, a.Evidence, a.ApprovedAt.UTC()).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("approve %s of release %s: %w", a.ItemID, a.Version, s.err(err))
	}
	return nil
}

// GateApprovalList returns a release's approvals, oldest first.
func (s *Queries) GateApprovalList(ctx context.Context, appID int64, version string) ([]storage.GateApproval, error) {
	rows, err := s.q.Query(ctx, `SELECT id, app_id, version, item_id, role, actor, evidence, approved_at FROM gate_approvals
		WHERE app_id = $1 AND version = $2 ORDER BY id`, appID, version)
	if err != nil {
		return nil, fmt.Errorf("list approvals of release %s: %w", version, s.err(err))
	}
	return collect(rows, func(r Row) (storage.GateApproval, error) {
		var a storage.GateApproval
		err := r.Scan(&a.ID, &a.AppID, &a.Version, &a.ItemID, &a.Role, &a.Actor, &a.Evidence, &a.ApprovedAt)
		a.ApprovedAt = a.ApprovedAt.UTC()
		return a, err
	}, s, "list approvals")
}

// GateDecisionAppend inserts a decision.
func (s *Queries) GateDecisionAppend(ctx context.Context, d *storage.GateDecision) error {
	err := s.q.QueryRow(ctx, `INSERT INTO gate_decisions (app_id, version, go, items, items_hash, gate_hash, decided_by, decided_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, d.AppID, d.Version, boolInt(d.Go), d.Items, d.ItemsHash, d.GateHash, d.DecidedBy, d.DecidedAt.UTC()).Scan(&d.ID)
	if err != nil {
		return fmt.Errorf("record gate decision of release %s: %w", d.Version, s.err(err))
	}
	return nil
}

// GateDecisionLatest returns a release's newest decision.
func (s *Queries) GateDecisionLatest(ctx context.Context, appID int64, version string) (*storage.GateDecision, error) {
	var d storage.GateDecision
	var goInt int64
	err := s.q.QueryRow(ctx, `SELECT id, app_id, version, go, items, items_hash, gate_hash, decided_by, decided_at FROM gate_decisions
		WHERE app_id = $1 AND version = $2 ORDER BY id DESC LIMIT 1`, appID, version).
		Scan(&d.ID, &d.AppID, &d.Version, &goInt, &d.Items, &d.ItemsHash, &d.GateHash, &d.DecidedBy, &d.DecidedAt)
	if err != nil {
		return nil, fmt.Errorf("get gate decision of release %s: %w", version, s.err(err))
	}
	d.Go, d.DecidedAt = goInt == 1, d.DecidedAt.UTC()
	return &d, nil
}

// TriggerFiringClaim records a firing once.
func (s *Queries) TriggerFiringClaim(ctx context.Context, f storage.TriggerFiring) (bool, error) {
	n, err := s.q.Exec(ctx, `INSERT INTO trigger_firings (app_id, platform, version, runbook_id, trigger_id, fired_at, incident_id)
		VALUES ($1, $2, $3, $4, $5, $6, 0) ON CONFLICT (app_id, platform, version, runbook_id, trigger_id) DO NOTHING`,
		f.AppID, f.Platform, f.Version, f.RunbookID, f.TriggerID, f.FiredAt.UTC())
	if err != nil {
		return false, fmt.Errorf("claim firing of trigger %s/%s: %w", f.RunbookID, f.TriggerID, s.err(err))
	}
	return n == 1, nil
}

// TriggerFiringSetIncident stores the incident opened for a firing.
func (s *Queries) TriggerFiringSetIncident(ctx context.Context, f storage.TriggerFiring) error {
	_, err := s.q.Exec(ctx, `UPDATE trigger_firings SET incident_id = $6
		WHERE app_id = $1 AND platform = $2 AND version = $3 AND runbook_id = $4 AND trigger_id = $5`,
		f.AppID, f.Platform, f.Version, f.RunbookID, f.TriggerID, f.IncidentID)
	if err != nil {
		return fmt.Errorf("record incident of trigger %s/%s: %w", f.RunbookID, f.TriggerID, s.err(err))
	}
	return nil
}

// TriggerFiringDelete forgets a firing.
func (s *Queries) TriggerFiringDelete(ctx context.Context, f storage.TriggerFiring) error {
	_, err := s.q.Exec(ctx, `DELETE FROM trigger_firings WHERE app_id = $1 AND platform = $2 AND version = $3 AND runbook_id = $4 AND trigger_id = $5`,
		f.AppID, f.Platform, f.Version, f.RunbookID, f.TriggerID)
	if err != nil {
		return fmt.Errorf("forget firing of trigger %s/%s: %w", f.RunbookID, f.TriggerID, s.err(err))
	}
	return nil
}

// TriggerFiringList returns a release's firings on a platform.
func (s *Queries) TriggerFiringList(ctx context.Context, appID int64, platform, version string) ([]storage.TriggerFiring, error) {
	rows, err := s.q.Query(ctx, `SELECT app_id, platform, version, runbook_id, trigger_id, fired_at, incident_id FROM trigger_firings
		WHERE app_id = $1 AND platform = $2 AND version = $3 ORDER BY runbook_id, trigger_id`, appID, platform, version)
	if err != nil {
		return nil, fmt.Errorf("list trigger firings of release %s: %w", version, s.err(err))
	}
	return collect(rows, func(r Row) (storage.TriggerFiring, error) {
		var f storage.TriggerFiring
		err := r.Scan(&f.AppID, &f.Platform, &f.Version, &f.RunbookID, &f.TriggerID, &f.FiredAt, &f.IncidentID)
		f.FiredAt = f.FiredAt.UTC()
		return f, err
	}, s, "list trigger firings")
}
