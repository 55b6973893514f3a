package fakestore

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// App Store version states (AppStoreVersion.appVersionState).
const (
	stPrepare              = "PREPARE_FOR_SUBMISSION"
	stWaitingForReview     = "WAITING_FOR_REVIEW"
	stInReview             = "IN_REVIEW"
	stPendingDevRelease    = "PENDING_DEVELOPER_RELEASE"
	stReadyForDistribution = "READY_FOR_DISTRIBUTION"
	stRejected             = "REJECTED"
	stMetadataRejected     = "METADATA_REJECTED"
	stInvalidBinary        = "INVALID_BINARY"
	stDeveloperRejected    = "DEVELOPER_REJECTED"
	stReplaced             = "REPLACED_WITH_NEW_VERSION"
)

// editableStates are the states in which a version's build can change, it
// can join a review submission, or be deleted: before submission or after
// a rejection (A3 attach build; Apple "App and submission statuses").
var editableStates = []string{stPrepare, stDeveloperRejected, stRejected, stMetadataRejected, stInvalidBinary}

type ascVersion struct {
	ID              string    `json:"id"`
	AppID           string    `json:"app_id"`
	Platform        string    `json:"platform"`
	VersionString   string    `json:"version_string"`
	ReleaseType     string    `json:"release_type"`
	BuildID         string    `json:"build_id,omitempty"`
	State           string    `json:"state"`
	RemovedFromSale bool      `json:"removed_from_sale,omitempty"`
	Created         time.Time `json:"created"`
	// Approved is set once App Review approved the version: its
	// versionString then bounds every later version.
	Approved   bool      `json:"approved,omitempty"`
	ReleasedAt time.Time `json:"released_at,omitzero"`
}

// appStoreState is the deprecated attribute, derived as the store still
// returns it beside appVersionState (A4).
func (v *ascVersion) appStoreState() string {
	switch {
	case v.RemovedFromSale:
		return "DEVELOPER_REMOVED_FROM_SALE"
	case v.State == stReadyForDistribution:
		return "READY_FOR_SALE"
	}
	return v.State
}

// RemoveASCVersionFromSale marks a released version removed from sale by
// the developer (appStoreState DEVELOPER_REMOVED_FROM_SALE), which ends its
// phased release and unblocks a new version.
func (s *Server) RemoveASCVersionFromSale(versionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.st.ASC.Versions[versionID]
	if !ok || v.State != stReadyForDistribution {
		return fmt.Errorf("asc version %s: not found or not on sale", versionID)
	}
	v.RemovedFromSale = true
	if p := s.phasedOfLocked(v.ID); p != nil && (p.State == PhasedActive || p.State == PhasedPaused) {
		s.completePhasedLocked(p, s.nowLocked())
	}
	s.event("admin.asc.appStoreVersions.removeFromSale", "appStoreVersions/"+v.ID)
	return s.persistLocked()
}

func (s *Server) versionsOfLocked(appID, platform string) []*ascVersion {
	var out []*ascVersion
	for _, v := range sortedByID(s.st.ASC.Versions, func(v *ascVersion) string { return v.ID }) {
		if v.AppID == appID && v.Platform == platform {
			out = append(out, v)
		}
	}
	return out
}

// lastApprovedLocked returns the approved version with the highest versionString.
func (s *Server) lastApprovedLocked(appID, platform string) *ascVersion {
	var last *ascVersion
	for _, v := range s.versionsOfLocked(appID, platform) {
		if v.Approved && (last == nil || compareVersions(v.VersionString, last.VersionString) > 0) {
			last = v
		}
	}
	return last
}

func (s *Server) versionJSON(v *ascVersion) map[string]any {
	attrs := map[string]any{"platform": v.Platform, "versionString": v.VersionString, "appStoreState": v.appStoreState(),
		"appVersionState": v.State, "releaseType": v.ReleaseType, "createdDate": v.Created,
		"downloadable": v.State == stReadyForDistribution && !v.RemovedFromSale, "reviewType": "APP_STORE"}
	rels := map[string]any{"app": toOne("apps", v.AppID)}
	if v.BuildID != "" {
		rels["build"] = toOne("builds", v.BuildID)
	}
	if p := s.phasedOfLocked(v.ID); p != nil {
		rels["appStoreVersionPhasedRelease"] = toOne("appStoreVersionPhasedReleases", p.ID)
	}
	return s.resource("appStoreVersions", v.ID, attrs, rels)
}

