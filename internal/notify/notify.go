// Package notify tells people about incidents and failing health pollers
// by webhook and Slack (incoming-webhook JSON). Every message is sent by a
// River job inserted in the transaction of the change it reports, so it is
// sent once that change commits, survives a restart, and is retried with
// backoff when a receiver fails; each payload carries a delivery id that
// stays the same across retries so a receiver can drop repeats, and an
// HMAC-SHA256 signature over its timestamp and body (see Sign and Verify).
package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/riverqueue/river"
)

// Destination kinds.
const (
	KindWebhook = "webhook" // the Message JSON as is
	KindSlack   = "slack"   // a Slack incoming webhook: {"text": ...}
)

// Destination is one receiver of every notification.
type Destination struct {
	Kind string // KindWebhook or KindSlack
	URL  string
}

// ID names the destination in queued jobs without writing its URL (a
// Slack webhook URL is a secret) into the job table: the first 8 bytes of
// SHA-256 over kind and URL, in hex. A job whose destination left the
// configuration is dropped with a log line.
func (d Destination) ID() string {
	sum := sha256.Sum256([]byte(d.Kind + "\x00" + d.URL))
	return hex.EncodeToString(sum[:8])
}

// Events a message reports.
const (
	EventIncidentOpened  = "incident.opened"  // a new incident
	EventIncidentBreach  = "incident.breach"  // a worse verdict on an open incident
	EventPollerFailing   = "poller.failing"   // a health poller failed N times in a row
	EventPollerRecovered = "poller.recovered" // a failing poller got data again
)

// Message is what a webhook receives (as JSON) and what a Slack message is
// written from.
type Message struct {
	// DeliveryID is the same on every retry of the message and differs
	// between messages: receivers drop a delivery id they have seen.
	DeliveryID string       `json:"delivery_id"`
	Event      string       `json:"event"`
	At         time.Time    `json:"at"`
	Text       string       `json:"text"` // one paragraph for people
	Incident   *IncidentRef `json:"incident,omitempty"`
	Rollback   *Rollback    `json:"rollback,omitempty"`
	Poller     *PollerRef   `json:"poller,omitempty"`
}

// IncidentRef describes the incident a message is about.
type IncidentRef struct {
	ID       int64  `json:"id"`
	App      string `json:"app"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
	Trigger  string `json:"trigger"`
	Outcome  string `json:"outcome,omitempty"`
	Decision string `json:"decision"`
	URL      string `json:"url,omitempty"` // the incident in the API, when the public URL is configured
}

// Rollback is what a rollback-tier alert says about rolling back: either
// that Ripcord does it on its own (the app opted in), or how to do it in
// one step.
type Rollback struct {
	Automatic bool   `json:"automatic"`
	CLI       string `json:"cli,omitempty"`        // e.g. ripcord release rollback shop 1.2.0 --platform android
	APIMethod string `json:"api_method,omitempty"` // POST
	APIURL    string `json:"api_url,omitempty"`    // the rollback endpoint
	Note      string `json:"note"`
}

// PollerRef describes a failing health poller.
type PollerRef struct {
	Source            string    `json:"source"`
	App               string    `json:"app"`
	Platform          string    `json:"platform"`
	ConsecutiveErrors int64     `json:"consecutive_errors"`
	LastError         string    `json:"last_error"`
	LastSuccessAt     time.Time `json:"last_success_at,omitzero"`
}

// Config configures a Notifier.
type Config struct {
	// Destinations receive every message. None: messages are only logged.
	Destinations []Destination
	// Secret keys the HMAC-SHA256 signature. Required with destinations.
	Secret []byte
	// HTTPClient sends the requests. Default: a client with a 15 s timeout.
	HTTPClient *http.Client
	// RetryBase is the first retry's delay; each further retry doubles it,
	// up to an hour. Default 10 s.
	RetryBase time.Duration
	// MaxAttempts bounds deliveries of one message to one destination.
	// Default 12 (about 11 hours of retries with the default base).
	MaxAttempts int
	// Now is the clock of signatures. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Notifier queues and delivers messages.
type Notifier struct {
	cfg  Config
	byID map[string]Destination
}

// New builds a Notifier; it refuses destinations without a secret, since
// receivers could not tell Ripcord's messages from anyone's.
func New(cfg Config) (*Notifier, error) {
	if len(cfg.Destinations) > 0 && len(cfg.Secret) == 0 {
		return nil, errors.New("notify: a signing secret (notify.signing_secret) is required when webhooks or Slack URLs are configured")
	}
	cfg.HTTPClient = cmp.Or(cfg.HTTPClient, &http.Client{Timeout: 15 * time.Second})
	cfg.RetryBase = cmp.Or(cfg.RetryBase, 10*time.Second)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, 12)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	n := &Notifier{cfg: cfg, byID: map[string]Destination{}}
	for _, d := range cfg.Destinations {
		if d.Kind != KindWebhook && d.Kind != KindSlack {
			return nil, fmt.Errorf("notify: destination kind %q must be webhook or slack", d.Kind)
		}
		n.byID[d.ID()] = d
	}
	return n, nil
}

// JobInserter is the slice of storage.Tx Enqueue needs: the job commits
// with the change it reports.
type JobInserter interface {
	JobInsert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error
}

// Enqueue queues m for every destination inside tx, giving it a delivery
// id when it has none. With no destination it only logs m.
func (n *Notifier) Enqueue(ctx context.Context, tx JobInserter, m Message) error {
	if m.DeliveryID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		m.DeliveryID = hex.EncodeToString(b[:])
	}
	if m.At.IsZero() {
		m.At = n.cfg.Now().UTC()
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("notify: encode %s message: %w", m.Event, err)
	}
	if len(n.cfg.Destinations) == 0 {
		n.cfg.Logger.InfoContext(ctx, "notification not sent: no webhook or Slack URL configured", slog.String("event", m.Event), slog.String("text", m.Text))
		return nil
	}
	for _, d := range n.cfg.Destinations {
		args := DeliverArgs{DeliveryID: m.DeliveryID, Destination: d.ID(), Message: body}
		if err := tx.JobInsert(ctx, args, &river.InsertOpts{MaxAttempts: n.cfg.MaxAttempts}); err != nil {
			return fmt.Errorf("notify: queue %s message for %s %s: %w", m.Event, d.Kind, d.ID(), err)
		}
	}
	return nil
}
