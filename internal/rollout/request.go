package rollout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// ActionRequest asks for an action on one platform of a release.
type ActionRequest struct {
	App      string
	Version  string
	Platform ripcord.Platform
	Kind     ripcord.ActionKind
	// IdempotencyKey names the request; repeating it returns the action it
	// made. Empty makes a fresh key (the active-action rule still makes a
	// second click return the running action).
	IdempotencyKey string
	// Reason says why, for the audit (e.g. a health verdict's sentence).
	Reason string
}

// Outcome is what a request did on one platform: the action, or why there
// is none.
type Outcome struct {
	Platform ripcord.Platform
	Action   *ripcord.RolloutAction
	Err      error
}

// RequestPlatforms asks for the action on each platform, independently:
// one platform's refusal does not stop the other. An empty list means every
// platform the app ships on. Each platform's idempotency key is the given
// key with the platform appended.
func (s *Service) RequestPlatforms(ctx context.Context, req ActionRequest, platforms []ripcord.Platform) ([]Outcome, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	if len(platforms) == 0 {
		app, err := s.app(ctx, req.App)
		if err != nil {
			return nil, err
		}
		for _, p := range ripcord.Platforms() {
			if app.Has(p) {
				platforms = append(platforms, p)
			}
		}
	}
	out := make([]Outcome, 0, len(platforms))
	for _, p := range platforms {
		r := req
		r.Platform = p
		if r.IdempotencyKey != "" && len(platforms) > 1 {
			r.IdempotencyKey += "/" + string(p)
		}
		a, err := s.Request(ctx, r)
		out = append(out, Outcome{Platform: p, Action: a, Err: err})
	}
	return out, nil
}

// Request records the action and queues its job, or returns the action
// that already answers it: the one with the same idempotency key, the
// active one of the same kind, or (when the release already is where the
// action leads) the one that took it there. A different active action is a
// conflict naming it. Refusals (the state machine, no rollback ready) come
// back at once, with what is possible instead.
func (s *Service) Request(ctx context.Context, req ActionRequest) (*ripcord.RolloutAction, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	kind, err := ripcord.ParseActionKind(string(req.Kind))
	if err != nil {
		return nil, err
	}
	req.Kind = kind
	t, err := s.load(ctx, req.App, req.Version, req.Platform)
	if err != nil {
		return nil, err
	}
	if req.IdempotencyKey != "" {
		a, err := s.store.RolloutActionGetByKey(ctx, t.app.ID, req.IdempotencyKey)
		switch {
		case err == nil && (a.ReleaseID != t.rel.ID || a.Platform != req.Platform || a.Kind != req.Kind):
			return nil, ripcord.Errorf(ripcord.EINVALID, "idempotency key %q was used for the %s of another release or platform (action %d); use a new key for a new request",
				req.IdempotencyKey, a.Kind, a.ID)
		case err == nil:
			return a, nil
		case !errors.Is(err, storage.ErrNotFound):
			return nil, err
		}
	} else {
		req.IdempotencyKey = newKey()
	}
	if a, err := s.store.RolloutActionActive(ctx, t.rel.ID, req.Platform); err == nil {
		return s.sameOrConflict(a, req, t)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if done := req.Kind.Done(req.Platform); done != "" && t.rp.Status == done {
		return s.alreadyDone(ctx, req, t)
	}
	if err := s.check(ctx, req.Kind, t); err != nil {
		return nil, err
	}
	now := s.clock()
	a := &ripcord.RolloutAction{AppID: t.app.ID, ReleaseID: t.rel.ID, Platform: req.Platform, Kind: req.Kind, State: ripcord.ActionQueued,
		IdempotencyKey: req.IdempotencyKey, Actor: ripcord.ActorFromContext(ctx).Name, Reason: req.Reason, CreatedAt: now, UpdatedAt: now}
	var winner *ripcord.RolloutAction
	err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		err := tx.RolloutActionCreate(ctx, a)
		if errors.Is(err, storage.ErrConflict) {
			// Lost a race: another request made the active action (or
			// used the key) between our read and this insert.
			if winner, err = tx.RolloutActionActive(ctx, t.rel.ID, req.Platform); err == nil {
				return nil
			}
			if winner, err = tx.RolloutActionGetByKey(ctx, t.app.ID, req.IdempotencyKey); err == nil {
				return nil
			}
			return fmt.Errorf("another action won the race but cannot be read: %w", err)
		} else if err != nil {
			return err
		}
		if err := tx.JobInsert(ctx, ActionArgs{ActionID: a.ID}, nil); err != nil {
			return fmt.Errorf("queue the %s job: %w", a.Kind, err)
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "release."+string(req.Kind)+"_requested", t.auditTarget(),
			nil, map[string]any{"action_id": a.ID, "status": string(t.rp.Status), "reason": req.Reason}))
	})
	if err != nil {
		return nil, fmt.Errorf("request the %s of %s %s on %s: %w", req.Kind, req.App, req.Version, req.Platform, err)
	}
	if winner != nil {
		return s.sameOrConflict(winner, req, t)
	}
	return a, nil
}

