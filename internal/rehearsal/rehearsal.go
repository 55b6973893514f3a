// Package rehearsal records rehearsals of runbooks in a non-production
// environment: who started and ended each step and when, the outcome of
// each, and the measured time of every rollback level. Ripcord cannot yet
// execute flag or deploy levels itself, so the rehearser marks a level's
// start and end and Ripcord takes both times from its own clock; no time is
// ever typed in. A rehearsal is bound to the content hash of the runbook
// version it started on; only a finished rehearsal counts, and finishing
// writes each level's measured time back as the version's confirmed time.
package rehearsal

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/runbook"
	"github.com/ripcordhq/ripcord/internal/runbooks"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Config holds the service's dependencies.
type Config struct {
	Store storage.Store // required
	// Now is the clock every mark is taken from. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
}

// Service starts, marks and finishes rehearsals.
type Service struct {
	store  storage.Store
	now    func() time.Time
	logger *slog.Logger
}

// New builds the service.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, now: cfg.Now, logger: cmp.Or(cfg.Logger, slog.Default())}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Record is what a rehearsal has marked so far: one entry per step and per
// rollback level of the runbook version it rehearses.
type Record struct {
	Steps  []StepMark  `json:"steps"`
	Levels []LevelMark `json:"levels"`
}

// StepMark is one step's marks.
type StepMark struct {
	N         int           `json:"n"`
	Role      string        `json:"role"`
	Do        string        `json:"do"`
	Timebox   time.Duration `json:"timebox_ns"`
	StartedBy string        `json:"started_by,omitempty"`
	StartedAt *time.Time    `json:"started_at,omitempty"`
	EndedBy   string        `json:"ended_by,omitempty"`
	EndedAt   *time.Time    `json:"ended_at,omitempty"`
	Outcome   string        `json:"outcome,omitempty"`
}

// LevelMark is one rollback level's marks.
type LevelMark struct {
	Index     int           `json:"index"` // 1-based
	Level     string        `json:"level"`
	What      string        `json:"what"`
	Budget    time.Duration `json:"budget_ns"`
	StartedBy string        `json:"started_by,omitempty"`
	StartedAt *time.Time    `json:"started_at,omitempty"`
	EndedBy   string        `json:"ended_by,omitempty"`
	EndedAt   *time.Time    `json:"ended_at,omitempty"`
}

// Measured is the level's time from start to end; 0 until ended.
func (l LevelMark) Measured() time.Duration {
	if l.StartedAt == nil || l.EndedAt == nil {
		return 0
	}
	return l.EndedAt.Sub(*l.StartedAt)
}

// Rehearsal is a rehearsal with its decoded record.
type Rehearsal struct {
	ID          int64
	App         string
	RunbookID   string
	Version     int64 // the runbook version rehearsed
	ContentHash string
	Env         string
	State       string // storage.RehearsalRunning or storage.RehearsalFinished
	Outcome     string
	Result      string
	StartedBy   string
	StartedAt   time.Time
	FinishedAt  time.Time
	Record      Record
}

func decode(app string, r *storage.Rehearsal) (*Rehearsal, error) {
	out := &Rehearsal{ID: r.ID, App: app, RunbookID: r.RunbookID, Version: r.RunbookVersionID, ContentHash: r.ContentHash, Env: r.Env, State: r.State,
		Outcome: r.Outcome, Result: r.Result, StartedBy: r.StartedBy, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	if err := json.Unmarshal([]byte(r.Record), &out.Record); err != nil {
		return nil, fmt.Errorf("rehearsal %d: record: %w", r.ID, err)
	}
	return out, nil
}

var envRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// Start begins a rehearsal of a runbook's current version in env, which
// must not be production: rehearsals exercise the rollback for real.
func (s *Service) Start(ctx context.Context, appName, runbookID, env string) (*Rehearsal, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleEngineer); err != nil {
		return nil, err
	}
	if !envRe.MatchString(env) {
		return nil, ripcord.Errorf(ripcord.EINVALID, "environment %q is not a name like staging (lowercase letters, digits, dashes)", env)
	}
	if env == "production" || env == "prod" {
		return nil, ripcord.Errorf(ripcord.EINVALID, "rehearsals run outside production: use --env staging (or another non-production environment)")
	}
	app, err := runbooks.AppByName(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var out *storage.Rehearsal
	err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		v, err := runbooks.Current(ctx, tx, app, runbookID)
		if err != nil {
			return err
		}
		rb, findings := runbook.Parse("runbooks/"+v.RunbookID+".md", []byte(v.Content))
		if len(findings) > 0 {
			return ripcord.Errorf(ripcord.EINVALID, "runbook %s version %d does not lint clean (%s); fix it and push before rehearsing", runbookID, v.ID, findings[0])
		}
		rec := Record{}
		for _, st := range rb.Steps {
			rec.Steps = append(rec.Steps, StepMark{N: st.N, Role: st.Role, Do: st.Do, Timebox: st.Timebox})
		}
		for i, l := range rb.Rollback {
			rec.Levels = append(rec.Levels, LevelMark{Index: i + 1, Level: l.Level, What: runbooks.LevelWhat(l), Budget: l.Budget})
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encode rehearsal record: %w", err)
		}
		out = &storage.Rehearsal{AppID: app.ID, RunbookVersionID: v.ID, RunbookID: v.RunbookID, ContentHash: v.ContentHash, Env: env,
			State: storage.RehearsalRunning, Record: string(raw), StartedBy: ripcord.ActorFromContext(ctx).Name, StartedAt: now}
		if err := tx.RehearsalCreate(ctx, out); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "rehearsal.start", target(appName, out.ID), nil,
			map[string]any{"runbook": runbookID, "version": v.ID, "content_hash": v.ContentHash, "env": env}))
	})
	if err != nil {
		return nil, fmt.Errorf("start rehearsal of %s: %w", runbookID, err)
	}
	return decode(appName, out)
}

