package ripcord

import "time"

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
}

// ReleaseStatus is where a release stands on one platform. The states form a
// state machine the rollout services advance; the foundation sets the first
// two.
type ReleaseStatus string

// Release statuses, in the order a healthy release passes them.
const (
	StatusDraft    ReleaseStatus = "draft"    // no build of this version yet
	StatusUploaded ReleaseStatus = "uploaded" // a build is attached
)

// statusOrder ranks statuses so a release's overall status is the least
// advanced of its platforms.
var statusOrder = map[ReleaseStatus]int{StatusDraft: 0, StatusUploaded: 1}

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
	switch rp.Status {
	case StatusDraft:
	case StatusUploaded:
		if current != nil && CompareBuildNumbers(b.Platform, b.BuildNumber, current.BuildNumber) <= 0 {
			return false
		}
	default:
		return false
	}
	rp.BuildID = b.ID
	rp.Status = StatusUploaded
	rp.UpdatedAt = now
	return true
}
