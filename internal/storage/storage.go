// Package storage is the port between Ripcord's services and its databases:
// one set of repository methods that the SQLite and PostgreSQL adapters both
// implement, and that one behaviour suite (storagetest) checks on both.
package storage

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
)

// Sentinels every adapter maps its driver's errors to, in one interpretError.
var (
	// ErrNotFound is returned when a looked-up row does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict is returned when a write breaks a uniqueness rule.
	ErrConflict = errors.New("storage: conflict")
)

// Store is an open database. Reads may run on it directly; every write runs in
// InTx, so a change and its audit entry commit together or not at all.
type Store interface {
	Queries

	// InTx runs fn in a read-write transaction, committing when fn returns nil
	// and rolling back otherwise (including on panic).
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error

	// Ping checks that the database answers.
	Ping(ctx context.Context) error

	// Migrate moves the schema (Ripcord's tables and the job queue's) to
	// target: MigrateLatest for the newest version, 0 for none.
	Migrate(ctx context.Context, direction MigrateDirection, target int64) ([]MigrationResult, error)

	// MigrationStatus lists every known migration and whether it is applied.
	MigrationStatus(ctx context.Context) ([]MigrationState, error)

	// NewJobClient builds a job queue client on this database, with the
	// driver this dialect needs. Jobs inserted through Tx.JobInsert commit
	// with the transaction.
	NewJobClient(cfg *river.Config) (JobClient, error)

	// Dialect names the database ("sqlite" or "postgres") for logs and metrics.
	Dialect() string

	// Close releases the database; it waits for nothing but open statements.
	Close() error
}

// MigrateDirection says which way Migrate moves.
type MigrateDirection string

// Migration directions.
const (
	MigrateUp   MigrateDirection = "up"
	MigrateDown MigrateDirection = "down"
)

// MigrateLatest as a target means the newest known version.
const MigrateLatest int64 = -1

// MigrationResult reports one migration Migrate applied or rolled back.
type MigrationResult struct {
	Version  int64
	Name     string
	Duration time.Duration
}