var platforms = []string{"IOS", "MAC_OS", "TV_OS", "VISION_OS"}

func (s *Server) ascVersionsCreate(r *http.Request, body []byte) (int, any, error) {
	var attrs struct {
		Platform      string `json:"platform"`
		VersionString string `json:"versionString"`
		ReleaseType   string `json:"releaseType"`
	}
	d, err := decodeDoc(body, "appStoreVersions", &attrs)
	if err != nil {
		return 0, nil, err
	}
	appID, err := d.rel("app", "apps", true)
	if err != nil {
		return 0, nil, err
	}
	buildID, err := d.rel("build", "builds", false)
	if err != nil {
		return 0, nil, err
	}
	app, ok := s.st.ASC.Apps[appID]
	if !ok {
		return 0, nil, ascInvalidRel("app", "There is no resource of type 'apps' with id '"+appID+"'")
	}
	if !slices.Contains(platforms, attrs.Platform) {
		return 0, nil, ascInvalid("/data/attributes/platform", "You must provide a value for the attribute 'platform' (one of IOS, MAC_OS, TV_OS, VISION_OS) with this request")
	}
	if _, perr := parseVersionString(attrs.VersionString); perr != nil {
		return 0, nil, ascInvalid("/data/attributes/versionString", "The version number '"+attrs.VersionString+"' "+perr.Error()+".")
	}
	switch attrs.ReleaseType {
	case "":
		attrs.ReleaseType = "AFTER_APPROVAL"
	case "MANUAL", "AFTER_APPROVAL":
	default:
		return 0, nil, ascInvalid("/data/attributes/releaseType", "The fake store supports releaseType MANUAL and AFTER_APPROVAL, not '"+attrs.ReleaseType+"'.")
	}
	versions := s.versionsOfLocked(app.ID, attrs.Platform)
	if n := len(versions); n > 0 {
		latest := versions[n-1]
		if latest.State != stReadyForDistribution && !latest.RemovedFromSale {
			return 0, nil, ascConflict("ENTITY_ERROR.ATTRIBUTE.INVALID", "You cannot create a new version of the App in the current state.")
		}
	}
	if last := s.lastApprovedLocked(app.ID, attrs.Platform); last != nil {
		switch c := compareVersions(attrs.VersionString, last.VersionString); {
		case c == 0:
			return 0, nil, ascInvalid("/data/attributes/versionString", "The version number has been previously used.")
		case c < 0:
			return 0, nil, ascInvalid("/data/attributes/versionString", "The value for key CFBundleShortVersionString ["+attrs.VersionString+
				"] must contain a higher version than that of the previously approved version ["+last.VersionString+"].")
		}
	}
	v := &ascVersion{ID: s.st.id(), AppID: app.ID, Platform: attrs.Platform, VersionString: attrs.VersionString,
		ReleaseType: attrs.ReleaseType, State: stPrepare, Created: s.nowLocked()}
	if buildID != "" {
		if err := s.checkAttachLocked(v, buildID); err != nil {
			return 0, nil, err
		}
		v.BuildID = buildID
	}
	s.st.ASC.Versions[v.ID] = v
	s.event("asc.appStoreVersions.create", "appStoreVersions/"+v.ID)
	return 201, s.single(r, s.versionJSON(v)), nil
}

