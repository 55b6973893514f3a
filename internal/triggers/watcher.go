package triggers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/runbook"
	"github.com/ripcordhq/ripcord/internal/runbooks"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// IncidentParams is what an incident opened by a trigger carries.
type IncidentParams struct {
	App       string
	Version   string
	Platform  ripcord.Platform
	Trigger   string // the trigger as written: "T1: flow_error_rate of exam-submit > 5% ..."
	TriggerID string // the trigger's id in the runbook, e.g. "T1"
	Decision  string // the sentence saying why it fired, with the windows' values
	RunbookID string // the runbook attached to the incident
}

// IncidentOpener opens incidents. The incidents service implements it; the
// daemon wires it in.
type IncidentOpener interface {
	Open(ctx context.Context, p IncidentParams) (id int64, err error)
}

// Config holds the watcher's dependencies.
type Config struct {
	Store storage.Store // required
	// Incidents opens an incident when a trigger fires. Default: none, and
	// firings are only logged and audited.
	Incidents IncidentOpener
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives firings and failures. Default slog.Default().
	Logger *slog.Logger
}

// Watcher evaluates an app's runbook triggers for a release.
type Watcher struct {
	store     storage.Store
	incidents IncidentOpener
	now       func() time.Time
	logger    *slog.Logger
}

// New builds a watcher.
func New(cfg Config) *Watcher {
	w := &Watcher{store: cfg.Store, incidents: cfg.Incidents, now: cfg.Now, logger: cmp.Or(cfg.Logger, slog.Default())}
	if w.now == nil {
		w.now = time.Now
	}
	return w
}

// Firing is a trigger that fired on this call and the incident opened.
type Firing struct {
	RunbookID  string
	TriggerID  string
	Sentence   string
	IncidentID int64
}

// Observe evaluates every trigger of the app's current runbooks for one
// release on one platform, over windows ending at end (exclusive; the
// caller passes the minute after the newest counts). Each trigger fires at
// most once per release: the firing is claimed in storage first, so two
// concurrent ingests open one incident. When opening fails the claim is
// dropped and the next ingest tries again.
func (w *Watcher) Observe(ctx context.Context, app *ripcord.App, platform ripcord.Platform, version string, end time.Time) ([]Firing, error) {
	// Firings are Ripcord's own decisions, audited and opened as such.
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "ripcord:triggers", Role: ripcord.RoleReleaseManager})
	cur, err := w.store.RunbookCurrentList(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	// A trigger that already fired for the release is not evaluated again:
	// the steady state of a bad release costs one read per ingest.
	fired, err := w.store.TriggerFiringList(ctx, app.ID, string(platform), version)
	if err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for _, f := range fired {
		done[f.RunbookID+"\x00"+f.TriggerID] = true
	}
	var out []Firing
	for i := range cur {
		rb, findings := runbook.Parse(".ripcord/runbooks/"+cur[i].RunbookID+".md", []byte(cur[i].Content))
		if len(findings) > 0 {
			continue // pushes are linted; an old stored version that no longer lints is not watched
		}
		for _, t := range rb.Triggers {
			if done[rb.ID+"\x00"+t.ID] {
				continue
			}
			f, err := w.observe(ctx, app, platform, version, end, rb, t)
			if err != nil {
				return out, err
			}
			if f != nil {
				out = append(out, *f)
			}
		}
	}
	return out, nil
}

func (w *Watcher) observe(ctx context.Context, app *ripcord.App, platform ripcord.Platform, version string, end time.Time, rb *runbook.Runbook, t runbook.Trigger) (*Firing, error) {
	metric, _, ok := Metric(t)
	if !ok || t.Window <= 0 {
		return nil, nil
	}
	n := max(t.Consecutive, 1)
	windows := make([]Window, n)
	for i := range n {
		from := end.Add(-time.Duration(n-i) * t.Window)
		c, err := w.store.HealthSum(ctx, storage.HealthSumParams{AppID: app.ID, Platform: platform, Version: version, Metric: metric, From: from, To: from.Add(t.Window)})
		if err != nil {
			return nil, fmt.Errorf("trigger %s/%s: %w", rb.ID, t.ID, err)
		}
		windows[i] = Window{Start: from, Counts: c}
	}
	res := Evaluate(t, windows)
	if !res.Fired {
		return nil, nil
	}
	now := w.now().UTC().Truncate(time.Microsecond)
	f := storage.TriggerFiring{AppID: app.ID, Platform: string(platform), Version: version, RunbookID: rb.ID, TriggerID: t.ID, FiredAt: now}
	var claimed bool
	err := w.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		var err error
		if claimed, err = tx.TriggerFiringClaim(ctx, f); err != nil || !claimed {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "trigger.fire", fmt.Sprintf("release/%s/%s/%s", app.Name, version, platform), nil,
			map[string]any{"runbook": rb.ID, "trigger": t.ID, "decision": res.Sentence}))
	})
	if err != nil || !claimed {
		return nil, err
	}
	firing := &Firing{RunbookID: rb.ID, TriggerID: t.ID, Sentence: res.Sentence}
	w.logger.WarnContext(ctx, "runbook trigger fired", slog.String("app", app.Name), slog.String("version", version), slog.String("platform", string(platform)),
		slog.String("runbook", rb.ID), slog.String("trigger", t.ID), slog.String("decision", res.Sentence))
	if w.incidents == nil {
		return firing, nil
	}
	id, err := w.incidents.Open(ctx, IncidentParams{App: app.Name, Version: version, Platform: platform, Trigger: t.ID + ": " + runbooks.TriggerText(t), TriggerID: t.ID,
		Decision: res.Sentence, RunbookID: rb.ID})
	if err != nil {
		derr := w.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.TriggerFiringDelete(ctx, f) })
		return nil, errors.Join(fmt.Errorf("open the incident of trigger %s/%s: %w", rb.ID, t.ID, err), derr)
	}
	f.IncidentID, firing.IncidentID = id, id
	if err := w.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.TriggerFiringSetIncident(ctx, f) }); err != nil {
		return firing, err
	}
	return firing, nil
}