// MigrationState is one known migration and whether it is applied.
type MigrationState struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// JobClient is the slice of the job queue client the daemon uses. Both
// River client types satisfy it.
type JobClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Queries reads Ripcord's state. Methods return ErrNotFound when the named row
// does not exist.
type Queries interface {
	AppGetByID(ctx context.Context, id int64) (*ripcord.App, error)
	AppGetByName(ctx context.Context, name string) (*ripcord.App, error)
	AppList(ctx context.Context) ([]*ripcord.App, error)

	BuildGetByID(ctx context.Context, id int64) (*ripcord.Build, error)
	// BuildGetByIdentity finds the build holding a store identity: on Android
	// the versionCode alone, on iOS version plus build number.
	BuildGetByIdentity(ctx context.Context, p BuildIdentityParams) (*ripcord.Build, error)
	// BuildGetBySHA256 finds an app's build of a platform with these bytes.
	BuildGetBySHA256(ctx context.Context, appID int64, platform ripcord.Platform, sha256 string) (*ripcord.Build, error)
	BuildList(ctx context.Context, p BuildListParams) ([]*ripcord.Build, error)
	// BuildBlobKeyReferenced reports whether any build points at the blob key.
	BuildBlobKeyReferenced(ctx context.Context, key string) (bool, error)

	ReleaseGetByVersion(ctx context.Context, appID int64, version string) (*ripcord.Release, error)
	ReleaseList(ctx context.Context, appID int64) ([]*ripcord.Release, error)

	TokenGetByHash(ctx context.Context, hash string) (*ripcord.Token, error)
	TokenGetByName(ctx context.Context, name string) (*ripcord.Token, error)
	TokenList(ctx context.Context) ([]*ripcord.Token, error)

	// UserGetByEmail finds a user by normalised email, or ErrNotFound.
	UserGetByEmail(ctx context.Context, email string) (*User, error)
	// UserGetByID finds a user by ID, or ErrNotFound.
	UserGetByID(ctx context.Context, id int64) (*User, error)
	// UserList lists users ordered by email.
	UserList(ctx context.Context) ([]*User, error)

	// AuditList returns entries with Seq > AfterSeq in order, at most Limit.
	AuditList(ctx context.Context, p AuditListParams) ([]ripcord.AuditEntry, error)
	// AuditHead returns the newest entry's sequence number and hash (0, ""
	// when the log is empty).
	AuditHead(ctx context.Context) (seq int64, hash string, err error)

	// JobCounts counts queued jobs by kind and state, for metrics.
	JobCounts(ctx context.Context) ([]JobCount, error)

	// HealthSpans summarises an app's health counts on one platform per
	// version and metric: total counts and the first and last bucket.
	HealthSpans(ctx context.Context, appID int64, platform ripcord.Platform) ([]HealthSpan, error)
	// HealthSum adds up one release's counts of a metric over buckets in
	// [From, To); a zero To means no upper bound.
	HealthSum(ctx context.Context, p HealthSumParams) (health.Counts, error)
	// HealthDecisionLatest returns the newest decision for a release's
	// metric, or ErrNotFound.
	HealthDecisionLatest(ctx context.Context, appID int64, platform ripcord.Platform, version, metric string) (*HealthDecision, error)

	// SentryProjectGetByKey finds the Sentry project a DSN public key
	// belongs to, or ErrNotFound.
	SentryProjectGetByKey(ctx context.Context, publicKey string) (*SentryProject, error)
	// SentryProjectList lists an app's Sentry projects ordered by platform;
	// appID 0 lists every app's.
	SentryProjectList(ctx context.Context, appID int64) ([]SentryProject, error)

	// CredentialGet returns an app's credential of a kind, or ErrNotFound.
	CredentialGet(ctx context.Context, appID int64, kind string) (*Credential, error)
	// CredentialList lists an app's credentials ordered by kind; appID 0
	// lists every app's, ordered by app and kind.
	CredentialList(ctx context.Context, appID int64) ([]Credential, error)

	// RollbackBuildGet returns an app's rollback build for a target release
	// on a platform, or ErrNotFound.
	RollbackBuildGet(ctx context.Context, appID int64, platform ripcord.Platform, targetVersion string) (*ripcord.RollbackBuild, error)
	// RollbackVersionsUsed lists every version an app has used on any
	// platform: its builds', its releases' and its rollback builds'.
	RollbackVersionsUsed(ctx context.Context, appID int64) ([]string, error)
	// RollbackBuildNumbersUsed lists every build number an app has used on
	// a platform: its builds' and its reservations'.
	RollbackBuildNumbersUsed(ctx context.Context, appID int64, platform ripcord.Platform) ([]string, error)
	// BuildNumberReservationList lists an app's reservations on a platform,
	// oldest first.
	BuildNumberReservationList(ctx context.Context, appID int64, platform ripcord.Platform) ([]BuildNumberReservation, error)

	// Rollout actions (issue 7).

	// RolloutActionGet returns an action by id, or ErrNotFound.
	RolloutActionGet(ctx context.Context, id int64) (*ripcord.RolloutAction, error)
	// RolloutActionGetByKey returns an app's action with an idempotency
	// key, or ErrNotFound.
	RolloutActionGetByKey(ctx context.Context, appID int64, key string) (*ripcord.RolloutAction, error)
	// RolloutActionActive returns the queued or running action on a
	// release's platform, or ErrNotFound.
	RolloutActionActive(ctx context.Context, releaseID int64, platform ripcord.Platform) (*ripcord.RolloutAction, error)
	// RolloutActionList lists a release's actions on a platform, newest
	// first, at most limit (default 100).
	RolloutActionList(ctx context.Context, releaseID int64, platform ripcord.Platform, limit int) ([]*ripcord.RolloutAction, error)
	// iOS rollback versions and re-preparation (issue #7, helper ios).

	// RollbackBuildList lists rollback builds matching p, oldest first:
	// the current rows, or with p.Superseded the superseded ones.
	RollbackBuildList(ctx context.Context, p RollbackBuildListParams) ([]*ripcord.RollbackBuild, error)
	// Incidents and health pollers (issue #8, helper "incidents").

	// IncidentGet returns an incident with its app's name, or ErrNotFound.
	IncidentGet(ctx context.Context, id int64) (*ripcord.Incident, error)
	// IncidentGetOpen returns the open incident of a release, platform and
	// trigger, or ErrNotFound.
	IncidentGetOpen(ctx context.Context, appID int64, version string, platform ripcord.Platform, trigger string) (*ripcord.Incident, error)
	// IncidentList lists incidents newest first.
	IncidentList(ctx context.Context, p IncidentListParams) ([]*ripcord.Incident, error)
	// IncidentEventList returns an incident's own timeline, oldest first.
	IncidentEventList(ctx context.Context, incidentID int64) ([]ripcord.IncidentEvent, error)
	// PollerStatusList lists the pollers' status for an app (every app's
	// when appID is 0), ordered by app, platform and source.
	PollerStatusList(ctx context.Context, appID int64) ([]PollerStatus, error)
	// PollerCursorList returns what a cumulative poller already added for
	// an app on a platform.
	PollerCursorList(ctx context.Context, source string, appID int64, platform ripcord.Platform) ([]PollerCursor, error)
	// Runbooks, rehearsals and the release gate (issue #10).

	// RunbookCurrentList returns each of an app's runbooks' newest version,
	// leaving out removed ones, ordered by runbook id.
	RunbookCurrentList(ctx context.Context, appID int64) ([]RunbookVersion, error)
	// RunbookVersionList returns every version of one runbook, newest first.
	RunbookVersionList(ctx context.Context, appID int64, runbookID string) ([]RunbookVersion, error)
	// RunbookVersionGet returns one version of an app's runbook by its ID.
	RunbookVersionGet(ctx context.Context, appID, id int64) (*RunbookVersion, error)
	// GateVersionLatest returns the app's newest gate file, or ErrNotFound.
	GateVersionLatest(ctx context.Context, appID int64) (*GateVersion, error)
	// RehearsalGet returns a rehearsal by ID.
	RehearsalGet(ctx context.Context, id int64) (*Rehearsal, error)
	// RehearsalList returns an app's rehearsals of a runbook ("" for all
	// runbooks), newest first.
	RehearsalList(ctx context.Context, appID int64, runbookID string) ([]Rehearsal, error)
	// ReleaseChangesGet returns what a release changes, or ErrNotFound.
	ReleaseChangesGet(ctx context.Context, appID int64, version string) (*ReleaseChanges, error)
	// GateApprovalList returns a release's approvals, oldest first.
	GateApprovalList(ctx context.Context, appID int64, version string) ([]GateApproval, error)
	// GateDecisionLatest returns a release's newest gate decision, or
	// ErrNotFound.
	GateDecisionLatest(ctx context.Context, appID int64, version string) (*GateDecision, error)
	// TriggerFiringList returns the triggers that fired for a release on a
	// platform.
	TriggerFiringList(ctx context.Context, appID int64, platform, version string) ([]TriggerFiring, error)
	// Staged rollouts (internal/stages).

	// RolloutPlanGet returns the rollout plan an app set, or ErrNotFound
	// when it uses the default.
	RolloutPlanGet(ctx context.Context, appID int64) (*RolloutPlan, error)

	// Web dashboard (issue #9).

	// WebSessionGet returns the session whose id hashes to idHash, expired
	// or not (the caller decides), or ErrNotFound.
	WebSessionGet(ctx context.Context, idHash string) (*WebSession, error)
	// HealthSeries splits one release's counts of a metric (From and To
	// ignored) into at most n windows of equal length from its first
	// minute to its last, in time order, each with its counts and its end
	// as Bucket; none when it has no data. The dashboard's chart reads it:
	// n sums in the database instead of every minute in Go.
	HealthSeries(ctx context.Context, p HealthSumParams, n int) ([]HealthBucket, error)
	// AuditListTargets returns the newest limit entries whose target is
	// one of targets, oldest first: one indexed query for a page that
	// shows several targets' history (a release, its rollouts, its
	// rollback builds).
	AuditListTargets(ctx context.Context, targets []string, limit int) ([]ripcord.AuditEntry, error)
}

