// Package runbooks keeps the runbooks and gate file an app's CI pushes from
// its repository's .ripcord/ directory: it refuses a push that does not
// lint clean, stores a new version of each runbook whose content changed
// (with the git sha and content hash; identical content makes no version),
// lists the current runbooks per app and flow, and renders them for people.
package runbooks

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/runbook"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Config holds the service's dependencies.
type Config struct {
	Store storage.Store // required
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
	// TeamRoles lists the team roles users hold, for the push-time rule
	// that someone holds every role a runbook names. Default: none, and
	// the rule is not applied.
	TeamRoles func(ctx context.Context) ([]string, error)
}

// Service stores, lists and renders runbooks.
type Service struct {
	store     storage.Store
	now       func() time.Time
	logger    *slog.Logger
	teamRoles func(ctx context.Context) ([]string, error)
}

// New builds the service.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, now: cfg.Now, logger: cmp.Or(cfg.Logger, slog.Default()), teamRoles: cfg.TeamRoles}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// File is one pushed file, named by its path under .ripcord/
// ("runbooks/exam-submit.md", "gate.yaml").
type File struct {
	Path    string
	Content string
}

// PushParams is one push of an app's .ripcord/ directory.
type PushParams struct {
	GitSHA string
	Files  []File
}

// Push outcomes per runbook.
const (
	PushCreated   = "created"   // a new version was stored
	PushUnchanged = "unchanged" // identical content: no new version
	PushRemoved   = "removed"   // the push no longer carries it
)

// PushResult says what a push stored.
type PushResult struct {
	Runbooks []PushedRunbook
	Gate     string // PushCreated, PushUnchanged, or "" when no gate file was pushed
}

// PushedRunbook is one runbook's outcome.
type PushedRunbook struct {
	ID      string
	Outcome string
	Version int64 // the current version's ID (0 when removed)
}

// Runbook is a stored runbook version as readers see it.
type Runbook struct {
	App         string
	ID          string
	Flow        string
	Title       string
	Version     int64 // the version's ID
	ContentHash string
	GitSHA      string
	PushedBy    string
	PushedAt    time.Time
	Content     string
	// Confirmed are the rollback times measured by the last finished
	// rehearsal of this content; empty until one finishes.
	Confirmed []Confirmation
}

// Confirmation is one rollback level's time measured by a rehearsal.
type Confirmation struct {
	Level       string        `json:"level"`
	Index       int           `json:"index"` // 1-based position in rollback
	Measured    time.Duration `json:"measured_ns"`
	Budget      time.Duration `json:"budget_ns"`
	RehearsalID int64         `json:"rehearsal_id"`
	At          time.Time     `json:"at"`
}

// Within reports whether the measured time fits the level's budget.
func (c Confirmation) Within() bool { return c.Measured <= c.Budget }

// EncodeConfirmations is the stored form of confirmed times.
func EncodeConfirmations(cs []Confirmation) (string, error) {
	b, err := json.Marshal(cs)
	return string(b), err
}

// FromVersion converts a stored version.
func FromVersion(app string, v *storage.RunbookVersion) (*Runbook, error) {
	rb := &Runbook{App: app, ID: v.RunbookID, Flow: v.Flow, Title: v.Title, Version: v.ID, ContentHash: v.ContentHash, GitSHA: v.GitSHA,
		PushedBy: v.PushedBy, PushedAt: v.PushedAt, Content: v.Content}
	if v.Confirmed != "" {
		if err := json.Unmarshal([]byte(v.Confirmed), &rb.Confirmed); err != nil {
			return nil, fmt.Errorf("runbook %s version %d: confirmed: %w", v.RunbookID, v.ID, err)
		}
	}
	return rb, nil
}

var gitSHARe = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// maxPushFiles bounds one push; an app has a handful of runbooks.
const maxPushFiles = 200

