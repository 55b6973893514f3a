// Package httpapi is Ripcord's JSON API under /api/v1, plus the probes and
// metrics at the root. Every route is declared once in routes(), with the
// role it needs; the OpenAPI document is checked against that table.
package httpapi

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Catalog is the use-case service for apps, builds and releases.
type Catalog interface {
	AppCreate(ctx context.Context, a ripcord.App) (*ripcord.App, error)
	AppGet(ctx context.Context, name string) (*ripcord.App, error)
	AppList(ctx context.Context) ([]*ripcord.App, error)
	BuildUpload(ctx context.Context, p catalog.BuildUploadParams) (*ripcord.Build, bool, error)
	BuildList(ctx context.Context, p catalog.BuildListParams) ([]*ripcord.Build, error)
	BuildGet(ctx context.Context, app string, id int64) (*ripcord.Build, error)
	ReleaseCreate(ctx context.Context, app, version string) (*ripcord.Release, error)
	ReleaseGet(ctx context.Context, app, version string) (*ripcord.Release, error)
	ReleaseList(ctx context.Context, app string) ([]*ripcord.Release, error)
	MaxArtifactBytes() int64
}

// Access authenticates callers and manages tokens.
type Access interface {
	Authenticate(ctx context.Context, secret string) (ripcord.Actor, error)
	TokenCreate(ctx context.Context, name string, role ripcord.Role) (string, *ripcord.Token, error)
	TokenCreateForUser(ctx context.Context, name string, role ripcord.Role, email string) (string, *ripcord.Token, error)
	UserCreate(ctx context.Context, p access.UserParams) (*ripcord.User, error)
	UserList(ctx context.Context) ([]*ripcord.User, error)
	UserSetTeamRoles(ctx context.Context, email string, roles []string) (*ripcord.User, error)
	TokenList(ctx context.Context) ([]*ripcord.Token, error)
	TokenRevoke(ctx context.Context, name string) (*ripcord.Token, error)
	AuditVerify(ctx context.Context) (*access.AuditReport, error)
}

// Health ingests counts (batches and Sentry envelopes) and reads release
// health back.
type Health interface {
	Ingest(ctx context.Context, samples []healthwatch.Sample) (*healthwatch.IngestResult, error)
	Report(ctx context.Context, app, version string, platform ripcord.Platform) (*healthwatch.Report, error)
	// SentryProject resolves a DSN key; ENOTFOUND when no project has it.
	SentryProject(ctx context.Context, publicKey string) (*storage.SentryProject, error)
	// SentryProjects lists an app's projects; appID 0 lists all.
	SentryProjects(ctx context.Context, appID int64) ([]storage.SentryProject, error)
	IngestEnvelope(ctx context.Context, p *storage.SentryProject, env *sentry.Envelope) (*healthwatch.EnvelopeResult, error)
}

// Credentials stores, lists and deletes apps' store credentials and signing
// material. Nothing here returns material: the API never shows a secret.
type Credentials interface {
	Put(ctx context.Context, app, kind string, m credentials.Material) (*credentials.Credential, error)
	List(ctx context.Context, app string) ([]*credentials.Credential, error)
	Delete(ctx context.Context, app, kind string) (*credentials.Credential, error)
}

// Rollbacks reads rollback builds and queues their preparation.
type Rollbacks interface {
	// RollbackBuildGet reports a target release's rollback build on a
	// platform, including the pending and live_unknown states that have no
	// row yet.
	RollbackBuildGet(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.RollbackBuild, error)
	// RollbackBuildPrepare queues (once) the preparation of a target
	// release's rollback build and returns its current state.
	RollbackBuildPrepare(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.RollbackBuild, error)
	// RollbackBuildWithdraw withdraws a target's iOS rollback from the App
	// Store on purpose (its version deleted so the next one can be
	// created) and returns it as recorded. (helper ios)
	RollbackBuildWithdraw(ctx context.Context, app, version string) (*ripcord.RollbackBuild, error)
}

// AuditReader pages through the audit log.
type AuditReader interface {
	AuditList(ctx context.Context, afterSeq int64, limit int, target string) ([]ripcord.AuditEntry, error)
}

// Readiness reports whether the server can serve: nil, or the reason not.
type Readiness func(ctx context.Context) error