// RolloutPlan is an app's rollout plan as stored, with who set it.
type RolloutPlan struct {
	AppID     int64
	Plan      ripcord.RolloutPlan
	UpdatedBy string
	UpdatedAt time.Time
}

// Tx is a read-write transaction.
type Tx interface {
	Queries

	// AppCreate inserts a, setting its ID and timestamps. ErrConflict when
	// the name, bundle id or package is taken.
	AppCreate(ctx context.Context, a *ripcord.App) error

	// BuildCreate inserts b, setting its ID. ErrConflict when its store
	// identity or bytes already exist.
	BuildCreate(ctx context.Context, b *ripcord.Build) error

	// ReleaseCreate inserts r with its platforms, setting its ID. ErrConflict
	// when the app already has that version.
	ReleaseCreate(ctx context.Context, r *ripcord.Release) error
	// ReleasePlatformUpdate stores a release's state on one platform.
	ReleasePlatformUpdate(ctx context.Context, releaseID int64, rp ripcord.ReleasePlatform) error

	// TokenCreate inserts t, setting its ID. ErrConflict when the name is taken.
	TokenCreate(ctx context.Context, t *ripcord.Token) error
	// TokenRevoke marks a token revoked at the given time.
	TokenRevoke(ctx context.Context, id int64, at time.Time) error
	// TokenTouch records that a token was used.
	TokenTouch(ctx context.Context, id int64, at time.Time) error

	// UserCreate inserts u, setting its ID. ErrConflict when the email is
	// taken.
	UserCreate(ctx context.Context, u *User) error
	// UserUpdate stores u's name, role, team roles, password hash,
	// disabled flag and update time; ErrNotFound when it does not exist.
	UserUpdate(ctx context.Context, u *User) error

	// AuditAppend links e to the chain (setting Seq, PrevHash and Hash) and
	// stores it. Concurrent transactions append one after the other.
	AuditAppend(ctx context.Context, e *ripcord.AuditEntry) error

	// HealthCountsAdd adds deltas to per-minute counts (additive upserts,
	// so concurrent writers and replays of distinct batches add up).
	HealthCountsAdd(ctx context.Context, deltas []HealthCountDelta) error
	// HealthDecisionAppend records a decision, setting its ID.
	HealthDecisionAppend(ctx context.Context, d *HealthDecision) error

	// SentryProjectCreate inserts p, setting its ID. ErrConflict when the
	// app already has a project on that platform or the key is taken.
	SentryProjectCreate(ctx context.Context, p *SentryProject) error
	// SentrySessionApply records one session update in the session's
	// dedupe state and says what it adds: the first update of a session is
	// New; an update whose seq is not above the stored one is a Duplicate
	// and changes nothing; otherwise Added holds the flags no earlier update
	// had set. Safe under concurrent transactions on both dialects: each
	// fact is claimed by exactly one of them.
	SentrySessionApply(ctx context.Context, p SentrySessionParams) (SentrySessionResult, error)
	// SentryDeviceApply adds a device to a release's exact device set: New
	// when it was not in it, FirstCrash when p.Crashed and no earlier call
	// marked it crashed.
	SentryDeviceApply(ctx context.Context, p SentryDeviceParams) (SentryDeviceResult, error)
	// SentryEventRecord remembers an event id and reports whether it is new
	// to the project (false for a retry of a counted event).
	SentryEventRecord(ctx context.Context, projectID int64, eventID string, at time.Time) (bool, error)
	// SentryStatePrune deletes session and event dedupe state last touched
	// before the given time, when no SDK can still send updates for it, and
	// reports how many rows went.
	SentryStatePrune(ctx context.Context, before time.Time) (sessions, events int64, err error)

	// CredentialPut stores c, replacing the app's credential of the same
	// kind if there is one (an upsert keyed by app and kind).
	CredentialPut(ctx context.Context, c *Credential) error
	// CredentialDelete removes an app's credential of a kind; ErrNotFound
	// when there is none.
	CredentialDelete(ctx context.Context, appID int64, kind string) error

	// RollbackBuildCreate inserts rb, setting its ID. ErrConflict when the
	// app already has a rollback build for that platform and target.
	RollbackBuildCreate(ctx context.Context, rb *ripcord.RollbackBuild) error
	// RollbackBuildUpdate stores rb's progress (state, reason, produced
	// build, digests, findings, store reference, updated_at); ErrNotFound
	// when it does not exist.
	RollbackBuildUpdate(ctx context.Context, rb *ripcord.RollbackBuild) error
	// BuildNumberReserve takes a build number for a rollback build.
	// ErrConflict when the app already has it reserved on that platform, so
	// two transactions can never both take one number.
	BuildNumberReserve(ctx context.Context, r BuildNumberReservation) error
	// RollbackBuildSupersede marks a current rollback build superseded at
	// the given time, so a fresh preparation for its target can be
	// created; the row stays for provenance. ErrNotFound when no current
	// row has that ID. (iOS rollback versions, helper ios.)
	RollbackBuildSupersede(ctx context.Context, id int64, at time.Time) error

	// Runbooks, rehearsals and the release gate (issue #10).

	// RunbookVersionCreate inserts v, setting its ID.
	RunbookVersionCreate(ctx context.Context, v *RunbookVersion) error
	// RunbookVersionConfirm stores a version's confirmed rollback times.
	RunbookVersionConfirm(ctx context.Context, id int64, confirmed string) error
	// GateVersionCreate inserts v, setting its ID.
	GateVersionCreate(ctx context.Context, v *GateVersion) error
	// RehearsalCreate inserts r, setting its ID.
	RehearsalCreate(ctx context.Context, r *Rehearsal) error
	// RehearsalUpdate stores r's record, state, outcome, result and
	// finish time if the stored revision is still r.Revision, and then
	// increments r.Revision; ErrConflict when another update came first.
	RehearsalUpdate(ctx context.Context, r *Rehearsal) error
	// ReleaseChangesPut stores (or replaces) what a release changes.
	ReleaseChangesPut(ctx context.Context, c *ReleaseChanges) error
	// GateApprovalCreate inserts a, setting its ID; ErrConflict when the
	// same person already approved the item in the same role.
	GateApprovalCreate(ctx context.Context, a *GateApproval) error
	// GateDecisionAppend inserts d, setting its ID.
	GateDecisionAppend(ctx context.Context, d *GateDecision) error
	// TriggerFiringClaim records f unless the same trigger already fired
	// for the release; it reports whether this call recorded it.
	TriggerFiringClaim(ctx context.Context, f TriggerFiring) (bool, error)
	// TriggerFiringSetIncident stores the incident opened for a firing.
	TriggerFiringSetIncident(ctx context.Context, f TriggerFiring) error
	// TriggerFiringDelete forgets a firing whose incident could not be
	// opened, so the next ingest tries again.
	TriggerFiringDelete(ctx context.Context, f TriggerFiring) error
	// Staged rollouts (internal/stages).

	// RolloutPlanPut stores an app's rollout plan, replacing the one it had.
	RolloutPlanPut(ctx context.Context, p *RolloutPlan) error
	// ReleaseRolloutPut stores a release's rollout progress on one
	// platform (Stage, StageStartedAt, RolloutStartedAt, Plan, StoreRef,
	// Reason), replacing what was stored; the status is
	// ReleasePlatformUpdate's. ErrNotFound when the release has no such
	// platform.
	ReleaseRolloutPut(ctx context.Context, releaseID int64, rp ripcord.ReleasePlatform) error
	// RolloutActionCreate inserts a, setting its ID. ErrConflict when the
	// release already has an active action on that platform or the app
	// already has an action with that idempotency key; the transaction
	// stays usable, so the caller can read the one that won.
	RolloutActionCreate(ctx context.Context, a *ripcord.RolloutAction) error
	// RolloutActionUpdate stores an action's progress (state, steps,
	// pending step, error, updated_at); ErrNotFound when it does not exist.
	RolloutActionUpdate(ctx context.Context, a *ripcord.RolloutAction) error

	// JobInsert enqueues a job that runs only if the transaction commits.
	JobInsert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error

	// Web dashboard (issue #9).

	// WebSessionCreate stores a new session. ErrConflict when its id hash
	// exists (a random-id collision the caller retries).
	WebSessionCreate(ctx context.Context, ws *WebSession) error
	// WebSessionDelete removes a session; ErrNotFound when there is none.
	WebSessionDelete(ctx context.Context, idHash string) error
	// WebSessionDeleteExpired removes sessions that expired before the
	// given time and reports how many went.
	WebSessionDeleteExpired(ctx context.Context, before time.Time) (int64, error)

	// Incidents and health pollers (issue #8, helper "incidents").

	// IncidentCreate inserts an open incident, setting its ID. ErrConflict
	// when the release already has an open incident for the trigger.
	IncidentCreate(ctx context.Context, in *ripcord.Incident) error
	// IncidentResolve closes an open incident; ErrNotFound when no open
	// incident has the ID.
	IncidentResolve(ctx context.Context, id int64, at, mitigatedAt time.Time, by, summary string) error
	// IncidentEventAppend adds an entry to an incident's timeline, setting
	// its ID.
	IncidentEventAppend(ctx context.Context, e *ripcord.IncidentEvent) error
	// PollerStatusPut stores a poller's status (an upsert keyed by source,
	// app and platform).
	PollerStatusPut(ctx context.Context, st PollerStatus) error
	// PollerCursorPut stores what a cumulative poller added so far for one
	// release and metric (an upsert).
	PollerCursorPut(ctx context.Context, c PollerCursor) error
}

