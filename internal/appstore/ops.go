package appstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// uncertainError is a write whose outcome is unknown: the response was lost
// or the store failed (5xx) after perhaps acting.
type uncertainError struct {
	op  string
	err error
}

func (e *uncertainError) Error() string {
	return fmt.Sprintf("appstore %s: outcome unknown: %v", e.op, e.err)
}

func (e *uncertainError) Unwrap() error { return e.err }

// uncertain reports whether a failed write may have been applied: 5xx, or
// a 409 without a rule code (a concurrent modification, not a refusal).
func (e *Error) uncertain() bool {
	if e.Status >= 500 {
		return true
	}
	if e.Status != http.StatusConflict {
		return false
	}
	for _, a := range e.Errors {
		if a.Code != "STATE_ERROR" && a.Code != "CONFLICT" {
			return false
		}
	}
	return len(e.Errors) > 0
}

// idempotent runs fn, which must read state before it writes, again while
// one of its writes ends with an unknown outcome, up to MaxAttempts times.
func (c *Client) idempotent(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		var u *uncertainError
		if err == nil || !errors.As(err, &u) {
			return err
		}
		if attempt >= c.cfg.MaxAttempts {
			return fmt.Errorf("appstore %s: gave up after %d attempts: %w", op, attempt, err)
		}
		wait := min(c.cfg.BaseBackoff<<(attempt-1), c.cfg.MaxBackoff)
		c.log.WarnContext(ctx, "appstore operation rerun after an unknown outcome", slog.String("op", op),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Any("err", err))
		if serr := c.cfg.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("appstore %s: %w (last error: %w)", op, serr, err)
		}
	}
}

// poll calls check until it reports done or fails, sleeping PollInterval
// between calls, and fails with ErrTimeout once timeout has passed on
// Config.Clock.
func (c *Client) poll(ctx context.Context, op string, timeout time.Duration, check func(ctx context.Context) (bool, error)) error {
	deadline := c.cfg.Clock().Add(timeout)
	for {
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
		left := deadline.Sub(c.cfg.Clock())
		if left <= 0 {
			return fmt.Errorf("appstore %s: %w after %v", op, ErrTimeout, timeout)
		}
		if err := c.cfg.Sleep(ctx, min(c.cfg.PollInterval, left)); err != nil {
			return fmt.Errorf("appstore %s: %w", op, err)
		}
	}
}

// resource is one JSON:API resource object as the client reads it.
type resource struct {
	Type          string                     `json:"type"`
	ID            string                     `json:"id"`
	Attributes    json.RawMessage            `json:"attributes"`
	Relationships map[string]json.RawMessage `json:"relationships"`
}

// relID returns the id of the to-one relationship name, or "".
func (r resource) relID(name string) string {
	var rel struct {
		Data *struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if raw, ok := r.Relationships[name]; ok && json.Unmarshal(raw, &rel) == nil && rel.Data != nil {
		return rel.Data.ID
	}
	return ""
}

// ident is a JSON:API resource identifier.
type ident struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// toOne is a request relationship object.
func toOne(typ, id string) map[string]any { return map[string]any{"data": ident{Type: typ, ID: id}} }

// getOne reads a single-resource document into r and its attributes into attrs.
func (c *Client) getOne(ctx context.Context, op, path string, r *resource, attrs any) error {
	var doc struct {
		Data resource `json:"data"`
	}
	if err := c.do(ctx, op, http.MethodGet, c.url(path, nil), nil, &doc); err != nil {
		return err
	}
	*r = doc.Data
	if attrs != nil && len(r.Attributes) > 0 {
		if err := json.Unmarshal(r.Attributes, attrs); err != nil {
			return fmt.Errorf("appstore %s: decode attributes: %w", op, err)
		}
	}
	return nil
}

// send writes doc with method to path and decodes the answer's data into
// r (which may be nil).
func (c *Client) send(ctx context.Context, op, method, path string, doc any, r *resource) error {
	var out struct {
		Data resource `json:"data"`
	}
	var dst any
	if r != nil {
		dst = &out
	}
	if err := c.do(ctx, op, method, c.url(path, nil), doc, dst); err != nil {
		return err
	}
	if r != nil {
		*r = out.Data
	}
	return nil
}

// listResources follows pagination of path and returns every resource.
func (c *Client) listResources(ctx context.Context, op, rawURL string) ([]resource, error) {
	var out []resource
	err := c.list(ctx, op, rawURL, func(data json.RawMessage) error {
		var rs []resource
		if err := json.Unmarshal(data, &rs); err != nil {
			return err
		}
		out = append(out, rs...)
		return nil
	})
	return out, err
}

func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}
