// Package gate is the go/no-go release gate: it evaluates the items of an
// app's pushed gate file (.ripcord/gate.yaml) for a release, records
// approvals and manual checks by people holding the item's team role, and
// records every check's decision (who, when, each item's result and a hash
// of them). A release goes only when every item passes; there is no override
// anywhere. The rollout flow asks GoRecorded before a production rollout.
package gate

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/runbook"
	"github.com/ripcordhq/ripcord/internal/runbooks"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Config holds the service's dependencies.
type Config struct {
	Store storage.Store // required
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
}

// Service evaluates gates, records approvals and decisions.
type Service struct {
	store  storage.Store
	now    func() time.Time
	logger *slog.Logger
}

// New builds the service.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, now: cfg.Now, logger: cmp.Or(cfg.Logger, slog.Default())}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// ItemResult is one gate item's result with its evidence.
type ItemResult struct {
	ID       string   `json:"id"`
	Check    string   `json:"check,omitempty"` // "" for a manual item
	Pass     bool     `json:"pass"`
	Evidence []string `json:"evidence"`
}

// Decision is a recorded gate check.
type Decision struct {
	ID        int64
	App       string
	Version   string
	Go        bool
	Items     []ItemResult
	ItemsHash string
	GateHash  string
	DecidedBy string
	DecidedAt time.Time
}

// Failing names the items that do not pass.
func (d *Decision) Failing() []string {
	var out []string
	for _, it := range d.Items {
		if !it.Pass {
			out = append(out, it.ID)
		}
	}
	return out
}

// Check evaluates every item of the app's gate for a release and records
// the decision: go when every item passes, no-go otherwise.
func (s *Service) Check(ctx context.Context, appName, version string) (*Decision, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleEngineer); err != nil {
		return nil, err
	}
	var d *Decision
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		app, rel, err := release(ctx, tx, appName, version)
		if err != nil {
			return err
		}
		items, gateHash, err := evaluate(ctx, tx, app, rel)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(items)
		if err != nil {
			return fmt.Errorf("encode gate items: %w", err)
		}
		sum := sha256.Sum256(raw)
		now := s.clock()
		rec := &storage.GateDecision{AppID: app.ID, Version: version, Go: allPass(items), Items: string(raw), ItemsHash: hex.EncodeToString(sum[:]),
			GateHash: gateHash, DecidedBy: ripcord.ActorFromContext(ctx).Name, DecidedAt: now}
		if err := tx.GateDecisionAppend(ctx, rec); err != nil {
			return err
		}
		d = &Decision{ID: rec.ID, App: appName, Version: version, Go: rec.Go, Items: items, ItemsHash: rec.ItemsHash, GateHash: gateHash, DecidedBy: rec.DecidedBy, DecidedAt: now}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "gate.check", releaseTarget(appName, version), nil,
			map[string]any{"go": d.Go, "failing": d.Failing(), "items_hash": d.ItemsHash, "gate_hash": gateHash, "decision": rec.ID}))
	})
	if err != nil {
		return nil, fmt.Errorf("check the gate of %s %s: %w", appName, version, err)
	}
	return d, nil
}

// Latest returns the newest recorded decision of a release.
func (s *Service) Latest(ctx context.Context, appName, version string) (*Decision, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, _, err := release(ctx, s.store, appName, version)
	if err != nil {
		return nil, err
	}
	rec, err := s.store.GateDecisionLatest(ctx, app.ID, version)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no gate decision is recorded for %s %s; `ripcord gate check %s %s` records one", appName, version, appName, version)
	} else if err != nil {
		return nil, err
	}
	return fromRecord(appName, rec)
}

func fromRecord(app string, rec *storage.GateDecision) (*Decision, error) {
	d := &Decision{ID: rec.ID, App: app, Version: rec.Version, Go: rec.Go, ItemsHash: rec.ItemsHash, GateHash: rec.GateHash, DecidedBy: rec.DecidedBy, DecidedAt: rec.DecidedAt}
	if err := json.Unmarshal([]byte(rec.Items), &d.Items); err != nil {
		return nil, fmt.Errorf("gate decision %d: items: %w", rec.ID, err)
	}
	return d, nil
}

// GoRecorded returns nil when a go decision is recorded for the release
// and still holds (every item passes again now), and otherwise an ECONFLICT
// error naming what fails. The rollout flow calls it before any production
// rollout start; it authorises nothing itself.
func (s *Service) GoRecorded(ctx context.Context, appName, version string) error {
	app, rel, err := release(ctx, s.store, appName, version)
	if err != nil {
		return err
	}
	rec, err := s.store.GateDecisionLatest(ctx, app.ID, version)
	if errors.Is(err, storage.ErrNotFound) {
		return ripcord.Errorf(ripcord.ECONFLICT, "no go decision is recorded for %s %s: run `ripcord gate check %s %s` once every gate item passes", appName, version, appName, version)
	} else if err != nil {
		return err
	}
	if !rec.Go {
		d, err := fromRecord(appName, rec)
		if err != nil {
			return err
		}
		return ripcord.Errorf(ripcord.ECONFLICT, "the last gate check of %s %s (%s by %s) was no-go: %s fail; fix them and run `ripcord gate check %s %s`",
			appName, version, rec.DecidedAt.Format(time.RFC3339), rec.DecidedBy, strings.Join(d.Failing(), ", "), appName, version).
			WithDetails(map[string]any{"failing": d.Failing()})
	}
	items, _, err := evaluate(ctx, s.store, app, rel)
	if err != nil {
		return err
	}
	if !allPass(items) {
		var failing []string
		for _, it := range items {
			if !it.Pass {
				failing = append(failing, it.ID+" ("+strings.Join(it.Evidence, "; ")+")")
			}
		}
		return ripcord.Errorf(ripcord.ECONFLICT, "the go decision for %s %s no longer holds: %s; run `ripcord gate check %s %s` again when they pass",
			appName, version, strings.Join(failing, ", "), appName, version)
	}
	return nil
}

func allPass(items []ItemResult) bool {
	for _, it := range items {
		if !it.Pass {
			return false
		}
	}
	return len(items) > 0
}

func releaseTarget(app, version string) string { return "release/" + app + "/" + version }

// release finds an app and one of its releases, with errors saying how.
func release(ctx context.Context, q storage.Queries, appName, version string) (*ripcord.App, *ripcord.Release, error) {
	app, err := runbooks.AppByName(ctx, q, appName)
	if err != nil {
		return nil, nil, err
	}
	rel, err := q.ReleaseGetByVersion(ctx, app.ID, version)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no release %s; create it with `ripcord release create %s %s`", appName, version, appName, version)
	}
	return app, rel, err
}

// currentGate returns the app's pushed gate, parsed; nil when none.
func currentGate(ctx context.Context, q storage.Queries, app *ripcord.App) (*runbook.Gate, *storage.GateVersion, error) {
	gv, err := q.GateVersionLatest(ctx, app.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	g, findings := runbook.ParseGate(".ripcord/gate.yaml", []byte(gv.Content))
	if len(findings) > 0 {
		return nil, nil, fmt.Errorf("stored gate of %s (version %d) does not lint: %s", app.Name, gv.ID, findings[0])
	}
	return g, gv, nil
}
