package ripcord

import (
	"strings"
	"time"
)

// Release is one version of an app going to the stores. Each platform in it
// has its own build and its own progress, because the stores move at
// different speeds.
type Release struct {
	ID        int64
	AppID     int64
	Version   string
	CreatedBy string
	CreatedAt time.Time
	Platforms []ReleasePlatform // one per platform the app ships on, in display order
}

// ReleasePlatform is a release's state on one platform.
type ReleasePlatform struct {
	Platform  Platform
	BuildID   int64 // 0 while no build of the release's version is uploaded
	Status    ReleaseStatus
	UpdatedAt time.Time

	// Staged rollout progress (internal/stages), kept apart from the
	// status so the state machine stays small.

	// Stage is the 1-based stage of Plan the rollout is at; 0 before it
	// starts.
	Stage int
	// StageStartedAt is when the current stage was released.
	StageStartedAt time.Time
	// RolloutStartedAt is when the first stage was released.
	RolloutStartedAt time.Time
	// Plan is the plan in force, fixed when the rollout starts so a later
	// change of the app's plan does not renumber a running rollout; nil
	// before.
	Plan *RolloutPlan
	// StoreRef is the store's handle for the release: on iOS the App Store
	// version id it was submitted as; on Android the versionCode.
	StoreRef string
	// Reason says why the platform is where it is when that is not
	// obvious, such as App Review's rejection.
	Reason string
}

// ReleaseStatus is where a release stands on one platform. The states form
// the state machine in Transition.
type ReleaseStatus string

// Release statuses, in the order a healthy release passes them, then the
// states a rollout can stop in.
const (
	StatusDraft      ReleaseStatus = "draft"       // no build of this version yet
	StatusUploaded   ReleaseStatus = "uploaded"    // a build is attached
	StatusInReview   ReleaseStatus = "in_review"   // submitted to the store's review
	StatusApproved   ReleaseStatus = "approved"    // the store approved it; not yet released
	StatusRollingOut ReleaseStatus = "rolling_out" // released to a stage of users
	StatusHalted     ReleaseStatus = "halted"      // Play: new installs of this release stopped
	StatusPaused     ReleaseStatus = "paused"      // App Store: phased release paused (manual updates still get it)
	StatusComplete   ReleaseStatus = "complete"    // released to everyone
	StatusRolledBack ReleaseStatus = "rolled_back" // replaced by the rollback release
)

// statusOrder ranks statuses so a release's overall status is the least
// advanced of its platforms. Halted and paused rank with rolling out: the
// release went that far.
var statusOrder = map[ReleaseStatus]int{
	StatusDraft: 0, StatusUploaded: 1, StatusInReview: 2, StatusApproved: 3,
	StatusRollingOut: 4, StatusHalted: 4, StatusPaused: 4, StatusComplete: 5, StatusRolledBack: 5,
}

// ReleaseEvent is something that happens to a release on one platform.
type ReleaseEvent string

// Release events.
const (
	EventUpload   ReleaseEvent = "upload"   // a build of the version is attached
	EventSubmit   ReleaseEvent = "submit"   // sent to the store's review
	EventApprove  ReleaseEvent = "approve"  // the store approved it
	EventReject   ReleaseEvent = "reject"   // the store rejected it; a new build or a resubmission follows
	EventStart    ReleaseEvent = "start"    // the rollout's first stage is released
	EventAdvance  ReleaseEvent = "advance"  // the rollout moves to its next stage
	EventHalt     ReleaseEvent = "halt"     // Play: stop new installs
	EventPause    ReleaseEvent = "pause"    // App Store: pause the phased release
	EventResume   ReleaseEvent = "resume"   // continue a halted or paused rollout
	EventComplete ReleaseEvent = "complete" // release to everyone
	EventRollback ReleaseEvent = "rollback" // the rollback release replaced it
)