// Config holds the handler's dependencies and limits.
type Config struct {
	Catalog Catalog     // required
	Access  Access      // required
	Audit   AuditReader // required
	Health  Health      // required
	// Credentials manages store credentials and signing material. Required.
	Credentials Credentials
	// Rollbacks reads and prepares rollback builds. Required.
	Rollbacks Rollbacks
	// Rollouts halts, resumes and rolls back releases. Required.
	Rollouts Rollouts
	// Stages submits, starts and advances staged rollouts. Optional: without
	// it the stage routes answer 404 and release show has no schedule.
	Stages Stages
	Ready  Readiness // required
	// Registry receives the HTTP metrics; the daemon registers job and build
	// metrics on it too. Required.
	Registry *prometheus.Registry
	// MaxBodyBytes limits JSON request bodies. Default 1 MiB.
	MaxBodyBytes int64
	// RequestTimeout bounds JSON requests (not uploads). Default 30s.
	RequestTimeout time.Duration
	// SentryRate is each Sentry project's sustained envelope rate per
	// second at the envelope endpoint; over it answers 429 with
	// Retry-After. Default DefaultSentryRate; negative means unlimited.
	SentryRate float64
	// SentryBurst is how many envelopes a project may send at once.
	// Default DefaultSentryBurst (at least 1).
	SentryBurst int
	// Now is the clock of the rate limiter. Default time.Now.
	Now func() time.Time
	// Logger is the request logger. Default slog.Default().
	Logger *slog.Logger

	// Incidents opens, lists, shows and resolves incidents. Required.
	Incidents Incidents
	// Runbooks, Rehearsals and Gate serve runbooks as code, rehearsals and
	// the go/no-go gate (issue #10). Required.
	Runbooks   Runbooks
	Rehearsals Rehearsals
	Gate       Gate
}

type handler struct {
	catalog        Catalog
	access         Access
	audit          AuditReader
	health         Health
	credentials    Credentials
	rollbacks      Rollbacks
	rollouts       Rollouts
	runbooks       Runbooks
	rehearsals     Rehearsals
	gate           Gate
	stages         Stages
	ready          Readiness
	maxBody        int64
	requestTimeout time.Duration
	logger         *slog.Logger
	metrics        *httpMetrics
	ingest         *ingestMetrics
	limiter        *rateLimiter
	gatherer       prometheus.Gatherer
	now            func() time.Time // the clock of reports that say "for 5h 12m"

	incidents Incidents
}

// authMode says how a route authenticates its caller.
type authMode string

// Authentication modes of the route table.
const (
	authOpen      authMode = "open"       // probes and metrics only
	authBearer    authMode = "bearer"     // an API token with at least the route's role
	authSentryKey authMode = "sentry key" // a DSN public key; the handler checks it against the path's project
)

// route is one endpoint. Role "" without auth means open (probes and
// metrics only); a role means a bearer token with that role.
type route struct {
	method, pattern string
	role            ripcord.Role
	auth            authMode // derived from role when empty
	streaming       bool     // no request timeout: uploads may take long
	fn              func(http.ResponseWriter, *http.Request)
}

