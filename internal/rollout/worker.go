package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Queue is the job queue rollout actions run on. It is their own, polled
// often, so a rollback never waits behind a long rollback-build
// preparation or a periodic sweep, and starts within milliseconds on SQLite
// too (which has no LISTEN/NOTIFY).
const Queue = "rollout"

// QueuePollInterval is how often an idle rollout queue looks for new jobs.
const QueuePollInterval = 10 * time.Millisecond

// actionAttempts bounds the runs of one action on transient store or
// database failures; with retryDelay the last comes about 15 minutes after
// the first. Each run's store calls are themselves retried by the
// connectors.
const actionAttempts = 10

// ActionArgs runs (or resumes) a rollout action.
type ActionArgs struct {
	ActionID int64 `json:"action_id"`
}

// Kind names the job in the queue.
func (ActionArgs) Kind() string { return "rollout_action" }

// InsertOpts puts the job on the rollout queue, unique per action while it
// is not finished.
func (ActionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: actionAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// Worker runs rollout actions for River.
type Worker struct {
	river.WorkerDefaults[ActionArgs]
	svc *Service
}

// NewWorker builds the worker on svc.
func NewWorker(svc *Service) *Worker { return &Worker{svc: svc} }

// Timeout bounds one run; the connectors' own retries of a rate-limited
// store fit in it.
func (w *Worker) Timeout(*river.Job[ActionArgs]) time.Duration { return 5 * time.Minute }

// NextRetry retries sooner than River's default (attempt⁴ seconds): an
// incident is no time to wait hours. 2 s, 4 s, 8 s … capped at 2 minutes.
func (w *Worker) NextRetry(job *river.Job[ActionArgs]) time.Time {
	return time.Now().Add(retryDelay(job.Attempt))
}

func retryDelay(attempt int) time.Duration {
	return min(time.Second<<min(attempt, 10), 2*time.Minute)
}

// Work runs the action. A permanent failure is recorded by Run and ends the
// job; a transient one is retried, and on the last attempt recorded as the
// action's failure too, so no action is left running without a job.
func (w *Worker) Work(ctx context.Context, job *river.Job[ActionArgs]) error {
	a, err := w.svc.Run(ctx, job.Args.ActionID)
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(*PermanentError)):
		return river.JobCancel(err)
	case a != nil && job.Attempt >= job.MaxAttempts:
		cause := fmt.Errorf("gave up after %d attempts: %w", job.Attempt, err)
		if ferr := w.svc.Fail(context.WithoutCancel(ctx), a, cause); ferr != nil {
			return errors.Join(cause, ferr)
		}
		return river.JobCancel(cause)
	}
	w.svc.logger.WarnContext(ctx, "rollout action stopped; it will be retried", slog.Int64("action", job.Args.ActionID),
		slog.Int("attempt", job.Attempt), slog.Duration("retry_in", retryDelay(job.Attempt)), slog.String("error", err.Error()))
	return err
}