// Push lints the pushed directory as a whole and stores it: all of it or,
// on any finding, nothing. The findings come back in the error's message
// (one per line, as `ripcord runbook lint` prints them) and details.
func (s *Service) Push(ctx context.Context, appName string, p PushParams) (*PushResult, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleEngineer); err != nil {
		return nil, err
	}
	if !gitSHARe.MatchString(p.GitSHA) {
		return nil, ripcord.Errorf(ripcord.EINVALID, "git sha %q is not a commit hash: pass --git-sha $(git rev-parse HEAD) or push from inside the repository", p.GitSHA)
	}
	if len(p.Files) > maxPushFiles {
		return nil, ripcord.Errorf(ripcord.EINVALID, "a push carries at most %d files, not %d", maxPushFiles, len(p.Files))
	}
	app, err := AppByName(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	var held func(string) bool
	if s.teamRoles != nil {
		roles, err := s.teamRoles(ctx)
		if err != nil {
			return nil, fmt.Errorf("push runbooks of %s: team roles: %w", appName, err)
		}
		held = func(r string) bool { return slices.Contains(roles, r) }
	}
	rbs, gateFile, err := parseFiles(appName, p.Files, held)
	if err != nil {
		return nil, err
	}
	if len(rbs) == 0 {
		return nil, ripcord.Errorf(ripcord.EINVALID, "the push carries no runbooks: runbooks live in .ripcord/runbooks/<id>.md")
	}
	now := s.clock()
	actor := ripcord.ActorFromContext(ctx).Name
	res := &PushResult{}
	err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		res.Runbooks = nil
		cur, err := tx.RunbookCurrentList(ctx, app.ID)
		if err != nil {
			return err
		}
		byID := map[string]storage.RunbookVersion{}
		for _, v := range cur {
			byID[v.RunbookID] = v
		}
		for _, name := range slices.Sorted(maps.Keys(rbs)) {
			rb := rbs[name]
			if old, ok := byID[rb.ID]; ok && old.ContentHash == rb.ContentHash {
				res.Runbooks = append(res.Runbooks, PushedRunbook{ID: rb.ID, Outcome: PushUnchanged, Version: old.ID})
				delete(byID, rb.ID)
				continue
			}
			old, had := byID[rb.ID]
			delete(byID, rb.ID)
			v := &storage.RunbookVersion{AppID: app.ID, RunbookID: rb.ID, Flow: rb.Flow, Title: rb.Title, Content: rb.content, ContentHash: rb.ContentHash,
				GitSHA: p.GitSHA, PushedBy: actor, PushedAt: now}
			if err := tx.RunbookVersionCreate(ctx, v); err != nil {
				return err
			}
			var before any
			if had {
				before = versionSummary(&old)
			}
			if err := tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "runbook.push", Target(appName, rb.ID), before, versionSummary(v))); err != nil {
				return err
			}
			res.Runbooks = append(res.Runbooks, PushedRunbook{ID: rb.ID, Outcome: PushCreated, Version: v.ID})
		}
		for _, id := range slices.Sorted(maps.Keys(byID)) {
			old := byID[id]
			v := &storage.RunbookVersion{AppID: app.ID, RunbookID: id, Flow: old.Flow, Title: old.Title, Content: "", ContentHash: "",
				GitSHA: p.GitSHA, Removed: true, PushedBy: actor, PushedAt: now}
			if err := tx.RunbookVersionCreate(ctx, v); err != nil {
				return err
			}
			if err := tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "runbook.remove", Target(appName, id), versionSummary(&old), nil)); err != nil {
				return err
			}
			res.Runbooks = append(res.Runbooks, PushedRunbook{ID: id, Outcome: PushRemoved})
		}
		if gateFile == nil {
			return nil
		}
		res.Gate = PushUnchanged
		old, err := tx.GateVersionLatest(ctx, app.ID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if old != nil && old.ContentHash == gateFile.hash {
			return nil
		}
		g := &storage.GateVersion{AppID: app.ID, Content: gateFile.content, ContentHash: gateFile.hash, GitSHA: p.GitSHA, PushedBy: actor, PushedAt: now}
		if err := tx.GateVersionCreate(ctx, g); err != nil {
			return err
		}
		res.Gate = PushCreated
		var before any
		if old != nil {
			before = map[string]any{"content_hash": old.ContentHash, "git_sha": old.GitSHA}
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "gate.push", "app/"+appName+"/gate", before,
			map[string]any{"content_hash": g.ContentHash, "git_sha": g.GitSHA}))
	})
	if err != nil {
		return nil, fmt.Errorf("push runbooks of %s: %w", appName, err)
	}
	return res, nil
}

// Target names a runbook in the audit log.
func Target(app, id string) string { return "app/" + app + "/runbooks/" + id }

func versionSummary(v *storage.RunbookVersion) map[string]any {
	return map[string]any{"version": v.ID, "content_hash": v.ContentHash, "git_sha": v.GitSHA, "flow": v.Flow}
}

type parsedRunbook struct {
	*runbook.Runbook
	content string
}

type gateContent struct {
	content, hash string
}