// checkAttachLocked applies the rules for a version's build: the version is
// still editable and not in a submitted review, the build is this app's and
// train's, unexpired, not INVALID/FAILED and not used by another version.
func (s *Server) checkAttachLocked(v *ascVersion, buildID string) error {
	const notAcceptable = "A relationship value is not acceptable for the current resource state. - The specified pre-release build could not be added."
	if !slices.Contains(editableStates, v.State) {
		return ascConflict("ENTITY_ERROR.RELATIONSHIP.INVALID", notAcceptable)
	}
	b, ok := s.st.ASC.Builds[buildID]
	if !ok || b.AppID != v.AppID || b.Platform != v.Platform {
		return ascInvalidRel("build", "There is no resource of type 'builds' with id '"+buildID+"' for this app and platform.")
	}
	if b.ShortVersion != v.VersionString {
		return ascInvalidRel("build", "The build's version '"+b.ShortVersion+"' does not match the appStoreVersion's versionString '"+v.VersionString+"'.")
	}
	if b.State == BuildInvalid || b.State == BuildFailed || !s.nowLocked().Before(b.Uploaded.Add(buildLifetime)) {
		return ascConflict("ENTITY_ERROR.RELATIONSHIP.INVALID", notAcceptable)
	}
	if other := s.versionOfBuildLocked(b.ID); other != nil && other.ID != v.ID {
		return ascConflict("ENTITY_ERROR.RELATIONSHIP.INVALID", notAcceptable)
	}
	return nil
}

func (s *Server) ascVersionsGet(r *http.Request, _ []byte) (int, any, error) {
	v, ok := s.st.ASC.Versions[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("appStoreVersions", r.PathValue("id"))
	}
	return 200, s.single(r, s.versionJSON(v)), nil
}

func (s *Server) ascVersionsList(r *http.Request, _ []byte) (int, any, error) {
	app, ok := s.st.ASC.Apps[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("apps", r.PathValue("id"))
	}
	plats, strs := filterValues(r, "platform"), filterValues(r, "versionString")
	states, legacy, ids := filterValues(r, "appVersionState"), filterValues(r, "appStoreState"), filterValues(r, "id")
	vs := sortedByID(s.st.ASC.Versions, func(v *ascVersion) string { return v.ID })
	slices.Reverse(vs) // newest first, as App Store Connect lists them
	var res []map[string]any
	for _, v := range vs {
		if v.AppID == app.ID && matches(plats, v.Platform) && matches(strs, v.VersionString) && matches(states, v.State) &&
			matches(legacy, v.appStoreState()) && matches(ids, v.ID) {
			res = append(res, s.versionJSON(v))
		}
	}
	return s.collection(r, res, nil)
}

func (s *Server) ascVersionsAttachBuild(r *http.Request, body []byte) (int, any, error) {
	v, ok := s.st.ASC.Versions[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("appStoreVersions", r.PathValue("id"))
	}
	var d struct {
		Data *ref `json:"data"`
	}
	if err := json.Unmarshal(body, &d); err != nil || d.Data == nil || d.Data.Type != "builds" {
		return 0, nil, &ascError{Status: 409, Code: "ENTITY_ERROR.RELATIONSHIP.INVALID", Title: "The provided entity includes a relationship with an invalid value",
			Detail: "The request body must be {\"data\":{\"type\":\"builds\",\"id\":\"…\"}}.", Pointer: "/data"}
	}
	if v.BuildID == d.Data.ID && slices.Contains(editableStates, v.State) {
		return http.StatusNoContent, nil, nil
	}
	if err := s.checkAttachLocked(v, d.Data.ID); err != nil {
		return 0, nil, err
	}
	v.BuildID = d.Data.ID
	s.event("asc.appStoreVersions.build.update", "appStoreVersions/"+v.ID)
	return http.StatusNoContent, nil, nil
}

func (s *Server) ascVersionsDelete(r *http.Request, _ []byte) (int, any, error) {
	v, ok := s.st.ASC.Versions[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("appStoreVersions", r.PathValue("id"))
	}
	if !slices.Contains(editableStates, v.State) || v.Approved {
		return 0, nil, ascStateInvalid("The appStoreVersion with id '" + v.ID + "' cannot be deleted in the state " + v.State + ".")
	}
	if sub := s.submissionOfVersionLocked(v.ID); sub != nil && (sub.State == subWaiting || sub.State == subInReview || sub.State == subCanceling) {
		return 0, nil, ascStateInvalid("The appStoreVersion with id '" + v.ID + "' is in reviewSubmission '" + sub.ID + "' (" + sub.State + ") and cannot be deleted.")
	}
	for _, it := range s.st.ASC.Items {
		if it.VersionID == v.ID && it.State != itemRemoved {
			it.State = itemRemoved
		}
	}
	if p := s.phasedOfLocked(v.ID); p != nil {
		delete(s.st.ASC.Phased, p.ID)
	}
	delete(s.st.ASC.Versions, v.ID)
	s.event("asc.appStoreVersions.delete", "appStoreVersions/"+v.ID)
	return http.StatusNoContent, nil, nil
}