// transitions lists, per status, the events allowed and where they lead.
var transitions = map[ReleaseStatus]map[ReleaseEvent]ReleaseStatus{
	StatusDraft:      {EventUpload: StatusUploaded},
	StatusUploaded:   {EventUpload: StatusUploaded, EventSubmit: StatusInReview},
	StatusInReview:   {EventApprove: StatusApproved, EventReject: StatusUploaded},
	StatusApproved:   {EventStart: StatusRollingOut},
	StatusRollingOut: {EventAdvance: StatusRollingOut, EventHalt: StatusHalted, EventPause: StatusPaused, EventComplete: StatusComplete, EventRollback: StatusRolledBack},
	StatusHalted:     {EventResume: StatusRollingOut, EventComplete: StatusComplete, EventRollback: StatusRolledBack},
	StatusPaused:     {EventResume: StatusRollingOut, EventComplete: StatusComplete, EventRollback: StatusRolledBack},
	StatusComplete:   {EventRollback: StatusRolledBack},
	StatusRolledBack: {},
}

// Transition returns the status a release on platform p moves to when ev
// happens in status from, or an error that says what is possible instead.
// Halting is Play's and pausing is the App Store's: the stores offer no
// other way to stop a rollout, and removing an app from sale is not a halt.
func Transition(p Platform, from ReleaseStatus, ev ReleaseEvent) (ReleaseStatus, error) {
	if ev == EventHalt && p != Android {
		return from, Errorf(EINVALID, "%s has no halt: pause the phased release instead (manual updates still get the version)", p.StoreName())
	}
	if ev == EventPause && p != IOS {
		return from, Errorf(EINVALID, "%s has no pause: halt the rollout instead", p.StoreName())
	}
	next, ok := transitions[from][ev]
	if !ok {
		var allowed []string
		for _, e := range eventOrder {
			if _, ok := transitions[from][e]; ok && !(e == EventHalt && p != Android) && !(e == EventPause && p != IOS) {
				allowed = append(allowed, string(e))
			}
		}
		what := "nothing more can happen to it"
		if len(allowed) > 0 {
			what = "it can: " + strings.Join(allowed, ", ")
		}
		return from, Errorf(ECONFLICT, "cannot %s the %s release while it is %s; %s", ev, p, from, what).
			WithDetails(map[string]any{"status": string(from), "event": string(ev)})
	}
	return next, nil
}

var eventOrder = []ReleaseEvent{EventUpload, EventSubmit, EventApprove, EventReject, EventStart, EventAdvance, EventHalt, EventPause, EventResume, EventComplete, EventRollback}

// Validate checks the release's version.
func (r *Release) Validate() error {
	_, err := ParseVersion(r.Version)
	return err
}

// Status is the release's overall status: the least advanced platform's, so a
// release is not called uploaded while one store still lacks its build.
func (r *Release) Status() ReleaseStatus {
	if len(r.Platforms) == 0 {
		return StatusDraft
	}
	s := r.Platforms[0].Status
	for _, p := range r.Platforms[1:] {
		if statusOrder[p.Status] < statusOrder[s] {
			s = p.Status
		}
	}
	return s
}

// Platform returns the release's state on p, or nil when the app does not ship
// on p.
func (r *Release) Platform(p Platform) *ReleasePlatform {
	for i := range r.Platforms {
		if r.Platforms[i].Platform == p {
			return &r.Platforms[i]
		}
	}
	return nil
}

// AttachBuild decides whether b becomes the release's build on its platform.
// A build attaches while the platform is still a draft or only uploaded, and a
// later build (higher build number) replaces an earlier one then; once the
// release has moved on, its build is fixed and a new build needs a new
// version. It reports whether anything changed.
func (r *Release) AttachBuild(b *Build, current *Build, now time.Time) bool {
	rp := r.Platform(b.Platform)
	if rp == nil || b.Version == "" {
		return false
	}
	if v, err := ParseVersion(b.Version); err != nil || v.Compare(MustParseVersion(r.Version)) != 0 {
		return false
	}
	if _, err := Transition(b.Platform, rp.Status, EventUpload); err != nil {
		return false
	}
	if rp.Status == StatusUploaded && current != nil && CompareBuildNumbers(b.Platform, b.BuildNumber, current.BuildNumber) <= 0 {
		return false
	}
	rp.BuildID = b.ID
	rp.Status = StatusUploaded
	rp.UpdatedAt = now
	return true
}
