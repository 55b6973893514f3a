package play

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	androidpublisher "google.golang.org/api/androidpublisher/v3"
	"google.golang.org/api/googleapi"
)

// Release statuses, as Play spells them.
const (
	StatusDraft      = "draft"
	StatusInProgress = "inProgress"
	StatusHalted     = "halted"
	StatusCompleted  = "completed"
)

// Track names. Play calls the internal track "qa" now and "internal" in older
// documents; both are accepted.
const (
	TrackProduction = "production"
	TrackInternal   = "qa"
)

// Release is one release on a track.
type Release struct {
	// Name is the release name shown in Play Console.
	Name string
	// VersionCodes are the artifacts the release serves.
	VersionCodes []int64
	// Status is StatusDraft, StatusInProgress, StatusHalted or StatusCompleted.
	Status string
	// UserFraction is the rollout fraction (0,1) of in-progress and halted
	// releases, 0 otherwise.
	UserFraction float64
}

// Track is a track's releases as committed.
type Track struct {
	// Name is the track name.
	Name string
	// Releases are the track's releases.
	Releases []Release
}

// Find returns the release serving versionCode, or nil.
func (t *Track) Find(versionCode int64) *Release {
	for i := range t.Releases {
		if slices.Contains(t.Releases[i].VersionCodes, versionCode) {
			return &t.Releases[i]
		}
	}
	return nil
}

// edit is one open Play edit.
type edit struct {
	c   *Client
	pkg string
	id  string
}

// withEdit runs fn inside a fresh edit, retrying the whole operation on
// retryable errors. fn returns commit=true to commit; otherwise, and on any
// failure, the edit is deleted so none is left open.
func (c *Client) withEdit(ctx context.Context, op, pkg string, fn func(ctx context.Context, e *edit) (commit bool, err error)) error {
	return c.retry(ctx, op, pkg, func(ctx context.Context) error {
		ins, err := c.pub.Edits.Insert(pkg, &androidpublisher.AppEdit{}).Context(ctx).Do()
		if err != nil {
			return classify(op, pkg, fmt.Errorf("insert edit: %w", err))
		}
		e := &edit{c: c, pkg: pkg, id: ins.Id}
		commit, err := fn(ctx, e)
		if err == nil && commit {
			err = e.commit(ctx, op)
			if err == nil {
				return nil
			}
		}
		e.delete(ctx, op)
		return classify(op, pkg, err)
	})
}

// delete removes the edit, even when ctx is already canceled, so that no
// edit is left open; a failure is logged, since Play also expires edits.
func (e *edit) delete(ctx context.Context, op string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := e.c.pub.Edits.Delete(e.pkg, e.id).Context(dctx).Do(); err != nil {
		var ge *googleapi.Error
		if errors.As(err, &ge) && (ge.Code == 404 || ge.Code == 400) {
			return // already gone: committed, expired or superseded
		}
		e.c.log.WarnContext(ctx, "play edit delete failed", slog.String("op", op), slog.String("package", e.pkg), slog.String("edit", e.id), slog.Any("err", err))
	}
}

// commit commits the edit. Play refuses some apps' commits unless
// changesNotSentForReview=true and others' when it is set; the API says which
// only in the message, so, like fastlane's supply, the connector reads the
// message and retries once with the flag flipped.
func (e *edit) commit(ctx context.Context, op string) error {
	_, err := e.c.pub.Edits.Commit(e.pkg, e.id).Context(ctx).Do()
	var ge *googleapi.Error
	if err != nil && errors.As(err, &ge) && ge.Code == 400 && strings.Contains(ge.Message, "changesNotSentForReview to true") {
		_, err = e.c.pub.Edits.Commit(e.pkg, e.id).ChangesNotSentForReview(true).Context(ctx).Do()
	}
	if err != nil {
		return fmt.Errorf("commit edit: %w", err)
	}
	e.c.log.InfoContext(ctx, "play edit committed", slog.String("op", op), slog.String("package", e.pkg), slog.String("edit", e.id))
	return nil
}

func (e *edit) track(ctx context.Context, name string) (*androidpublisher.Track, error) {
	t, err := e.c.pub.Edits.Tracks.Get(e.pkg, e.id, name).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("get track %s: %w", name, err)
	}
	return t, nil
}

