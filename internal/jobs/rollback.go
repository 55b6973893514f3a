package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/rollback"
)

// PrepareRollbackArgs asks for the rollback build of a target release to be
// prepared (or its preparation resumed), so that rolling back is one click
// by the time anyone needs it.
type PrepareRollbackArgs struct {
	App           string           `json:"app"`
	TargetVersion string           `json:"target_version"`
	Platform      ripcord.Platform `json:"platform"`
}

// Kind names the job in the queue.
func (PrepareRollbackArgs) Kind() string { return "prepare_rollback" }

// prepareRollbackAttempts bounds retries of store and database failures:
// with River's backoff (attempt⁴ seconds) the last try comes about a day
// after the first, long enough to ride out a store outage.
const prepareRollbackAttempts = 12

// InsertOpts makes the job unique per app, platform and target while it is
// not finished, so a release created and a `--prepare` clicked twice make
// one preparation; a finished one may be queued again (e.g. after the live
// build was uploaded).
func (PrepareRollbackArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: prepareRollbackAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// PrepareRollbackWorker prepares rollback builds with the app's own store
// credential: its Play service account on Android, its App Store Connect
// API key on iOS.
type PrepareRollbackWorker struct {
	river.WorkerDefaults[PrepareRollbackArgs]
	deps Deps
	prep *rollback.Preparer
}

// NewPrepareRollbackWorker builds the worker; it needs Deps.Store,
// Artifacts and Credentials.
func NewPrepareRollbackWorker(d Deps) (*PrepareRollbackWorker, error) {
	if d.Credentials == nil {
		return nil, errors.New("jobs: Deps.Credentials is required to prepare rollback builds")
	}
	if d.Artifacts == nil {
		return nil, errors.New("jobs: Deps.Artifacts is required to prepare rollback builds")
	}
	p, err := rollback.New(rollback.Config{Store: d.Store, Artifacts: d.Artifacts, Credentials: d.Credentials, WorkDir: d.WorkDir, Now: d.Now, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	return &PrepareRollbackWorker{deps: d, prep: p}, nil
}

// Timeout lets a preparation re-sign and upload a large artifact; River's
// default of one minute is too short for a few hundred megabytes.
func (w *PrepareRollbackWorker) Timeout(*river.Job[PrepareRollbackArgs]) time.Duration {
	return 30 * time.Minute
}

// Work prepares the rollback build. Recorded refusals (invalid, not
// shippable, live build unknown) finish the job: their reason says what a
// person must do, and preparing again is their next step. Errors nothing
// will fix by waiting (no such app or release, no store credential, the
// store refusing the credential or the request) cancel it; anything else (a
// store 5xx, a timeout, an iOS build still processing, the database) is
// retried with backoff, resuming where it stopped.
func (w *PrepareRollbackWorker) Work(ctx context.Context, job *river.Job[PrepareRollbackArgs]) error {
	a := job.Args
	attrs := []any{slog.String("app", a.App), slog.String("target", a.TargetVersion), slog.String("platform", string(a.Platform)), slog.Int("attempt", job.Attempt)}
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: rollback.Actor, Role: ripcord.RoleAdmin})
	var rb *ripcord.RollbackBuild
	var err error
	switch a.Platform {
	case ripcord.Android:
		rb, err = w.prepareAndroid(ctx, a)
	case ripcord.IOS:
		rb, err = w.prepareIOS(ctx, a)
	default:
		return w.cancel(ctx, fmt.Errorf("rollback builds are prepared for ios and android, not %q", a.Platform), attrs)
	}
	if err != nil {
		if errors.As(err, new(needsSomeone)) || permanent(err) {
			return w.cancel(ctx, err, attrs)
		}
		w.deps.Logger.WarnContext(ctx, "rollback preparation stopped; it will be retried", append(attrs, slog.String("error", err.Error()))...)
		return err
	}
	w.deps.Logger.InfoContext(ctx, "rollback preparation ran", append(attrs, slog.String("state", string(rb.State)), slog.String("reason", rb.Reason))...)
	if err := kickFollow(ctx, w.deps, a, rb); err != nil {
		// The periodic rollback watch queues it anyway.
		w.deps.Logger.WarnContext(ctx, "queue the rollback follow-up", append(attrs, slog.String("error", err.Error()))...)
	}
	return nil
}

// needsSomeone marks an error only a person can fix (a missing or unusable
// store credential): the job is canceled rather than retried.
type needsSomeone struct{ err error }

func (e needsSomeone) Error() string { return e.err.Error() }
func (e needsSomeone) Unwrap() error { return e.err }

// prepareAndroid prepares with a Play client built from the app's service
// account.
func (w *PrepareRollbackWorker) prepareAndroid(ctx context.Context, a PrepareRollbackArgs) (*ripcord.RollbackBuild, error) {
	m, err := w.deps.Credentials.Open(ctx, a.App, credentials.KindPlayServiceAccount)
	if err != nil {
		if code := ripcord.ErrorCode(err); code == ripcord.ENOTFOUND || code == ripcord.EINVALID {
			return nil, needsSomeone{fmt.Errorf("open the Play service account of %s (store it with `ripcord app credentials %s --play-service-account FILE`, then prepare again): %w", a.App, a.App, err)}
		}
		return nil, fmt.Errorf("open the Play service account of %s: %w", a.App, err)
	}
	pc, err := play.New(ctx, play.Config{ServiceAccountJSON: m.ServiceAccount, Endpoint: w.deps.PlayURL, HTTPClient: w.deps.PlayHTTPClient, Logger: w.deps.Logger})
	if err != nil {
		return nil, needsSomeone{fmt.Errorf("the Play service account of %s is not usable (store a new key, then prepare again): %w", a.App, err)}
	}
	return w.prep.PrepareAndroid(ctx, rollback.PrepareRequest{App: a.App, TargetVersion: a.TargetVersion, Play: pc})
}

// prepareIOS prepares with an App Store Connect client built from the
// app's API key.
func (w *PrepareRollbackWorker) prepareIOS(ctx context.Context, a PrepareRollbackArgs) (*ripcord.RollbackBuild, error) {
	m, err := w.deps.Credentials.Open(ctx, a.App, credentials.KindASCAPIKey)
	if err != nil {
		if code := ripcord.ErrorCode(err); code == ripcord.ENOTFOUND || code == ripcord.EINVALID {
			return nil, needsSomeone{fmt.Errorf("open the App Store Connect API key of %s (store it with `ripcord app credentials %s --asc-key FILE --asc-key-id ID --asc-issuer-id ID`, then prepare again): %w", a.App, a.App, err)}
		}
		return nil, fmt.Errorf("open the App Store Connect API key of %s: %w", a.App, err)
	}
	c, err := appstore.New(appstore.Config{KeyID: m.ASCKeyID, IssuerID: m.ASCIssuerID, Individual: m.ASCIssuerID == "", PrivateKeyPEM: m.ASCKey,
		// Tokens are signed on the wall clock, not deps.Now: Apple checks
		// them against its own, whatever clock the release runs on.
		BaseURL: w.deps.AppStoreURL, HTTPClient: w.deps.AppStoreHTTPClient, Logger: w.deps.Logger,
		PollInterval: w.deps.AppStorePollInterval})
	if err != nil {
		return nil, needsSomeone{fmt.Errorf("the App Store Connect API key of %s is not usable (store a new key, then prepare again): %w", a.App, err)}
	}
	return w.prep.PrepareIOS(ctx, rollback.PrepareRequest{App: a.App, TargetVersion: a.TargetVersion, AppStore: c})
}

func (w *PrepareRollbackWorker) cancel(ctx context.Context, err error, attrs []any) error {
	w.deps.Logger.ErrorContext(ctx, "rollback preparation cannot go on until someone acts", append(attrs, slog.String("error", err.Error()))...)
	return river.JobCancel(err)
}

// permanent reports whether retrying err without someone acting would fail
// the same way.
func permanent(err error) bool {
	switch ripcord.ErrorCode(err) {
	case ripcord.ENOTFOUND, ripcord.EINVALID, ripcord.ECONFLICT, ripcord.EFORBIDDEN, ripcord.EUNAUTHORIZED:
		return true
	}
	for _, e := range []error{play.ErrAuth, play.ErrPermission, play.ErrNotFound, play.ErrInvalid, play.ErrVersionCodeUsed,
		appstore.ErrAuth, appstore.ErrForbidden, appstore.ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