// sameOrConflict answers a request that found an action active: the same
// kind is the same action (two clicks make one), another kind is a
// conflict that names what is running.
func (s *Service) sameOrConflict(a *ripcord.RolloutAction, req ActionRequest, t *target) (*ripcord.RolloutAction, error) {
	if a.Kind == req.Kind || !a.State.Active() {
		return a, nil
	}
	return nil, ripcord.Errorf(ripcord.ECONFLICT, "a %s of %s %s on %s is %s (action %d); wait for it to finish, then ask again",
		a.Kind, t.app.Name, t.rel.Version, a.Platform, a.State, a.ID).
		WithDetails(map[string]any{"status": string(t.rp.Status), "action_id": a.ID, "action": string(a.Kind), "state": string(a.State)})
}

// alreadyDone answers a repeat of an action whose end status the release
// already has: the newest succeeded action of that kind, or (when the
// status came another way) a succeeded action saying nothing was done.
func (s *Service) alreadyDone(ctx context.Context, req ActionRequest, t *target) (*ripcord.RolloutAction, error) {
	list, err := s.store.RolloutActionList(ctx, t.rel.ID, req.Platform, 20)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		if a.Kind == req.Kind && a.State == ripcord.ActionSucceeded {
			return a, nil
		}
	}
	now := s.clock()
	a := &ripcord.RolloutAction{AppID: t.app.ID, ReleaseID: t.rel.ID, Platform: req.Platform, Kind: req.Kind, State: ripcord.ActionSucceeded,
		IdempotencyKey: req.IdempotencyKey, Actor: ripcord.ActorFromContext(ctx).Name, Reason: req.Reason, CreatedAt: now, UpdatedAt: now,
		Steps: []ripcord.ActionStep{{Name: "already " + string(t.rp.Status), At: now, Note: "the release already is " + string(t.rp.Status) + "; no store call made"}}}
	err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.RolloutActionCreate(ctx, a); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "release."+string(req.Kind)+"_noop", t.auditTarget(),
			nil, map[string]any{"action_id": a.ID, "status": string(t.rp.Status)}))
	})
	if err != nil {
		return nil, fmt.Errorf("record the repeated %s of %s %s: %w", req.Kind, req.App, req.Version, err)
	}
	return a, nil
}

// check refuses an action the release cannot take now, saying what is
// possible instead.
func (s *Service) check(ctx context.Context, kind ripcord.ActionKind, t *target) error {
	p := t.rp.Platform
	if _, err := ripcord.Transition(p, t.rp.Status, kind.Event(p)); err != nil {
		return err
	}
	if t.rp.BuildID == 0 {
		return ripcord.Errorf(ripcord.ECONFLICT, "%s %s has no %s build, so it has no rollout to %s", t.app.Name, t.rel.Version, p, kind).
			WithDetails(map[string]any{"status": string(t.rp.Status), "action": string(kind)})
	}
	if kind != ripcord.ActionRollback {
		return nil
	}
	_, err := s.rollbackBuild(ctx, t)
	return err
}

