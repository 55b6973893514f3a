package ripcord_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

func TestReleaseValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, (&ripcord.Release{Version: "1.2"}).Validate())
	err := (&ripcord.Release{Version: "1.2.x"}).Validate()
	require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
}

func TestReleaseStatus(t *testing.T) {
	t.Parallel()
	const (
		draft    = ripcord.StatusDraft
		uploaded = ripcord.StatusUploaded
	)
	tests := []struct {
		name     string
		statuses []ripcord.ReleaseStatus
		want     ripcord.ReleaseStatus
	}{
		{"NoPlatforms", nil, draft},
		{"Draft", []ripcord.ReleaseStatus{draft}, draft},
		{"Uploaded", []ripcord.ReleaseStatus{uploaded}, uploaded},
		{"BothUploaded", []ripcord.ReleaseStatus{uploaded, uploaded}, uploaded},
		{"FirstBehind", []ripcord.ReleaseStatus{draft, uploaded}, draft},
		{"SecondBehind", []ripcord.ReleaseStatus{uploaded, draft}, draft},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ripcord.Release{Version: "1.0.0"}
			for i, s := range tc.statuses {
				r.Platforms = append(r.Platforms, ripcord.ReleasePlatform{Platform: ripcord.Platforms()[i], Status: s})
			}
			require.Equal(t, tc.want, r.Status())
		})
	}
}

func TestReleasePlatform(t *testing.T) {
	t.Parallel()
	r := ripcord.Release{Platforms: []ripcord.ReleasePlatform{{Platform: ripcord.Android, BuildID: 3}}}
	rp := r.Platform(ripcord.Android)
	require.NotNil(t, rp)
	require.Equal(t, int64(3), rp.BuildID)
	rp.BuildID = 4
	require.Equal(t, int64(4), r.Platforms[0].BuildID, "the returned state is the release's own")
	require.Nil(t, r.Platform(ripcord.IOS))
}