func (h *handler) routes() []route {
	return []route{
		{method: "GET", pattern: "/healthz", fn: h.healthz},
		{method: "GET", pattern: "/readyz", fn: h.readyz},
		{method: "GET", pattern: "/metrics", fn: h.metricsHandler},
		{method: "GET", pattern: "/api/v1/openapi.json", role: ripcord.RoleViewer, fn: h.openapi},
		{method: "GET", pattern: "/api/v1/apps", role: ripcord.RoleViewer, fn: h.appList},
		{method: "POST", pattern: "/api/v1/apps", role: ripcord.RoleAdmin, fn: h.appCreate},
		{method: "GET", pattern: "/api/v1/apps/{app}", role: ripcord.RoleViewer, fn: h.appGet},
		{method: "GET", pattern: "/api/v1/apps/{app}/builds", role: ripcord.RoleViewer, fn: h.buildList},
		{method: "POST", pattern: "/api/v1/apps/{app}/builds", role: ripcord.RoleEngineer, streaming: true, fn: h.buildUpload},
		{method: "GET", pattern: "/api/v1/apps/{app}/builds/{id}", role: ripcord.RoleViewer, fn: h.buildGet},
		{method: "GET", pattern: "/api/v1/apps/{app}/credentials", role: ripcord.RoleViewer, fn: h.credentialList},
		{method: "PUT", pattern: "/api/v1/apps/{app}/credentials/{kind}", role: ripcord.RoleAdmin, fn: h.credentialPut},
		{method: "DELETE", pattern: "/api/v1/apps/{app}/credentials/{kind}", role: ripcord.RoleAdmin, fn: h.credentialDelete},
		{method: "GET", pattern: "/api/v1/apps/{app}/releases", role: ripcord.RoleViewer, fn: h.releaseList},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases", role: ripcord.RoleReleaseManager, fn: h.releaseCreate},
		{method: "GET", pattern: "/api/v1/apps/{app}/releases/{version}", role: ripcord.RoleViewer, fn: h.releaseGet},
		{method: "GET", pattern: "/api/v1/apps/{app}/releases/{version}/health", role: ripcord.RoleViewer, fn: h.releaseHealth},
		{method: "GET", pattern: "/api/v1/apps/{app}/releases/{version}/rollback-build", role: ripcord.RoleViewer, fn: h.rollbackBuildGet},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases/{version}/rollback-build", role: ripcord.RoleReleaseManager, fn: h.rollbackBuildPrepare},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases/{version}/rollback-build/withdraw", role: ripcord.RoleReleaseManager, fn: h.rollbackBuildWithdraw},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases/{version}/halt", role: ripcord.RoleReleaseManager, fn: h.rolloutAction(ripcord.ActionHalt)},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases/{version}/resume", role: ripcord.RoleReleaseManager, fn: h.rolloutAction(ripcord.ActionResume)},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases/{version}/rollback", role: ripcord.RoleReleaseManager, fn: h.rolloutAction(ripcord.ActionRollback)},
		{method: "GET", pattern: "/api/v1/apps/{app}/releases/{version}/actions/{id}", role: ripcord.RoleViewer, fn: h.actionGet},
		{method: "GET", pattern: "/api/v1/apps/{app}/rollout-plan", role: ripcord.RoleViewer, fn: h.needStages(h.rolloutPlanGet)},
		{method: "PUT", pattern: "/api/v1/apps/{app}/rollout-plan", role: ripcord.RoleReleaseManager, fn: h.needStages(h.rolloutPlanPut)},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases/{version}/submit", role: ripcord.RoleReleaseManager, fn: h.needStages(h.stageAction(http.StatusAccepted, Stages.RequestSubmit))},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases/{version}/start", role: ripcord.RoleReleaseManager, fn: h.needStages(h.stageAction(http.StatusOK, Stages.Start))},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases/{version}/advance", role: ripcord.RoleReleaseManager, fn: h.needStages(h.stageAction(http.StatusOK, Stages.Advance))},
		{method: "POST", pattern: "/api/v1/health/samples", role: ripcord.RoleEngineer, fn: h.healthSamples},
		{method: "POST", pattern: "/api/{project_id}/envelope/{$}", auth: authSentryKey, fn: h.sentryEnvelope},
		{method: "GET", pattern: "/api/v1/tokens", role: ripcord.RoleAdmin, fn: h.tokenList},
		{method: "POST", pattern: "/api/v1/tokens", role: ripcord.RoleAdmin, fn: h.tokenCreate},
		{method: "DELETE", pattern: "/api/v1/tokens/{name}", role: ripcord.RoleAdmin, fn: h.tokenRevoke},
		{method: "GET", pattern: "/api/v1/users", role: ripcord.RoleAdmin, fn: h.userList},
		{method: "POST", pattern: "/api/v1/users", role: ripcord.RoleAdmin, fn: h.userCreate},
		{method: "PUT", pattern: "/api/v1/users/{email}/team-roles", role: ripcord.RoleAdmin, fn: h.userSetTeamRoles},
		{method: "GET", pattern: "/api/v1/audit", role: ripcord.RoleViewer, fn: h.auditList},
		{method: "GET", pattern: "/api/v1/audit/verify", role: ripcord.RoleViewer, fn: h.auditVerify},
		{method: "GET", pattern: "/api/v1/incidents", role: ripcord.RoleViewer, fn: h.incidentList},
		{method: "POST", pattern: "/api/v1/incidents", role: ripcord.RoleEngineer, fn: h.incidentOpen},
		{method: "GET", pattern: "/api/v1/incidents/{id}", role: ripcord.RoleViewer, fn: h.incidentGet},
		{method: "POST", pattern: "/api/v1/incidents/{id}/resolve", role: ripcord.RoleReleaseManager, fn: h.incidentResolve},
		// Runbooks as code, rehearsals and the go/no-go gate (issue #10).
		{method: "POST", pattern: "/api/v1/apps/{app}/runbooks/push", role: ripcord.RoleEngineer, fn: h.runbookPush},
		{method: "GET", pattern: "/api/v1/apps/{app}/runbooks", role: ripcord.RoleViewer, fn: h.runbookList},
		{method: "GET", pattern: "/api/v1/apps/{app}/runbooks/{id}", role: ripcord.RoleViewer, fn: h.runbookGet},
		{method: "GET", pattern: "/api/v1/apps/{app}/runbooks/{id}/versions", role: ripcord.RoleViewer, fn: h.runbookVersions},
		{method: "GET", pattern: "/api/v1/apps/{app}/runbooks/{id}/html", role: ripcord.RoleViewer, fn: h.runbookHTML},
		{method: "POST", pattern: "/api/v1/apps/{app}/rehearsals", role: ripcord.RoleEngineer, fn: h.rehearsalStart},
		{method: "GET", pattern: "/api/v1/apps/{app}/rehearsals", role: ripcord.RoleViewer, fn: h.rehearsalList},
		{method: "GET", pattern: "/api/v1/apps/{app}/rehearsals/{id}", role: ripcord.RoleViewer, fn: h.rehearsalGet},
		{method: "POST", pattern: "/api/v1/apps/{app}/rehearsals/{id}/steps/{n}/start", role: ripcord.RoleEngineer, fn: h.rehearsalStep(false)},
		{method: "POST", pattern: "/api/v1/apps/{app}/rehearsals/{id}/steps/{n}/end", role: ripcord.RoleEngineer, fn: h.rehearsalStep(true)},
		{method: "POST", pattern: "/api/v1/apps/{app}/rehearsals/{id}/rollback/{level}/start", role: ripcord.RoleEngineer, fn: h.rehearsalLevel(false)},
		{method: "POST", pattern: "/api/v1/apps/{app}/rehearsals/{id}/rollback/{level}/end", role: ripcord.RoleEngineer, fn: h.rehearsalLevel(true)},
		{method: "POST", pattern: "/api/v1/apps/{app}/rehearsals/{id}/finish", role: ripcord.RoleEngineer, fn: h.rehearsalFinish},
		{method: "PUT", pattern: "/api/v1/apps/{app}/releases/{version}/changes", role: ripcord.RoleEngineer, fn: h.releaseChanges},
		{method: "GET", pattern: "/api/v1/apps/{app}/releases/{version}/gate", role: ripcord.RoleViewer, fn: h.gateLatest},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases/{version}/gate/check", role: ripcord.RoleEngineer, fn: h.gateCheck},
		{method: "GET", pattern: "/api/v1/apps/{app}/releases/{version}/gate/approvals", role: ripcord.RoleViewer, fn: h.gateApprovals},
		{method: "POST", pattern: "/api/v1/apps/{app}/releases/{version}/gate/approvals", role: ripcord.RoleViewer, fn: h.gateApprove},
	}
}

