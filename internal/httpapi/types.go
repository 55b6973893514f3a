package httpapi

import (
	"encoding/json"
	"time"

	"github.com/ripcordhq/ripcord"
)

// The wire types below are the API's JSON. The CLI's client decodes the same
// structs, so server and client cannot disagree on a field name.

// App is an app on the wire.
type App struct {
	Name           string   `json:"name"`
	IOSBundleID    string   `json:"ios_bundle_id,omitempty"`
	AndroidPackage string   `json:"android_package,omitempty"`
	Platforms      []string `json:"platforms"`
	// DSN is the Sentry DSN per platform ("ios", "android") that SDKs
	// report release health to, with the scheme and host the request
	// reached the server by.
	DSN       map[string]string `json:"dsn,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// AppCreateRequest registers an app.
type AppCreateRequest struct {
	Name           string `json:"name"`
	IOSBundleID    string `json:"ios_bundle_id,omitempty"`
	AndroidPackage string `json:"android_package,omitempty"`
}

// Build is a build on the wire.
type Build struct {
	ID           int64     `json:"id"`
	App          string    `json:"app"`
	Platform     string    `json:"platform"`
	Version      string    `json:"version"`
	BuildNumber  string    `json:"build_number"`
	SHA256       string    `json:"sha256"`
	Size         int64     `json:"size"`
	SourceCommit string    `json:"source_commit,omitempty"`
	UploadedBy   string    `json:"uploaded_by"`
	CreatedAt    time.Time `json:"created_at"`
}

// Release is a release on the wire.
type Release struct {
	App       string            `json:"app"`
	Version   string            `json:"version"`
	Status    string            `json:"status"`
	CreatedBy string            `json:"created_by"`
	CreatedAt time.Time         `json:"created_at"`
	Platforms []ReleasePlatform `json:"platforms"`
}

// ReleasePlatform is a release's state on one platform.
type ReleasePlatform struct {
	Platform  string    `json:"platform"`
	Status    string    `json:"status"`
	BuildID   int64     `json:"build_id,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// Rollout is the staged rollout's stage and next step (release show
	// and stage actions only).
	Rollout *RolloutSchedule `json:"rollout,omitempty"`
}

// ReleaseCreateRequest starts a release.
type ReleaseCreateRequest struct {
	Version string `json:"version"`
}

