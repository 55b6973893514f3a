package storage

import "time"

// RunbookVersion is one pushed version of a runbook file (or the marker that
// a push no longer carried it).
type RunbookVersion struct {
	ID          int64
	AppID       int64
	RunbookID   string // the runbook's id, its file name without .md
	Flow        string
	Title       string
	Content     string // the whole file as pushed
	ContentHash string // hex SHA-256 of Content; rehearsals bind to it
	GitSHA      string
	Removed     bool // the push that made this row no longer had the file
	// Confirmed is JSON written by finished rehearsals of this content:
	// each rollback level's measured time. "" until one finishes.
	Confirmed string
	PushedBy  string
	PushedAt  time.Time
}

// GateVersion is one pushed version of an app's gate file.
type GateVersion struct {
	ID          int64
	AppID       int64
	Content     string
	ContentHash string
	GitSHA      string
	PushedBy    string
	PushedAt    time.Time
}

// Rehearsal states.
const (
	RehearsalRunning  = "running"
	RehearsalFinished = "finished"
)

// Rehearsal is a walk-through of one runbook version in a non-production
// environment. Record holds the steps' and levels' marks as JSON; the
// rehearsal service owns its shape.
type Rehearsal struct {
	ID               int64
	AppID            int64
	RunbookVersionID int64
	RunbookID        string
	ContentHash      string
	Env              string
	State            string // RehearsalRunning or RehearsalFinished
	Record           string
	// Revision counts updates; RehearsalUpdate writes only over the
	// revision it read, so concurrent marks cannot overwrite each other.
	Revision   int64
	Outcome    string
	Result     string // the result line, set when finished
	StartedBy  string
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
}

// ReleaseChanges is what a release changes, as CI reported it.
type ReleaseChanges struct {
	AppID      int64
	Version    string
	Paths      []string
	Flags      []string
	Source     string // how they were found, e.g. "git v1.1.0..HEAD" or "file"
	RecordedBy string
	RecordedAt time.Time
}

// GateApproval is one person's approval of a gate item in a team role, or
// their check of a manual item, with evidence.
type GateApproval struct {
	ID         int64
	AppID      int64
	Version    string
	ItemID     string
	Role       string // the team role the approver held
	Actor      string
	Evidence   string
	ApprovedAt time.Time
}

// GateDecision is a recorded go/no-go: every item's result (JSON) and a
// hash of them, with who checked and when.
type GateDecision struct {
	ID        int64
	AppID     int64
	Version   string
	Go        bool
	Items     string // JSON of the item results
	ItemsHash string // hex SHA-256 of Items
	GateHash  string // content hash of the gate file the items came from
	DecidedBy string
	DecidedAt time.Time
}

// TriggerFiring is a runbook trigger that fired for a release, claimed once
// so only one ingest opens its incident.
type TriggerFiring struct {
	AppID      int64
	Platform   string
	Version    string
	RunbookID  string
	TriggerID  string
	FiredAt    time.Time
	IncidentID int64
}