func target(app string, id int64) string {
	return "app/" + app + "/rehearsals/" + strconv.FormatInt(id, 10)
}

// Get returns a rehearsal of an app.
func (s *Service) Get(ctx context.Context, appName string, id int64) (*Rehearsal, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, r, err := s.load(ctx, s.store, appName, id)
	if err != nil {
		return nil, err
	}
	return decode(app.Name, r)
}

// List returns an app's rehearsals of a runbook ("" for all), newest first.
func (s *Service) List(ctx context.Context, appName, runbookID string) ([]*Rehearsal, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := runbooks.AppByName(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	rs, err := s.store.RehearsalList(ctx, app.ID, runbookID)
	if err != nil {
		return nil, err
	}
	out := make([]*Rehearsal, 0, len(rs))
	for i := range rs {
		r, err := decode(appName, &rs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) load(ctx context.Context, q storage.Queries, appName string, id int64) (*ripcord.App, *storage.Rehearsal, error) {
	app, err := runbooks.AppByName(ctx, q, appName)
	if err != nil {
		return nil, nil, err
	}
	r, err := q.RehearsalGet(ctx, id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && r.AppID != app.ID) {
		return nil, nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no rehearsal %d; `ripcord rehearsal list %s` shows them", appName, id, appName)
	}
	return app, r, err
}

// mark applies change to a running rehearsal's record and stores it. The
// change reports whether it changed anything: a repeated mark (a retried
// request) changes nothing and is not audited again. A concurrent mark makes
// the write conflict; mark then reads again and reapplies (up to ten times:
// each round, one of the racing writers wins).
func (s *Service) mark(ctx context.Context, appName string, id int64, action string, change func(r *storage.Rehearsal, rec *Record, who string, now time.Time) (bool, error)) (*Rehearsal, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleEngineer); err != nil {
		return nil, err
	}
	var out *storage.Rehearsal
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
			_, r, err := s.load(ctx, tx, appName, id)
			if err != nil {
				return err
			}
			out = r
			var rec Record
			if err := json.Unmarshal([]byte(r.Record), &rec); err != nil {
				return fmt.Errorf("rehearsal %d: record: %w", id, err)
			}
			now := s.clock()
			before := r.State
			changed, err := change(r, &rec, ripcord.ActorFromContext(ctx).Name, now)
			if err != nil || !changed {
				return err
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				return fmt.Errorf("encode rehearsal record: %w", err)
			}
			r.Record = string(raw)
			if err := tx.RehearsalUpdate(ctx, r); err != nil {
				return err
			}
			if action == "rehearsal.finish" {
				if err := confirm(ctx, tx, r, &rec); err != nil {
					return err
				}
			}
			return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, action, target(appName, id), map[string]any{"state": before}, auditAfter(action, r, &rec)))
		})
		if !errors.Is(err, storage.ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("rehearsal %d: %w", id, err)
	}
	return decode(appName, out)
}

func auditAfter(action string, r *storage.Rehearsal, rec *Record) map[string]any {
	out := map[string]any{"state": r.State}
	if action == "rehearsal.finish" {
		out["result"] = r.Result
		out["content_hash"] = r.ContentHash
	}
	return out
}

func running(r *storage.Rehearsal) error {
	if r.State != storage.RehearsalRunning {
		return ripcord.Errorf(ripcord.ECONFLICT, "rehearsal %d is finished; start a new one with `ripcord rehearsal start`", r.ID)
	}
	return nil
}

