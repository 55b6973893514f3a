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
	"github.com/ripcordhq/ripcord/internal/storage"
)

// RollbackFollowArgs asks for one target's current rollback build to be
// looked after: retired and re-prepared when a hotfix took its version or
// build number or the live release changed, and on iOS its App Store
// version created, submitted and followed to approval once the target is
// released.
type RollbackFollowArgs struct {
	App           string           `json:"app"`
	Platform      ripcord.Platform `json:"platform"`
	TargetVersion string           `json:"target_version"`
	// Resubmit sends an iOS rollback version App Review rejected to review
	// again (a person asked, with --prepare).
	Resubmit bool `json:"resubmit,omitempty"`
}

// Kind names the job in the queue.
func (RollbackFollowArgs) Kind() string { return "rollback_follow" }

// InsertOpts makes the job unique per arguments while not finished, so
// the periodic watch and a kick from a finished preparation make one run.
// Store failures are retried with River's backoff; a run that gives up is
// repeated by the next watch anyway.
func (RollbackFollowArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// RollbackFollowWorker runs RollbackFollowArgs jobs.
type RollbackFollowWorker struct {
	river.WorkerDefaults[RollbackFollowArgs]
	deps Deps
	prep *rollback.Preparer
	inv  *rollback.Invalidator
}

// NewRollbackFollowWorker builds the worker; it needs Deps.Store,
// Artifacts and Credentials.
func NewRollbackFollowWorker(d Deps) (*RollbackFollowWorker, error) {
	if d.Credentials == nil || d.Artifacts == nil {
		return nil, errors.New("jobs: Deps.Credentials and Deps.Artifacts are required to follow rollback builds")
	}
	p, err := rollback.New(rollback.Config{Store: d.Store, Artifacts: d.Artifacts, Credentials: d.Credentials, WorkDir: d.WorkDir, Now: d.Now, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	return &RollbackFollowWorker{deps: d, prep: p, inv: NewInvalidator(d)}, nil
}

// NewInvalidator builds the rollback invalidator the workers share: it
// queues a fresh preparation in the retiring transaction.
func NewInvalidator(d Deps) *rollback.Invalidator {
	return &rollback.Invalidator{Store: d.Store, Now: d.Now, Logger: d.Logger, Requeue: RequeuePrepare(d.Now)}
}

// RequeuePrepare queues a rollback preparation in tx, audited, for
// rollback.Invalidator.
func RequeuePrepare(now func() time.Time) rollback.Requeue {
	return func(ctx context.Context, tx storage.Tx, app *ripcord.App, platform ripcord.Platform, target string) error {
		if err := tx.JobInsert(ctx, PrepareRollbackArgs{App: app.Name, TargetVersion: target, Platform: platform}, nil); err != nil {
			return fmt.Errorf("queue prepare_rollback: %w", err)
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now().UTC().Truncate(time.Microsecond), "rollback.prepare_queued",
			fmt.Sprintf("app/%s/rollbacks/%s/%s", app.Name, platform, target), nil, map[string]any{"job": "prepare_rollback"}))
	}
}

// Timeout covers withdrawing a superseded App Store version, which waits
// for Apple to apply a review cancellation.
func (w *RollbackFollowWorker) Timeout(*river.Job[RollbackFollowArgs]) time.Duration {
	return 10 * time.Minute
}

// Work checks the rollback and moves it on; recorded states (retired,
// rejected, blocked) finish the job, errors only a person can fix cancel
// it, and store or database failures are retried.
func (w *RollbackFollowWorker) Work(ctx context.Context, job *river.Job[RollbackFollowArgs]) error {
	a := job.Args
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: rollback.Actor, Role: ripcord.RoleAdmin})
	attrs := []any{slog.String("app", a.App), slog.String("platform", string(a.Platform)), slog.String("target", a.TargetVersion), slog.Int("attempt", job.Attempt)}
	err := w.follow(ctx, a)
	if err != nil {
		if errors.As(err, new(needsSomeone)) || permanent(err) {
			w.deps.Logger.ErrorContext(ctx, "rollback follow-up cannot go on until someone acts", append(attrs, slog.String("error", err.Error()))...)
			return river.JobCancel(err)
		}
		w.deps.Logger.WarnContext(ctx, "rollback follow-up stopped; it will be retried", append(attrs, slog.String("error", err.Error()))...)
	}
	return err
}

