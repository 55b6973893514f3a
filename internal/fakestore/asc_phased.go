package fakestore

import (
	"net/http"
	"slices"
	"time"
)

// Phased release states (PhasedReleaseState).
const (
	PhasedInactive = "INACTIVE"
	PhasedActive   = "ACTIVE"
	PhasedPaused   = "PAUSED"
	PhasedComplete = "COMPLETE"
)

// PhasedPercent returns the share of automatic-update users on a day (1-7) of a phased
// release, 0 outside (Apple "Release a version update in phases").
func PhasedPercent(day int) int {
	percents := [...]int{1, 2, 5, 10, 20, 50, 100}
	if day < 1 || day > len(percents) {
		return 0
	}
	return percents[day-1]
}

const (
	phasedDay = 24 * time.Hour
	// phasedPauseBudget is Apple's limit: "you may pause the release for up
	// to 30 days, with no limit on the number of pauses".
	phasedPauseBudget = 30 * phasedDay
)

// phasedAllowedStates are the version statuses in which phased release can
// be chosen (Apple "Release a version update in phases").
var phasedAllowedStates = []string{stPrepare, stWaitingForReview, stInReview, "WAITING_FOR_EXPORT_COMPLIANCE",
	stPendingDevRelease, stDeveloperRejected, stRejected, stMetadataRejected}

type ascPhasedRelease struct {
	ID        string    `json:"id"`
	VersionID string    `json:"version_id"`
	State     string    `json:"state"`
	Start     time.Time `json:"start,omitzero"`
	// PausedAt is when the current pause began (State PAUSED).
	PausedAt time.Time `json:"paused_at,omitzero"`
	// Paused is the total of finished pauses.
	Paused time.Duration `json:"paused"`
	// Day is the day reached when the release completed (0 while running).
	Day int `json:"day,omitempty"`
}

func (s *Server) phasedOfLocked(versionID string) *ascPhasedRelease {
	for _, p := range s.st.ASC.Phased {
		if p.VersionID == versionID {
			return p
		}
	}
	return nil
}

// pausedTotal is the pause time used so far, the running pause included.
func (p *ascPhasedRelease) pausedTotal(now time.Time) time.Duration {
	d := p.Paused
	if p.State == PhasedPaused {
		d += now.Sub(p.PausedAt)
	}
	return d
}

// day is the current day number, 1-7: one more per 24 h of unpaused time.
func (p *ascPhasedRelease) day(now time.Time) int {
	switch {
	case p.Day > 0:
		return p.Day
	case p.Start.IsZero():
		return 0
	}
	active := now.Sub(p.Start) - p.pausedTotal(now)
	return min(7, 1+int(active/phasedDay))
}

func (s *Server) completePhasedLocked(p *ascPhasedRelease, now time.Time) {
	p.Day = max(1, p.day(now))
	if p.State == PhasedPaused {
		p.Paused += now.Sub(p.PausedAt)
		p.PausedAt = time.Time{}
	}
	p.State = PhasedComplete
	s.event("asc.appStoreVersionPhasedReleases.completed", "appStoreVersionPhasedReleases/"+p.ID)
}

// tickPhased completes active releases that reached day 7 and paused ones
// whose pause budget ran out. Apple does not document the latter; the fake
// releases to everyone, the store-quirks/observed behaviour noted in A5.
func (s *Server) tickPhased(now time.Time) {
	for _, p := range sortedByID(s.st.ASC.Phased, func(p *ascPhasedRelease) string { return p.ID }) {
		switch p.State {
		case PhasedActive:
			if done := p.Start.Add(p.Paused + 6*phasedDay); !now.Before(done) {
				s.completePhasedLocked(p, done)
			}
		case PhasedPaused:
			if out := p.PausedAt.Add(phasedPauseBudget - p.Paused); !now.Before(out) {
				s.completePhasedLocked(p, out)
			}
		}
	}
}

func (s *Server) phasedJSON(p *ascPhasedRelease, now time.Time) map[string]any {
	attrs := map[string]any{"phasedReleaseState": p.State,
		// Unit undocumented (F); the fake reports whole days.
		"totalPauseDuration": int(p.pausedTotal(now) / phasedDay)}
	if !p.Start.IsZero() {
		attrs["startDate"] = p.Start
		attrs["currentDayNumber"] = p.day(now)
	}
	return s.resource("appStoreVersionPhasedReleases", p.ID, attrs, nil)
}

func (s *Server) ascVersionPhasedGet(r *http.Request, _ []byte) (int, any, error) {
	v, ok := s.st.ASC.Versions[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("appStoreVersions", r.PathValue("id"))
	}
	p := s.phasedOfLocked(v.ID)
	if p == nil {
		return 0, nil, ascNotFound("appStoreVersionPhasedReleases", "for appStoreVersion "+v.ID)
	}
	return 200, s.single(r, s.phasedJSON(p, s.nowLocked())), nil
}

