// Package incident is the use case for incident records: a health verdict
// at the pause or rollback tier, a runbook trigger or a person opens one
// per release, platform and trigger (a repeat breach is appended to the
// open one), people resolve it with a summary, and its timeline joins its
// own events with what the audit log recorded on the release since it
// opened. Opening queues the notifications in the same transaction.
package incident

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/notify"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Notifier queues a message in a transaction (internal/notify).
type Notifier interface {
	Enqueue(ctx context.Context, tx notify.JobInserter, m notify.Message) error
}

// Config holds the service's dependencies.
type Config struct {
	Store storage.Store // required
	// Notify queues the alerts. Default: none (alerts are only logged).
	Notify Notifier
	// AutoRollback says whether an app opted in to automatic rollback
	// (config health.auto_rollback_apps), so a rollback-tier alert says
	// Ripcord rolls back instead of offering the one-click rollback.
	// Default: no app.
	AutoRollback func(app string) bool
	// PublicURL is the server's address as people reach it, for links in
	// alerts (config notify.public_url). Default "": links are paths.
	PublicURL string
	// Now is the clock. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service opens, lists, shows and resolves incidents.
type Service struct{ cfg Config }

// New builds the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("incident: Config.Store is required")
	}
	if cfg.AutoRollback == nil {
		cfg.AutoRollback = func(string) bool { return false }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	return &Service{cfg: cfg}, nil
}

func (s *Service) clock() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// IncidentParams is what opens an incident.
type IncidentParams struct {
	App      string
	Version  string
	Platform ripcord.Platform
	// Trigger is "health:<metric>", "runbook:<runbook>/<trigger>" or "manual".
	Trigger string
	// Decision is the sentence that explains why, shown first.
	Decision string
	// RunbookID names the runbook that applies; optional.
	RunbookID string
	// Outcome is the health tier ("pause", "rollback") when a verdict
	// opened it; a rollback-tier alert carries the one-click rollback.
	// Optional.
	Outcome string
}

// maxRunbookID bounds a runbook id.
const maxRunbookID = 200

// Open opens an incident, or appends a breach to the open incident of the
// same release, platform and trigger, and returns its id. Opening queues
// an alert; a repeat breach queues one only when it is worse (rollback
// after pause). Engineers and above may open incidents.
func (s *Service) Open(ctx context.Context, p IncidentParams) (int64, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleEngineer); err != nil {
		return 0, err
	}
	app, err := s.validate(ctx, &p)
	if err != nil {
		return 0, err
	}
	var id int64
	// A concurrent Open of the same incident loses on the unique index;
	// the second try then finds the winner's incident and appends to it.
	for try := 0; ; try++ {
		id, err = s.openOnce(ctx, app, p)
		if errors.Is(err, storage.ErrConflict) && try == 0 {
			continue
		}
		break
	}
	if err != nil {
		return 0, fmt.Errorf("open incident for %s %s on %s: %w", p.App, p.Version, p.Platform, err)
	}
	return id, nil
}

func (s *Service) validate(ctx context.Context, p *IncidentParams) (*ripcord.App, error) {
	v, err := ripcord.ParseVersion(p.Version)
	if err != nil {
		return nil, err
	}
	p.Version = v.String()
	if _, err := ripcord.ParsePlatform(string(p.Platform)); err != nil {
		return nil, err
	}
	if err := ripcord.ValidateIncidentTrigger(p.Trigger); err != nil {
		return nil, err
	}
	if err := ripcord.ValidateIncidentText("decision", p.Decision, true); err != nil {
		return nil, err
	}
	if len(p.RunbookID) > maxRunbookID {
		return nil, ripcord.Errorf(ripcord.EINVALID, "runbook id is %d bytes; the limit is %d", len(p.RunbookID), maxRunbookID)
	}
	switch p.Outcome {
	case "", "pause", "rollback", "fix_forward":
	default:
		return nil, ripcord.Errorf(ripcord.EINVALID, "outcome %q is not a breach tier; use pause, rollback or leave it empty", p.Outcome)
	}
	app, err := s.cfg.Store.AppGetByName(ctx, p.App)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no app %s; `ripcord app list` shows the apps", p.App)
	} else if err != nil {
		return nil, err
	}
	if !app.Has(p.Platform) {
		return nil, ripcord.Errorf(ripcord.EINVALID, "app %s is not on %s", app.Name, p.Platform)
	}
	return app, nil
}

