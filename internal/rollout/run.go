package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// step is one step of an action's plan.
type step struct {
	name string
	// write marks a store write: it is marked pending before the call, and
	// a pending write is checked against the store before it is repeated.
	write bool
	// check reads the store and reports whether the write already took
	// effect (only for writes).
	check func(ctx context.Context) (bool, error)
	// do makes the store call; ref is kept on the step for later ones.
	do func(ctx context.Context) (ref string, err error)
}

// plan is an action's steps on one store, built from the recorded steps so
// refs found before a crash are reused.
type plan struct {
	steps []step
	// extra goes into the audit entry's after-summary.
	extra map[string]any
}

// Run works through the action's steps and records the result. It returns
// the action as it stands. A permanent failure (the store refusing, a rule
// broken) is recorded as the action's failure and returned as a
// *PermanentError; other errors (store 5xx, 429, timeouts, the database)
// leave the action running, to be run again: done steps are skipped and a
// pending write is checked against the store first.
func (s *Service) Run(ctx context.Context, id int64) (*ripcord.RolloutAction, error) {
	a, err := s.store.RolloutActionGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("run rollout action %d: %w", id, err)
	}
	if !a.State.Active() {
		return a, nil
	}
	// The audit names who asked, not the job runner.
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: a.Actor, Role: ripcord.RoleReleaseManager})
	err = s.run(ctx, a)
	if err == nil || !Permanent(err) {
		return a, err
	}
	if ferr := s.Fail(ctx, a, err); ferr != nil {
		return a, errors.Join(err, ferr)
	}
	return a, &PermanentError{Err: err}
}

func (s *Service) run(ctx context.Context, a *ripcord.RolloutAction) error {
	app, err := s.store.AppGetByID(ctx, a.AppID)
	if err != nil {
		return fmt.Errorf("read app %d: %w", a.AppID, err)
	}
	t, err := s.loadByID(ctx, app, a)
	if err != nil {
		return err
	}
	ev := a.Kind.Event(a.Platform)
	next, terr := ripcord.Transition(a.Platform, t.rp.Status, ev)
	if terr != nil && t.rp.Status != a.Kind.Done(a.Platform) {
		return terr // the release moved on since the request
	}
	if terr != nil {
		next = t.rp.Status
	}
	// Running is stored with the first step's save rather than on its
	// own: one database write less before the store is reached.
	a.State = ripcord.ActionRunning
	var p *plan
	switch a.Platform {
	case ripcord.Android:
		p, err = s.androidPlan(ctx, a, t)
	case ripcord.IOS:
		p, err = s.iosPlan(ctx, a, t)
	}
	if err != nil {
		return err
	}
	for i, st := range p.steps {
		// The last step's completion is stored by record, in the same
		// transaction as the result: a crash before it leaves the step
		// pending, which the next run checks against the store.
		if err := s.runStep(ctx, a, st, i < len(p.steps)-1); err != nil {
			return fmt.Errorf("%s of %s %s on %s, step %q: %w", a.Kind, app.Name, t.rel.Version, a.Platform, st.name, err)
		}
	}
	if err := s.callHook(ctx, a, "record", "before"); err != nil {
		return err
	}
	return s.record(ctx, a, t, next, p.extra)
}

// runStep runs one step unless it is done; a write is marked pending first,
// and a pending write found already applied is recorded without a call.
func (s *Service) runStep(ctx context.Context, a *ripcord.RolloutAction, st step, save bool) error {
	if a.Step(st.name) != nil {
		return nil
	}
	if st.write {
		if a.PendingStep == st.name {
			done, err := st.check(ctx)
			if err != nil {
				return fmt.Errorf("read the store before repeating the write: %w", err)
			}
			if done {
				return s.stepDone(ctx, a, st.name, "", "found already done in the store after a restart; not repeated", save)
			}
		}
		a.PendingStep = st.name
		if err := s.save(ctx, a); err != nil {
			return err
		}
	}
	if err := s.callHook(ctx, a, st.name, "before"); err != nil {
		return err
	}
	start := time.Now()
	ref, err := st.do(ctx)
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "rollout step acknowledged by the store", slog.Int64("action", a.ID), slog.String("step", st.name),
		slog.Duration("store_time", time.Since(start)))
	if err := s.callHook(ctx, a, st.name, "after"); err != nil {
		return err
	}
	return s.stepDone(ctx, a, st.name, ref, "", save)
}

func (s *Service) callHook(ctx context.Context, a *ripcord.RolloutAction, name, phase string) error {
	if s.hook == nil {
		return nil
	}
	return s.hook(ctx, a, name, phase)
}

func (s *Service) stepDone(ctx context.Context, a *ripcord.RolloutAction, name, ref, note string, save bool) error {
	if a.PendingStep == name {
		a.PendingStep = ""
	}
	a.Steps = append(a.Steps, ripcord.ActionStep{Name: name, At: s.clock(), Ref: ref, Note: note})
	if !save {
		return nil
	}
	return s.save(ctx, a)
}

