package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord/internal/storage"
)

// The ingest pipeline's writes (issue 8) are multi-row statements, so a
// flush of thousands of facts costs a few round trips, not one per fact.

// chunkRows bounds the rows of one multi-row statement: PostgreSQL allows
// 65,535 parameters and SQLite 32,766, far above chunkRows × 4; SQLite looks each $N name up in a list, so a statement costs O(parameters²) to prepare and small chunks are faster.
const chunkRows = 16

// placeholders returns "($1, $2, ...), (...)" for rows of cols parameters.
func placeholders(rows, cols int) string {
	var b strings.Builder
	n := 1
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// IngestPosition returns a pipeline's written position, 0 when none.
func (s *Queries) IngestPosition(ctx context.Context, name string) (int64, error) {
	var pos int64
	err := s.q.QueryRow(ctx, `SELECT position FROM ingest_positions WHERE name = $1`, name).Scan(&pos)
	if err != nil {
		if err = s.err(err); errors.Is(err, storage.ErrNotFound) {
			return 0, nil
		}
		return 0, fmt.Errorf("ingest position of %s: %w", name, err)
	}
	return pos, nil
}

// IngestPositionSet records a pipeline's written position.
func (s *Queries) IngestPositionSet(ctx context.Context, name string, pos int64) error {
	_, err := s.q.Exec(ctx, `INSERT INTO ingest_positions (name, position, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`, name, pos, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("set ingest position of %s to %d: %w", name, pos, s.err(err))
	}
	return nil
}

// SentryDeviceList returns a release's device set.
func (s *Queries) SentryDeviceList(ctx context.Context, projectID int64, version string) ([]storage.SentryDevice, error) {
	rows, err := s.q.Query(ctx, `SELECT did, crashed FROM sentry_devices WHERE project_id = $1 AND version = $2`, projectID, version)
	if err != nil {
		return nil, fmt.Errorf("list devices of project %d version %s: %w", projectID, version, s.err(err))
	}
	return collect(rows, func(r Row) (storage.SentryDevice, error) {
		var d storage.SentryDevice
		var crashed int64
		err := r.Scan(&d.DID, &crashed)
		d.Crashed = crashed != 0
		return d, err
	}, s, "list devices")
}

// SentryEventsSeen returns the ids among eventIDs the project recorded.
func (s *Queries) SentryEventsSeen(ctx context.Context, projectID int64, eventIDs []string) ([]string, error) {
	var seen []string
	for start := 0; start < len(eventIDs); start += chunkRows {
		chunk := eventIDs[start:min(start+chunkRows, len(eventIDs))]
		args := []any{projectID}
		marks := make([]string, len(chunk))
		for i, id := range chunk {
			args = append(args, id)
			marks[i] = "$" + strconv.Itoa(i+2)
		}
		rows, err := s.q.Query(ctx, `SELECT event_id FROM sentry_events WHERE project_id = $1 AND event_id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("look up %d events of project %d: %w", len(chunk), projectID, s.err(err))
		}
		got, err := collect(rows, func(r Row) (string, error) {
			var id string
			return id, r.Scan(&id)
		}, s, "look up events")
		if err != nil {
			return nil, err
		}
		seen = append(seen, got...)
	}
	return seen, nil
}

// SentryDevicesPut adds devices to release sets, keeping crashed once set.
// A device may appear once per call (PostgreSQL refuses to update one row
// twice in a statement).
func (s *Queries) SentryDevicesPut(ctx context.Context, devices []storage.SentryDeviceParams) error {
	for start := 0; start < len(devices); start += chunkRows {
		chunk := devices[start:min(start+chunkRows, len(devices))]
		args := make([]any, 0, len(chunk)*4)
		for _, d := range chunk {
			crashed := int64(0)
			if d.Crashed {
				crashed = 1
			}
			args = append(args, d.ProjectID, d.Version, d.DID, crashed)
		}
		_, err := s.q.Exec(ctx, `INSERT INTO sentry_devices (project_id, version, did, crashed) VALUES `+placeholders(len(chunk), 4)+`
			ON CONFLICT (project_id, version, did) DO UPDATE SET crashed = CASE WHEN excluded.crashed > sentry_devices.crashed THEN excluded.crashed ELSE sentry_devices.crashed END`, args...)
		if err != nil {
			return fmt.Errorf("put %d devices: %w", len(chunk), s.err(err))
		}
	}
	return nil
}

// SentryEventsPut remembers event ids.
func (s *Queries) SentryEventsPut(ctx context.Context, events []storage.SentryEventParams) error {
	for start := 0; start < len(events); start += chunkRows {
		chunk := events[start:min(start+chunkRows, len(events))]
		args := make([]any, 0, len(chunk)*3)
		for _, e := range chunk {
			args = append(args, e.ProjectID, e.EventID, e.At.UTC())
		}
		_, err := s.q.Exec(ctx, `INSERT INTO sentry_events (project_id, event_id, seen_at) VALUES `+placeholders(len(chunk), 3)+`
			ON CONFLICT (project_id, event_id) DO NOTHING`, args...)
		if err != nil {
			return fmt.Errorf("put %d events: %w", len(chunk), s.err(err))
		}
	}
	return nil
}
