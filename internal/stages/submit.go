package stages

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/play"
)

// ErrPending says a submission cannot go on yet because the store is still
// processing the build; the submit job tries again later.
var ErrPending = errors.New("stages: waiting for the store")

// Submit sends the release's build on platform to the store (release
// managers). Android: the APK or AAB is uploaded to Play's production track
// as a draft (found by digest if it is there already), which Play reviews
// when it is released, so the release counts as approved. iOS: the build is
// uploaded when App Store Connect does not have it, the App Store version is
// found or created (manual release) with the build attached, and it is
// submitted to App Review; the periodic job follows the review. A release
// already submitted is returned as it is. While App Store Connect still
// processes the build it returns an error matching ErrPending.
func (s *Service) Submit(ctx context.Context, appName, version string, platform ripcord.Platform) (*ripcord.Release, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	return s.claimed(ctx, appName, version, platform, func(t *target) (*ripcord.Release, error) {
		switch t.rp.Status {
		case ripcord.StatusInReview, ripcord.StatusApproved, ripcord.StatusRollingOut, ripcord.StatusHalted, ripcord.StatusPaused, ripcord.StatusComplete:
			return t.rel, nil // submitted before
		case ripcord.StatusDraft:
			return nil, ripcord.Errorf(ripcord.ECONFLICT, "%s has no build to submit; upload one with `ripcord build upload`", t.label()).
				WithDetails(map[string]any{"status": string(t.rp.Status)})
		}
		if _, err := ripcord.Transition(platform, t.rp.Status, ripcord.EventSubmit); err != nil {
			return nil, err
		}
		if platform == ripcord.Android {
			return s.submitAndroid(ctx, t)
		}
		return s.submitIOS(ctx, t)
	})
}

func (s *Service) submitAndroid(ctx context.Context, t *target) (*ripcord.Release, error) {
	code, err := t.versionCode()
	if err != nil {
		return nil, err
	}
	data, err := s.artifact(ctx, t)
	if err != nil {
		return nil, err
	}
	isAPK, err := androidKind(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.label(), err)
	}
	pl, err := s.play(ctx, t.app)
	if err != nil {
		return nil, err
	}
	got, err := pl.Upload(ctx, play.UploadParams{Package: t.app.AndroidPackage, File: data, APK: isAPK, Track: productionTrack,
		ReleaseName: t.rel.Version, Status: play.StatusDraft})
	if err != nil {
		return nil, fmt.Errorf("upload %s to Google Play (nothing was recorded; try again): %w", t.label(), err)
	}
	if got != code {
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "Google Play read versionCode %d from the build of %s, which Ripcord knows as %d; upload the right artifact", got, t.label(), code)
	}
	after := t.rp
	after.Status, after.StoreRef, after.Reason = ripcord.StatusApproved, strconv.FormatInt(code, 10), ""
	return s.record(ctx, t, step{events: []ripcord.ReleaseEvent{ripcord.EventSubmit, ripcord.EventApprove}, after: after,
		audit: map[string]any{"version_code": code, "store": "uploaded to Google Play's production track as a draft; Play reviews it when it is released"}})
}

// androidKind tells an APK (true) from an AAB by its entries.
func androidKind(data []byte) (bool, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return false, ripcord.Errorf(ripcord.EINVALID, "the Android build is not a zip archive (%v); upload an APK or AAB", err)
	}
	for _, f := range zr.File {
		switch f.Name {
		case "AndroidManifest.xml":
			return true, nil
		case "BundleConfig.pb", "base/manifest/AndroidManifest.xml":
			return false, nil
		}
	}
	return false, ripcord.Errorf(ripcord.EINVALID, "the Android build is neither an APK (no AndroidManifest.xml) nor an AAB (no BundleConfig.pb); upload the right artifact")
}

func (s *Service) artifact(ctx context.Context, t *target) ([]byte, error) {
	if t.build == nil {
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "%s has no build; upload one with `ripcord build upload`", t.label())
	}
	r, err := s.artifacts.Open(ctx, t.build.BlobKey)
	if err != nil {
		return nil, fmt.Errorf("open the artifact of %s: %w", t.label(), err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read the artifact of %s: %w", t.label(), err)
	}
	return data, nil
}