// StepStart marks a step started (again: nothing changes).
func (s *Service) StepStart(ctx context.Context, appName string, id int64, n int) (*Rehearsal, error) {
	return s.mark(ctx, appName, id, "rehearsal.step_start", func(r *storage.Rehearsal, rec *Record, who string, now time.Time) (bool, error) {
		if err := running(r); err != nil {
			return false, err
		}
		st, err := rec.step(n)
		if err != nil {
			return false, err
		}
		if st.StartedAt != nil {
			return false, nil
		}
		if n > 1 {
			if prev := rec.Steps[n-2]; prev.EndedAt == nil {
				return false, ripcord.Errorf(ripcord.ECONFLICT, "step %d has not ended; end it first (`ripcord rehearsal step %d %d --end --outcome ...`)", n-1, r.ID, n-1)
			}
		}
		st.StartedBy, st.StartedAt = who, &now
		return true, nil
	})
}

// StepEnd marks a started step ended with its outcome. Repeating the same
// end changes nothing; a different outcome for an ended step is a conflict.
func (s *Service) StepEnd(ctx context.Context, appName string, id int64, n int, outcome string) (*Rehearsal, error) {
	outcome = strings.TrimSpace(outcome)
	return s.mark(ctx, appName, id, "rehearsal.step_end", func(r *storage.Rehearsal, rec *Record, who string, now time.Time) (bool, error) {
		if err := running(r); err != nil {
			return false, err
		}
		if outcome == "" {
			return false, ripcord.Errorf(ripcord.EINVALID, "step %d needs an outcome: what happened (e.g. \"dashboard showed the spike on Android 1.2.0\")", n)
		}
		st, err := rec.step(n)
		if err != nil {
			return false, err
		}
		switch {
		case st.StartedAt == nil:
			return false, ripcord.Errorf(ripcord.ECONFLICT, "step %d has not started; start it first (`ripcord rehearsal step %d %d --start`)", n, r.ID, n)
		case st.EndedAt != nil && st.Outcome == outcome:
			return false, nil
		case st.EndedAt != nil:
			return false, ripcord.Errorf(ripcord.ECONFLICT, "step %d already ended with outcome %q", n, st.Outcome)
		}
		st.EndedBy, st.EndedAt, st.Outcome = who, &now, outcome
		return true, nil
	})
}

func (rec *Record) step(n int) (*StepMark, error) {
	if n < 1 || n > len(rec.Steps) {
		return nil, ripcord.Errorf(ripcord.EINVALID, "step %d does not exist: the runbook has steps 1 to %d", n, len(rec.Steps))
	}
	return &rec.Steps[n-1], nil
}

// level finds a rollback level by its 1-based position or its name (when
// the name is unique in the runbook).
func (rec *Record) level(ref string) (*LevelMark, error) {
	if i, err := strconv.Atoi(ref); err == nil {
		if i < 1 || i > len(rec.Levels) {
			return nil, ripcord.Errorf(ripcord.EINVALID, "rollback level %d does not exist: the runbook has levels 1 to %d", i, len(rec.Levels))
		}
		return &rec.Levels[i-1], nil
	}
	var found *LevelMark
	var names []string
	for i := range rec.Levels {
		names = append(names, rec.Levels[i].Level)
		if rec.Levels[i].Level == ref {
			if found != nil {
				return nil, ripcord.Errorf(ripcord.EINVALID, "the runbook has more than one %s level: name it by number (1 to %d)", ref, len(rec.Levels))
			}
			found = &rec.Levels[i]
		}
	}
	if found == nil {
		return nil, ripcord.Errorf(ripcord.EINVALID, "rollback level %q is not in the runbook; its levels are %s", ref, strings.Join(names, ", "))
	}
	return found, nil
}

// RollbackStart marks the start of a rollback level, timed by Ripcord.
func (s *Service) RollbackStart(ctx context.Context, appName string, id int64, level string) (*Rehearsal, error) {
	return s.mark(ctx, appName, id, "rehearsal.rollback_start", func(r *storage.Rehearsal, rec *Record, who string, now time.Time) (bool, error) {
		if err := running(r); err != nil {
			return false, err
		}
		l, err := rec.level(level)
		if err != nil {
			return false, err
		}
		if l.StartedAt != nil {
			return false, nil
		}
		l.StartedBy, l.StartedAt = who, &now
		return true, nil
	})
}

// RollbackEnd marks the end of a rollback level (its verify holds).
func (s *Service) RollbackEnd(ctx context.Context, appName string, id int64, level string) (*Rehearsal, error) {
	return s.mark(ctx, appName, id, "rehearsal.rollback_end", func(r *storage.Rehearsal, rec *Record, who string, now time.Time) (bool, error) {
		if err := running(r); err != nil {
			return false, err
		}
		l, err := rec.level(level)
		if err != nil {
			return false, err
		}
		switch {
		case l.StartedAt == nil:
			return false, ripcord.Errorf(ripcord.ECONFLICT, "rollback level %d (%s) has not started; mark its start first (`ripcord rehearsal rollback-start %d %d`)", l.Index, l.Level, r.ID, l.Index)
		case l.EndedAt != nil:
			return false, nil
		}
		l.EndedBy, l.EndedAt = who, &now
		return true, nil
	})
}

