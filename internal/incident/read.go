package incident

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// ListParams filters a listing.
type ListParams struct {
	App      string // "" for every app
	OpenOnly bool   // only incidents not resolved (open or mitigated)
	Limit    int    // default 100
}

// List returns incidents newest first, with their state derived.
func (s *Service) List(ctx context.Context, p ListParams) ([]*ripcord.Incident, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	lp := storage.IncidentListParams{OpenOnly: p.OpenOnly, Limit: p.Limit}
	if p.App != "" {
		app, err := s.cfg.Store.AppGetByName(ctx, p.App)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no app %s; `ripcord app list` shows the apps", p.App)
		} else if err != nil {
			return nil, err
		}
		lp.AppID = app.ID
	}
	list, err := s.cfg.Store.IncidentList(ctx, lp)
	if err != nil {
		return nil, err
	}
	for _, in := range list {
		if _, err := s.derive(ctx, in); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// TimelineEntry is one line of an incident's timeline.
type TimelineEntry struct {
	At      time.Time `json:"at"`
	Source  string    `json:"source"` // "incident" or "audit"
	Actor   string    `json:"actor"`
	Kind    string    `json:"kind"`    // "opened", "breach", "release.halt", "health.decision"...
	Message string    `json:"message"` // the decision sentence, or the audit entry's after-state
	Seq     int64     `json:"seq,omitempty"`
}

// Detail is an incident with its timeline.
type Detail struct {
	Incident *ripcord.Incident
	Timeline []TimelineEntry
}

// Get returns an incident with its timeline: its own events and the
// release's audit entries since it opened (until it was resolved), oldest
// first.
func (s *Service) Get(ctx context.Context, id int64) (*Detail, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	in, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	audit, err := s.derive(ctx, in)
	if err != nil {
		return nil, err
	}
	evs, err := s.cfg.Store.IncidentEventList(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &Detail{Incident: in, Timeline: []TimelineEntry{}}
	for _, e := range evs {
		d.Timeline = append(d.Timeline, TimelineEntry{At: e.At, Source: "incident", Actor: e.Actor, Kind: e.Kind, Message: e.Message})
	}
	for _, e := range audit {
		d.Timeline = append(d.Timeline, TimelineEntry{At: e.At, Source: "audit", Actor: e.Actor, Kind: e.Action, Message: auditMessage(e), Seq: e.Seq})
	}
	slices.SortStableFunc(d.Timeline, func(a, b TimelineEntry) int { return a.At.Compare(b.At) })
	return d, nil
}

func (s *Service) load(ctx context.Context, id int64) (*ripcord.Incident, error) {
	in, err := s.cfg.Store.IncidentGet(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no incident %d; `ripcord incident list` shows the incidents", id)
	}
	return in, err
}

// mitigations are the audit actions that stop a bad release from reaching
// more users.
var mitigations = []string{"release.halt", "release.pause", "release.rollback"}

// derive reads the release's audit entries since the incident opened,
// sets MitigatedAt from the first mitigation among them (unless stored)
// and the state, and returns the entries.
func (s *Service) derive(ctx context.Context, in *ripcord.Incident) ([]ripcord.AuditEntry, error) {
	entries, err := s.releaseAudit(ctx, in)
	if err != nil {
		return nil, err
	}
	if in.MitigatedAt.IsZero() {
		for _, e := range entries {
			if slices.Contains(mitigations, e.Action) {
				in.MitigatedAt = e.At
				break
			}
		}
	}
	if in.State == ripcord.IncidentOpen && !in.MitigatedAt.IsZero() {
		in.State = ripcord.IncidentMitigated
	}
	return entries, nil
}

// releaseAudit pages through the audit entries of the incident's release
// on its platform, and the release's health decisions on that platform
// (recorded per version), between opening and resolving.
func (s *Service) releaseAudit(ctx context.Context, in *ripcord.Incident) ([]ripcord.AuditEntry, error) {
	var out []ripcord.AuditEntry
	for _, target := range []string{ripcord.ReleaseTarget(in.App, in.Version, in.Platform), "release/" + in.App + "/" + in.Version} {
		var after int64
		for {
			page, err := s.cfg.Store.AuditList(ctx, storage.AuditListParams{AfterSeq: after, Limit: 1000, Target: target})
			if err != nil {
				return nil, err
			}
			for _, e := range page {
				if e.At.Before(in.OpenedAt) || (!in.ResolvedAt.IsZero() && e.At.After(in.ResolvedAt)) || !samePlatform(e, in.Platform) {
					continue
				}
				out = append(out, e)
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Seq
		}
	}
	slices.SortFunc(out, func(a, b ripcord.AuditEntry) int { return int(a.Seq - b.Seq) })
	return out, nil
}

// samePlatform keeps version-level entries (health decisions) that name
// another platform out of the timeline.
func samePlatform(e ripcord.AuditEntry, p ripcord.Platform) bool {
	if strings.Count(e.Target, "/") == 3 {
		return true
	}
	var after struct {
		Platform string `json:"platform"`
	}
	if json.Unmarshal([]byte(e.After), &after) != nil || after.Platform == "" {
		return true
	}
	return after.Platform == string(p)
}

func auditMessage(e ripcord.AuditEntry) string {
	var after map[string]any
	if json.Unmarshal([]byte(e.After), &after) == nil {
		if s, ok := after["sentence"].(string); ok {
			return s
		}
		if st, ok := after["status"].(string); ok {
			if r, ok := after["reason"].(string); ok {
				return "now " + st + ": " + r
			}
			return "now " + st
		}
	}
	return e.After
}

// Resolve closes an incident with a summary of what happened. Release
// managers and above may resolve. Resolving a resolved incident is a
// conflict that says when and by whom.
func (s *Service) Resolve(ctx context.Context, id int64, summary string) (*ripcord.Incident, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	summary = strings.TrimSpace(summary)
	if err := ripcord.ValidateIncidentText("summary", summary, true); err != nil {
		return nil, err
	}
	in, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.State == ripcord.IncidentResolved {
		return nil, ripcord.Errorf(ripcord.ECONFLICT, "incident %d was already resolved at %s by %s", id, in.ResolvedAt.Format(time.RFC3339), in.ResolvedBy).
			WithDetails(map[string]any{"state": string(in.State)})
	}
	if _, err := s.derive(ctx, in); err != nil {
		return nil, err
	}
	now, actor := s.clock(), ripcord.ActorFromContext(ctx).Name
	err = s.cfg.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.IncidentResolve(ctx, id, now, in.MitigatedAt, actor, summary); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return ripcord.Errorf(ripcord.ECONFLICT, "incident %d was resolved by someone else just now", id)
			}
			return err
		}
		if err := tx.IncidentEventAppend(ctx, &ripcord.IncidentEvent{IncidentID: id, At: now, Actor: actor, Kind: ripcord.IncidentEventResolved, Message: summary}); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "incident.resolve", ripcord.IncidentTarget(id),
			map[string]any{"state": string(in.State)}, map[string]any{"state": string(ripcord.IncidentResolved), "summary": summary}))
	})
	if err != nil {
		return nil, err
	}
	in.State, in.ResolvedAt, in.ResolvedBy, in.Summary = ripcord.IncidentResolved, now, actor, summary
	return in, nil
}
