package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/rollback"
	"github.com/ripcordhq/ripcord/internal/runbook"
	"github.com/ripcordhq/ripcord/internal/runbooks"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// evaluate computes every item of the app's gate for a release and returns
// the results and the gate file's content hash. With no gate pushed, or an
// empty one, the single result is a failing "gate" item: an absent gate
// must not read as a passed one.
func evaluate(ctx context.Context, q storage.Queries, app *ripcord.App, rel *ripcord.Release) ([]ItemResult, string, error) {
	g, gv, err := currentGate(ctx, q, app)
	if err != nil {
		return nil, "", err
	}
	if g == nil {
		return []ItemResult{{ID: "gate", Evidence: []string{fmt.Sprintf("app %s has no gate file: push .ripcord/gate.yaml with `ripcord runbook push`", app.Name)}}}, "", nil
	}
	if len(g.Items) == 0 {
		return []ItemResult{{ID: "gate", Evidence: []string{"the gate file lists no items; a gate without items would let anything through"}}}, gv.ContentHash, nil
	}
	ev := &evaluation{q: q, app: app, rel: rel}
	out := make([]ItemResult, 0, len(g.Items))
	for _, it := range g.Items {
		r := ItemResult{ID: it.ID, Check: it.Check}
		var err error
		switch it.Check {
		case "rollback_build_ready":
			err = ev.rollbackReady(ctx, &r)
		case "touched_flows_rehearsed":
			err = ev.flowsRehearsed(ctx, &r)
		case "health_baseline_available":
			err = ev.baseline(ctx, &r)
		case "data_rollback_plan":
			err = ev.dataPlan(ctx, &r)
		case "approvals":
			err = ev.approvals(ctx, &r, it)
		case "":
			err = ev.manual(ctx, &r, it)
		default:
			r.Evidence = []string{"check " + it.Check + " is not known to this server"}
		}
		if err != nil {
			return nil, "", fmt.Errorf("gate item %s: %w", it.ID, err)
		}
		if len(r.Evidence) == 0 {
			r.Evidence = []string{}
		}
		out = append(out, r)
	}
	return out, gv.ContentHash, nil
}

// evaluation caches what several items read.
type evaluation struct {
	q        storage.Queries
	app      *ripcord.App
	rel      *ripcord.Release
	touched  []touchedRunbook
	changes  *storage.ReleaseChanges
	loaded   bool
	approved []storage.GateApproval
}

type touchedRunbook struct {
	version *storage.RunbookVersion
	parsed  *runbook.Runbook
	lint    []runbook.Finding
	why     string
}

func (e *evaluation) pass(r *ItemResult, format string, args ...any) {
	r.Evidence = append(r.Evidence, fmt.Sprintf(format, args...))
}

// live reports whether the app had a release other than this one out on a
// platform: without one, a rollback has nothing to go back to.
func (e *evaluation) live(ctx context.Context, p ripcord.Platform) (bool, error) {
	rels, err := e.q.ReleaseList(ctx, e.app.ID)
	if err != nil {
		return false, err
	}
	for _, r := range rels {
		if r.Version == e.rel.Version {
			continue
		}
		if rp := r.Platform(p); rp != nil {
			switch rp.Status {
			case ripcord.StatusRollingOut, ripcord.StatusHalted, ripcord.StatusPaused, ripcord.StatusComplete, ripcord.StatusRolledBack:
				return true, nil
			}
		}
	}
	return false, nil
}