// IncidentListParams filters an incident listing; zero fields match all.
type IncidentListParams struct {
	AppID    int64
	OpenOnly bool // only incidents not resolved
	Limit    int  // default 100
}

// PollerStatus is one health poller's state for an app on a platform.
type PollerStatus struct {
	Source            string // "sentry" or "play_vitals"
	AppID             int64
	App               string // the app's name, read with the status
	Platform          ripcord.Platform
	LastAttemptAt     time.Time // zero before the first poll
	LastSuccessAt     time.Time // zero until a poll succeeded
	DataThrough       time.Time // end of the newest data the source had
	ConsecutiveErrors int64
	LastError         string
	AlertedAt         time.Time // when the outage alert went out; zero when none is pending
}

// PollerCursor is what a cumulative poller already added to one release's
// metric.
type PollerCursor struct {
	Source   string
	AppID    int64
	Platform ripcord.Platform
	Version  string
	Metric   string
	Counts   health.Counts
}

// User is a person as stored: the domain user and the hash of their
// password, which only the access service reads.
type User struct {
	ripcord.User
	PasswordHash string // argon2id PHC string; "" when the user has no password
}

// BuildIdentityParams names a build by its store identity.
type BuildIdentityParams struct {
	AppID       int64
	Platform    ripcord.Platform
	Version     string // ignored on Android
	BuildNumber string
}