// Token is a token on the wire; the secret appears only in TokenCreated.
type Token struct {
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Prefix     string     `json:"prefix"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	User       string     `json:"user,omitempty"` // email of the person it acts as
}

// TokenCreateRequest issues a token.
type TokenCreateRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// User binds the token to the person with this email: it then acts
	// as them, with at most their role.
	User string `json:"user,omitempty"`
}

// User is a person on the wire; never their password.
type User struct {
	Email     string    `json:"email"`
	Name      string    `json:"name,omitempty"`
	Role      string    `json:"role"`
	TeamRoles []string  `json:"team_roles"`
	Disabled  bool      `json:"disabled"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// UserCreateRequest adds a person. Password may be left out for people who
// sign in through OIDC only.
type UserCreateRequest struct {
	Email     string   `json:"email"`
	Name      string   `json:"name,omitempty"`
	Role      string   `json:"role"`
	TeamRoles []string `json:"team_roles,omitempty"`
	Password  string   `json:"password,omitempty"`
}

// UserTeamRolesRequest replaces a person's team roles.
type UserTeamRolesRequest struct {
	TeamRoles []string `json:"team_roles"`
}

// NewUser converts a domain user to the wire.
func NewUser(u *ripcord.User) User {
	teams := u.TeamRoles
	if teams == nil {
		teams = []string{}
	}
	return User{Email: u.Email, Name: u.Name, Role: string(u.Role), TeamRoles: teams, Disabled: u.Disabled, CreatedBy: u.CreatedBy, CreatedAt: u.CreatedAt}
}

// TokenCreated is the one response that carries a token's secret.
type TokenCreated struct {
	Token
	Secret string `json:"secret"`
}

// AuditEntry is an audit log entry on the wire.
type AuditEntry struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Before    string    `json:"before,omitempty"`
	After     string    `json:"after,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Hash      string    `json:"hash"`
}

// AuditVerifyResult reports whether the audit chain holds.
type AuditVerifyResult struct {
	OK        bool   `json:"ok"`
	Entries   int64  `json:"entries"`
	BrokenSeq int64  `json:"broken_seq,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// List wraps every collection response, leaving room for paging fields.
type List[T any] struct {
	Items []T `json:"items"`
}

// NewApp converts a domain app to the wire.
func NewApp(a *ripcord.App) App {
	out := App{Name: a.Name, IOSBundleID: a.IOSBundleID, AndroidPackage: a.AndroidPackage, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, Platforms: []string{}}
	for _, p := range a.Platforms() {
		out.Platforms = append(out.Platforms, string(p))
	}
	return out
}

// NewBuild converts a domain build to the wire.
func NewBuild(app string, b *ripcord.Build) Build {
	return Build{ID: b.ID, App: app, Platform: string(b.Platform), Version: b.Version, BuildNumber: b.BuildNumber,
		SHA256: b.SHA256, Size: b.Size, SourceCommit: b.SourceCommit, UploadedBy: b.UploadedBy, CreatedAt: b.CreatedAt}
}

// NewRelease converts a domain release to the wire.
func NewRelease(app string, r *ripcord.Release) Release {
	out := Release{App: app, Version: r.Version, Status: string(r.Status()), CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, Platforms: []ReleasePlatform{}}
	for _, p := range r.Platforms {
		out.Platforms = append(out.Platforms, ReleasePlatform{Platform: string(p.Platform), Status: string(p.Status), BuildID: p.BuildID, UpdatedAt: p.UpdatedAt})
	}
	return out
}

// RollbackBuild is a target release's rollback build on the wire: how far
// its preparation came (pending, live_unknown, allocated, signed, uploaded,
// ready, invalid, not_shippable), why it stopped, and the provenance of
// what was made.
type RollbackBuild struct {
	App           string `json:"app"`
	TargetVersion string `json:"target_version"`
	Platform      string `json:"platform"`
	State         string `json:"state"`
	// Reason says why preparation stopped and what to do; empty once it
	// goes on or is ready.
	Reason string `json:"reason,omitempty"`
	// Version and BuildNumber are the rollback's own, above the target.
	Version     string `json:"version,omitempty"`
	BuildNumber string `json:"build_number,omitempty"`
	// SourceBuildID and SourceSHA256 name the live build re-signed.
	SourceBuildID int64  `json:"source_build_id,omitempty"`
	SourceSHA256  string `json:"source_sha256,omitempty"`
	// BuildID, SHA256 and SignerCertSHA256 describe the artifact made.
	BuildID          int64  `json:"build_id,omitempty"`
	SHA256           string `json:"sha256,omitempty"`
	SignerCertSHA256 string `json:"signer_cert_sha256,omitempty"`
	// Findings are the compliance checks' findings on the artifact made.
	Findings json.RawMessage `json:"findings,omitempty"`
	// StoreRef says where the store holds it, e.g. "play:com.acme.shop/qa/121".
	StoreRef  string     `json:"store_ref,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	// iOS: the rollback's own App Store version and its review (helper ios).
	StoreVersionID    string     `json:"store_version_id,omitempty"`
	StoreVersionState string     `json:"store_version_state,omitempty"`
	ApprovedAt        *time.Time `json:"approved_at,omitempty"`
	TargetReleasedAt  *time.Time `json:"target_released_at,omitempty"`
	// Releasable says one click can release the rollback now (iOS: ready
	// and approved; Android: ready).
	Releasable bool `json:"releasable"`
	// UnprotectedSince is when the released target last had no approved
	// rollback, while that lasts; Protection says it in words.
	UnprotectedSince *time.Time `json:"unprotected_since,omitempty"`
	Protection       string     `json:"protection,omitempty"`
	// Withdrawal says what withdrawing would do, for the confirmation.
	Withdrawal string `json:"withdrawal,omitempty"`
	// SupersededAt is set on a retired rollback shown until its fresh
	// preparation has a row.
	SupersededAt *time.Time `json:"superseded_at,omitempty"`
}

// RollbackWithdrawRequest confirms a withdrawal: it must say confirm true.
type RollbackWithdrawRequest struct {
	Confirm bool `json:"confirm"`
}

// NewRollbackBuild converts a domain rollback build to the wire.
func NewRollbackBuild(app string, rb *ripcord.RollbackBuild) RollbackBuild {
	out := RollbackBuild{App: app, TargetVersion: rb.TargetVersion, Platform: string(rb.Platform), State: string(rb.State), Reason: rb.Reason,
		Version: rb.Version, BuildNumber: rb.BuildNumber, SourceBuildID: rb.SourceBuildID, SourceSHA256: rb.SourceSHA256,
		BuildID: rb.BuildID, SHA256: rb.SHA256, SignerCertSHA256: rb.SignerCertSHA256, StoreRef: rb.StoreRef}
	if rb.Findings != "" && json.Valid([]byte(rb.Findings)) {
		out.Findings = json.RawMessage(rb.Findings)
	}
	if !rb.UpdatedAt.IsZero() {
		t := rb.UpdatedAt
		out.UpdatedAt = &t
	}
	return out
}

// NewToken converts a domain token to the wire.
func NewToken(t *ripcord.Token) Token {
	out := Token{Name: t.Name, Role: string(t.Role), Prefix: t.Prefix, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt}
	if !t.LastUsedAt.IsZero() {
		v := t.LastUsedAt
		out.LastUsedAt = &v
	}
	if !t.RevokedAt.IsZero() {
		v := t.RevokedAt
		out.RevokedAt = &v
	}
	return out
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}