// Finish ends a rehearsal with its outcome once every step has ended and
// every rollback level is timed; anything missing is refused by name, and
// nothing is recorded as rehearsed. Finishing twice changes nothing.
func (s *Service) Finish(ctx context.Context, appName string, id int64, outcome string) (*Rehearsal, error) {
	outcome = strings.TrimSpace(outcome)
	return s.mark(ctx, appName, id, "rehearsal.finish", func(r *storage.Rehearsal, rec *Record, who string, now time.Time) (bool, error) {
		if r.State == storage.RehearsalFinished {
			return false, nil
		}
		if outcome == "" {
			return false, ripcord.Errorf(ripcord.EINVALID, "a finished rehearsal needs an outcome, e.g. \"Flag disabled, staging back to baseline.\"")
		}
		if missing := rec.Missing(r.ID); len(missing) > 0 {
			return false, ripcord.Errorf(ripcord.ECONFLICT, "rehearsal %d is not finished, so nothing is recorded as rehearsed: %s", r.ID, strings.Join(missing, "; "))
		}
		r.State, r.Outcome, r.FinishedAt = storage.RehearsalFinished, outcome, now
		r.Result = ResultLine(rec, r.StartedBy, now, outcome)
		return true, nil
	})
}

// Missing lists what a rehearsal still lacks before it can finish, each
// with the command that records it.
func (rec *Record) Missing(id int64) []string {
	var out []string
	for _, st := range rec.Steps {
		switch {
		case st.StartedAt == nil:
			out = append(out, fmt.Sprintf("step %d never started (`ripcord rehearsal step %d %d --start`)", st.N, id, st.N))
		case st.EndedAt == nil:
			out = append(out, fmt.Sprintf("step %d never ended (`ripcord rehearsal step %d %d --end --outcome ...`)", st.N, id, st.N))
		}
	}
	for _, l := range rec.Levels {
		switch {
		case l.StartedAt == nil:
			out = append(out, fmt.Sprintf("rollback level %d (%s) was never started (`ripcord rehearsal rollback-start %d %d`)", l.Index, l.Level, id, l.Index))
		case l.EndedAt == nil:
			out = append(out, fmt.Sprintf("rollback level %d (%s) was never ended (`ripcord rehearsal rollback-end %d %d`)", l.Index, l.Level, id, l.Index))
		}
	}
	return out
}

// ResultLine is the rehearsal's result as the issue writes it: "Rollback
// rehearsed: confirmed 6 minutes. Ran by: <people>. Date: <day>. <outcome>".
// The confirmed time is the first rollback level's, the one responders
// reach for first; every level's time is kept in the record and written
// back as the runbook's confirmed times.
func ResultLine(rec *Record, startedBy string, at time.Time, outcome string) string {
	confirmed := "nothing"
	if len(rec.Levels) > 0 {
		confirmed = runbooks.FormatMeasured(rec.Levels[0].Measured())
	}
	if !strings.HasSuffix(outcome, ".") && !strings.HasSuffix(outcome, "!") {
		outcome += "."
	}
	return fmt.Sprintf("Rollback rehearsed: confirmed %s. Ran by: %s. Date: %s. %s", confirmed, strings.Join(rec.People(startedBy), ", "), at.Format(time.DateOnly), outcome)
}

// People are everyone who marked anything, in order of first appearance,
// shown without the "user:" prefix.
func (rec *Record) People(startedBy string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(who string) {
		who = strings.TrimPrefix(who, "user:")
		if who != "" && !seen[who] {
			seen[who] = true
			out = append(out, who)
		}
	}
	add(startedBy)
	for _, st := range rec.Steps {
		add(st.StartedBy)
		add(st.EndedBy)
	}
	for _, l := range rec.Levels {
		add(l.StartedBy)
		add(l.EndedBy)
	}
	return out
}

// confirm writes every level's measured time back to the rehearsed
// version: the only way a runbook gets confirmed times.
func confirm(ctx context.Context, tx storage.Tx, r *storage.Rehearsal, rec *Record) error {
	cs := make([]runbooks.Confirmation, 0, len(rec.Levels))
	for _, l := range rec.Levels {
		cs = append(cs, runbooks.Confirmation{Level: l.Level, Index: l.Index, Measured: l.Measured(), Budget: l.Budget, RehearsalID: r.ID, At: r.FinishedAt})
	}
	raw, err := runbooks.EncodeConfirmations(cs)
	if err != nil {
		return fmt.Errorf("encode confirmed times: %w", err)
	}
	return tx.RunbookVersionConfirm(ctx, r.RunbookVersionID, raw)
}
