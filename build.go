package ripcord

import (
	"encoding/hex"
	"time"
)

// Build is one uploaded binary of an app for one platform. On Android it is
// identified by its versionCode alone (unique per app on Play); on iOS by
// version plus build number, because Apple lets a build number repeat under a
// new version.
type Build struct {
	ID           int64
	AppID        int64
	Platform     Platform
	Version      string // CFBundleShortVersionString / versionName
	BuildNumber  string // CFBundleVersion / versionCode
	SHA256       string // hex digest of the artifact bytes
	Size         int64
	BlobKey      string // where the artifact lives in the artifact store
	SourceCommit string // VCS commit the build came from, if CI said
	UploadedBy   string // actor who uploaded it
	CreatedAt    time.Time
}

// Validate checks the build's identity against the platform's store rules.
func (b *Build) Validate() error {
	if !b.Platform.Valid() {
		return Errorf(EINVALID, "platform %q is not known; use ios or android", b.Platform)
	}
	if _, err := ParseVersion(b.Version); err != nil {
		return err
	}
	if err := ValidateBuildNumber(b.Platform, b.BuildNumber); err != nil {
		return err
	}
	if len(b.SHA256) != 64 {
		return Errorf(EINVALID, "build sha256 %q is not a hex SHA-256 digest", b.SHA256)
	}
	if _, err := hex.DecodeString(b.SHA256); err != nil {
		return Errorf(EINVALID, "build sha256 %q is not a hex SHA-256 digest", b.SHA256)
	}
	if b.Size <= 0 {
		return Errorf(EINVALID, "build artifact is empty")
	}
	if len(b.SourceCommit) > 100 {
		return Errorf(EINVALID, "source commit %q is longer than 100 characters", b.SourceCommit)
	}
	return nil
}

// Label names the build the way release engineers say it: "1.2.0 (120)".
func (b *Build) Label() string { return b.Version + " (" + b.BuildNumber + ")" }

// SameIdentity reports whether two builds of one app claim the same store
// identity, which the store would refuse to take twice.
func (b *Build) SameIdentity(o *Build) bool {
	if b.AppID != o.AppID || b.Platform != o.Platform {
		return false
	}
	if b.Platform == Android {
		return CompareBuildNumbers(Android, b.BuildNumber, o.BuildNumber) == 0
	}
	return b.Version == o.Version && CompareBuildNumbers(IOS, b.BuildNumber, o.BuildNumber) == 0
}

// UploadConflict explains why an upload clashes with an existing build, or
// returns nil when uploading b again is the idempotent re-upload of existing
// (same identity, same bytes).
func UploadConflict(existing, b *Build) error {
	if existing.SHA256 == b.SHA256 {
		if existing.Version == b.Version && existing.BuildNumber == b.BuildNumber {
			return nil
		}
		return Errorf(ECONFLICT, "this artifact (sha256 %s) was already uploaded as %s build %s; upload it once",
			short(b.SHA256), existing.Platform, existing.Label()).WithDetails(map[string]any{
			"existing_build_id": existing.ID, "existing_version": existing.Version, "existing_build_number": existing.BuildNumber,
		})
	}
	what := "build number " + b.BuildNumber + " under version " + b.Version
	if b.Platform == Android {
		what = "versionCode " + b.BuildNumber
	}
	return Errorf(ECONFLICT, "%s build %s already exists with different bytes (sha256 %s, not %s): %s is taken; raise the build number",
		existing.Platform, existing.Label(), short(existing.SHA256), short(b.SHA256), what).WithDetails(map[string]any{
		"existing_build_id": existing.ID, "existing_sha256": existing.SHA256, "upload_sha256": b.SHA256,
	})
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