func (s *Service) openOnce(ctx context.Context, app *ripcord.App, p IncidentParams) (int64, error) {
	now := s.clock()
	actor := ripcord.ActorFromContext(ctx).Name
	var id int64
	err := s.cfg.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		cur, err := tx.IncidentGetOpen(ctx, app.ID, p.Version, p.Platform, p.Trigger)
		switch {
		case err == nil:
			id = cur.ID
			return s.appendBreach(ctx, tx, cur, p, now, actor)
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
		in := &ripcord.Incident{AppID: app.ID, App: app.Name, Version: p.Version, Platform: p.Platform, Trigger: p.Trigger, Decision: p.Decision,
			Outcome: p.Outcome, RunbookID: p.RunbookID, OpenedBy: actor, OpenedAt: now}
		if err := tx.IncidentCreate(ctx, in); err != nil {
			return err
		}
		id = in.ID
		if err := tx.IncidentEventAppend(ctx, &ripcord.IncidentEvent{IncidentID: in.ID, At: now, Actor: actor, Kind: ripcord.IncidentEventOpened, Message: p.Decision}); err != nil {
			return err
		}
		if err := tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "incident.open", ripcord.IncidentTarget(in.ID), nil, map[string]any{
			"release": ripcord.ReleaseTarget(app.Name, p.Version, p.Platform), "trigger": p.Trigger, "decision": p.Decision, "outcome": p.Outcome, "runbook": p.RunbookID,
		})); err != nil {
			return err
		}
		return s.alert(ctx, tx, notify.EventIncidentOpened, in, p.Outcome, p.Decision)
	})
	if err == nil {
		s.cfg.Logger.InfoContext(ctx, "incident recorded", slog.Int64("incident", id), slog.String("app", app.Name), slog.String("version", p.Version),
			slog.String("platform", string(p.Platform)), slog.String("trigger", p.Trigger), slog.String("decision", p.Decision))
	}
	return id, err
}

// severity orders outcomes so a repeat breach that is worse is alerted.
var severity = map[string]int{"": 0, "fix_forward": 1, "pause": 2, "rollback": 3}

func (s *Service) appendBreach(ctx context.Context, tx storage.Tx, cur *ripcord.Incident, p IncidentParams, now time.Time, actor string) error {
	if err := tx.IncidentEventAppend(ctx, &ripcord.IncidentEvent{IncidentID: cur.ID, At: now, Actor: actor, Kind: ripcord.IncidentEventBreach, Message: p.Decision}); err != nil {
		return err
	}
	if err := tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "incident.breach", ripcord.IncidentTarget(cur.ID), nil,
		map[string]any{"decision": p.Decision, "outcome": p.Outcome})); err != nil {
		return err
	}
	if severity[p.Outcome] <= severity[cur.Outcome] {
		return nil
	}
	return s.alert(ctx, tx, notify.EventIncidentBreach, cur, p.Outcome, p.Decision)
}

// alert queues the message about an incident.
func (s *Service) alert(ctx context.Context, tx storage.Tx, event string, in *ripcord.Incident, outcome, decision string) error {
	if s.cfg.Notify == nil {
		return nil
	}
	what := "opened"
	if event == notify.EventIncidentBreach {
		what = "got worse"
	}
	m := notify.Message{Event: event, At: s.clock(),
		Text: fmt.Sprintf("Incident #%d %s: %s %s on %s — %s (trigger %s)", in.ID, what, in.App, in.Version, in.Platform, decision, in.Trigger),
		Incident: &notify.IncidentRef{ID: in.ID, App: in.App, Version: in.Version, Platform: string(in.Platform), Trigger: in.Trigger,
			Outcome: outcome, Decision: decision, URL: s.link(fmt.Sprintf("/api/v1/incidents/%d", in.ID))}}
	if outcome == "rollback" {
		m.Rollback = s.rollback(in)
	}
	return s.cfg.Notify.Enqueue(ctx, tx, m)
}

// rollback says how the release gets rolled back.
func (s *Service) rollback(in *ripcord.Incident) *notify.Rollback {
	if s.cfg.AutoRollback(in.App) {
		return &notify.Rollback{Automatic: true, Note: fmt.Sprintf(
			"Ripcord rolls %s %s back on its own once its rollback build is ready (health.auto_rollback_apps); until then the rollout is halted.", in.App, in.Version)}
	}
	path := "/api/v1/apps/" + url.PathEscape(in.App) + "/releases/" + url.PathEscape(in.Version) + "/rollback?platform=" + string(in.Platform)
	return &notify.Rollback{CLI: fmt.Sprintf("ripcord release rollback %s %s --platform %s", in.App, in.Version, in.Platform),
		APIMethod: "POST", APIURL: s.link(path),
		Note: "Roll back in one step with the command or the API call (release-manager token); the rollout is already halted."}
}

func (s *Service) link(path string) string { return s.cfg.PublicURL + path }