// BuildListParams filters a build listing; zero fields match everything.
type BuildListParams struct {
	AppID    int64
	Platform ripcord.Platform
	Version  string
	Limit    int // default 100
}

// AuditListParams pages through the audit log.
type AuditListParams struct {
	AfterSeq int64
	Limit    int    // default 1000
	Target   string // exact target, or "" for every entry
}

// JobCount is how many jobs of a kind are in a state.
type JobCount struct {
	Kind  string
	State string
	Count int64
}

// HealthCountDelta is counts to add to one release's metric in one minute.
type HealthCountDelta struct {
	AppID    int64
	Platform ripcord.Platform
	Version  string
	Metric   string
	Bucket   time.Time // truncated to the minute by the caller
	Counts   health.Counts
}

// HealthSpan summarises one version's counts of one metric.
type HealthSpan struct {
	Version     string
	Metric      string
	First, Last time.Time // first and last bucket with data
	Counts      health.Counts
}

// HealthSumParams selects the buckets HealthSum adds up.
type HealthSumParams struct {
	AppID    int64
	Platform ripcord.Platform
	Version  string
	Metric   string
	From, To time.Time
}

// HealthDecision is a stored verdict with the inputs it rested on.
type HealthDecision struct {
	ID        int64
	AppID     int64
	Platform  ripcord.Platform
	Version   string
	Metric    string
	DecidedAt time.Time
	Outcome   health.Outcome
	Sentence  string
	Inputs    string // JSON of the decision's inputs and intervals
}