func TestReleaseAttachBuild(t *testing.T) {
	t.Parallel()
	before := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := before.Add(time.Hour)
	current := &ripcord.Build{ID: 10, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120"}

	tests := []struct {
		name        string
		status      ripcord.ReleaseStatus // of the Android platform
		current     *ripcord.Build
		build       ripcord.Build
		wantChanged bool
	}{
		{"DraftTakesBuild", ripcord.StatusDraft, nil,
			ripcord.Build{ID: 11, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120"}, true},
		{"DraftTakesEquivalentVersion", ripcord.StatusDraft, nil,
			ripcord.Build{ID: 11, Platform: ripcord.Android, Version: "1.2", BuildNumber: "120"}, true},
		{"HigherBuildReplacesWhileUploaded", ripcord.StatusUploaded, current,
			ripcord.Build{ID: 11, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "121"}, true},
		{"HigherBuildComparedNumerically", ripcord.StatusUploaded,
			&ripcord.Build{ID: 10, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "9"},
			ripcord.Build{ID: 11, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "10"}, true},
		{"LowerBuildDoesNotReplace", ripcord.StatusUploaded, current,
			ripcord.Build{ID: 11, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "119"}, false},
		{"EqualBuildDoesNotReplace", ripcord.StatusUploaded, current,
			ripcord.Build{ID: 11, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120"}, false},
		{"OtherVersionDoesNotAttach", ripcord.StatusDraft, nil,
			ripcord.Build{ID: 11, Platform: ripcord.Android, Version: "1.3.0", BuildNumber: "130"}, false},
		{"OtherVersionDoesNotReplace", ripcord.StatusUploaded, current,
			ripcord.Build{ID: 11, Platform: ripcord.Android, Version: "1.2.1", BuildNumber: "999"}, false},
		{"NoVersionDoesNotAttach", ripcord.StatusDraft, nil,
			ripcord.Build{ID: 11, Platform: ripcord.Android, BuildNumber: "120"}, false},
		{"BadVersionDoesNotAttach", ripcord.StatusDraft, nil,
			ripcord.Build{ID: 11, Platform: ripcord.Android, Version: "1.2.0.0", BuildNumber: "120"}, false},
		{"PlatformNotInRelease", ripcord.StatusDraft, nil,
			ripcord.Build{ID: 11, Platform: ripcord.IOS, Version: "1.2.0", BuildNumber: "120"}, false},
		{"BuildFixedOnceReleaseMovedOn", ripcord.ReleaseStatus("rolling_out"), current,
			ripcord.Build{ID: 11, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "121"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buildID int64
			if tc.current != nil {
				buildID = tc.current.ID
			}
			r := ripcord.Release{ID: 1, Version: "1.2.0", Platforms: []ripcord.ReleasePlatform{
				{Platform: ripcord.Android, BuildID: buildID, Status: tc.status, UpdatedAt: before},
			}}
			orig := r.Platforms[0]

			changed := r.AttachBuild(&tc.build, tc.current, now)
			require.Equal(t, tc.wantChanged, changed)
			require.Len(t, r.Platforms, 1, "attaching never adds a platform")
			if !tc.wantChanged {
				require.Equal(t, orig, r.Platforms[0], "nothing changes when the build is not attached")
				return
			}
			require.Equal(t, ripcord.ReleasePlatform{Platform: ripcord.Android, BuildID: tc.build.ID, Status: ripcord.StatusUploaded, UpdatedAt: now}, r.Platforms[0])
			require.Equal(t, ripcord.StatusUploaded, r.Status())
		})
	}

	t.Run("OnlyTheBuildsPlatformChanges", func(t *testing.T) {
		t.Parallel()
		r := ripcord.Release{Version: "2.0", Platforms: []ripcord.ReleasePlatform{
			{Platform: ripcord.Android, Status: ripcord.StatusDraft, UpdatedAt: before},
			{Platform: ripcord.IOS, Status: ripcord.StatusDraft, UpdatedAt: before},
		}}
		require.True(t, r.AttachBuild(&ripcord.Build{ID: 5, Platform: ripcord.IOS, Version: "2.0.0", BuildNumber: "1"}, nil, now))
		require.Equal(t, ripcord.ReleasePlatform{Platform: ripcord.Android, Status: ripcord.StatusDraft, UpdatedAt: before}, r.Platforms[0])
		require.Equal(t, int64(5), r.Platform(ripcord.IOS).BuildID)
		require.Equal(t, ripcord.StatusDraft, r.Status(), "Android still lacks its build")
	})
}

func TestTransition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		platform ripcord.Platform
		from     ripcord.ReleaseStatus
		event    ripcord.ReleaseEvent
		want     ripcord.ReleaseStatus
		err      string
	}{
		{"Upload", ripcord.Android, ripcord.StatusDraft, ripcord.EventUpload, ripcord.StatusUploaded, ""},
		{"Submit", ripcord.IOS, ripcord.StatusUploaded, ripcord.EventSubmit, ripcord.StatusInReview, ""},
		{"Approve", ripcord.IOS, ripcord.StatusInReview, ripcord.EventApprove, ripcord.StatusApproved, ""},
		{"RejectBackToUploaded", ripcord.IOS, ripcord.StatusInReview, ripcord.EventReject, ripcord.StatusUploaded, ""},
		{"Start", ripcord.Android, ripcord.StatusApproved, ripcord.EventStart, ripcord.StatusRollingOut, ""},
		{"Advance", ripcord.Android, ripcord.StatusRollingOut, ripcord.EventAdvance, ripcord.StatusRollingOut, ""},
		{"HaltAndroid", ripcord.Android, ripcord.StatusRollingOut, ripcord.EventHalt, ripcord.StatusHalted, ""},
		{"PauseIOS", ripcord.IOS, ripcord.StatusRollingOut, ripcord.EventPause, ripcord.StatusPaused, ""},
		{"ResumeHalted", ripcord.Android, ripcord.StatusHalted, ripcord.EventResume, ripcord.StatusRollingOut, ""},
		{"RollbackPaused", ripcord.IOS, ripcord.StatusPaused, ripcord.EventRollback, ripcord.StatusRolledBack, ""},
		{"RollbackComplete", ripcord.Android, ripcord.StatusComplete, ripcord.EventRollback, ripcord.StatusRolledBack, ""},
		{"ErrHaltIOS", ripcord.IOS, ripcord.StatusRollingOut, ripcord.EventHalt, ripcord.StatusRollingOut, "App Store has no halt: pause the phased release instead"},
		{"ErrPauseAndroid", ripcord.Android, ripcord.StatusRollingOut, ripcord.EventPause, ripcord.StatusRollingOut, "Google Play has no pause: halt the rollout instead"},
		{"ErrStartUnapproved", ripcord.Android, ripcord.StatusUploaded, ripcord.EventStart, ripcord.StatusUploaded, "cannot start the android release while it is uploaded; it can: upload, submit"},
		{"ErrAdvanceHalted", ripcord.Android, ripcord.StatusHalted, ripcord.EventAdvance, ripcord.StatusHalted, "it can: resume, complete, rollback"},
		{"ErrAnythingRolledBack", ripcord.IOS, ripcord.StatusRolledBack, ripcord.EventResume, ripcord.StatusRolledBack, "nothing more can happen to it"},
		{"ErrUploadInReview", ripcord.IOS, ripcord.StatusInReview, ripcord.EventUpload, ripcord.StatusInReview, "it can: approve, reject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ripcord.Transition(tc.platform, tc.from, tc.event)
			require.Equal(t, tc.want, got)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}