func (e *evaluation) rollbackReady(ctx context.Context, r *ItemResult) error {
	r.Pass = true
	for _, rp := range e.rel.Platforms {
		live, err := e.live(ctx, rp.Platform)
		if err != nil {
			return err
		}
		if !live {
			e.pass(r, "%s: first release, no live release to roll back to", rp.Platform)
			continue
		}
		_, rb, err := rollback.Status(ctx, e.q, e.app.Name, rp.Platform, e.rel.Version)
		if err != nil {
			return err
		}
		switch rb.State {
		case ripcord.RollbackReady, ripcord.RollbackUploaded:
			note := ""
			if rp.Platform == ripcord.IOS {
				note = " (App Store approval of the rollback comes after this release and is not a gate item)"
			}
			e.pass(r, "%s: rollback build %s (%s) is %s: verified and in the store at %s%s", rp.Platform, rb.Version, rb.BuildNumber, rb.State, cmpOr(rb.StoreRef, "?"), note)
		default:
			r.Pass = false
			e.pass(r, "%s: rollback build is %s: %s", rp.Platform, rb.State, cmpOr(rb.Reason, "not yet uploaded to the store"))
		}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// touchedRunbooks matches the release's changes against every current
// runbook's covers. ok is false (with the reason in r) when CI has not
// reported the changes: without them the gate cannot know what is touched.
func (e *evaluation) touchedRunbooks(ctx context.Context, r *ItemResult) (bool, error) {
	if !e.loaded {
		c, err := e.q.ReleaseChangesGet(ctx, e.app.ID, e.rel.Version)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return false, err
		}
		e.changes = c
		if c != nil {
			cur, err := e.q.RunbookCurrentList(ctx, e.app.ID)
			if err != nil {
				return false, err
			}
			for i := range cur {
				v := &cur[i]
				rb, lint := runbook.Parse(".ripcord/runbooks/"+v.RunbookID+".md", []byte(v.Content))
				if hit, why := rb.Covers.Touches(c.Paths, c.Flags); hit {
					e.touched = append(e.touched, touchedRunbook{version: v, parsed: rb, lint: lint, why: why})
				}
			}
		}
		e.loaded = true
	}
	if e.changes == nil {
		e.pass(r, "no changes are recorded for %s %s: CI runs `ripcord release changes %s %s --from-git PREV..HEAD` in the app's repository", e.app.Name, e.rel.Version, e.app.Name, e.rel.Version)
		return false, nil
	}
	return true, nil
}

func (e *evaluation) flowsRehearsed(ctx context.Context, r *ItemResult) error {
	ok, err := e.touchedRunbooks(ctx, r)
	if err != nil || !ok {
		return err
	}
	r.Pass = true
	if len(e.touched) == 0 {
		e.pass(r, "the release touches no runbook's covers (%d path(s), %d flag(s) changed, %s)", len(e.changes.Paths), len(e.changes.Flags), e.changes.Source)
		return nil
	}
	for _, t := range e.touched {
		id := t.version.RunbookID
		if len(t.lint) > 0 {
			r.Pass = false
			e.pass(r, "%s (flow %s, touched by %s) does not lint clean: %s", id, t.version.Flow, t.why, t.lint[0])
			continue
		}
		rs, err := e.q.RehearsalList(ctx, e.app.ID, id)
		if err != nil {
			return err
		}
		var cur, stale *storage.Rehearsal
		for i := range rs {
			if rs[i].State != storage.RehearsalFinished {
				continue
			}
			if rs[i].ContentHash == t.version.ContentHash && cur == nil {
				cur = &rs[i]
			} else if stale == nil {
				stale = &rs[i]
			}
		}
		if cur == nil {
			r.Pass = false
			msg := fmt.Sprintf("%s (flow %s, touched by %s) has no finished rehearsal of its current content (version %d, pushed %s)",
				id, t.version.Flow, t.why, t.version.ID, t.version.PushedAt.Format(time.DateOnly))
			if stale != nil {
				msg += fmt.Sprintf("; rehearsal %d is stale: the runbook changed after it", stale.ID)
			}
			e.pass(r, "%s: rehearse it with `ripcord rehearsal start %s --app %s --env staging`", msg, id, e.app.Name)
			continue
		}
		rb, err := runbooks.FromVersion(e.app.Name, t.version)
		if err != nil {
			return err
		}
		over := overBudget(rb.Confirmed, t.parsed)
		if len(over) > 0 {
			r.Pass = false
			e.pass(r, "%s: rehearsal %d measured rollback over budget: %s", id, cur.ID, strings.Join(over, "; "))
			continue
		}
		e.pass(r, "%s (touched by %s): rehearsal %d: %s", id, t.why, cur.ID, cur.Result)
	}
	return nil
}

// overBudget lists rollback levels whose confirmed time is missing or over
// the level's budget in the current content.
func overBudget(confirmed []runbooks.Confirmation, rb *runbook.Runbook) []string {
	var out []string
	for i, l := range rb.Rollback {
		idx := slices.IndexFunc(confirmed, func(c runbooks.Confirmation) bool { return c.Index == i+1 })
		if idx < 0 {
			out = append(out, fmt.Sprintf("level %d (%s) has no confirmed time", i+1, l.Level))
			continue
		}
		if c := confirmed[idx]; c.Measured > l.Budget {
			out = append(out, fmt.Sprintf("level %d (%s) took %s, budget %s", i+1, l.Level, c.Measured.Round(time.Second), l.Budget))
		}
	}
	return out
}

func (e *evaluation) dataPlan(ctx context.Context, r *ItemResult) error {
	ok, err := e.touchedRunbooks(ctx, r)
	if err != nil || !ok {
		return err
	}
	r.Pass = true
	if len(e.touched) == 0 {
		e.pass(r, "the release touches no critical flow, so no data rollback plan is needed")
		return nil
	}
	for _, t := range e.touched {
		var plan *runbook.RollbackLevel
		for i := range t.parsed.Rollback {
			if t.parsed.Rollback[i].Level == "data" {
				plan = &t.parsed.Rollback[i]
			}
		}
		if plan == nil {
			r.Pass = false
			e.pass(r, "%s has no data rollback level: add one with strategy pitr or a signed accepted-risk", t.version.RunbookID)
			continue
		}
		e.pass(r, "%s: %s", t.version.RunbookID, runbooks.LevelWhat(*plan))
	}
	return nil
}

func (e *evaluation) baseline(ctx context.Context, r *ItemResult) error {
	r.Pass = true
	this, err := ripcord.ParseVersion(e.rel.Version)
	if err != nil {
		return err
	}
	rels, err := e.q.ReleaseList(ctx, e.app.ID)
	if err != nil {
		return err
	}
	for _, rp := range e.rel.Platforms {
		var prev string
		var prevV ripcord.Version
		for _, o := range rels {
			v, err := ripcord.ParseVersion(o.Version)
			if err != nil || v.Compare(this) >= 0 || o.Platform(rp.Platform) == nil {
				continue
			}
			if prev == "" || v.Compare(prevV) > 0 {
				prev, prevV = o.Version, v
			}
		}
		if prev == "" {
			e.pass(r, "%s: first release, judged on the absolute health tiers", rp.Platform)
			continue
		}
		spans, err := e.q.HealthSpans(ctx, e.app.ID, rp.Platform)
		if err != nil {
			return err
		}
		found := false
		for _, sp := range spans {
			if sp.Version == prev && sp.Metric == healthwatch.CrashFreeSessions && sp.Counts.Total > 0 {
				found = true
				e.pass(r, "%s: previous release %s has %d sessions of health data (%s to %s)", rp.Platform, prev, sp.Counts.Total,
					sp.First.Format(time.RFC3339), sp.Last.Format(time.RFC3339))
			}
		}
		if !found {
			r.Pass = false
			e.pass(r, "%s: previous release %s has no crash-free session data, so there is no baseline to compare with; connect its Sentry DSN or send health samples", rp.Platform, prev)
		}
	}
	return nil
}

func (e *evaluation) loadApprovals(ctx context.Context) ([]storage.GateApproval, error) {
	if e.approved == nil {
		as, err := e.q.GateApprovalList(ctx, e.app.ID, e.rel.Version)
		if err != nil {
			return nil, err
		}
		e.approved = append([]storage.GateApproval{}, as...)
	}
	return e.approved, nil
}

func (e *evaluation) approvals(ctx context.Context, r *ItemResult, it runbook.GateItem) error {
	as, err := e.loadApprovals(ctx)
	if err != nil {
		return err
	}
	r.Pass = true
	for _, role := range it.Roles {
		i := slices.IndexFunc(as, func(a storage.GateApproval) bool { return a.ItemID == it.ID && a.Role == role })
		if i < 0 {
			r.Pass = false
			e.pass(r, "%s: no approval yet; a user holding team role %s runs `ripcord gate approve %s %s %s`", role, role, e.app.Name, e.rel.Version, it.ID)
			continue
		}
		e.pass(r, "%s: approved by %s at %s%s", role, as[i].Actor, as[i].ApprovedAt.Format(time.RFC3339), evidence(as[i].Evidence))
	}
	return nil
}

func (e *evaluation) manual(ctx context.Context, r *ItemResult, it runbook.GateItem) error {
	as, err := e.loadApprovals(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(as, func(a storage.GateApproval) bool { return a.ItemID == it.ID })
	if i < 0 {
		e.pass(r, "not checked yet (%s): one of %s checks it with `ripcord gate approve %s %s %s --evidence TEXT|URL`", it.Description, strings.Join(it.Who, ", "), e.app.Name, e.rel.Version, it.ID)
		return nil
	}
	r.Pass = true
	e.pass(r, "checked by %s (%s) at %s%s", as[i].Actor, as[i].Role, as[i].ApprovedAt.Format(time.RFC3339), evidence(as[i].Evidence))
	return nil
}

func evidence(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}