// SentryProject is a Sentry project: one app on one platform, with the DSN
// public key its SDKs authenticate with.
type SentryProject struct {
	ID        int64 // the DSN's project id
	AppID     int64
	Platform  ripcord.Platform
	PublicKey string // 32 lowercase hex characters
	CreatedAt time.Time
}

// SessionFlags are facts about a session that are counted once each.
type SessionFlags uint8

// Session facts.
const (
	SessionCrashed  SessionFlags = 1 << iota // an update reported status crashed
	SessionAbnormal                          // an update reported status abnormal
	SessionErrored                           // an update reported errors > 0 or an error status
)

// SentrySessionParams is one session update to deduplicate.
type SentrySessionParams struct {
	ProjectID int64
	SID       string // required
	Seq       int64
	Flags     SessionFlags // the facts this update reports
	At        time.Time    // receive time, kept for pruning
}

// SentrySessionResult says what a session update adds.
type SentrySessionResult struct {
	New       bool         // first update seen of this session
	Duplicate bool         // seq not above the stored one: nothing changed
	Added     SessionFlags // facts reported for the first time (all of Flags when New)
}

// SentryDeviceParams is one sighting of a device on a release.
type SentryDeviceParams struct {
	ProjectID int64
	Version   string
	DID       string // required
	Crashed   bool
}

