package ripcord

import (
	"strconv"
	"time"
)

// RollbackVersion is the version a rollback build of target takes: the next
// patch above the highest version used so far at or above the target. A
// hotfix may have taken 1.2.1, and the stores want a new version above every
// one already released, so 1.2.0 with 1.2.1 taken rolls back as 1.2.2.
func RollbackVersion(target Version, taken []Version) Version {
	hi := target
	for _, t := range taken {
		if t.Compare(hi) > 0 {
			hi = t
		}
	}
	return hi.NextPatch()
}

// NextBuildNumber returns a build number above every one in used, as the
// stores require of a new upload: Android versionCodes are compared as
// integers (the highest ever uploaded to Play counts, not only the live
// one); iOS build numbers compare part by part and the next one raises the
// first part, which keeps it simple to read ("121" after "120.3").
func NextBuildNumber(p Platform, used []string) (string, error) {
	switch p {
	case Android:
		var hi int64
		for _, u := range used {
			n, err := ParseVersionCode(u)
			if err != nil {
				return "", err
			}
			hi = max(hi, n)
		}
		if hi >= MaxVersionCode {
			return "", Errorf(EINVALID, "versionCode %d is Play's maximum; no higher build number exists", hi)
		}
		return strconv.FormatInt(hi+1, 10), nil
	case IOS:
		var hi uint64
		for _, u := range used {
			parts, err := parseDotted(u, "build number (CFBundleVersion)")
			if err != nil {
				return "", err
			}
			hi = max(hi, uint64(parts[0]))
		}
		if hi >= 1<<32-1 {
			return "", Errorf(EINVALID, "build number %d is the largest CFBundleVersion part; no higher build number exists", hi)
		}
		return strconv.FormatUint(hi+1, 10), nil
	}
	return "", Errorf(EINVALID, "platform %q is not known; use ios or android", p)
}

// RollbackState is how far a rollback build's preparation has come. The
// happy path is allocated → signed → uploaded → ready; invalid and
// not_shippable stop it with a reason.
type RollbackState string

// Rollback build states.
const (
	// RollbackAllocated: version and build number are chosen and reserved.
	RollbackAllocated RollbackState = "allocated"
	// RollbackSigned: the re-signed artifact is verified and stored as a build.
	RollbackSigned RollbackState = "signed"
	// RollbackUploaded: the store holds the artifact (Play: internal track).
	RollbackUploaded RollbackState = "uploaded"
	// RollbackReady: the rollback can be released in one click.
	RollbackReady RollbackState = "ready"
	// RollbackInvalid: preparation was refused for a reason someone outside
	// Ripcord must fix (no signing key, a key that is not the live build's);
	// preparing again retries from signing with the same version.
	RollbackInvalid RollbackState = "invalid"
	// RollbackNotShippable: the artifact was made but a store would refuse
	// it (e.g. targetSdk below Play's minimum); final.
	RollbackNotShippable RollbackState = "not_shippable"
	// RollbackWithdrawn: iOS only. Ripcord deleted the rollback's App Store
	// version on purpose, because an approved version parked in Pending
	// Developer Release blocks the team's next version; final for this
	// target (the next target gets its own rollback once released).
	RollbackWithdrawn RollbackState = "withdrawn"

	// The states below are reported, never stored as a row: preparation
	// has not allocated anything yet.

	// RollbackPending: no preparation has run yet (it may be queued).
	RollbackPending RollbackState = "pending"
	// RollbackLiveUnknown: the store's live release is not known, or its
	// artifact is not in Ripcord, so there is nothing to re-sign yet; the
	// reason says what to upload. Preparing again retries.
	RollbackLiveUnknown RollbackState = "live_unknown"
)

// AppStoreApproved is the appVersionState of an approved version waiting
// for its developer to release it: the state an iOS rollback must be in for
// one click to release it.
const AppStoreApproved = "PENDING_DEVELOPER_RELEASE"

// ReleasableOnIOS reports whether one click can release the rollback on the
// App Store: its build is ready and its App Store version is approved.
func (rb *RollbackBuild) ReleasableOnIOS() bool {
	return rb.State == RollbackReady && rb.StoreVersionID != "" && rb.StoreVersionState == AppStoreApproved
}

// Final reports whether preparation stops at s for good.
func (s RollbackState) Final() bool {
	return s == RollbackReady || s == RollbackNotShippable || s == RollbackWithdrawn
}

// RollbackBuild is a rollback build being prepared for one target release on
// one platform: the live build's binary (SourceBuildID) re-signed as Version
// and BuildNumber, with its provenance and checks.
type RollbackBuild struct {
	ID               int64
	AppID            int64
	Platform         Platform
	TargetVersion    string // the release the rollback undoes
	Version          string // the rollback's own version, above the target
	BuildNumber      string // reserved, above every number used in Ripcord and the store
	SourceBuildID    int64  // the live build re-signed
	SourceSHA256     string // its artifact's digest, for provenance
	State            RollbackState
	Reason           string // why invalid or not shippable; empty otherwise
	BuildID          int64  // the produced artifact's build, 0 until signed
	SHA256           string // the produced artifact's digest
	SignerCertSHA256 string
	Findings         string // JSON array of compliance findings
	StoreRef         string // where the store holds it, e.g. "play:com.acme.shop/qa/126"
	// iOS only: the rollback's own App Store version, which the App Store
	// lets Ripcord create only once the target is released. One-click
	// rollback on iOS needs it approved (StoreVersionState
	// PENDING_DEVELOPER_RELEASE); until then the release is unprotected.
	StoreVersionID    string    // App Store Connect appStoreVersions id; "" until created
	StoreVersionState string    // its appVersionState as last seen, e.g. "WAITING_FOR_REVIEW"
	ApprovedAt        time.Time // when it was first seen PENDING_DEVELOPER_RELEASE; zero until then
	// TargetReleasedAt is when the target went on the App Store (its
	// phased release's start, else when Ripcord first saw it
	// READY_FOR_DISTRIBUTION): from then until ApprovedAt the release has
	// no approved rollback. Zero while the target is not released.
	TargetReleasedAt time.Time
	// SupersededAt is set when the row was replaced by a fresh preparation
	// for the same target (a hotfix took its version or build number, the
	// live release changed, its signing material expired). The row is kept
	// for provenance; zero for the current row.
	SupersededAt time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}
