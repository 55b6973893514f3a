package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/ripcordhq/ripcord/internal/storage"
)

// Migrations moves both schemas a database holds: Ripcord's own tables
// (goose, one transaction per version) and the job queue's (River's
// migrator). Up applies Ripcord's first, so a half-finished up never leaves
// jobs without the tables they refer to; down removes the queue's first.
type Migrations[TTx any] struct {
	Goose *goose.Provider
	River *rivermigrate.Migrator[TTx]
}

// Migrate moves the schema to target (storage.MigrateLatest or a version of
// Ripcord's). River's tables go fully up with any up, and fully down only when
// Ripcord's schema goes to 0.
func (m *Migrations[TTx]) Migrate(ctx context.Context, dir storage.MigrateDirection, target int64) ([]storage.MigrationResult, error) {
	var out []storage.MigrationResult
	switch dir {
	case storage.MigrateUp:
		var res []*goose.MigrationResult
		var err error
		if target == storage.MigrateLatest {
			res, err = m.Goose.Up(ctx)
		} else {
			res, err = m.Goose.UpTo(ctx, target)
		}
		out = appendGoose(out, res)
		if err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
			return out, fmt.Errorf("migrate up: %w", err)
		}
		rr, err := m.River.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return out, fmt.Errorf("migrate job queue up: %w", err)
		}
		out = appendRiver(out, rr)
	case storage.MigrateDown:
		if target == storage.MigrateLatest {
			return nil, fmt.Errorf("migrate down: give a target version (0 removes every table)")
		}
		if target == 0 {
			rr, err := m.River.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1})
			if err != nil {
				return out, fmt.Errorf("migrate job queue down: %w", err)
			}
			out = appendRiver(out, rr)
		}
		res, err := m.Goose.DownTo(ctx, target)
		out = appendGoose(out, res)
		if err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
			return out, fmt.Errorf("migrate down to %d: %w", target, err)
		}
	default:
		return nil, fmt.Errorf("migrate: direction %q is not known; use up or down", dir)
	}
	return out, nil
}

// Status lists Ripcord's migrations and then the job queue's, named
// "river: ..." so an operator sees both.
func (m *Migrations[TTx]) Status(ctx context.Context) ([]storage.MigrationState, error) {
	st, err := m.Goose.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	var out []storage.MigrationState
	for _, s := range st {
		out = append(out, storage.MigrationState{
			Version: s.Source.Version, Name: migrationName(s.Source.Path),
			Applied: s.State == goose.StateApplied, AppliedAt: s.AppliedAt.UTC(),
		})
	}
	applied := map[int]bool{}
	if existing, err := m.River.ExistingVersions(ctx); err == nil {
		for _, e := range existing {
			applied[e.Version] = true
		}
	}
	for _, rm := range m.River.AllVersions() {
		out = append(out, storage.MigrationState{Version: int64(rm.Version), Name: "river: " + rm.Name, Applied: applied[rm.Version]})
	}
	return out, nil
}

func migrationName(p string) string {
	return strings.TrimSuffix(path.Base(p), ".sql")
}

func appendGoose(out []storage.MigrationResult, res []*goose.MigrationResult) []storage.MigrationResult {
	for _, r := range res {
		if r == nil || r.Source == nil {
			continue
		}
		out = append(out, storage.MigrationResult{Version: r.Source.Version, Name: migrationName(r.Source.Path), Duration: r.Duration})
	}
	return out
}

func appendRiver(out []storage.MigrationResult, rr *rivermigrate.MigrateResult) []storage.MigrationResult {
	if rr == nil {
		return out
	}
	for _, v := range rr.Versions {
		out = append(out, storage.MigrationResult{Version: int64(v.Version), Name: "river: " + v.Name, Duration: v.Duration})
	}
	return out
}

// GooseLogger routes goose's printf logging into slog at debug level, so
// migrations log like everything else.
type GooseLogger struct{ Logger *slog.Logger }

// Printf logs a migration progress line.
func (g GooseLogger) Printf(format string, v ...any) {
	if g.Logger != nil {
		g.Logger.Debug("migration", slog.String("detail", strings.TrimSpace(fmt.Sprintf(format, v...))))
	}
}

// Fatalf logs a migration failure; goose returns the error to us as well.
func (g GooseLogger) Fatalf(format string, v ...any) {
	if g.Logger != nil {
		g.Logger.Error("migration", slog.String("detail", strings.TrimSpace(fmt.Sprintf(format, v...))))
	}
}
