package gate

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/runbook"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Approval is a recorded approval or manual check.
type Approval = storage.GateApproval

// maxEvidence bounds an approval's evidence: a note or a link.
const maxEvidence = 2000

// Approve records the caller's approval of a gate item for a release: for
// an approvals item, one approval per listed team role the caller holds;
// for a manual item, the caller's check (by one of its who) with evidence.
// Automatic items cannot be approved: they pass on their own or not at all.
// Approving again changes nothing.
func (s *Service) Approve(ctx context.Context, appName, version, itemID, evidence string) ([]Approval, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	evidence = strings.TrimSpace(evidence)
	if len(evidence) > maxEvidence {
		return nil, ripcord.Errorf(ripcord.EINVALID, "evidence is %d bytes; keep it under %d (a note or a link)", len(evidence), maxEvidence)
	}
	actor := ripcord.ActorFromContext(ctx)
	held := holds(actor)
	var out []Approval
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		out = nil
		app, _, err := release(ctx, tx, appName, version)
		if err != nil {
			return err
		}
		g, _, err := currentGate(ctx, tx, app)
		if err != nil {
			return err
		}
		if g == nil {
			return ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no gate file: push .ripcord/gate.yaml with `ripcord runbook push`", appName)
		}
		i := slices.IndexFunc(g.Items, func(it runbook.GateItem) bool { return it.ID == itemID })
		if i < 0 {
			var ids []string
			for _, it := range g.Items {
				ids = append(ids, it.ID)
			}
			return ripcord.Errorf(ripcord.ENOTFOUND, "the gate of %s has no item %q; its items are %s", appName, itemID, strings.Join(ids, ", "))
		}
		it := g.Items[i]
		var roles []string
		switch it.Check {
		case "approvals":
			roles = intersect(it.Roles, held)
			if len(roles) == 0 {
				return ripcord.Errorf(ripcord.EFORBIDDEN, "item %s needs an approval from a holder of %s; %s holds %s", itemID, strings.Join(it.Roles, " or "), actor.Name, describeRoles(held))
			}
		case "":
			roles = intersect(it.Who, held)
			if len(roles) == 0 {
				return ripcord.Errorf(ripcord.EFORBIDDEN, "item %s is checked by %s; %s holds %s", itemID, strings.Join(it.Who, " or "), actor.Name, describeRoles(held))
			}
			roles = roles[:1]
			if evidence == "" {
				return ripcord.Errorf(ripcord.EINVALID, "item %s is a manual check: give --evidence with a note or a link showing it is done", itemID)
			}
		default:
			return ripcord.Errorf(ripcord.EINVALID, "item %s is checked automatically (%s); nobody can approve it, it passes when its check does", itemID, it.Check)
		}
		now := s.clock()
		existing, err := tx.GateApprovalList(ctx, app.ID, version)
		if err != nil {
			return err
		}
		for _, role := range roles {
			if j := slices.IndexFunc(existing, func(a storage.GateApproval) bool {
				return a.ItemID == itemID && a.Role == role && a.Actor == actor.Name
			}); j >= 0 {
				out = append(out, existing[j])
				continue
			}
			a := &storage.GateApproval{AppID: app.ID, Version: version, ItemID: itemID, Role: role, Actor: actor.Name, Evidence: evidence, ApprovedAt: now}
			if err := tx.GateApprovalCreate(ctx, a); err != nil {
				return err
			}
			if err := tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "gate.approve", releaseTarget(appName, version), nil,
				map[string]any{"item": itemID, "role": role, "evidence": evidence})); err != nil {
				return err
			}
			out = append(out, *a)
		}
		return nil
	})
	if errors.Is(err, storage.ErrConflict) {
		// A concurrent identical approval won the insert: that is this one.
		return s.Approve(ctx, appName, version, itemID, evidence)
	}
	if err != nil {
		return nil, fmt.Errorf("approve %s of %s %s: %w", itemID, appName, version, err)
	}
	return out, nil
}