func (s *Server) ascReleaseRequestsCreate(r *http.Request, body []byte) (int, any, error) {
	d, err := decodeDoc(body, "appStoreVersionReleaseRequests", nil)
	if err != nil {
		return 0, nil, err
	}
	id, err := d.rel("appStoreVersion", "appStoreVersions", true)
	if err != nil {
		return 0, nil, err
	}
	v, ok := s.st.ASC.Versions[id]
	if !ok {
		return 0, nil, ascInvalidRel("appStoreVersion", "There is no resource of type 'appStoreVersions' with id '"+id+"'")
	}
	if v.State != stPendingDevRelease {
		return 0, nil, ascStateInvalid("The appStoreVersion with id '" + v.ID + "' is in the state " + v.State + "; only a version in PENDING_DEVELOPER_RELEASE can be released.")
	}
	s.releaseLocked(v, s.nowLocked())
	reqID := s.st.id()
	s.event("asc.appStoreVersionReleaseRequests.create", "appStoreVersions/"+v.ID)
	return 201, s.single(r, s.resource("appStoreVersionReleaseRequests", reqID, nil, nil)), nil
}

// releaseLocked puts v on the store: it becomes READY_FOR_DISTRIBUTION, the
// version it replaces becomes REPLACED_WITH_NEW_VERSION with its phased
// release COMPLETE (A5), and v's own phased release starts at day 1.
func (s *Server) releaseLocked(v *ascVersion, now time.Time) {
	for _, o := range s.versionsOfLocked(v.AppID, v.Platform) {
		if o.ID != v.ID && o.State == stReadyForDistribution {
			o.State = stReplaced
			if p := s.phasedOfLocked(o.ID); p != nil && (p.State == PhasedActive || p.State == PhasedPaused) {
				s.completePhasedLocked(p, now)
			}
		}
	}
	v.State = stReadyForDistribution
	v.ReleasedAt = now
	if p := s.phasedOfLocked(v.ID); p != nil && p.State == PhasedInactive {
		p.State = PhasedActive
		p.Start = now
	}
	s.event("asc.appStoreVersions.released", "appStoreVersions/"+v.ID)
}

// legacySubmittedStates are the states the deprecated appStoreVersionSubmission
// can pull a version out of (applelink lib/app_store/connect.rb).
var legacySubmittedStates = []string{stWaitingForReview, stInReview, stPendingDevRelease}

func (s *Server) ascLegacySubmissionGet(r *http.Request, _ []byte) (int, any, error) {
	v, ok := s.st.ASC.Versions[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("appStoreVersions", r.PathValue("id"))
	}
	if !slices.Contains(legacySubmittedStates, v.State) {
		return 0, nil, ascNotFound("appStoreVersionSubmissions", v.ID)
	}
	return 200, s.single(r, s.resource("appStoreVersionSubmissions", v.ID, nil,
		map[string]any{"appStoreVersion": toOne("appStoreVersions", v.ID)})), nil
}

// ascLegacySubmissionDelete is the developer rejection: the version leaves
// review or Pending Developer Release and becomes DEVELOPER_REJECTED.
func (s *Server) ascLegacySubmissionDelete(r *http.Request, _ []byte) (int, any, error) {
	v, ok := s.st.ASC.Versions[r.PathValue("id")]
	if !ok || !slices.Contains(legacySubmittedStates, v.State) {
		return 0, nil, ascNotFound("appStoreVersionSubmissions", r.PathValue("id"))
	}
	if sub := s.submissionOfVersionLocked(v.ID); sub != nil && sub.State != subComplete {
		sub.State = subComplete
		for _, it := range s.itemsOfLocked(sub.ID) {
			it.State = itemRemoved
		}
	}
	v.State = stDeveloperRejected
	v.Approved = false
	s.event("asc.appStoreVersionSubmissions.delete", "appStoreVersions/"+v.ID)
	return http.StatusNoContent, nil, nil
}
