package web

import (
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
)

// The view types below are what the pages show. The gatherer fills them
// from the services; a nil pointer or slice marked "nil: not available"
// renders as "not available" so that a section whose service is not wired
// yet says so instead of pretending all is well.

// AppOverview is one app's row group on the overview page.
type AppOverview struct {
	App       *ripcord.App
	Platforms []PlatformOverview
	// OpenIncidents lists the app's open incidents; nil: not available.
	OpenIncidents []IncidentView
	// IncidentsKnown is false when no incident service is wired.
	IncidentsKnown bool
}

// PlatformOverview is one app on one platform at a glance.
type PlatformOverview struct {
	Platform ripcord.Platform
	// Live is the version users get by default, as far as Ripcord knows
	// (the newest complete release, or the rollback that replaced it); ""
	// when unknown.
	Live string
	// Target is the newest release; nil when the app has none.
	Target *ripcord.Release
	Status ripcord.ReleaseStatus
	// Rollout is the stage progress; nil: not available.
	Rollout *RolloutProgress
	// Verdict is the latest recorded crash-free sessions verdict of the
	// target; nil before the first.
	Verdict *VerdictView
	// Rollback is the target's rollback build; nil when there is no target.
	Rollback *ripcord.RollbackBuild
}

// RolloutProgress is where a staged rollout stands.
type RolloutProgress struct {
	Percent float64 // share of users the release is offered to
	Stage   int     // current stage, from 1; 0 before the first
	Stages  int     // how many stages the plan has
}

// IncidentView is an open incident, as the overview lists it.
type IncidentView struct {
	ID       string
	Title    string
	Severity string
	OpenedAt time.Time
	URL      string // where to read it; "" when there is no page for it
}

// ReleaseView is everything the release page shows.
type ReleaseView struct {
	App       *ripcord.App
	Release   *ripcord.Release
	Platforms []ReleasePlatformView
	// Decisions is the health decision log, newest first.
	Decisions []DecisionView
	// Gate is the go/no-go checklist; nil: not available.
	Gate *GateView
}

// ReleasePlatformView is the release on one platform.
type ReleasePlatformView struct {
	Platform ripcord.Platform
	Status   ripcord.ReleaseStatus
	// Build is the release's build on the platform; nil while none.
	Build *ripcord.Build
	// Stages is the rollout timeline; nil: not available.
	Stages *StagesView
	// Health is the crash-free sessions chart; nil when no data exists.
	Health *HealthView
	// Rollback is the rollback build; nil when unknown.
	Rollback *ripcord.RollbackBuild
	// RollbackSource is the live build the rollback re-signs; nil when
	// none is chosen yet.
	RollbackSource *ripcord.Build
	// Action is the latest rollout action with its steps; nil when none
	// ran.
	Action *ActionView
}

// StagesView is a platform's rollout stages with their schedule.
type StagesView struct {
	Stages []StageView
	// Next says what happens next and when, as a sentence.
	Next string
}

// StageView is one rollout stage.
type StageView struct {
	Percent float64
	DueAt   time.Time // zero when not scheduled
	Started time.Time // zero until released
	State   string    // "done", "current", "scheduled" or "held"
}

// HealthView is a release's crash-free sessions over time on a platform.
type HealthView struct {
	Metric   string
	Points   []HealthPoint // cumulative, oldest first; the last is now
	Tiers    health.Tiers
	Verdict  *VerdictView // latest recorded verdict; nil before the first
	Baseline *float64     // the previous release's rate at the same age; nil when unknown
}

// Now is the latest point: the rate over everything received so far.
func (h *HealthView) Now() HealthPoint { return h.Points[len(h.Points)-1] }

// VerdictView is a verdict the health engine recorded, with the sentence
// it gave.
type VerdictView struct {
	Outcome  string
	Sentence string
	At       time.Time
	Baseline *float64 // the baseline rate it compared with; nil when none
}

// HealthPoint is the cumulative crash-free rate up to a time, with its 95 %
// Wilson interval.
type HealthPoint struct {
	At     time.Time
	Rate   float64
	Lo, Hi float64
	Total  int64
}

// DecisionView is one entry of the decision log.
type DecisionView struct {
	At       time.Time
	Actor    string // "ripcord:health" for automatic ones
	Platform string
	Kind     string // "verdict" or the action ("halt", "rollback"...)
	Outcome  string
	Sentence string
}

// GateView is a release's go/no-go checklist.
type GateView struct {
	Pass  bool
	Items []GateItem
}

// GateItem is one checklist item.
type GateItem struct {
	Name   string
	Pass   bool
	Detail string
}

// ActionView is a rollout action (halt, pause, resume, rollback) and its
// steps, for live progress.
type ActionView struct {
	ID        string
	Kind      string // "halt", "pause", "resume", "rollback"
	State     string // "running", "succeeded", "failed"
	Actor     string
	StartedAt time.Time
	Steps     []StepView
	Error     string // why it failed; "" otherwise
}

// StepView is one step of an action.
type StepView struct {
	Name   string
	State  string // "pending", "running", "done", "failed"
	Detail string
	At     time.Time // when it finished; zero until then
}

// AdminView is the admin page: tokens and users.
type AdminView struct {
	Tokens []*ripcord.Token
	// Users lists the accounts; nil: not available.
	Users []UserView
	// UsersKnown is false when no user service is wired.
	UsersKnown bool
}

// UserView is an account as the admin page lists it (never its password).
type UserView struct {
	Email     string
	Name      string
	Role      ripcord.Role
	TeamRoles []string
	Disabled  bool
	CreatedAt time.Time
}