func (e *edit) updateTrack(ctx context.Context, t *androidpublisher.Track) error {
	if _, err := e.c.pub.Edits.Tracks.Update(e.pkg, e.id, t.Track, t).Context(ctx).Do(); err != nil {
		return fmt.Errorf("update track %s: %w", t.Track, err)
	}
	return nil
}

func codesOf(r *androidpublisher.TrackRelease) []int64 {
	return slices.Clone([]int64(r.VersionCodes))
}

func toTrack(t *androidpublisher.Track) *Track {
	out := &Track{Name: t.Track}
	for _, r := range t.Releases {
		out.Releases = append(out.Releases, Release{Name: r.Name, VersionCodes: codesOf(r), Status: r.Status, UserFraction: r.UserFraction})
	}
	return out
}

// GetTrack reads a track's committed releases (inside a throw-away edit).
func (c *Client) GetTrack(ctx context.Context, pkg, track string) (*Track, error) {
	var out *Track
	err := c.withEdit(ctx, "get track", pkg, func(ctx context.Context, e *edit) (bool, error) {
		t, err := e.track(ctx, track)
		if err != nil {
			return false, err
		}
		out = toTrack(t)
		return false, nil
	})
	return out, err
}

// HighestVersionCode returns the highest versionCode ever uploaded for pkg,
// as seen in the app's bundles, APKs and tracks. A new upload must exceed it.
func (c *Client) HighestVersionCode(ctx context.Context, pkg string) (int64, error) {
	var highest int64
	err := c.withEdit(ctx, "highest version code", pkg, func(ctx context.Context, e *edit) (bool, error) {
		bl, err := c.pub.Edits.Bundles.List(pkg, e.id).Context(ctx).Do()
		if err != nil {
			return false, fmt.Errorf("list bundles: %w", err)
		}
		for _, b := range bl.Bundles {
			highest = max(highest, b.VersionCode)
		}
		al, err := c.pub.Edits.Apks.List(pkg, e.id).Context(ctx).Do()
		if err != nil {
			return false, fmt.Errorf("list apks: %w", err)
		}
		for _, a := range al.Apks {
			highest = max(highest, a.VersionCode)
		}
		tl, err := c.pub.Edits.Tracks.List(pkg, e.id).Context(ctx).Do()
		if err != nil {
			return false, fmt.Errorf("list tracks: %w", err)
		}
		for _, t := range tl.Tracks {
			for _, r := range t.Releases {
				for _, vc := range codesOf(r) {
					highest = max(highest, vc)
				}
			}
		}
		return false, nil
	})
	return highest, err
}

// UploadParams describes an artifact to upload and where to release it.
type UploadParams struct {
	// Package is the app's package name.
	Package string
	// File is the AAB or APK.
	File []byte
	// APK selects an APK upload; AAB otherwise.
	APK bool
	// Track receives a release of the uploaded versionCode. Required.
	Track string
	// ReleaseName names the release; default the versionCode.
	ReleaseName string
	// Status of the new release: StatusDraft, StatusCompleted or
	// StatusInProgress (with UserFraction). Default StatusCompleted.
	Status string
	// UserFraction is the initial rollout fraction of StatusInProgress.
	UserFraction float64
}