// rollbackBuild returns the target's rollback build when one click can
// release it, or a refusal with the reason and "halt" (or "pause") as what
// is possible instead.
func (s *Service) rollbackBuild(ctx context.Context, t *target) (*ripcord.RollbackBuild, error) {
	p := t.rp.Platform
	rb, err := s.store.RollbackBuildGet(ctx, t.app.ID, p, t.rel.Version)
	if errors.Is(err, storage.ErrNotFound) {
		rb = &ripcord.RollbackBuild{State: "none", Reason: "no rollback build has been prepared"}
	} else if err != nil {
		return nil, err
	}
	var why string
	switch {
	case rb.State != ripcord.RollbackReady:
		why = rb.Reason
		if why == "" {
			why = "its state is " + string(rb.State)
		}
		why = "no rollback build is ready (" + why + ")"
	case p == ripcord.IOS && rb.StoreVersionID == "":
		why = fmt.Sprintf("the App Store version %s of the rollback does not exist yet (the App Store allows it once %s is released)", rb.Version, t.rel.Version)
	case p == ripcord.IOS && !rb.ReleasableOnIOS():
		why = fmt.Sprintf("the App Store is still reviewing %s (it is %s, not approved)", rb.Version, rb.StoreVersionState)
	case p == ripcord.Android:
		if _, err := strconv.ParseInt(rb.BuildNumber, 10, 64); err != nil {
			why = fmt.Sprintf("rollback build %s has build number %q, not a versionCode; prepare it again", rb.Version, rb.BuildNumber)
		}
	}
	if why == "" {
		return rb, nil
	}
	stop := ripcord.ActionHalt.Event(p)
	return nil, ripcord.Errorf(ripcord.ECONFLICT,
		"cannot roll back %s %s on %s: %s; %s it instead with `ripcord release halt %s %s --platform %s`, and see `ripcord release rollback-build %s %s --platform %s`",
		t.app.Name, t.rel.Version, p, why, stop, t.app.Name, t.rel.Version, p, t.app.Name, t.rel.Version, p).
		WithDetails(map[string]any{"status": string(t.rp.Status), "rollback_build": string(rb.State), "store_version_state": rb.StoreVersionState,
			"possible": []string{string(stop)}})
}

// Get returns an action of a release by id.
func (s *Service) Get(ctx context.Context, appName, version string, id int64) (*ripcord.RolloutAction, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, appName)
	if err != nil {
		return nil, err
	}
	a, err := s.store.RolloutActionGet(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no action %d on %s %s", id, appName, version)
	} else if err != nil {
		return nil, err
	}
	rel, err := s.store.ReleaseGetByVersion(ctx, app.ID, version)
	if err != nil || a.ReleaseID != rel.ID {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no action %d on %s %s", id, appName, version)
	}
	return a, nil
}

// target is what an action works on.
type target struct {
	app *ripcord.App
	rel *ripcord.Release
	rp  ripcord.ReleasePlatform
}

func (t *target) auditTarget() string {
	return fmt.Sprintf("release/%s/%s/%s", t.app.Name, t.rel.Version, t.rp.Platform)
}

func (s *Service) app(ctx context.Context, name string) (*ripcord.App, error) {
	app, err := s.store.AppGetByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no app %s; `ripcord app list` shows the apps", name)
	}
	return app, err
}

// load reads the app and the release on platform.
func (s *Service) load(ctx context.Context, appName, version string, platform ripcord.Platform) (*target, error) {
	if _, err := ripcord.ParsePlatform(string(platform)); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, appName)
	if err != nil {
		return nil, err
	}
	v, err := ripcord.ParseVersion(version)
	if err != nil {
		return nil, err
	}
	rel, err := s.store.ReleaseGetByVersion(ctx, app.ID, v.String())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no release %s; `ripcord release list %s` shows its releases", app.Name, version, app.Name)
	} else if err != nil {
		return nil, err
	}
	rp := rel.Platform(platform)
	if rp == nil {
		return nil, ripcord.Errorf(ripcord.EINVALID, "app %s is not on %s", app.Name, platform)
	}
	return &target{app: app, rel: rel, rp: *rp}, nil
}

// newKey makes an idempotency key for a request that brought none.
func newKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "auto-" + hex.EncodeToString(b[:])
}
