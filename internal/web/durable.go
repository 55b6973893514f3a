package web

import (
	"context"
	"errors"
	"strconv"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/rollout"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// ActionRequester is the rollout service's durable actions: a request is
// recorded and run by a job, whose steps are stored as they complete.
type ActionRequester interface {
	Request(ctx context.Context, req rollout.ActionRequest) (*ripcord.RolloutAction, error)
}

// ActionRecords reads recorded actions back.
type ActionRecords interface {
	AppGetByName(ctx context.Context, name string) (*ripcord.App, error)
	ReleaseGetByVersion(ctx context.Context, appID int64, version string) (*ripcord.Release, error)
	RolloutActionList(ctx context.Context, releaseID int64, platform ripcord.Platform, limit int) ([]*ripcord.RolloutAction, error)
}

// DurableActions is the dashboard's Actions on the rollout service: Halt,
// Pause, Resume and Roll back request a durable action and answer at once;
// the page then shows its steps as the job completes them (live through
// the audit-driven events).
type DurableActions struct {
	Rollouts ActionRequester
	Records  ActionRecords
}

// Start requests the action; "pause" is the App Store's form of halt.
func (a DurableActions) Start(ctx context.Context, app, version string, platform ripcord.Platform, kind string) (*ActionView, error) {
	k := ripcord.ActionKind(kind)
	if kind == ActionPause {
		k = ripcord.ActionHalt
	}
	if _, err := ripcord.ParseActionKind(string(k)); err != nil {
		return nil, err
	}
	act, err := a.Rollouts.Request(ctx, rollout.ActionRequest{App: app, Version: version, Platform: platform, Kind: k})
	if err != nil {
		return nil, err
	}
	return actionView(act, kind), nil
}

// Latest returns the newest action on a release's platform, nil when none.
func (a DurableActions) Latest(ctx context.Context, app, version string, platform ripcord.Platform) (*ActionView, error) {
	ap, err := a.Records.AppGetByName(ctx, app)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	rel, err := a.Records.ReleaseGetByVersion(ctx, ap.ID, version)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	acts, err := a.Records.RolloutActionList(ctx, rel.ID, platform, 1)
	if err != nil || len(acts) == 0 {
		return nil, err
	}
	kind := string(acts[0].Kind)
	if acts[0].Kind == ripcord.ActionHalt && platform == ripcord.IOS {
		kind = ActionPause
	}
	return actionView(acts[0], kind), nil
}

// actionView shows a recorded action: its completed steps, then the one
// under way while it runs.
func actionView(act *ripcord.RolloutAction, kind string) *ActionView {
	v := &ActionView{ID: strconv.FormatInt(act.ID, 10), Kind: kind, State: string(act.State), Actor: act.Actor, StartedAt: act.CreatedAt, Error: act.Error}
	for _, s := range act.Steps {
		v.Steps = append(v.Steps, StepView{Name: s.Name, State: "done", Detail: s.Note, At: s.At})
	}
	switch act.State {
	case ripcord.ActionQueued, ripcord.ActionRunning:
		v.State = "running"
		name := act.PendingStep
		if name == "" {
			name = "waiting for the next step"
		}
		v.Steps = append(v.Steps, StepView{Name: name, State: "running"})
	case ripcord.ActionFailed:
		v.Steps = append(v.Steps, StepView{Name: "stopped", State: "failed", Detail: act.Error})
	}
	return v
}
