package ripcord

import (
	"regexp"
	"strings"
	"time"
)

// IncidentState is where an incident stands. Only open and resolved are
// stored; mitigated is derived when the release was halted, paused or
// rolled back after the incident opened (read from the audit log), so the
// state can never disagree with what happened to the release.
type IncidentState string

// Incident states.
const (
	IncidentOpen      IncidentState = "open"      // the breach is live and nothing stopped it yet
	IncidentMitigated IncidentState = "mitigated" // the release was halted, paused or rolled back; not yet resolved
	IncidentResolved  IncidentState = "resolved"  // a person closed it with a summary
)

// Incident is a record of a release going wrong on one platform: what
// triggered it, the decision that did, and when it was opened, mitigated
// and resolved. One incident is open per release, platform and trigger at a
// time; a repeat breach is appended to its timeline instead of opening
// another, so a flapping signal does not bury the team in incidents.
type Incident struct {
	ID       int64
	AppID    int64
	App      string // the app's name, read with the incident
	Version  string
	Platform Platform
	// Trigger names what opened it: "health:<metric>" for a health verdict,
	// "runbook:<runbook>/<trigger>" for a runbook trigger, "manual" for a person.
	Trigger string
	// Decision is the sentence that opened it, e.g. "99.41 % (95 % CI
	// 99.12–99.63 %), 4,812 sessions; baseline 99.93 %: pause tier".
	Decision string
	// Outcome is the health tier of the opening decision ("pause",
	// "rollback"), or "" when a person or a runbook opened it.
	Outcome   string
	RunbookID string // the runbook that applies, when known
	OpenedBy  string // the actor that opened it
	State     IncidentState
	OpenedAt  time.Time
	// MitigatedAt is when the release was first halted, paused or rolled
	// back after opening; zero until then.
	MitigatedAt time.Time
	ResolvedAt  time.Time // zero until resolved
	ResolvedBy  string
	Summary     string // what happened, written by whoever resolved it
}

// IncidentEvent is one entry of an incident's own timeline (a repeat
// breach, a note, the resolution). The release's audit entries are added
// to the timeline when it is shown.
type IncidentEvent struct {
	ID         int64
	IncidentID int64
	At         time.Time
	Actor      string
	Kind       string // "opened", "breach", "resolved"
	Message    string
}

// Incident event kinds.
const (
	IncidentEventOpened   = "opened"
	IncidentEventBreach   = "breach"
	IncidentEventResolved = "resolved"
)

var triggerRe = regexp.MustCompile(`^(manual|health:[a-z0-9_:-]{1,80}|runbook:[A-Za-z0-9_./:#-]{1,160})$`)

// ValidateIncidentTrigger checks a trigger name.
func ValidateIncidentTrigger(t string) error {
	if !triggerRe.MatchString(t) {
		return Errorf(EINVALID, "trigger %q is not valid: use manual, health:<metric> or runbook:<runbook>/<trigger>", t)
	}
	return nil
}

// MaxIncidentText bounds a decision sentence or a summary, so an incident
// stays readable and a caller cannot store megabytes in it.
const MaxIncidentText = 4000

// ValidateIncidentText checks free text (a decision sentence or a summary).
func ValidateIncidentText(field, s string, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return Errorf(EINVALID, "%s is required", field)
	case len(s) > MaxIncidentText:
		return Errorf(EINVALID, "%s is %d bytes; the limit is %d", field, len(s), MaxIncidentText)
	}
	return nil
}

// ReleaseTarget is the audit target of a release on one platform, which
// rollout actions are recorded under.
func ReleaseTarget(app, version string, p Platform) string {
	return "release/" + app + "/" + version + "/" + string(p)
}

// IncidentTarget is the audit target of an incident.
func IncidentTarget(id int64) string { return "incident/" + itoa(id) }