func (w *RollbackFollowWorker) follow(ctx context.Context, a RollbackFollowArgs) error {
	app, err := w.deps.Store.AppGetByName(ctx, a.App)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // the app is gone: nothing to follow
	} else if err != nil {
		return err
	}
	rb, err := w.deps.Store.RollbackBuildGet(ctx, app.ID, a.Platform, a.TargetVersion)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // nothing prepared (or retired and not yet re-prepared)
	} else if err != nil {
		return err
	}
	if rb.State == ripcord.RollbackWithdrawn {
		return nil
	}
	if done, err := w.inv.CheckHotfix(ctx, app, rb); err != nil || done {
		return err
	}
	switch a.Platform {
	case ripcord.Android:
		if busy, err := playBusy(ctx, w.deps.Store, app); err != nil || busy {
			return err
		}
		pc, err := openPlay(ctx, w.deps, a.App)
		if err != nil {
			return err
		}
		live, err := rollback.LiveAndroid(ctx, w.deps.Store, pc, app)
		if err != nil {
			return err
		}
		_, err = w.inv.CheckLive(ctx, app, rb, live)
		return err
	case ripcord.IOS:
		c, err := OpenAppStore(ctx, w.deps, a.App)
		if err != nil {
			return err
		}
		live, err := rollback.LiveIOS(ctx, c, app)
		if err != nil {
			return err
		}
		if done, err := w.inv.CheckLive(ctx, app, rb, live); err != nil || done {
			return err
		}
		_, err = w.prep.FollowIOS(ctx, rollback.FollowRequest{App: a.App, TargetVersion: a.TargetVersion, AppStore: c, Resubmit: a.Resubmit})
		if errors.Is(err, rollback.ErrStoreBuildGone) {
			cur, gerr := w.deps.Store.RollbackBuildGet(ctx, app.ID, a.Platform, a.TargetVersion) // as the follow-up left it
			if gerr != nil {
				return gerr
			}
			return w.inv.Supersede(ctx, app, cur, fmt.Sprintf("%v; a fresh rollback build is being prepared", err), true)
		}
		return err
	}
	return needsSomeone{fmt.Errorf("rollback builds are followed for ios and android, not %q", a.Platform)}
}

// playBusy reports whether a release of the app is rolling out (or halted)
// on Play. Reading a Play track opens an edit, and Play keeps one open
// edit per app and API user (a new one deletes the older), so a periodic
// read could break a halt or rollback committing at that moment; while
// Ripcord may be acting on Play, the live-change check waits. Nothing but
// a rolling-out release changes what production serves through Ripcord,
// and a change made outside Ripcord is still seen once the rollout ends.
func playBusy(ctx context.Context, store storage.Queries, app *ripcord.App) (bool, error) {
	rels, err := store.ReleaseList(ctx, app.ID)
	if err != nil {
		return false, err
	}
	for _, r := range rels {
		for _, p := range r.Platforms {
			if p.Platform == ripcord.Android && (p.Status == ripcord.StatusRollingOut || p.Status == ripcord.StatusHalted) {
				return true, nil
			}
		}
	}
	return false, nil
}

// openPlay builds a Play client from the app's service account.
func openPlay(ctx context.Context, d Deps, appName string) (*play.Client, error) {
	m, err := d.Credentials.Open(ctx, appName, credentials.KindPlayServiceAccount)
	if err != nil {
		if code := ripcord.ErrorCode(err); code == ripcord.ENOTFOUND || code == ripcord.EINVALID {
			return nil, needsSomeone{fmt.Errorf("open the Play service account of %s (store it with `ripcord app credentials %s --play-service-account FILE`): %w", appName, appName, err)}
		}
		return nil, fmt.Errorf("open the Play service account of %s: %w", appName, err)
	}
	pc, err := play.New(ctx, play.Config{ServiceAccountJSON: m.ServiceAccount, Endpoint: d.PlayURL, HTTPClient: d.PlayHTTPClient, Logger: d.Logger})
	if err != nil {
		return nil, needsSomeone{fmt.Errorf("the Play service account of %s is not usable (store a new key): %w", appName, err)}
	}
	return pc, nil
}

