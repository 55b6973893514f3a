package stages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// SubmitArgs asks for a release to be submitted to a store in the
// background: uploads and App Store processing take longer than a request.
type SubmitArgs struct {
	App         string           `json:"app"`
	Version     string           `json:"version"`
	Platform    ripcord.Platform `json:"platform"`
	RequestedBy string           `json:"requested_by"`
}

// Kind names the job in the queue.
func (SubmitArgs) Kind() string { return "release_submit" }

// InsertOpts makes a submission unique per release and platform while it
// is queued or running, so a second click does not queue a second one.
func (SubmitArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}
}

// RequestSubmit queues the submission of the release on platform
// (release managers), audited, and returns the release as it is now.
func (s *Service) RequestSubmit(ctx context.Context, appName, version string, platform ripcord.Platform) (*ripcord.Release, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	t, err := s.load(ctx, appName, version, platform)
	if err != nil {
		return nil, err
	}
	switch t.rp.Status {
	case ripcord.StatusDraft:
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "%s has no build to submit; upload one with `ripcord build upload`", t.label()).
			WithDetails(map[string]any{"status": string(t.rp.Status)})
	case ripcord.StatusUploaded:
	default:
		return t.rel, nil // submitted before
	}
	who := ripcord.ActorFromContext(ctx).Name
	err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.JobInsert(ctx, SubmitArgs{App: t.app.Name, Version: t.rel.Version, Platform: platform, RequestedBy: who}, nil); err != nil {
			return fmt.Errorf("queue release_submit: %w", err)
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, s.clock(), "release.submit_requested",
			fmt.Sprintf("release/%s/%s/%s", t.app.Name, t.rel.Version, platform), nil, map[string]any{"job": SubmitArgs{}.Kind()}))
	})
	if err != nil {
		return nil, fmt.Errorf("queue the submission of %s: %w", t.label(), err)
	}
	return t.rel, nil
}

// SubmitWorker runs queued submissions.
type SubmitWorker struct {
	river.WorkerDefaults[SubmitArgs]
	s *Service
}

// NewSubmitWorker builds the worker.
func NewSubmitWorker(s *Service) *SubmitWorker { return &SubmitWorker{s: s} }

// Timeout leaves room for an IPA upload and its import.
func (w *SubmitWorker) Timeout(*river.Job[SubmitArgs]) time.Duration {
	return w.s.uploadTimeout + 5*time.Minute
}

// Work submits; while the store processes the build it snoozes, and a
// refusal only a person can fix cancels the job with the reason logged and
// kept on the release.
func (w *SubmitWorker) Work(ctx context.Context, job *river.Job[SubmitArgs]) error {
	a := job.Args
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: ScheduleActor, Role: ripcord.RoleReleaseManager})
	attrs := []any{slog.String("app", a.App), slog.String("version", a.Version), slog.String("platform", string(a.Platform)), slog.String("requested_by", a.RequestedBy)}
	_, err := w.s.Submit(ctx, a.App, a.Version, a.Platform)
	switch {
	case err == nil:
		w.s.logger.InfoContext(ctx, "release submitted", attrs...)
		return nil
	case errors.Is(err, ErrPending):
		w.s.logger.InfoContext(ctx, "release submission waits for the store", append(attrs, slog.String("reason", err.Error()))...)
		return river.JobSnooze(time.Minute)
	}
	switch ripcord.ErrorCode(err) {
	case ripcord.EINVALID, ripcord.ECONFLICT, ripcord.ENOTFOUND, ripcord.EFORBIDDEN, ripcord.EUNAUTHORIZED:
		w.s.logger.ErrorContext(ctx, "release submission refused; fix and submit again", append(attrs, slog.String("error", err.Error()))...)
		if nerr := w.s.noteSubmitFailure(ctx, a, err); nerr != nil {
			w.s.logger.ErrorContext(ctx, "record why the submission failed", append(attrs, slog.String("error", nerr.Error()))...)
		}
		return river.JobCancel(err)
	}
	w.s.logger.WarnContext(ctx, "release submission failed; it will be retried", append(attrs, slog.String("error", err.Error()))...)
	return err
}

// TickArgs asks for one pass of the rollout schedule (Tick).
type TickArgs struct{}

// Kind names the job in the queue.
func (TickArgs) Kind() string { return "rollout_tick" }

// InsertOpts keeps one pass per minute however many instances schedule it.
func (TickArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}

// TickWorker runs the schedule's passes.
type TickWorker struct {
	river.WorkerDefaults[TickArgs]
	s *Service
}

// NewTickWorker builds the worker.
func NewTickWorker(s *Service) *TickWorker { return &TickWorker{s: s} }

// Work runs one pass.
func (w *TickWorker) Work(ctx context.Context, _ *river.Job[TickArgs]) error {
	res, err := w.s.Tick(ctx)
	w.s.logger.DebugContext(ctx, "rollout tick done", slog.Int("approved", res.Approved), slog.Int("rejected", res.Rejected),
		slog.Int("started", res.Started), slog.Int("advanced", res.Advanced), slog.Int("held", res.Held), slog.Int("failed", res.Failed))
	return err
}

// Register adds the workers to workers and returns the periodic schedule
// pass (every minute; River runs periodic jobs on the leader only).
func Register(workers *river.Workers, s *Service) []*river.PeriodicJob {
	river.AddWorker(workers, NewSubmitWorker(s))
	river.AddWorker(workers, NewTickWorker(s))
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return TickArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})}
}

// noteSubmitFailure keeps why a queued submission was refused on the
// release (release show prints it), audited, without changing its status.
func (s *Service) noteSubmitFailure(ctx context.Context, a SubmitArgs, cause error) error {
	t, err := s.load(ctx, a.App, a.Version, a.Platform)
	if err != nil {
		return err
	}
	after := t.rp
	after.Reason = "submission failed: " + ripcord.ErrorMessage(cause)
	return s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.ReleaseRolloutPut(ctx, t.rel.ID, after); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, s.clock(), "release.submit_failed",
			fmt.Sprintf("release/%s/%s/%s", t.app.Name, t.rel.Version, a.Platform), nil,
			map[string]any{"status": string(t.rp.Status), "reason": after.Reason, "requested_by": a.RequestedBy}))
	})
}