func (s *Service) submitIOS(ctx context.Context, t *target) (*ripcord.Release, error) {
	if t.build == nil {
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "%s has no build; upload one with `ripcord build upload`", t.label())
	}
	as, err := s.appStore(ctx, t.app)
	if err != nil {
		return nil, err
	}
	ascApp, err := as.FindApp(ctx, t.app.IOSBundleID)
	if err != nil {
		return nil, fmt.Errorf("find %s in App Store Connect: %w", t.app.IOSBundleID, err)
	}
	b, err := as.FindBuild(ctx, ascApp.ID, t.build.Version, t.build.BuildNumber)
	if errors.Is(err, appstore.ErrNotFound) {
		data, derr := s.artifact(ctx, t)
		if derr != nil {
			return nil, derr
		}
		b, err = as.UploadBuild(ctx, appstore.UploadParams{AppID: ascApp.ID, Version: t.build.Version, BuildNumber: t.build.BuildNumber,
			FileName: t.app.Name + "-" + t.build.Version + ".ipa", File: bytes.NewReader(data), Size: int64(len(data))}, s.uploadTimeout)
		if errors.Is(err, appstore.ErrTimeout) {
			return nil, fmt.Errorf("App Store Connect is still importing build %s of %s: %w", t.build.Label(), t.label(), ErrPending)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("find or upload build %s of %s in App Store Connect: %w", t.build.Label(), t.label(), err)
	}
	switch b.ProcessingState {
	case appstore.BuildValid:
	case appstore.BuildInvalid, appstore.BuildFailed:
		return nil, ripcord.Errorf(ripcord.EINVALID, "App Store Connect processed build %s of %s as %s; read Apple's processing email, fix the binary and upload a new build number",
			t.build.Label(), t.label(), b.ProcessingState)
	default:
		return nil, fmt.Errorf("App Store Connect is processing build %s of %s (%s): %w", t.build.Label(), t.label(), b.ProcessingState, ErrPending)
	}
	v, err := as.CreateVersion(ctx, appstore.CreateVersionParams{AppID: ascApp.ID, VersionString: t.rel.Version, ReleaseType: "MANUAL", BuildID: b.ID})
	if err != nil {
		return nil, fmt.Errorf("create App Store version %s for %s: %w", t.rel.Version, t.label(), err)
	}
	sub, err := as.SubmitForReview(ctx, v.ID)
	if err != nil {
		return nil, fmt.Errorf("submit App Store version %s of %s for review (nothing was recorded; try again): %w", v.VersionString, t.label(), err)
	}
	after := t.rp
	after.Status, after.StoreRef, after.Reason = ripcord.StatusInReview, v.ID, ""
	return s.record(ctx, t, step{events: []ripcord.ReleaseEvent{ripcord.EventSubmit}, after: after,
		audit: map[string]any{"app_store_version": v.ID, "review_submission": sub.ID, "asc_build": b.ID}})
}

// followReview reads an iOS release in review from App Store Connect and
// records App Review's outcome: approved once the version waits in Pending
// Developer Release; rejected back to uploaded with the reason.
func (s *Service) followReview(ctx context.Context, t *target) error {
	if t.rp.StoreRef == "" {
		return fmt.Errorf("%s is in review without an App Store version id; submit it again", t.label())
	}
	as, err := s.appStore(ctx, t.app)
	if err != nil {
		return err
	}
	v, err := as.GetVersion(ctx, t.rp.StoreRef)
	if err != nil {
		return fmt.Errorf("read App Store version %s of %s: %w", t.rp.StoreRef, t.label(), err)
	}
	after := t.rp
	var ev ripcord.ReleaseEvent
	switch v.State {
	case appstore.StatePendingDeveloperRelease:
		ev, after.Status, after.Reason = ripcord.EventApprove, ripcord.StatusApproved, ""
	case appstore.StateRejected, "METADATA_REJECTED", "INVALID_BINARY", appstore.StateDeveloperRejected:
		ev, after.Status = ripcord.EventReject, ripcord.StatusUploaded
		after.Reason = fmt.Sprintf("App Store version %s is %s: App Review's notes are in App Store Connect's Resolution Center; fix and run `ripcord release submit %s %s --platform ios` again",
			v.VersionString, v.State, t.app.Name, t.rel.Version)
	default:
		return nil // still waiting for or in review
	}
	_, err = s.record(ctx, t, step{events: []ripcord.ReleaseEvent{ev}, after: after,
		audit: map[string]any{"app_store_version": v.ID, "app_version_state": v.State, "reason": after.Reason}})
	return err
}
