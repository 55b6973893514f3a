package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"
)

// DeliverArgs is one message for one destination.
type DeliverArgs struct {
	DeliveryID  string          `json:"delivery_id"`
	Destination string          `json:"destination"` // Destination.ID
	Message     json.RawMessage `json:"message"`
}

// Kind names the job in the queue.
func (DeliverArgs) Kind() string { return "notify_deliver" }

// DeliverWorker sends queued messages.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	n *Notifier
}

// Worker returns the worker that delivers n's messages.
func (n *Notifier) Worker() *DeliverWorker { return &DeliverWorker{n: n} }

// Timeout bounds one delivery attempt.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return 30 * time.Second }

// NextRetry doubles the delay from RetryBase, capped at an hour: a receiver
// that is down for a while is not hammered, and one back soon gets the
// message soon.
func (w *DeliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	d := w.n.cfg.RetryBase
	for i := 1; i < job.Attempt && d < time.Hour; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, time.Hour))
}

// Work sends the message. A network error, a 5xx or a 429 returns an
// error, so River retries it; another 4xx means the receiver refuses this
// message (a wrong URL, a revoked Slack hook): retrying cannot help, so the
// job is cancelled with an error log saying what to fix.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	log := w.n.cfg.Logger
	d, ok := w.n.byID[job.Args.Destination]
	if !ok {
		log.WarnContext(ctx, "notification dropped: its destination is no longer configured", slog.String("destination", job.Args.Destination),
			slog.String("delivery_id", job.Args.DeliveryID))
		return nil
	}
	body, err := w.n.body(d, job.Args.Message)
	if err != nil {
		log.ErrorContext(ctx, "notification dropped: unreadable message", slog.String("delivery_id", job.Args.DeliveryID), slog.String("error", err.Error()))
		return river.JobCancel(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return river.JobCancel(fmt.Errorf("notify %s %s: %w", d.Kind, d.ID(), err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Ripcord-Notify/1")
	req.Header.Set(SignatureHeader, Sign(w.n.cfg.Secret, w.n.cfg.Now(), body))
	req.Header.Set(DeliveryHeader, job.Args.DeliveryID)
	resp, err := w.n.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("notify %s %s (attempt %d, will retry): %w", d.Kind, d.ID(), job.Attempt, err)
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		log.InfoContext(ctx, "notification delivered", slog.String("kind", d.Kind), slog.String("destination", d.ID()),
			slog.String("delivery_id", job.Args.DeliveryID), slog.Int("attempt", job.Attempt))
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return fmt.Errorf("notify %s %s: receiver answered %s (attempt %d, will retry)", d.Kind, d.ID(), resp.Status, job.Attempt)
	}
	err = fmt.Errorf("notify %s %s: receiver refused the message with %s: %s", d.Kind, d.ID(), resp.Status, strings.TrimSpace(string(snippet)))
	log.ErrorContext(ctx, "notification refused by its receiver; not retrying: check the URL in notify.webhooks / notify.slack_urls",
		slog.String("kind", d.Kind), slog.String("destination", d.ID()), slog.String("delivery_id", job.Args.DeliveryID),
		slog.Int("status", resp.StatusCode), slog.String("error", err.Error()))
	return river.JobCancel(err)
}

// body is what the destination receives: the message itself for a
// webhook, Slack's incoming-webhook JSON for Slack.
func (n *Notifier) body(d Destination, raw json.RawMessage) ([]byte, error) {
	if d.Kind == KindWebhook {
		return raw, nil
	}
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"text": SlackText(m)})
}

// SlackText writes a message for Slack: the text, then the rollback line.
func SlackText(m Message) string {
	var b strings.Builder
	b.WriteString(m.Text)
	if r := m.Rollback; r != nil {
		b.WriteString("\n")
		if r.Automatic {
			b.WriteString(":leftwards_arrow_with_hook: " + r.Note)
		} else {
			fmt.Fprintf(&b, ":leftwards_arrow_with_hook: Roll back in one step: `%s`", r.CLI)
			if r.APIURL != "" {
				fmt.Fprintf(&b, " or `%s %s`", r.APIMethod, r.APIURL)
			}
		}
	}
	if m.Incident != nil && m.Incident.URL != "" {
		b.WriteString("\n" + m.Incident.URL)
	}
	return b.String()
}