// OpenAppStore builds an App Store Connect client from the app's API key.
func OpenAppStore(ctx context.Context, d Deps, appName string) (*appstore.Client, error) {
	m, err := d.Credentials.Open(ctx, appName, credentials.KindASCAPIKey)
	if err != nil {
		if code := ripcord.ErrorCode(err); code == ripcord.ENOTFOUND || code == ripcord.EINVALID {
			return nil, needsSomeone{fmt.Errorf("open the App Store Connect API key of %s (store it with `ripcord app credentials %s --asc-key FILE --asc-key-id ID --asc-issuer-id ID`): %w", appName, appName, err)}
		}
		return nil, fmt.Errorf("open the App Store Connect API key of %s: %w", appName, err)
	}
	c, err := appstore.New(appstore.Config{KeyID: m.ASCKeyID, IssuerID: m.ASCIssuerID, Individual: m.ASCIssuerID == "", PrivateKeyPEM: m.ASCKey,
		// Tokens are signed on the wall clock, not d.Now: Apple checks
		// them against its own.
		BaseURL: d.AppStoreURL, HTTPClient: d.AppStoreHTTPClient, Logger: d.Logger, PollInterval: d.AppStorePollInterval})
	if err != nil {
		return nil, needsSomeone{fmt.Errorf("the App Store Connect API key of %s is not usable (store a new key): %w", appName, err)}
	}
	return c, nil
}

// RollbackWatchArgs asks for every current rollback build to be followed:
// the periodic safety net behind the kicks, so a crash between a step and
// its kick, a hotfix, a live change or an App Review decision is picked up
// within one period.
type RollbackWatchArgs struct{}

// Kind names the job in the queue.
func (RollbackWatchArgs) Kind() string { return "rollback_watch" }

// RollbackWatchPeriod is how often every rollback is followed: App Review
// decisions are seen at most this late.
const RollbackWatchPeriod = 5 * time.Minute

// InsertOpts makes the watch unique per period.
func (RollbackWatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: RollbackWatchPeriod}}
}

// RollbackWatchWorker queues a follow-up per current rollback build.
type RollbackWatchWorker struct {
	river.WorkerDefaults[RollbackWatchArgs]
	deps Deps
}

// NewRollbackWatchWorker builds the watch worker.
func NewRollbackWatchWorker(d Deps) *RollbackWatchWorker { return &RollbackWatchWorker{deps: d} }

// Work queues the follow-ups (each unique while not finished).
func (w *RollbackWatchWorker) Work(ctx context.Context, _ *river.Job[RollbackWatchArgs]) error {
	rows, err := w.deps.Store.RollbackBuildList(ctx, storage.RollbackBuildListParams{})
	if err != nil {
		return fmt.Errorf("rollback watch: %w", err)
	}
	apps, err := w.deps.Store.AppList(ctx)
	if err != nil {
		return fmt.Errorf("rollback watch: %w", err)
	}
	names := map[int64]string{}
	for _, a := range apps {
		names[a.ID] = a.Name
	}
	queued := 0
	for _, rb := range rows {
		if rb.State == ripcord.RollbackWithdrawn {
			continue
		}
		err := w.deps.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
			return tx.JobInsert(ctx, RollbackFollowArgs{App: names[rb.AppID], Platform: rb.Platform, TargetVersion: rb.TargetVersion}, nil)
		})
		if err != nil {
			return fmt.Errorf("rollback watch: queue the follow-up of %s %s: %w", names[rb.AppID], rb.TargetVersion, err)
		}
		queued++
	}
	w.deps.Logger.DebugContext(ctx, "rollback watch queued follow-ups", slog.Int("queued", queued))
	return nil
}

// kickFollow queues the follow-up of a rollback build that just became
// ready on iOS, so its App Store version is created without waiting for
// the next watch.
func kickFollow(ctx context.Context, d Deps, a PrepareRollbackArgs, rb *ripcord.RollbackBuild) error {
	if rb == nil || rb.State != ripcord.RollbackReady || a.Platform != ripcord.IOS {
		return nil
	}
	return d.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.JobInsert(ctx, RollbackFollowArgs{App: a.App, Platform: a.Platform, TargetVersion: a.TargetVersion}, nil)
	})
}
