package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const incidentColumns = `i.id, i.app_id, a.name, i.version, i.platform, i.trigger_name, i.decision, i.outcome, i.runbook_id, i.opened_by,
	i.state, i.opened_at, i.mitigated_at, i.resolved_at, i.resolved_by, i.summary`

const incidentFrom = ` FROM incidents i JOIN apps a ON a.id = i.app_id`

func scanIncident(r Row) (*ripcord.Incident, error) {
	var in ripcord.Incident
	var p, st string
	var mitigated, resolved sql.NullTime
	if err := r.Scan(&in.ID, &in.AppID, &in.App, &in.Version, &p, &in.Trigger, &in.Decision, &in.Outcome, &in.RunbookID, &in.OpenedBy,
		&st, &in.OpenedAt, &mitigated, &resolved, &in.ResolvedBy, &in.Summary); err != nil {
		return nil, err
	}
	in.Platform, in.State, in.OpenedAt = ripcord.Platform(p), ripcord.IncidentState(st), in.OpenedAt.UTC()
	in.MitigatedAt, in.ResolvedAt = fromNullTime(mitigated), fromNullTime(resolved)
	return &in, nil
}

func fromNullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// IncidentCreate inserts an open incident.
func (s *Queries) IncidentCreate(ctx context.Context, in *ripcord.Incident) error {
	err := s.q.QueryRow(ctx, `INSERT INTO incidents (app_id, version, platform, trigger_name, decision, outcome, runbook_id, opened_by, state, opened_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9) RETURNING id`,
		in.AppID, in.Version, string(in.Platform), in.Trigger, in.Decision, in.Outcome, in.RunbookID, in.OpenedBy, in.OpenedAt.UTC()).Scan(&in.ID)
	if err != nil {
		return fmt.Errorf("create incident %s %s %s: %w", in.Version, in.Platform, in.Trigger, s.err(err))
	}
	in.State = ripcord.IncidentOpen
	return nil
}

// IncidentGet returns an incident.
func (s *Queries) IncidentGet(ctx context.Context, id int64) (*ripcord.Incident, error) {
	in, err := scanIncident(s.q.QueryRow(ctx, `SELECT `+incidentColumns+incidentFrom+` WHERE i.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get incident %d: %w", id, s.err(err))
	}
	return in, nil
}

// IncidentGetOpen returns the open incident of a release, platform and trigger.
func (s *Queries) IncidentGetOpen(ctx context.Context, appID int64, version string, platform ripcord.Platform, trigger string) (*ripcord.Incident, error) {
	in, err := scanIncident(s.q.QueryRow(ctx, `SELECT `+incidentColumns+incidentFrom+`
		WHERE i.app_id = $1 AND i.version = $2 AND i.platform = $3 AND i.trigger_name = $4 AND i.state = 'open'`,
		appID, version, string(platform), trigger))
	if err != nil {
		return nil, fmt.Errorf("get open incident %s %s %s: %w", version, platform, trigger, s.err(err))
	}
	return in, nil
}

// IncidentList lists incidents newest first.
func (s *Queries) IncidentList(ctx context.Context, p storage.IncidentListParams) ([]*ripcord.Incident, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.q.Query(ctx, `SELECT `+incidentColumns+incidentFrom+`
		WHERE ($1 = 0 OR i.app_id = $1) AND ($2 = 0 OR i.state = 'open') ORDER BY i.id DESC LIMIT $3`,
		p.AppID, boolInt(p.OpenOnly), limit)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", s.err(err))
	}
	return collect(rows, scanIncident, s, "list incidents")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// IncidentResolve closes an open incident.
func (s *Queries) IncidentResolve(ctx context.Context, id int64, at, mitigatedAt time.Time, by, summary string) error {
	n, err := s.q.Exec(ctx, `UPDATE incidents SET state = 'resolved', resolved_at = $2, mitigated_at = $3, resolved_by = $4, summary = $5
		WHERE id = $1 AND state = 'open'`, id, at.UTC(), nullTime(mitigatedAt), by, summary)
	if err != nil {
		return fmt.Errorf("resolve incident %d: %w", id, s.err(err))
	}
	if n == 0 {
		return fmt.Errorf("resolve incident %d: no open incident has this id: %w", id, errNotFound)
	}
	return nil
}

// IncidentEventAppend adds an entry to an incident's timeline.
func (s *Queries) IncidentEventAppend(ctx context.Context, e *ripcord.IncidentEvent) error {
	err := s.q.QueryRow(ctx, `INSERT INTO incident_events (incident_id, at, actor, kind, message) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		e.IncidentID, e.At.UTC(), e.Actor, e.Kind, e.Message).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("append event to incident %d: %w", e.IncidentID, s.err(err))
	}
	return nil
}

// IncidentEventList returns an incident's timeline, oldest first.
func (s *Queries) IncidentEventList(ctx context.Context, incidentID int64) ([]ripcord.IncidentEvent, error) {
	rows, err := s.q.Query(ctx, `SELECT id, incident_id, at, actor, kind, message FROM incident_events WHERE incident_id = $1 ORDER BY id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list events of incident %d: %w", incidentID, s.err(err))
	}
	return collect(rows, func(r Row) (ripcord.IncidentEvent, error) {
		var e ripcord.IncidentEvent
		err := r.Scan(&e.ID, &e.IncidentID, &e.At, &e.Actor, &e.Kind, &e.Message)
		e.At = e.At.UTC()
		return e, err
	}, s, "list incident events")
}
