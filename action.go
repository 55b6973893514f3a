package ripcord

import (
	"slices"
	"time"
)

// ActionKind is what a rollout action asks of a store. "halt" is each
// store's way of stopping a rollout: Play halts, the App Store pauses the
// phased release.
type ActionKind string

// Rollout action kinds.
const (
	ActionHalt     ActionKind = "halt"
	ActionResume   ActionKind = "resume"
	ActionRollback ActionKind = "rollback"
)

// ParseActionKind checks a kind named by a person or a request.
func ParseActionKind(s string) (ActionKind, error) {
	switch k := ActionKind(s); k {
	case ActionHalt, ActionResume, ActionRollback:
		return k, nil
	case "pause":
		return ActionHalt, nil // the App Store's word for the same stop
	}
	return "", Errorf(EINVALID, "action %q is not known; use halt, resume or rollback", s)
}

// Event is the release event the action makes happen on platform p.
func (k ActionKind) Event(p Platform) ReleaseEvent {
	switch k {
	case ActionHalt:
		if p == IOS {
			return EventPause
		}
		return EventHalt
	case ActionResume:
		return EventResume
	}
	return EventRollback
}

// Done is the status a release on p has once the action succeeded, so a
// repeat finds it done; "" for resume, whose end status is also where a
// rollout runs normally.
func (k ActionKind) Done(p Platform) ReleaseStatus {
	switch k {
	case ActionHalt:
		if p == IOS {
			return StatusPaused
		}
		return StatusHalted
	case ActionRollback:
		return StatusRolledBack
	}
	return ""
}

// ActionState is how far a rollout action has come.
type ActionState string

// Rollout action states: queued → running → succeeded or failed.
const (
	ActionQueued    ActionState = "queued"
	ActionRunning   ActionState = "running"
	ActionSucceeded ActionState = "succeeded"
	ActionFailed    ActionState = "failed"
)

// Active reports whether the action may still act on the store; at most
// one action per release and platform is active (the database enforces it).
func (s ActionState) Active() bool { return s == ActionQueued || s == ActionRunning }

// ActionStep is one completed step of an action, stored as it completes so
// progress can be watched and a restarted action skips what is done.
type ActionStep struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
	// Note says what the step found, e.g. that the store already was in the
	// wanted state after a crash, so the write was not repeated.
	Note string `json:"note,omitempty"`
	// Ref is what the step learnt that later steps need, such as the App
	// Store version id it found.
	Ref string `json:"ref,omitempty"`
}

// RolloutAction is a durable request to halt, resume or roll back a release
// on one platform, run as a background job step by step.
type RolloutAction struct {
	ID        int64
	AppID     int64
	ReleaseID int64
	Platform  Platform
	Kind      ActionKind
	State     ActionState
	// IdempotencyKey names the request: the same key again returns this
	// action instead of making a new one (a retried HTTP call, a second
	// click).
	IdempotencyKey string
	Actor          string // who asked: a token, a user or ripcord:health
	Reason         string // why, when the actor says (e.g. a health verdict)
	Steps          []ActionStep
	// PendingStep names a store write that was started but not recorded as
	// done: after a crash the action reads the store before repeating it.
	PendingStep string
	Error       string // why it failed; "" otherwise
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Step returns the completed step called name, or nil.
func (a *RolloutAction) Step(name string) *ActionStep {
	i := slices.IndexFunc(a.Steps, func(s ActionStep) bool { return s.Name == name })
	if i < 0 {
		return nil
	}
	return &a.Steps[i]
}