// NewHandler builds the API handler with its middleware: request id,
// recovery, metrics and logging around everything; authentication, role
// check and request timeout around each protected route.
func NewHandler(cfg Config) http.Handler {
	h := &handler{
		catalog: cfg.Catalog, access: cfg.Access, audit: cfg.Audit, health: cfg.Health, credentials: cfg.Credentials, rollbacks: cfg.Rollbacks, rollouts: cfg.Rollouts, ready: cfg.Ready,
		stages:         cfg.Stages,
		maxBody:        cmp.Or(cfg.MaxBodyBytes, 1<<20),
		requestTimeout: cmp.Or(cfg.RequestTimeout, 30*time.Second),
		logger:         cmp.Or(cfg.Logger, slog.Default()),
		metrics:        newHTTPMetrics(cfg.Registry),
		ingest:         newIngestMetrics(cfg.Registry),
		gatherer:       cfg.Registry,
	}
	if h.now = cfg.Now; h.now == nil {
		h.now = time.Now
	}
	h.incidents = cfg.Incidents
	h.runbooks, h.rehearsals, h.gate = cfg.Runbooks, cfg.Rehearsals, cfg.Gate
	h.limiter = &rateLimiter{rate: cmp.Or(cfg.SentryRate, DefaultSentryRate), burst: float64(max(1, cmp.Or(cfg.SentryBurst, DefaultSentryBurst))),
		now: cfg.Now, buckets: map[int64]*tokenBucket{}}
	if h.limiter.now == nil {
		h.limiter.now = time.Now
	}
	mux := http.NewServeMux()
	for _, rt := range h.routes() {
		var next http.Handler = http.HandlerFunc(rt.fn)
		if !rt.streaming {
			next = h.withTimeout(next)
		}
		if rt.authMode() == authBearer {
			next = h.withAuth(rt.role, next)
		}
		mux.Handle(rt.method+" "+rt.pattern, next)
	}
	// Unknown API paths and wrong methods answer in the API's error shape.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, ripcord.Errorf(ripcord.ENOTFOUND, "no API endpoint %s %s; see /api/v1/openapi.json", r.Method, r.URL.Path))
	})
	return h.withRequestID(h.withRecover(h.withObserve(mux)))
}

// withTimeout bounds a request's context.
func (h *handler) withTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), h.requestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authMode is the route's authentication, derived from its role unless set.
func (rt route) authMode() authMode {
	switch {
	case rt.auth != "":
		return rt.auth
	case rt.role != "":
		return authBearer
	}
	return authOpen
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// drain reads what is left of a request body, bounded, so a keep-alive
// connection can be reused after an early error.
func drain(r io.Reader) { _, _ = io.CopyN(io.Discard, r, 1<<20) }
