package appstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Review submission states.
const (
	SubmissionReadyForReview   = "READY_FOR_REVIEW"
	SubmissionWaitingForReview = "WAITING_FOR_REVIEW"
	SubmissionInReview         = "IN_REVIEW"
	SubmissionUnresolvedIssues = "UNRESOLVED_ISSUES"
	SubmissionCanceling        = "CANCELING"
	SubmissionCompleting       = "COMPLETING"
	SubmissionComplete         = "COMPLETE"
)

// openStates are the submission states that block another submission of
// the app for the platform.
var openStates = []string{SubmissionReadyForReview, SubmissionWaitingForReview, SubmissionInReview, SubmissionUnresolvedIssues, SubmissionCanceling}

// Submission is a review submission: the unit App Review takes.
type Submission struct {
	// ID is Apple's reviewSubmission id.
	ID string
	// AppID is the app's id.
	AppID string
	// Platform is the submission's platform.
	Platform string
	// State is one of the Submission* states.
	State string
	// VersionID is the App Store version in the submission, if any.
	VersionID string
	// Submitted is when it was sent to App Review.
	Submitted time.Time
}

func submissionFrom(r resource, appID string) (*Submission, error) {
	var a struct {
		Platform      string    `json:"platform"`
		State         string    `json:"state"`
		SubmittedDate time.Time `json:"submittedDate"`
	}
	if err := json.Unmarshal(r.Attributes, &a); err != nil {
		return nil, fmt.Errorf("decode reviewSubmission %s: %w", r.ID, err)
	}
	return &Submission{ID: r.ID, AppID: appID, Platform: a.Platform, State: a.State,
		VersionID: r.relID("appStoreVersionForReview"), Submitted: a.SubmittedDate}, nil
}

// OpenSubmissions returns the app's review submissions for platform
// (default IOS) that are not complete.
func (c *Client) OpenSubmissions(ctx context.Context, appID, platform string) ([]Submission, error) {
	q := url.Values{"filter[app]": {appID}, "filter[platform]": {cmpOr(platform, PlatformIOS)},
		"filter[state]": {strings.Join(openStates, ",")}, "include": {"appStoreVersionForReview"}, "limit": {"200"}}
	rs, err := c.listResources(ctx, "list review submissions", c.url("/v1/reviewSubmissions", q))
	if err != nil {
		return nil, err
	}
	out := make([]Submission, 0, len(rs))
	for _, r := range rs {
		s, err := submissionFrom(r, appID)
		if err != nil {
			return nil, fmt.Errorf("appstore list review submissions: %w", err)
		}
		out = append(out, *s)
	}
	return out, nil
}

// GetSubmission reads one review submission.
func (c *Client) GetSubmission(ctx context.Context, submissionID string) (*Submission, error) {
	var r resource
	if err := c.getOne(ctx, "get review submission", "/v1/reviewSubmissions/"+url.PathEscape(submissionID), &r, nil); err != nil {
		return nil, err
	}
	return submissionFrom(r, r.relID("app"))
}

