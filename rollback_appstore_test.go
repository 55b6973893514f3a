package ripcord

import (
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "under a minute"},
		{59 * time.Second, "under a minute"},
		{time.Minute, "1m"},
		{5*time.Hour + 12*time.Minute + 30*time.Second, "5h 12m"},
		{27 * time.Hour, "1d 3h"},
	} {
		if got := ShortDuration(tt.d); got != tt.want {
			t.Errorf("ShortDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestIOSProtection(t *testing.T) {
	released := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now := released.Add(5*time.Hour + 12*time.Minute)
	base := RollbackBuild{Platform: IOS, Version: "1.2.1", State: RollbackReady, TargetReleasedAt: released}
	for _, tt := range []struct {
		name        string
		edit        func(rb *RollbackBuild)
		unprotected bool
		sentence    string
	}{
		{"android has no window", func(rb *RollbackBuild) { rb.Platform = Android }, false, ""},
		{"target not released", func(rb *RollbackBuild) { rb.TargetReleasedAt = time.Time{} }, false, ""},
		{"in review", func(rb *RollbackBuild) { rb.StoreVersionID, rb.StoreVersionState = "v", AppStoreWaitingForReview }, true,
			"no approved rollback for 5h 12m: the App Store reviews 1.2.1 (WAITING_FOR_REVIEW)"},
		{"not created", func(rb *RollbackBuild) {}, true, "no approved rollback for 5h 12m: the App Store version 1.2.1 is not created yet"},
		{"build not ready", func(rb *RollbackBuild) { rb.State = RollbackUploaded }, true, "no approved rollback for 5h 12m: the rollback build is uploaded"},
		{"rejected", func(rb *RollbackBuild) { rb.StoreVersionID, rb.StoreVersionState = "v", AppStoreRejected }, true,
			"no approved rollback for 5h 12m: App Review rejected 1.2.1 (REJECTED)"},
		{"withdrawn", func(rb *RollbackBuild) {
			rb.State, rb.StoreVersionID, rb.StoreVersionState = RollbackWithdrawn, "v", AppStoreDeleted
		}, true,
			"no approved rollback for 5h 12m: rollback 1.2.1 was withdrawn from the App Store"},
		{"approved", func(rb *RollbackBuild) {
			rb.StoreVersionID, rb.StoreVersionState, rb.ApprovedAt = "v", AppStoreApproved, released.Add(26*time.Hour)
		}, false, "protected: rollback 1.2.1 was approved 1d 2h after the release and waits in PENDING_DEVELOPER_RELEASE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rb := base
			tt.edit(&rb)
			p := rb.IOSProtection(now)
			if p.Unprotected != tt.unprotected || p.Sentence != tt.sentence {
				t.Fatalf("got %+v, want unprotected %v, %q", p, tt.unprotected, tt.sentence)
			}
			if p.Unprotected && !p.Since.Equal(released) {
				t.Fatalf("since %v, want the release %v", p.Since, released)
			}
		})
	}
}

func TestWithdrawalPlan(t *testing.T) {
	base := RollbackBuild{Platform: IOS, TargetVersion: "1.2.0", Version: "1.2.1", State: RollbackReady, StoreVersionID: "v"}
	for _, tt := range []struct {
		state, want string
	}{
		{AppStoreApproved, "App Store version 1.2.1 (approved, PENDING_DEVELOPER_RELEASE) will be developer-rejected and then deleted from App Store Connect, so the next version can be created. shop 1.2.0 then has no one-click rollback on iOS; the next release gets its own once it is released."},
		{AppStoreInReview, "the review of App Store version 1.2.1 (IN_REVIEW) will be canceled and the version then deleted from App Store Connect, so the next version can be created. shop 1.2.0 then has no one-click rollback on iOS; the next release gets its own once it is released."},
		{AppStoreReadyForDistribution, ""},
	} {
		rb := base
		rb.StoreVersionState = tt.state
		if got := rb.WithdrawalPlan("shop"); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.state, got, tt.want)
		}
	}
	rb := base
	rb.State = RollbackWithdrawn
	if got := rb.WithdrawalPlan("shop"); got != "" {
		t.Errorf("withdrawn: got %q, want nothing to do", got)
	}
}