// Upload uploads an AAB or APK and puts it on a track in one edit, and
// returns the versionCode Play read from it. It is idempotent: the file's
// SHA-256 is looked up among the app's artifacts first, so a retry after a
// commit whose answer was lost does not upload twice or fail on the burned
// versionCode.
func (c *Client) Upload(ctx context.Context, p UploadParams) (int64, error) {
	if p.Track == "" {
		return 0, fmt.Errorf("play upload %s: Track is required", p.Package)
	}
	status := orDefault(p.Status, StatusCompleted)
	sum := sha256.Sum256(p.File)
	want := hex.EncodeToString(sum[:])
	var versionCode int64
	err := c.withEdit(ctx, "upload", p.Package, func(ctx context.Context, e *edit) (bool, error) {
		versionCode = 0
		if p.APK {
			l, err := c.pub.Edits.Apks.List(p.Package, e.id).Context(ctx).Do()
			if err != nil {
				return false, fmt.Errorf("list apks: %w", err)
			}
			for _, a := range l.Apks {
				if a.Binary != nil && a.Binary.Sha256 == want {
					versionCode = a.VersionCode
				}
			}
		} else {
			l, err := c.pub.Edits.Bundles.List(p.Package, e.id).Context(ctx).Do()
			if err != nil {
				return false, fmt.Errorf("list bundles: %w", err)
			}
			for _, b := range l.Bundles {
				if b.Sha256 == want {
					versionCode = b.VersionCode
				}
			}
		}
		if versionCode == 0 {
			media := googleapi.ContentType("application/octet-stream")
			if p.APK {
				a, err := c.pub.Edits.Apks.Upload(p.Package, e.id).Media(bytes.NewReader(p.File), media).Context(ctx).Do()
				if err != nil {
					return false, fmt.Errorf("upload apk: %w", err)
				}
				versionCode = a.VersionCode
			} else {
				b, err := c.pub.Edits.Bundles.Upload(p.Package, e.id).Media(bytes.NewReader(p.File), media).Context(ctx).Do()
				if err != nil {
					return false, fmt.Errorf("upload bundle: %w", err)
				}
				versionCode = b.VersionCode
			}
		}
		t, err := e.track(ctx, p.Track)
		if err != nil {
			return false, err
		}
		code := strconv.FormatInt(versionCode, 10)
		for _, r := range t.Releases {
			if slices.Contains(r.VersionCodes, versionCode) {
				return false, nil // already released there: nothing to do
			}
		}
		rel := &androidpublisher.TrackRelease{Name: orDefault(p.ReleaseName, code), VersionCodes: []int64{versionCode}, Status: status}
		if status == StatusInProgress || status == StatusHalted {
			rel.UserFraction = p.UserFraction
		}
		// Keep the other releases Play needs (the completed one serving the
		// rest during a staged rollout); replace any older staged or draft.
		var keep []*androidpublisher.TrackRelease
		for _, r := range t.Releases {
			if r.Status == StatusCompleted && status != StatusCompleted {
				keep = append(keep, r)
			}
		}
		t.Releases = append(keep, rel)
		return true, e.updateTrack(ctx, t)
	})
	return versionCode, err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// setRelease edits the release serving versionCode on track with change,
// which returns false when the release already is as wanted (no commit).
func (c *Client) setRelease(ctx context.Context, op, pkg, track string, versionCode int64, change func(t *androidpublisher.Track, r *androidpublisher.TrackRelease) (bool, error)) error {
	return c.withEdit(ctx, op, pkg, func(ctx context.Context, e *edit) (bool, error) {
		t, err := e.track(ctx, track)
		if err != nil {
			return false, err
		}
		var rel *androidpublisher.TrackRelease
		for _, r := range t.Releases {
			if slices.Contains(r.VersionCodes, versionCode) {
				rel = r
			}
		}
		if rel == nil {
			return false, &Error{Op: op, Package: pkg, kind: ErrNotFound,
				Message: fmt.Sprintf("no release of versionCode %d on track %s", versionCode, track),
				Hint:    "upload the build to this track first"}
		}
		changed, err := change(t, rel)
		if err != nil || !changed {
			return false, err
		}
		return true, e.updateTrack(ctx, t)
	})
}

// SetRollout sets the rollout fraction of an in-progress release (or starts
// staging a draft one). Fraction must be within (0, 1); use Complete for 1.
func (c *Client) SetRollout(ctx context.Context, pkg, track string, versionCode int64, fraction float64) error {
	if fraction <= 0 || fraction >= 1 {
		return fmt.Errorf("play set rollout %s %d: fraction %v must be within (0, 1); use Complete for 100%%", pkg, versionCode, fraction)
	}
	return c.setRelease(ctx, "set rollout", pkg, track, versionCode, func(_ *androidpublisher.Track, r *androidpublisher.TrackRelease) (bool, error) {
		if r.Status == StatusInProgress && r.UserFraction == fraction {
			return false, nil
		}
		if r.Status == StatusCompleted {
			return false, &Error{Op: "set rollout", Package: pkg, kind: ErrInvalid, Message: "Fully released can not be staged.", Hint: "the release is already at 100%"}
		}
		r.Status, r.UserFraction = StatusInProgress, fraction
		return true, nil
	})
}

// Halt stops a release from reaching more users. The release keeps its
// fraction, as Play requires of halted releases.
func (c *Client) Halt(ctx context.Context, pkg, track string, versionCode int64) error {
	return c.setRelease(ctx, "halt", pkg, track, versionCode, func(_ *androidpublisher.Track, r *androidpublisher.TrackRelease) (bool, error) {
		switch r.Status {
		case StatusHalted:
			return false, nil
		case StatusInProgress:
			r.Status = StatusHalted
			return true, nil
		}
		return false, &Error{Op: "halt", Package: pkg, kind: ErrNoReleaseToHalt,
			Message: fmt.Sprintf("release of versionCode %d is %s, not in progress", versionCode, r.Status),
			Hint:    "only a staged release in progress can be halted through this call"}
	})
}

// Resume restarts a halted release at fraction. Fraction 0 resumes at the
// fraction the release was halted at, read in the same edit, so a caller
// that does not track fractions needs no extra read of the track.
func (c *Client) Resume(ctx context.Context, pkg, track string, versionCode int64, fraction float64) error {
	if fraction < 0 || fraction >= 1 {
		return fmt.Errorf("play resume %s %d: fraction %v must be within (0, 1), or 0 for the halted fraction; use Complete for 100%%", pkg, versionCode, fraction)
	}
	return c.setRelease(ctx, "resume", pkg, track, versionCode, func(_ *androidpublisher.Track, r *androidpublisher.TrackRelease) (bool, error) {
		f := fraction
		if f == 0 {
			f = r.UserFraction
		}
		switch {
		case r.Status == StatusInProgress && r.UserFraction == f:
			return false, nil
		case r.Status == StatusHalted || r.Status == StatusInProgress:
			r.Status, r.UserFraction = StatusInProgress, f
			return true, nil
		}
		return false, &Error{Op: "resume", Package: pkg, kind: ErrInvalid,
			Message: fmt.Sprintf("release of versionCode %d is %s, not halted", versionCode, r.Status)}
	})
}

// Complete releases to 100 %: the release becomes completed and replaces
// the previously completed one.
func (c *Client) Complete(ctx context.Context, pkg, track string, versionCode int64) error {
	return c.setRelease(ctx, "complete", pkg, track, versionCode, func(t *androidpublisher.Track, r *androidpublisher.TrackRelease) (bool, error) {
		if r.Status == StatusCompleted {
			return false, nil
		}
		r.Status, r.UserFraction = StatusCompleted, 0
		r.ForceSendFields = nil
		t.Releases = slices.DeleteFunc(t.Releases, func(o *androidpublisher.TrackRelease) bool {
			return o != r && o.Status == StatusCompleted
		})
		return true, nil
	})
}

// RollBack replaces target with rollback on the production track in ONE
// edit: the target's staged release is halted (keeping its fraction, as Play
// requires) and rollback, already uploaded (to the internal track), becomes
// the track's completed release, replacing the one that served everyone
// else. Play allows this in one commit: a track may hold one completed and
// one halted release, halting needs the release in progress or halted in
// the committed track, and completing needs only a known versionCode. A
// completed target is replaced outright, since a track holds one completed
// release. Nothing is committed when the track already is as wanted, so a
// retry after a lost answer makes no second change.
func (c *Client) RollBack(ctx context.Context, pkg string, target, rollback int64) error {
	const op = "roll back"
	return c.withEdit(ctx, op, pkg, func(ctx context.Context, e *edit) (bool, error) {
		t, err := e.track(ctx, TrackProduction)
		if err != nil {
			return false, err
		}
		var tgt, rb *androidpublisher.TrackRelease
		for _, r := range t.Releases {
			switch {
			case slices.Contains(r.VersionCodes, target):
				tgt = r
			case slices.Contains(r.VersionCodes, rollback):
				rb = r
			}
		}
		if rb != nil && rb.Status == StatusCompleted && (tgt == nil || tgt.Status == StatusHalted) {
			return false, nil // already rolled back
		}
		if tgt == nil {
			return false, &Error{Op: op, Package: pkg, kind: ErrNotFound,
				Message: fmt.Sprintf("no release of versionCode %d on the production track", target),
				Hint:    "the target is not live on production, so there is nothing to roll back"}
		}
		releases := []*androidpublisher.TrackRelease{{
			Name: strconv.FormatInt(rollback, 10), VersionCodes: googleapi.Int64s{rollback}, Status: StatusCompleted,
		}}
		if tgt.Status == StatusInProgress || tgt.Status == StatusHalted {
			tgt.Status = StatusHalted
			releases = append(releases, tgt)
		}
		for _, r := range t.Releases {
			if r != tgt && r != rb && r.Status == StatusDraft {
				releases = append(releases, r) // drafts are not served; keep them
			}
		}
		t.Releases = releases
		return true, e.updateTrack(ctx, t)
	})
}