// SubmitForReview sends the version to App Review and returns its
// submission. It reuses what a previous attempt left: a version already in
// review returns its submission; an unsubmitted submission of the app is
// completed rather than a second one created; a rejected one is resubmitted.
// Another version's submission in flight is ErrSubmissionInFlight.
func (c *Client) SubmitForReview(ctx context.Context, versionID string) (*Submission, error) {
	const op = "submit for review"
	var out *Submission
	err := c.idempotent(ctx, op, func(ctx context.Context) error {
		v, err := c.GetVersion(ctx, versionID)
		if err != nil {
			return err
		}
		open, err := c.OpenSubmissions(ctx, v.AppID, v.Platform)
		if err != nil {
			return err
		}
		var reuse *Submission
		for i := range open {
			s := &open[i]
			switch {
			case s.VersionID == v.ID && (s.State == SubmissionWaitingForReview || s.State == SubmissionInReview):
				out = s
				return nil // already in review
			case s.VersionID == v.ID && s.State == SubmissionCanceling:
				return stateError(op, ErrWrongState, "The reviewSubmission "+s.ID+" of version "+v.VersionString+" is being canceled.",
					"wait until the cancellation completes, then submit again")
			case s.VersionID == v.ID || s.VersionID == "" && s.State == SubmissionReadyForReview:
				reuse = s
			default:
				return stateError(op, ErrSubmissionInFlight,
					"The reviewSubmission "+s.ID+" ("+s.State+") of app "+v.AppID+" holds version "+s.VersionID+"; App Review takes one submission at a time per platform.",
					"wait for it to finish, or cancel it (CancelSubmission / WithdrawVersion) first")
			}
		}
		if reuse == nil {
			if slices.Contains([]string{StateWaitingForReview, StateInReview, StatePendingDeveloperRelease, StateReadyForDistribution}, v.State) {
				return stateError(op, ErrWrongState, "Version "+v.VersionString+" is already "+v.State+".", "nothing to submit")
			}
			doc := map[string]any{"data": map[string]any{"type": "reviewSubmissions",
				"attributes":    map[string]any{"platform": v.Platform},
				"relationships": map[string]any{"app": toOne("apps", v.AppID)}}}
			var r resource
			if err := c.send(ctx, op, http.MethodPost, "/v1/reviewSubmissions", doc, &r); err != nil {
				return err
			}
			if reuse, err = submissionFrom(r, v.AppID); err != nil {
				return err
			}
		}
		if reuse.VersionID == "" {
			doc := map[string]any{"data": map[string]any{"type": "reviewSubmissionItems", "relationships": map[string]any{
				"reviewSubmission": toOne("reviewSubmissions", reuse.ID), "appStoreVersion": toOne("appStoreVersions", v.ID)}}}
			if err := c.send(ctx, op, http.MethodPost, "/v1/reviewSubmissionItems", doc, nil); err != nil {
				return err
			}
		}
		doc := map[string]any{"data": map[string]any{"type": "reviewSubmissions", "id": reuse.ID, "attributes": map[string]any{"submitted": true}}}
		var r resource
		if err := c.send(ctx, op, http.MethodPatch, "/v1/reviewSubmissions/"+url.PathEscape(reuse.ID), doc, &r); err != nil {
			return err
		}
		out, err = submissionFrom(r, v.AppID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("appstore version %s: %w", versionID, err)
	}
	return out, nil
}

// CancelSubmission cancels a review submission (unsubmitted, waiting, in
// review or with unresolved issues). One already canceling or complete is
// left alone. Apple applies a cancellation after a delay: poll the
// submission (or use WithdrawVersion) before editing the version.
func (c *Client) CancelSubmission(ctx context.Context, submissionID string) error {
	const op = "cancel review submission"
	err := c.idempotent(ctx, op, func(ctx context.Context) error {
		s, err := c.GetSubmission(ctx, submissionID)
		if err != nil {
			return err
		}
		if s.State == SubmissionCanceling || s.State == SubmissionComplete || s.State == SubmissionCompleting {
			return nil
		}
		doc := map[string]any{"data": map[string]any{"type": "reviewSubmissions", "id": submissionID, "attributes": map[string]any{"canceled": true}}}
		return c.send(ctx, op, http.MethodPatch, "/v1/reviewSubmissions/"+url.PathEscape(submissionID), doc, nil)
	})
	if err != nil {
		return fmt.Errorf("appstore review submission %s: %w", submissionID, err)
	}
	return nil
}

// WithdrawVersion takes a version out of review or Pending Developer
// Release and deletes it, waiting up to timeout for Apple to apply the
// cancellation. In review: its submission is canceled. Approved and parked:
// the developer rejects it (DELETE appStoreVersionSubmissions, the call the
// App Store Connect site still uses). A version that is gone already
// succeeds; a released one is ErrWrongState.
func (c *Client) WithdrawVersion(ctx context.Context, versionID string, timeout time.Duration) error {
	const op = "withdraw version"
	err := c.idempotent(ctx, op, func(ctx context.Context) error {
		v, err := c.GetVersion(ctx, versionID)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		switch v.State {
		case StateReadyForDistribution, StateProcessingForDistrib, StateReplacedWithNewVersion:
			return stateError(op, ErrWrongState, "Version "+v.VersionString+" is "+v.State+" and can no longer be withdrawn.",
				"pause its phased release or release a newer version instead")
		case StatePendingDeveloperRelease:
			err := c.send(ctx, op, http.MethodDelete, "/v1/appStoreVersionSubmissions/"+url.PathEscape(v.ID), nil, nil)
			if err != nil && !isNotFound(err) {
				return err
			}
		case StateWaitingForReview, StateInReview:
			open, err := c.OpenSubmissions(ctx, v.AppID, v.Platform)
			if err != nil {
				return err
			}
			for _, s := range open {
				if s.VersionID == v.ID && s.State != SubmissionCanceling {
					if err := c.CancelSubmission(ctx, s.ID); err != nil {
						return err
					}
				}
			}
		}
		// Also cancel an unsubmitted or rejected submission holding it.
		if err := c.poll(ctx, op, timeout, func(ctx context.Context) (bool, error) {
			open, err := c.OpenSubmissions(ctx, v.AppID, v.Platform)
			if err != nil {
				return false, err
			}
			for _, s := range open {
				if s.VersionID != v.ID {
					continue
				}
				if s.State == SubmissionReadyForReview || s.State == SubmissionUnresolvedIssues {
					if err := c.CancelSubmission(ctx, s.ID); err != nil {
						return false, err
					}
				}
				return false, nil
			}
			return true, nil
		}); err != nil {
			return err
		}
		return c.DeleteVersion(ctx, v.ID)
	})
	if err != nil {
		return fmt.Errorf("appstore version %s: %w", versionID, err)
	}
	return nil
}