// SentryDeviceResult says what a device sighting adds.
type SentryDeviceResult struct {
	New        bool // the device was not in the release's set
	FirstCrash bool // the device's first crash on the release
}

// Credential is an app's store credential or signing material as stored:
// the secret sealed by the service (the database never sees it in the
// clear) and non-secret facts about it for listings and expiry checks.
type Credential struct {
	AppID      int64
	Kind       string    // e.g. "asc_api_key", "ios_profile:com.acme.shop"
	Ciphertext []byte    // sealed by internal/secretbox, bound to (AppID, Kind)
	Metadata   string    // JSON object of non-secret facts
	ExpiresAt  time.Time // zero when the material does not expire
	CreatedBy  string
	UpdatedAt  time.Time
}

// BuildNumberReservation is a build number taken for a rollback build before
// any artifact carries it.
type BuildNumberReservation struct {
	AppID       int64
	Platform    ripcord.Platform
	BuildNumber string
	ReservedFor int64 // the rollback build's ID
	CreatedAt   time.Time
}

// RollbackBuildListParams filters a rollback build listing; zero fields
// match everything. (iOS rollback versions, helper ios.)
type RollbackBuildListParams struct {
	AppID         int64
	Platform      ripcord.Platform
	TargetVersion string
	// Superseded lists superseded rows instead of current ones.
	Superseded bool
}

// WebSession is a signed-in dashboard session as stored: the hash of its
// random id (the cookie holds the id), who it acts as and until when.
type WebSession struct {
	IDHash    string // hex SHA-256 of the session id
	UserEmail string // the account signed in
	Actor     string // "user:<email>"
	Role      ripcord.Role
	TeamRoles []string
	Method    string // "password" or "oidc"
	CreatedAt time.Time
	ExpiresAt time.Time
}

// HealthBucket is a release's counts of a metric in a window ending at
// Bucket.
type HealthBucket struct {
	Bucket time.Time
	Counts health.Counts
}
