package play

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// retry runs fn up to MaxAttempts times while it fails with a retryable
// *Error, waiting Retry-After or an exponential backoff between tries.
func (c *Client) retry(ctx context.Context, op, pkg string, fn func(ctx context.Context) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = fn(ctx)
		var pe *Error
		if err == nil || !errors.As(err, &pe) || !pe.retryable() {
			return err
		}
		if attempt >= c.cfg.MaxAttempts {
			return fmt.Errorf("play %s %s: gave up after %d attempts: %w", op, pkg, attempt, err)
		}
		wait := pe.retryAfter()
		if wait <= 0 {
			wait = min(c.cfg.BaseBackoff<<(attempt-1), c.cfg.MaxBackoff)
		}
		wait = min(wait, c.cfg.MaxBackoff)
		c.log.WarnContext(ctx, "play call retried", slog.String("op", op), slog.String("package", pkg),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Any("err", err))
		if serr := c.cfg.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("play %s %s: %w (last error: %w)", op, pkg, serr, err)
		}
	}
}