// parseFiles lints every pushed file, alone and together, and returns the
// runbooks by file name and the gate file; any finding refuses the push.
func parseFiles(app string, files []File, held func(role string) bool) (map[string]parsedRunbook, *gateContent, error) {
	rbs := map[string]parsedRunbook{}
	set := map[string]*runbook.Runbook{}
	var findings []runbook.Finding
	var gate *runbook.Gate
	var gc *gateContent
	gateName := ".ripcord/gate.yaml"
	for _, f := range files {
		clean := path.Clean(strings.TrimPrefix(strings.ReplaceAll(f.Path, "\\", "/"), ".ripcord/"))
		name := ".ripcord/" + clean
		switch {
		case clean == "gate.yaml":
			if gc != nil {
				return nil, nil, ripcord.Errorf(ripcord.EINVALID, "the push carries gate.yaml twice")
			}
			g, fs := runbook.ParseGate(name, []byte(f.Content))
			findings = append(findings, fs...)
			gate = g
			sum := sha256.Sum256([]byte(f.Content))
			gc = &gateContent{content: f.Content, hash: hex.EncodeToString(sum[:])}
		case path.Dir(clean) == "runbooks" && strings.HasSuffix(clean, ".md"):
			if _, dup := rbs[name]; dup {
				return nil, nil, ripcord.Errorf(ripcord.EINVALID, "the push carries %s twice", name)
			}
			rb, fs := runbook.Parse(name, []byte(f.Content))
			findings = append(findings, fs...)
			rbs[name] = parsedRunbook{Runbook: rb, content: f.Content}
			set[name] = rb
		default:
			return nil, nil, ripcord.Errorf(ripcord.EINVALID, "%s is not a runbook or gate file: a push carries .ripcord/runbooks/<id>.md and .ripcord/gate.yaml", name)
		}
	}
	findings = append(findings, runbook.LintSet(set)...)
	if len(findings) == 0 {
		findings = append(findings, runbook.LintPush(app, set, gateName, gate)...)
	}
	if len(findings) == 0 && held != nil {
		findings = append(findings, runbook.LintRolesHeld(set, gateName, gate, held)...)
	}
	if len(findings) > 0 {
		lines := make([]string, len(findings))
		for i, f := range findings {
			lines[i] = f.String()
		}
		return nil, nil, ripcord.Errorf(ripcord.EINVALID, "push refused: the runbooks do not lint clean (%d problem(s)):\n%s", len(findings), strings.Join(lines, "\n")).
			WithDetails(map[string]any{"findings": lines})
	}
	return rbs, gc, nil
}

// AppByName finds an app, or an ENOTFOUND error saying how to list them.
func AppByName(ctx context.Context, q storage.Queries, name string) (*ripcord.App, error) {
	a, err := q.AppGetByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %q does not exist; `ripcord app list` shows the apps", name)
	}
	return a, err
}

// List returns an app's current runbooks, of one flow when flow is set.
func (s *Service) List(ctx context.Context, appName, flow string) ([]*Runbook, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := AppByName(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	cur, err := s.store.RunbookCurrentList(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	var out []*Runbook
	for i := range cur {
		if flow != "" && cur[i].Flow != flow {
			continue
		}
		rb, err := FromVersion(appName, &cur[i])
		if err != nil {
			return nil, err
		}
		out = append(out, rb)
	}
	return out, nil
}

// Get returns a runbook's version: the current one when version is 0.
func (s *Service) Get(ctx context.Context, appName, id string, version int64) (*Runbook, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := AppByName(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	v, err := Current(ctx, s.store, app, id)
	if err != nil {
		return nil, err
	}
	if version != 0 && version != v.ID {
		v, err = s.store.RunbookVersionGet(ctx, app.ID, version)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && v.RunbookID != id) {
			return nil, ripcord.Errorf(ripcord.ENOTFOUND, "runbook %s of %s has no version %d; `ripcord runbook versions %s %s` lists them", id, appName, version, appName, id)
		} else if err != nil {
			return nil, err
		}
	}
	return FromVersion(appName, v)
}

// Versions lists every version of a runbook, newest first.
func (s *Service) Versions(ctx context.Context, appName, id string) ([]*Runbook, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := AppByName(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	vs, err := s.store.RunbookVersionList(ctx, app.ID, id)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, notFound(appName, id)
	}
	out := make([]*Runbook, 0, len(vs))
	for i := range vs {
		if vs[i].Removed {
			continue
		}
		rb, err := FromVersion(appName, &vs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, rb)
	}
	return out, nil
}

// Current returns a runbook's current version, or ENOTFOUND (also when the
// last push removed it).
func Current(ctx context.Context, q storage.Queries, app *ripcord.App, id string) (*storage.RunbookVersion, error) {
	vs, err := q.RunbookVersionList(ctx, app.ID, id)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 || vs[0].Removed {
		return nil, notFound(app.Name, id)
	}
	return &vs[0], nil
}

func notFound(app, id string) error {
	return ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no runbook %q; `ripcord runbook list %s` shows its runbooks, `ripcord runbook push` adds them", app, id, app)
}
