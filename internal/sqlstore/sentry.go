package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const sentryProjectColumns = `project_id, app_id, platform, public_key, created_at`

func scanSentryProject(r Row) (storage.SentryProject, error) {
	var p storage.SentryProject
	var platform string
	if err := r.Scan(&p.ID, &p.AppID, &platform, &p.PublicKey, &p.CreatedAt); err != nil {
		return p, err
	}
	p.Platform, p.CreatedAt = ripcord.Platform(platform), p.CreatedAt.UTC()
	return p, nil
}

// SentryProjectCreate inserts p and sets its ID.
func (s *Queries) SentryProjectCreate(ctx context.Context, p *storage.SentryProject) error {
	err := s.q.QueryRow(ctx, `INSERT INTO sentry_projects (app_id, platform, public_key, created_at)
		VALUES ($1, $2, $3, $4) RETURNING project_id`,
		p.AppID, string(p.Platform), p.PublicKey, p.CreatedAt.UTC()).Scan(&p.ID)
	if err != nil {
		return fmt.Errorf("insert sentry project of app %d %s: %w", p.AppID, p.Platform, s.err(err))
	}
	return nil
}

// SentryProjectGetByKey finds a project by its DSN public key.
func (s *Queries) SentryProjectGetByKey(ctx context.Context, publicKey string) (*storage.SentryProject, error) {
	p, err := scanSentryProject(s.q.QueryRow(ctx, `SELECT `+sentryProjectColumns+` FROM sentry_projects WHERE public_key = $1`, publicKey))
	if err != nil {
		return nil, fmt.Errorf("get sentry project by key: %w", s.err(err))
	}
	return &p, nil
}

// SentryProjectList lists an app's projects (every app's when appID is 0).
func (s *Queries) SentryProjectList(ctx context.Context, appID int64) ([]storage.SentryProject, error) {
	rows, err := s.q.Query(ctx, `SELECT `+sentryProjectColumns+` FROM sentry_projects
		WHERE $1 = 0 OR app_id = $1 ORDER BY app_id, platform`, appID)
	if err != nil {
		return nil, fmt.Errorf("list sentry projects of app %d: %w", appID, s.err(err))
	}
	return collect(rows, scanSentryProject, s, "list sentry projects")
}

// SentrySessionApply deduplicates one session update. Every step is a
// single conditional statement whose affected-row count says whether this
// transaction claimed the fact, so concurrent writers on PostgreSQL (which
// wait on the row lock and re-check the condition) never both count it.
func (s *Queries) SentrySessionApply(ctx context.Context, p storage.SentrySessionParams) (storage.SentrySessionResult, error) {
	var res storage.SentrySessionResult
	wrap := func(err error) error {
		return fmt.Errorf("apply session %s seq %d of project %d: %w", p.SID, p.Seq, p.ProjectID, s.err(err))
	}
	n, err := s.q.Exec(ctx, `INSERT INTO sentry_sessions (project_id, sid, seq, flags, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (project_id, sid) DO NOTHING`, p.ProjectID, p.SID, p.Seq, int64(p.Flags), p.At.UTC())
	if err != nil {
		return res, wrap(err)
	}
	if n == 1 {
		return storage.SentrySessionResult{New: true, Added: p.Flags}, nil
	}
	n, err = s.q.Exec(ctx, `UPDATE sentry_sessions SET seq = $3, updated_at = $4 WHERE project_id = $1 AND sid = $2 AND seq < $3`,
		p.ProjectID, p.SID, p.Seq, p.At.UTC())
	if err != nil {
		return res, wrap(err)
	}
	if n == 0 {
		return storage.SentrySessionResult{Duplicate: true}, nil
	}
	for bit := storage.SessionFlags(1); bit != 0 && bit <= p.Flags; bit <<= 1 {
		if p.Flags&bit == 0 {
			continue
		}
		n, err := s.q.Exec(ctx, `UPDATE sentry_sessions SET flags = flags | $3 WHERE project_id = $1 AND sid = $2 AND (flags & $3) = 0`,
			p.ProjectID, p.SID, int64(bit))
		if err != nil {
			return res, wrap(err)
		}
		if n == 1 {
			res.Added |= bit
		}
	}
	return res, nil
}

// SentryDeviceApply adds a device to a release's device set.
func (s *Queries) SentryDeviceApply(ctx context.Context, p storage.SentryDeviceParams) (storage.SentryDeviceResult, error) {
	var res storage.SentryDeviceResult
	wrap := func(err error) error {
		return fmt.Errorf("apply device of project %d version %s: %w", p.ProjectID, p.Version, s.err(err))
	}
	crashed := int64(0)
	if p.Crashed {
		crashed = 1
	}
	n, err := s.q.Exec(ctx, `INSERT INTO sentry_devices (project_id, version, did, crashed) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project_id, version, did) DO NOTHING`, p.ProjectID, p.Version, p.DID, crashed)
	if err != nil {
		return res, wrap(err)
	}
	if n == 1 {
		return storage.SentryDeviceResult{New: true, FirstCrash: p.Crashed}, nil
	}
	if !p.Crashed {
		return res, nil
	}
	n, err = s.q.Exec(ctx, `UPDATE sentry_devices SET crashed = 1 WHERE project_id = $1 AND version = $2 AND did = $3 AND crashed = 0`,
		p.ProjectID, p.Version, p.DID)
	if err != nil {
		return res, wrap(err)
	}
	res.FirstCrash = n == 1
	return res, nil
}

// SentryEventRecord remembers an event id; true when it is new.
func (s *Queries) SentryEventRecord(ctx context.Context, projectID int64, eventID string, at time.Time) (bool, error) {
	n, err := s.q.Exec(ctx, `INSERT INTO sentry_events (project_id, event_id, seen_at) VALUES ($1, $2, $3)
		ON CONFLICT (project_id, event_id) DO NOTHING`, projectID, eventID, at.UTC())
	if err != nil {
		return false, fmt.Errorf("record event %s of project %d: %w", eventID, projectID, s.err(err))
	}
	return n == 1, nil
}

// SentryStatePrune deletes old session and event dedupe state.
func (s *Queries) SentryStatePrune(ctx context.Context, before time.Time) (int64, int64, error) {
	sessions, err := s.q.Exec(ctx, `DELETE FROM sentry_sessions WHERE updated_at < $1`, before.UTC())
	if err != nil {
		return 0, 0, fmt.Errorf("prune sentry sessions: %w", s.err(err))
	}
	events, err := s.q.Exec(ctx, `DELETE FROM sentry_events WHERE seen_at < $1`, before.UTC())
	if err != nil {
		return 0, 0, fmt.Errorf("prune sentry events: %w", s.err(err))
	}
	return sessions, events, nil
}
