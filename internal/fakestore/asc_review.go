package fakestore

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Review submission states (ReviewSubmission.state) and item states.
const (
	subReadyForReview = "READY_FOR_REVIEW"
	subWaiting        = "WAITING_FOR_REVIEW"
	subInReview       = "IN_REVIEW"
	subUnresolved     = "UNRESOLVED_ISSUES"
	subCanceling      = "CANCELING"
	subComplete       = "COMPLETE"

	itemReady    = "READY_FOR_REVIEW"
	itemApproved = "APPROVED"
	itemRejected = "REJECTED"
	itemRemoved  = "REMOVED"
)

// Review outcomes for SetASCReviewOutcome.
const (
	ReviewApprove = "approve"
	ReviewReject  = "reject"
)

// openSubmissionStates are the states of a submission that blocks another
// one for the same app and platform (A4: one at a time per platform; an
// unsubmitted one is reused, UNRESOLVED_ISSUES still counts).
var openSubmissionStates = []string{subReadyForReview, subWaiting, subInReview, subUnresolved, subCanceling}

type ascSubmission struct {
	ID        string    `json:"id"`
	AppID     string    `json:"app_id"`
	Platform  string    `json:"platform"`
	State     string    `json:"state"`
	Submitted time.Time `json:"submitted,omitzero"`
	ReviewAt  time.Time `json:"review_at,omitzero"`
	DecideAt  time.Time `json:"decide_at,omitzero"`
	CancelAt  time.Time `json:"cancel_at,omitzero"`
}

type ascItem struct {
	ID           string `json:"id"`
	SubmissionID string `json:"submission_id"`
	VersionID    string `json:"version_id"`
	State        string `json:"state"`
}