func (s *Server) ascPhasedCreate(r *http.Request, body []byte) (int, any, error) {
	var attrs struct {
		State string `json:"phasedReleaseState"`
	}
	d, err := decodeDoc(body, "appStoreVersionPhasedReleases", &attrs)
	if err != nil {
		return 0, nil, err
	}
	vID, err := d.rel("appStoreVersion", "appStoreVersions", true)
	if err != nil {
		return 0, nil, err
	}
	v, ok := s.st.ASC.Versions[vID]
	if !ok {
		return 0, nil, ascInvalidRel("appStoreVersion", "There is no resource of type 'appStoreVersions' with id '"+vID+"'")
	}
	if attrs.State != "" && attrs.State != PhasedInactive && attrs.State != PhasedActive {
		return 0, nil, ascInvalid("/data/attributes/phasedReleaseState", "A phased release is created INACTIVE or ACTIVE, not '"+attrs.State+"'.")
	}
	if p := s.phasedOfLocked(v.ID); p != nil {
		return 0, nil, ascConflict("ENTITY_ERROR.RELATIONSHIP.INVALID", "The appStoreVersion with id '"+v.ID+"' already has the phased release '"+p.ID+"'.")
	}
	first := true
	for _, o := range s.versionsOfLocked(v.AppID, v.Platform) {
		if o.ID != v.ID && !o.ReleasedAt.IsZero() {
			first = false
		}
	}
	if first {
		return 0, nil, ascStateInvalid("Phased release is only available for version updates; the appStoreVersion with id '" + v.ID + "' is the app's first version.")
	}
	if !slices.Contains(phasedAllowedStates, v.State) {
		return 0, nil, ascStateInvalid("Phased release cannot be chosen for an appStoreVersion in the state " + v.State + ".")
	}
	// Phasing starts when the version is released, whichever state was asked.
	p := &ascPhasedRelease{ID: s.st.id(), VersionID: v.ID, State: PhasedInactive}
	s.st.ASC.Phased[p.ID] = p
	s.event("asc.appStoreVersionPhasedReleases.create", "appStoreVersionPhasedReleases/"+p.ID)
	return 201, s.single(r, s.phasedJSON(p, s.nowLocked())), nil
}

func (s *Server) ascPhasedUpdate(r *http.Request, body []byte) (int, any, error) {
	p, ok := s.st.ASC.Phased[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("appStoreVersionPhasedReleases", r.PathValue("id"))
	}
	var attrs struct {
		State string `json:"phasedReleaseState"`
	}
	if _, err := decodeDoc(body, "appStoreVersionPhasedReleases", &attrs); err != nil {
		return 0, nil, err
	}
	now := s.nowLocked()
	switch {
	case p.State == PhasedComplete:
		return 0, nil, ascStateInvalid("You cannot change the state of a phased release that is in a final state")
	case attrs.State == p.State:
		return 0, nil, ascInvalid("/data/attributes/phasedReleaseState", "The phased release already has this value")
	case p.State == PhasedInactive:
		return 0, nil, ascStateInvalid("The phased release has not started: it starts when its appStoreVersion is released.")
	}
	switch attrs.State {
	case PhasedPaused:
		if p.Paused >= phasedPauseBudget {
			return 0, nil, ascStateInvalid("The phased release has used its 30 days of pause.")
		}
		p.State, p.PausedAt = PhasedPaused, now
	case PhasedActive:
		p.Paused += now.Sub(p.PausedAt)
		p.State, p.PausedAt = PhasedActive, time.Time{}
	case PhasedComplete:
		s.completePhasedLocked(p, now)
	default:
		return 0, nil, ascInvalid("/data/attributes/phasedReleaseState", "A started phased release can be set PAUSED, ACTIVE or COMPLETE, not '"+attrs.State+"'.")
	}
	s.event("asc.appStoreVersionPhasedReleases.update", "appStoreVersionPhasedReleases/"+p.ID+"/"+attrs.State)
	return 200, s.single(r, s.phasedJSON(p, now)), nil
}

func (s *Server) ascPhasedDelete(r *http.Request, _ []byte) (int, any, error) {
	p, ok := s.st.ASC.Phased[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("appStoreVersionPhasedReleases", r.PathValue("id"))
	}
	if p.State != PhasedInactive {
		return 0, nil, ascStateInvalid("Only a phased release that has not started can be deleted; this one is " + p.State + ".")
	}
	delete(s.st.ASC.Phased, p.ID)
	s.event("asc.appStoreVersionPhasedReleases.delete", "appStoreVersionPhasedReleases/"+p.ID)
	return http.StatusNoContent, nil, nil
}
