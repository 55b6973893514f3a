package ripcord

import (
	"fmt"
	"time"
)

// App Store version states (appVersionState) the iOS rollback follow-up and
// its reports name. The App Store reviews a rollback like any version, so
// until it is approved a released target has no one-click rollback.
const (
	AppStorePrepareForSubmission = "PREPARE_FOR_SUBMISSION"
	AppStoreWaitingForReview     = "WAITING_FOR_REVIEW"
	AppStoreInReview             = "IN_REVIEW"
	AppStoreReadyForDistribution = "READY_FOR_DISTRIBUTION"
	AppStoreRejected             = "REJECTED"
	AppStoreDeveloperRejected    = "DEVELOPER_REJECTED"
	// AppStoreDeleted is not Apple's: Ripcord records it once it deleted
	// the rollback's App Store version (withdrawn or superseded).
	AppStoreDeleted = "DELETED"
)

// Protection says whether a released iOS target can be rolled back in one
// click, and since when it cannot.
type Protection struct {
	// Unprotected is true while the target is released and no approved
	// rollback exists.
	Unprotected bool
	// Since is when the unprotected window began (the target's release);
	// zero when Unprotected is false.
	Since time.Time
	// Sentence says it in words, e.g. "no approved rollback for 5h 12m:
	// the App Store reviews 1.2.1 (WAITING_FOR_REVIEW)"; empty when there
	// is nothing to say (Android, or a target not yet released).
	Sentence string
}

// IOSProtection reports rb's protection at now. Android rollbacks need no
// store review, so only iOS has a window; before the target is released
// (TargetReleasedAt zero) there is nothing to protect yet.
func (rb *RollbackBuild) IOSProtection(now time.Time) Protection {
	if rb.Platform != IOS || rb.TargetReleasedAt.IsZero() {
		return Protection{}
	}
	switch {
	case rb.ReleasableOnIOS():
		return Protection{Sentence: fmt.Sprintf("protected: rollback %s was approved %s after the release and waits in %s",
			rb.Version, ShortDuration(rb.ApprovedAt.Sub(rb.TargetReleasedAt)), AppStoreApproved)}
	case rb.StoreVersionState == AppStoreReadyForDistribution:
		return Protection{Sentence: fmt.Sprintf("rollback %s is released on the App Store", rb.Version)}
	}
	var why string
	switch {
	case rb.State == RollbackWithdrawn:
		why = fmt.Sprintf("rollback %s was withdrawn from the App Store", rb.Version)
	case rb.State != RollbackReady:
		why = fmt.Sprintf("the rollback build is %s", rb.State)
	case rb.StoreVersionID == "":
		why = fmt.Sprintf("the App Store version %s is not created yet", rb.Version)
	case rb.StoreVersionState == AppStoreWaitingForReview || rb.StoreVersionState == AppStoreInReview:
		why = fmt.Sprintf("the App Store reviews %s (%s)", rb.Version, rb.StoreVersionState)
	case rb.StoreVersionState == AppStoreRejected || rb.StoreVersionState == "METADATA_REJECTED" || rb.StoreVersionState == "INVALID_BINARY":
		why = fmt.Sprintf("App Review rejected %s (%s)", rb.Version, rb.StoreVersionState)
	default:
		why = fmt.Sprintf("the App Store version %s is %s", rb.Version, rb.StoreVersionState)
	}
	return Protection{Unprotected: true, Since: rb.TargetReleasedAt,
		Sentence: fmt.Sprintf("no approved rollback for %s: %s", ShortDuration(now.Sub(rb.TargetReleasedAt)), why)}
}

// ShortDuration writes d the way people read a window's length: its two
// largest units, "3d 4h", "5h 12m", "12m", or "under a minute".
func ShortDuration(d time.Duration) string {
	if d < time.Minute {
		return "under a minute"
	}
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	}
	return fmt.Sprintf("%dm", mins)
}

// WithdrawalPlan says exactly what withdrawing rb's App Store version does,
// for the confirmation a person must give first: the version is taken out
// of review or developer-rejected, then deleted, and the target loses its
// one-click rollback on iOS. Empty when there is nothing to withdraw.
func (rb *RollbackBuild) WithdrawalPlan(app string) string {
	if rb.Platform != IOS || rb.State == RollbackWithdrawn || rb.Version == "" {
		return ""
	}
	var first string
	switch rb.StoreVersionState {
	case AppStoreReadyForDistribution:
		return ""
	case "":
		first = fmt.Sprintf("App Store version %s is not created yet; Ripcord will not create it", rb.Version)
	case AppStoreApproved:
		first = fmt.Sprintf("App Store version %s (approved, %s) will be developer-rejected and then deleted from App Store Connect", rb.Version, AppStoreApproved)
	case AppStoreWaitingForReview, AppStoreInReview:
		first = fmt.Sprintf("the review of App Store version %s (%s) will be canceled and the version then deleted from App Store Connect", rb.Version, rb.StoreVersionState)
	default:
		first = fmt.Sprintf("App Store version %s (%s) will be deleted from App Store Connect", rb.Version, rb.StoreVersionState)
	}
	return fmt.Sprintf("%s, so the next version can be created. %s %s then has no one-click rollback on iOS; the next release gets its own once it is released.",
		first, app, rb.TargetVersion)
}
