// Package jobs holds Ripcord's background job kinds and their workers, run
// by River on the same database as everything else. Later capabilities add
// their kinds here; the daemon registers them all with Register.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Deps are what the workers need.
type Deps struct {
	Store     storage.Store
	Artifacts *blob.Store
	Logger    *slog.Logger
	Now       func() time.Time
	// CredentialsExpiring receives the expiry check's findings; nil
	// only logs them. See NewCredentialsExpiringGauge.
	CredentialsExpiring *prometheus.GaugeVec
	// Credentials opens apps' store credentials and signing material for
	// rollback preparation. Required by Register.
	Credentials *credentials.Service
	// PlayURL is the Google Play Developer API root (config
	// stores.google_play_url). Default Google's.
	PlayURL string
	// PlayHTTPClient carries Play requests. Default: the connector's.
	PlayHTTPClient *http.Client
	// AppStoreURL is the App Store Connect API root (config
	// stores.app_store_connect_url). Default Apple's.
	AppStoreURL string
	// AppStoreHTTPClient carries App Store Connect requests. Default: the
	// client's.
	AppStoreHTTPClient *http.Client
	// AppStorePollInterval is the wait between reads of a changing App
	// Store state (build processing, review). Default the connector's
	// (30 s); the demo, whose store clock runs fast, polls every second.
	AppStorePollInterval time.Duration
	// WorkDir holds temporary artifacts while re-signing. Default
	// os.TempDir().
	WorkDir string
}

// Register adds every worker to workers and returns the periodic jobs to
// schedule. River runs periodic jobs on the elected leader only, so several
// instances sharing PostgreSQL do not repeat them. It fails when a worker's
// required dependency is missing.
func Register(workers *river.Workers, d Deps) ([]*river.PeriodicJob, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	prepare, err := NewPrepareRollbackWorker(d)
	if err != nil {
		return nil, err
	}
	river.AddWorker(workers, NewArtifactSweepWorker(d))
	river.AddWorker(workers, NewSentryStatePruneWorker(d))
	river.AddWorker(workers, NewCredentialExpiryWorker(d))
	river.AddWorker(workers, prepare)
	// iOS rollback versions and rollback invalidation (helper ios).
	follow, err := NewRollbackFollowWorker(d)
	if err != nil {
		return nil, err
	}
	river.AddWorker(workers, follow)
	river.AddWorker(workers, NewRollbackWatchWorker(d))
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(RollbackWatchPeriod),
			func() (river.JobArgs, *river.InsertOpts) { return RollbackWatchArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return ArtifactSweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return SentryStatePruneArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return CredentialExpiryArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}, nil
}

// ArtifactSweepArgs asks for unreferenced artifacts to be removed: blobs an
// upload wrote just before the process died, before its build row
// committed.
type ArtifactSweepArgs struct {
	// MinAge spares blobs younger than this, which may belong to an upload
	// still in flight. Zero means one hour.
	MinAge time.Duration `json:"min_age,omitempty"`
}

// Kind names the job in the queue.
func (ArtifactSweepArgs) Kind() string { return "artifact_sweep" }

// InsertOpts makes the sweep unique per half hour, so restarts and several
// instances do not pile sweeps up.
func (ArtifactSweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 30 * time.Minute}}
}

// ArtifactSweepWorker removes orphaned artifact blobs.
type ArtifactSweepWorker struct {
	river.WorkerDefaults[ArtifactSweepArgs]
	deps Deps
}

// NewArtifactSweepWorker builds the sweep worker.
func NewArtifactSweepWorker(d Deps) *ArtifactSweepWorker {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &ArtifactSweepWorker{deps: d}
}

// Work lists build artifacts and deletes those no build refers to.
func (w *ArtifactSweepWorker) Work(ctx context.Context, job *river.Job[ArtifactSweepArgs]) error {
	minAge := job.Args.MinAge
	if minAge <= 0 {
		minAge = time.Hour
	}
	cutoff := w.deps.Now().Add(-minAge)
	var removed int
	err := w.deps.Artifacts.List(ctx, "builds/", func(o blob.Object) error {
		if o.ModTime.After(cutoff) || strings.Contains(o.Key, ".tmp") {
			return nil
		}
		ref, err := w.deps.Store.BuildBlobKeyReferenced(ctx, o.Key)
		if err != nil || ref {
			return err
		}
		if err := w.deps.Artifacts.Delete(ctx, o.Key); err != nil {
			return err
		}
		removed++
		w.deps.Logger.InfoContext(ctx, "removed orphaned artifact", slog.String("key", o.Key), slog.Int64("size", o.Size))
		return nil
	})
	if err != nil {
		return fmt.Errorf("artifact sweep: %w", err)
	}
	w.deps.Logger.DebugContext(ctx, "artifact sweep done", slog.Int("removed", removed))
	return nil
}

// SentryStateRetention is how long session and event dedupe state is kept:
// longer than the 5 days after which Sentry (and Ripcord's codec) drop a
// session update as too old, so pruning never lets a retry count twice.
const SentryStateRetention = 6 * 24 * time.Hour

// SentryStatePruneArgs asks for old Sentry dedupe state to be deleted, so
// the tables stay the size of the last few days' sessions.
type SentryStatePruneArgs struct{}

// Kind names the job in the queue.
func (SentryStatePruneArgs) Kind() string { return "sentry_state_prune" }

// InsertOpts makes the prune unique per half hour.
func (SentryStatePruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 30 * time.Minute}}
}

// SentryStatePruneWorker deletes expired dedupe state.
type SentryStatePruneWorker struct {
	river.WorkerDefaults[SentryStatePruneArgs]
	deps Deps
}

// NewSentryStatePruneWorker builds the prune worker.
func NewSentryStatePruneWorker(d Deps) *SentryStatePruneWorker {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &SentryStatePruneWorker{deps: d}
}

// Work deletes state older than SentryStateRetention.
func (w *SentryStatePruneWorker) Work(ctx context.Context, _ *river.Job[SentryStatePruneArgs]) error {
	var sessions, events int64
	err := w.deps.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		var err error
		sessions, events, err = tx.SentryStatePrune(ctx, w.deps.Now().Add(-SentryStateRetention))
		return err
	})
	if err != nil {
		return fmt.Errorf("sentry state prune: %w", err)
	}
	w.deps.Logger.InfoContext(ctx, "pruned sentry dedupe state", slog.Int64("sessions", sessions), slog.Int64("events", events))
	return nil
}