// Approvals lists a release's approvals and manual checks.
func (s *Service) Approvals(ctx context.Context, appName, version string) ([]Approval, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, _, err := release(ctx, s.store, appName, version)
	if err != nil {
		return nil, err
	}
	return s.store.GateApprovalList(ctx, app.ID, version)
}

// holds lists what an actor can approve as: its team roles and, for a
// user, the @handle of its email's local part (gate items may name people).
func holds(a ripcord.Actor) []string {
	out := append([]string{}, actorTeamRoles(a)...)
	if email, ok := strings.CutPrefix(a.Name, "user:"); ok {
		if local, _, ok := strings.Cut(email, "@"); ok && local != "" {
			out = append(out, "@"+local)
		}
	}
	return out
}

func intersect(want, held []string) []string {
	var out []string
	for _, w := range want {
		if slices.Contains(held, w) {
			out = append(out, w)
		}
	}
	return out
}

func describeRoles(held []string) string {
	if len(held) == 0 {
		return "no team role (an admin adds them with `ripcord user set-team-roles`)"
	}
	return strings.Join(held, ", ")
}

// ChangesParams is what CI reports a release changes.
type ChangesParams struct {
	Paths  []string
	Flags  []string
	Source string // e.g. "git v1.1.0..HEAD" or "file changes.txt"
}

// maxChangedPaths bounds one report; a release past it is reported in
// several files... or is not a release but a rewrite.
const maxChangedPaths = 100000

var flagNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// RecordChanges stores the paths and flags a release changes, replacing an
// earlier report (CI may re-run); the gate matches them against each
// runbook's covers.
func (s *Service) RecordChanges(ctx context.Context, appName, version string, p ChangesParams) (*storage.ReleaseChanges, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleEngineer); err != nil {
		return nil, err
	}
	if len(p.Paths) > maxChangedPaths {
		return nil, ripcord.Errorf(ripcord.EINVALID, "%d changed paths is more than %d; report the release's own range (PREV..HEAD)", len(p.Paths), maxChangedPaths)
	}
	paths := make([]string, 0, len(p.Paths))
	for i, raw := range p.Paths {
		q := strings.TrimSpace(raw)
		if q == "" {
			continue
		}
		if strings.ContainsAny(q, "\x00\n") || path.IsAbs(q) || strings.HasPrefix(path.Clean(q), "..") {
			return nil, ripcord.Errorf(ripcord.EINVALID, "changed path %d (%q) is not a path relative to the repository root", i+1, q)
		}
		paths = append(paths, path.Clean(q))
	}
	for _, f := range p.Flags {
		if !flagNameRe.MatchString(f) {
			return nil, ripcord.Errorf(ripcord.EINVALID, "flag %q is not a flag name (letters, digits, _ . : -)", f)
		}
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	flags := slices.Compact(slices.Sorted(slices.Values(p.Flags)))
	var out *storage.ReleaseChanges
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		app, _, err := release(ctx, tx, appName, version)
		if err != nil {
			return err
		}
		now := s.clock()
		var before any
		if old, err := tx.ReleaseChangesGet(ctx, app.ID, version); err == nil {
			before = map[string]any{"paths": len(old.Paths), "flags": old.Flags, "source": old.Source}
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		out = &storage.ReleaseChanges{AppID: app.ID, Version: version, Paths: paths, Flags: flags, Source: p.Source, RecordedBy: ripcord.ActorFromContext(ctx).Name, RecordedAt: now}
		if err := tx.ReleaseChangesPut(ctx, out); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "release.changes", releaseTarget(appName, version), before,
			map[string]any{"paths": len(paths), "flags": flags, "source": p.Source}))
	})
	if err != nil {
		return nil, fmt.Errorf("record changes of %s %s: %w", appName, version, err)
	}
	return out, nil
}