// SetASCReviewOutcome sets App Review's decision for the app's next
// reviews: ReviewApprove (default) or ReviewReject.
func (s *Server) SetASCReviewOutcome(appID, outcome string) error {
	if outcome != ReviewApprove && outcome != ReviewReject {
		return fmt.Errorf("asc review outcome %q must be approve or reject", outcome)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.ASC.Apps[appID]; !ok {
		return fmt.Errorf("asc review outcome: no app with id %s", appID)
	}
	s.st.ASC.ReviewOutcomes[appID] = outcome
	return s.persistLocked()
}

func (s *Server) itemsOfLocked(subID string) []*ascItem {
	var out []*ascItem
	for _, it := range sortedByID(s.st.ASC.Items, func(it *ascItem) string { return it.ID }) {
		if it.SubmissionID == subID {
			out = append(out, it)
		}
	}
	return out
}

// submissionOfVersionLocked returns the newest submission holding the
// version as a live (not removed) item.
func (s *Server) submissionOfVersionLocked(versionID string) *ascSubmission {
	var found *ascSubmission
	for _, it := range sortedByID(s.st.ASC.Items, func(it *ascItem) string { return it.ID }) {
		if it.VersionID == versionID && it.State != itemRemoved {
			found = s.st.ASC.Submissions[it.SubmissionID]
		}
	}
	return found
}

// versionForReviewLocked returns the version item of the submission, if any.
func (s *Server) versionForReviewLocked(subID string) *ascVersion {
	for _, it := range s.itemsOfLocked(subID) {
		if it.State != itemRemoved {
			return s.st.ASC.Versions[it.VersionID]
		}
	}
	return nil
}

func (s *Server) submissionJSON(sub *ascSubmission) map[string]any {
	attrs := map[string]any{"platform": sub.Platform, "state": sub.State}
	if !sub.Submitted.IsZero() {
		attrs["submittedDate"] = sub.Submitted
	}
	items := []ref{}
	for _, it := range s.itemsOfLocked(sub.ID) {
		items = append(items, ref{Type: "reviewSubmissionItems", ID: it.ID})
	}
	rels := map[string]any{"app": toOne("apps", sub.AppID), "items": map[string]any{"data": items}}
	if v := s.versionForReviewLocked(sub.ID); v != nil {
		rels["appStoreVersionForReview"] = toOne("appStoreVersions", v.ID)
	}
	return s.resource("reviewSubmissions", sub.ID, attrs, rels)
}

func (s *Server) itemJSON(it *ascItem) map[string]any {
	return s.resource("reviewSubmissionItems", it.ID, map[string]any{"state": it.State},
		map[string]any{"appStoreVersion": toOne("appStoreVersions", it.VersionID)})
}

func (s *Server) ascSubmissionsList(r *http.Request, _ []byte) (int, any, error) {
	apps := filterValues(r, "app")
	if apps == nil {
		return 0, nil, &ascError{Status: 400, Code: "PARAMETER_ERROR.REQUIRED", Title: "A required parameter is missing.",
			Detail: "The parameter 'filter[app]' is required for this request."}
	}
	plats, states := filterValues(r, "platform"), filterValues(r, "state")
	var res, included []map[string]any
	for _, sub := range sortedByID(s.st.ASC.Submissions, func(x *ascSubmission) string { return x.ID }) {
		if matches(apps, sub.AppID) && matches(plats, sub.Platform) && matches(states, sub.State) {
			res = append(res, s.submissionJSON(sub))
			if v := s.versionForReviewLocked(sub.ID); v != nil && includes(r, "appStoreVersionForReview") {
				included = append(included, s.versionJSON(v))
			}
		}
	}
	if includes(r, "appStoreVersionForReview") && included == nil {
		included = []map[string]any{}
	}
	return s.collection(r, res, included)
}

func (s *Server) ascSubmissionsGet(r *http.Request, _ []byte) (int, any, error) {
	sub, ok := s.st.ASC.Submissions[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("reviewSubmissions", r.PathValue("id"))
	}
	return 200, s.single(r, s.submissionJSON(sub)), nil
}

func (s *Server) ascItemsList(r *http.Request, _ []byte) (int, any, error) {
	sub, ok := s.st.ASC.Submissions[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("reviewSubmissions", r.PathValue("id"))
	}
	var res []map[string]any
	for _, it := range s.itemsOfLocked(sub.ID) {
		res = append(res, s.itemJSON(it))
	}
	return s.collection(r, res, nil)
}

func (s *Server) ascSubmissionsCreate(r *http.Request, body []byte) (int, any, error) {
	var attrs struct {
		Platform string `json:"platform"`
	}
	d, err := decodeDoc(body, "reviewSubmissions", &attrs)
	if err != nil {
		return 0, nil, err
	}
	appID, err := d.rel("app", "apps", true)
	if err != nil {
		return 0, nil, err
	}
	if _, ok := s.st.ASC.Apps[appID]; !ok {
		return 0, nil, ascInvalidRel("app", "There is no resource of type 'apps' with id '"+appID+"'")
	}
	if !slices.Contains(platforms, attrs.Platform) {
		return 0, nil, ascInvalid("/data/attributes/platform", "You must provide a value for the attribute 'platform' (one of IOS, MAC_OS, TV_OS, VISION_OS) with this request")
	}
	for _, o := range s.st.ASC.Submissions {
		if o.AppID == appID && o.Platform == attrs.Platform && slices.Contains(openSubmissionStates, o.State) {
			return 0, nil, ascConflict("STATE_ERROR.ENTITY_STATE_INVALID",
				"You can only send one submission at a time per platform. The reviewSubmission with id '"+o.ID+"' is "+o.State+".")
		}
	}
	sub := &ascSubmission{ID: s.st.id(), AppID: appID, Platform: attrs.Platform, State: subReadyForReview}
	s.st.ASC.Submissions[sub.ID] = sub
	s.event("asc.reviewSubmissions.create", "reviewSubmissions/"+sub.ID)
	return 201, s.single(r, s.submissionJSON(sub)), nil
}

func (s *Server) ascItemsCreate(r *http.Request, body []byte) (int, any, error) {
	d, err := decodeDoc(body, "reviewSubmissionItems", nil)
	if err != nil {
		return 0, nil, err
	}
	subID, err := d.rel("reviewSubmission", "reviewSubmissions", true)
	if err != nil {
		return 0, nil, err
	}
	vID, err := d.rel("appStoreVersion", "appStoreVersions", false)
	if err != nil {
		return 0, nil, err
	}
	sub, ok := s.st.ASC.Submissions[subID]
	if !ok {
		return 0, nil, ascInvalidRel("reviewSubmission", "There is no resource of type 'reviewSubmissions' with id '"+subID+"'")
	}
	if vID == "" {
		return 0, nil, ascInvalidRel("appStoreVersion", "The fake store accepts only appStoreVersion items.")
	}
	v, ok := s.st.ASC.Versions[vID]
	if !ok || v.AppID != sub.AppID || v.Platform != sub.Platform {
		return 0, nil, ascInvalidRel("appStoreVersion", "There is no resource of type 'appStoreVersions' with id '"+vID+"' for this submission's app and platform.")
	}
	if sub.State != subReadyForReview && sub.State != subUnresolved {
		return 0, nil, ascStateInvalid("The reviewSubmission with id '" + sub.ID + "' is " + sub.State + " and cannot take new items.")
	}
	if other := s.submissionOfVersionLocked(v.ID); other != nil && other.State != subComplete {
		return 0, nil, ascConflict("STATE_ERROR.ENTITY_STATE_INVALID",
			"appStoreVersions with id '"+v.ID+"' was already added to another reviewSubmission with id '"+other.ID+"'")
	}
	if !slices.Contains(editableStates, v.State) {
		return 0, nil, ascStateInvalid("The appStoreVersion with id '" + v.ID + "' is " + v.State + " and cannot be submitted for review.")
	}
	it := &ascItem{ID: s.st.id(), SubmissionID: sub.ID, VersionID: v.ID, State: itemReady}
	s.st.ASC.Items[it.ID] = it
	s.event("asc.reviewSubmissionItems.create", "reviewSubmissionItems/"+it.ID)
	return 201, s.single(r, s.itemJSON(it)), nil
}

func (s *Server) ascSubmissionsUpdate(r *http.Request, body []byte) (int, any, error) {
	sub, ok := s.st.ASC.Submissions[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("reviewSubmissions", r.PathValue("id"))
	}
	var attrs struct {
		Submitted *bool `json:"submitted"`
		Canceled  *bool `json:"canceled"`
	}
	d, err := decodeDoc(body, "reviewSubmissions", &attrs)
	if err != nil {
		return 0, nil, err
	}
	if d.Data.ID != sub.ID {
		return 0, nil, &ascError{Status: 409, Code: "ENTITY_ERROR.ID.INVALID", Title: "The provided entity id is invalid",
			Detail: "The provided entity id '" + d.Data.ID + "' does not match the id in the URL.", Pointer: "/data/id"}
	}
	now := s.nowLocked()
	switch {
	case attrs.Submitted != nil && *attrs.Submitted && attrs.Canceled == nil:
		if sub.State != subReadyForReview && sub.State != subUnresolved {
			return 0, nil, ascStateInvalid("The reviewSubmission with id '" + sub.ID + "' is " + sub.State + " and cannot be submitted.")
		}
		var versions []*ascVersion
		for _, it := range s.itemsOfLocked(sub.ID) {
			if it.State != itemRemoved {
				versions = append(versions, s.st.ASC.Versions[it.VersionID])
			}
		}
		if len(versions) == 0 {
			return 0, nil, ascStateInvalid("The reviewSubmission with id '" + sub.ID + "' has no items to submit.")
		}
		for _, v := range versions {
			b, ok := s.st.ASC.Builds[v.BuildID]
			if !ok {
				return 0, nil, &ascError{Status: 409, Code: "ENTITY_ERROR.RELATIONSHIP.REQUIRED", Title: "The provided entity is missing a required relationship",
					Detail: "The appStoreVersion with id '" + v.ID + "' has no build. Attach a build before submitting."}
			}
			if b.State != BuildValid {
				return 0, nil, &ascError{Status: 422, Code: "ENTITY_UNPROCESSABLE", Title: "The request entity is not processable.",
					Detail: "The build is not in a valid processing state for this operation"}
			}
		}
		sub.State, sub.Submitted = subWaiting, now
		sub.ReviewAt = now.Add(s.cfg.ReviewWaitDelay)
		sub.DecideAt = sub.ReviewAt.Add(s.cfg.ReviewDelay)
		for _, it := range s.itemsOfLocked(sub.ID) {
			if it.State != itemRemoved {
				it.State = itemReady
				s.st.ASC.Versions[it.VersionID].State = stWaitingForReview
			}
		}
		s.event("asc.reviewSubmissions.submit", "reviewSubmissions/"+sub.ID)
	case attrs.Canceled != nil && *attrs.Canceled && attrs.Submitted == nil:
		if !slices.Contains([]string{subReadyForReview, subWaiting, subInReview, subUnresolved}, sub.State) {
			return 0, nil, ascStateInvalid("The reviewSubmission with id '" + sub.ID + "' is " + sub.State + " and cannot be canceled.")
		}
		sub.State, sub.CancelAt = subCanceling, now.Add(s.cfg.CancelDelay)
		s.event("asc.reviewSubmissions.cancel", "reviewSubmissions/"+sub.ID)
	default:
		return 0, nil, ascInvalid("/data/attributes", "Set exactly one of 'submitted' or 'canceled' to true.")
	}
	s.tickReviews(now)
	return 200, s.single(r, s.submissionJSON(sub)), nil
}

// tickReviews moves submissions through App Review on the store clock:
// WAITING_FOR_REVIEW for ReviewWaitDelay, IN_REVIEW for ReviewDelay, then
// the app's configured outcome; CANCELING completes after CancelDelay.
func (s *Server) tickReviews(now time.Time) {
	for _, sub := range sortedByID(s.st.ASC.Submissions, func(x *ascSubmission) string { return x.ID }) {
		if sub.State == subWaiting && !now.Before(sub.ReviewAt) {
			sub.State = subInReview
			s.setItemVersionsLocked(sub.ID, "", stInReview)
			s.event("asc.review.started", "reviewSubmissions/"+sub.ID)
		}
		if sub.State == subInReview && !now.Before(sub.DecideAt) {
			if s.st.ASC.ReviewOutcomes[sub.AppID] == ReviewReject {
				sub.State = subUnresolved
				s.setItemVersionsLocked(sub.ID, itemRejected, stRejected)
				s.event("asc.review.rejected", "reviewSubmissions/"+sub.ID)
			} else {
				sub.State = subComplete
				for _, it := range s.itemsOfLocked(sub.ID) {
					if it.State == itemRemoved {
						continue
					}
					it.State = itemApproved
					v := s.st.ASC.Versions[it.VersionID]
					v.Approved = true
					v.State = stPendingDevRelease
					if v.ReleaseType == "AFTER_APPROVAL" {
						s.releaseLocked(v, sub.DecideAt)
					}
				}
				s.event("asc.review.approved", "reviewSubmissions/"+sub.ID)
			}
		}
		if sub.State == subCanceling && !now.Before(sub.CancelAt) {
			sub.State = subComplete
			for _, it := range s.itemsOfLocked(sub.ID) {
				if it.State == itemRemoved {
					continue
				}
				it.State = itemRemoved
				if v := s.st.ASC.Versions[it.VersionID]; v != nil && (v.State == stWaitingForReview || v.State == stInReview) {
					v.State = stDeveloperRejected
				}
			}
			s.event("asc.reviewSubmissions.canceled", "reviewSubmissions/"+sub.ID)
		}
	}
}

func (s *Server) setItemVersionsLocked(subID, itemState, versionState string) {
	for _, it := range s.itemsOfLocked(subID) {
		if it.State == itemRemoved {
			continue
		}
		if itemState != "" {
			it.State = itemState
		}
		if v := s.st.ASC.Versions[it.VersionID]; v != nil {
			v.State = versionState
		}
	}
}