func (s *Service) save(ctx context.Context, a *ripcord.RolloutAction) error {
	a.UpdatedAt = s.clock()
	return s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.RolloutActionUpdate(ctx, a) })
}

// record commits the release's new status, its audit entry and the
// action's success together.
func (s *Service) record(ctx context.Context, a *ripcord.RolloutAction, t *target, next ripcord.ReleaseStatus, extra map[string]any) error {
	now := s.clock()
	return s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		rel, err := tx.ReleaseGetByVersion(ctx, t.app.ID, t.rel.Version)
		if err != nil {
			return err
		}
		rp := *rel.Platform(a.Platform)
		before := rp.Status
		if before != next {
			rp.Status, rp.UpdatedAt = next, now
			if err := tx.ReleasePlatformUpdate(ctx, rel.ID, rp); err != nil {
				return err
			}
			after := map[string]any{"status": string(next), "action_id": a.ID}
			for k, v := range extra {
				after[k] = v
			}
			if a.Reason != "" {
				after["reason"] = a.Reason
			}
			if err := tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "release."+string(a.Kind.Event(a.Platform)), t.auditTarget(),
				map[string]any{"status": string(before)}, after)); err != nil {
				return err
			}
		}
		a.State, a.PendingStep, a.UpdatedAt = ripcord.ActionSucceeded, "", now
		a.Steps = append(a.Steps, ripcord.ActionStep{Name: "recorded: " + string(next), At: now})
		return tx.RolloutActionUpdate(ctx, a)
	})
}

// Fail records that the action stopped for good, with why, and audits it.
// The release keeps its status: whatever the store did before the failure
// is in the steps.
func (s *Service) Fail(ctx context.Context, a *ripcord.RolloutAction, cause error) error {
	if !a.State.Active() {
		return nil
	}
	app, err := s.store.AppGetByID(ctx, a.AppID)
	if err != nil {
		return err
	}
	t, err := s.loadByID(ctx, app, a)
	if err != nil {
		return err
	}
	now := s.clock()
	msg := cause.Error() + "; nothing more will be tried: fix the cause, then ask again"
	s.logger.ErrorContext(ctx, "rollout action failed", slog.Int64("action", a.ID), slog.String("app", app.Name), slog.String("version", t.rel.Version),
		slog.String("platform", string(a.Platform)), slog.String("kind", string(a.Kind)), slog.String("error", msg))
	return s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		a.State, a.Error, a.UpdatedAt = ripcord.ActionFailed, msg, now
		if err := tx.RolloutActionUpdate(ctx, a); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "release."+string(a.Kind)+"_failed", t.auditTarget(),
			map[string]any{"status": string(t.rp.Status)}, map[string]any{"action_id": a.ID, "error": msg}))
	})
}

// loadByID reads the action's release as a target.
func (s *Service) loadByID(ctx context.Context, app *ripcord.App, a *ripcord.RolloutAction) (*target, error) {
	rels, err := s.store.ReleaseList(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	for _, rel := range rels {
		if rel.ID == a.ReleaseID {
			if rp := rel.Platform(a.Platform); rp != nil {
				return &target{app: app, rel: rel, rp: *rp}, nil
			}
		}
	}
	return nil, ripcord.Errorf(ripcord.ENOTFOUND, "release %d of %s on %s is gone", a.ReleaseID, app.Name, a.Platform)
}

// PermanentError is a failure that retrying will not fix; the action is
// recorded as failed.
type PermanentError struct{ Err error }

// Error returns the cause's message: the action's recorded error says more.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap exposes the cause, so callers match store and domain errors.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent reports whether retrying err without someone acting would fail
// the same way: a rule broken, the store refusing the credential, the
// request or the state (4xx other than 408 and 429). Rate limits, server
// errors and timeouts are not: they are retried with backoff.
func Permanent(err error) bool {
	if errors.As(err, new(*PermanentError)) {
		return true
	}
	switch ripcord.ErrorCode(err) {
	case ripcord.EINVALID, ripcord.ENOTFOUND, ripcord.ECONFLICT, ripcord.EFORBIDDEN, ripcord.EUNAUTHORIZED:
		return true
	}
	for _, e := range []error{play.ErrAuth, play.ErrPermission, play.ErrNotFound, play.ErrInvalid, play.ErrNoReleaseToHalt, play.ErrVersionCodeUsed,
		appstore.ErrAuth, appstore.ErrForbidden, appstore.ErrNotFound, appstore.ErrWrongState, appstore.ErrBuildNotValid} {
		if errors.Is(err, e) {
			return true
		}
	}
	var pe *play.Error
	if errors.As(err, &pe) && clientError(pe.HTTPStatus) {
		return true
	}
	var ae *appstore.Error
	return errors.As(err, &ae) && clientError(ae.Status)
}

func clientError(status int) bool {
	return status >= 400 && status < 500 && status != 408 && status != 429
}
