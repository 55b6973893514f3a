package gate_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/gate"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/postgres"
	"github.com/ripcordhq/ripcord/internal/rehearsal"
	"github.com/ripcordhq/ripcord/internal/runbooks"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type bundle struct {
	store      storage.Store
	clock      *clock
	runbooks   *runbooks.Service
	rehearsals *rehearsal.Service
	gate       *gate.Service
	ci, ana    context.Context // a CI token (engineer) and a user holding @ana
	bob        context.Context // another user
}

// databases runs fn on a migrated SQLite store and, when configured (always
// in CI), on a PostgreSQL one in a schema of its own.
func databases(t *testing.T, fn func(t *testing.T, s storage.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), nil)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		fn(t, migrate(t, db))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := testenv.Getenv(t, "RIPCORD_TEST_DATABASE_URL", "PostgreSQL for the gate's tests, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "gate_" + hex.EncodeToString(b[:])
		db, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() {
			db.Close()
			if conn, err := pgx.Connect(context.Background(), url); err == nil {
				_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
				conn.Close(context.Background())
			}
		})
		fn(t, migrate(t, db))
	})
}

func migrate(t testing.TB, s storage.Store) storage.Store {
	t.Helper()
	_, err := s.Migrate(context.Background(), storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	return s
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func setup(t testing.TB, s storage.Store) *bundle {
	t.Helper()
	c := &clock{t: t0}
	actor := func(name string, role ripcord.Role) context.Context {
		return ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: name, Role: role})
	}
	b := &bundle{store: s, clock: c,
		runbooks:   runbooks.New(runbooks.Config{Store: s, Now: c.now}),
		rehearsals: rehearsal.New(rehearsal.Config{Store: s, Now: c.now}),
		gate:       gate.New(gate.Config{Store: s, Now: c.now}),
		ci:         actor("token:ci", ripcord.RoleEngineer),
		ana:        actor("user:ana@example.com", ripcord.RoleEngineer),
		bob:        actor("user:bob@example.com", ripcord.RoleEngineer),
	}
	require.NoError(t, s.InTx(context.Background(), func(ctx context.Context, tx storage.Tx) error {
		app := &ripcord.App{Name: "learner-app", AndroidPackage: "com.acme.learner", CreatedAt: t0, UpdatedAt: t0}
		if err := tx.AppCreate(ctx, app); err != nil {
			return err
		}
		return tx.ReleaseCreate(ctx, &ripcord.Release{AppID: app.ID, Version: "1.0.0", CreatedBy: "token:rm", CreatedAt: t0,
			Platforms: []ripcord.ReleasePlatform{{Platform: ripcord.Android, Status: ripcord.StatusDraft, UpdatedAt: t0}}})
	}))
	return b
}

func read(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(data)
}

func (b *bundle) push(t testing.TB, runbook string) {
	t.Helper()
	_, err := b.runbooks.Push(b.ci, "learner-app", runbooks.PushParams{GitSHA: "0123456789abcdef", Files: []runbooks.File{
		{Path: "runbooks/exam-submit.md", Content: runbook}, {Path: "gate.yaml", Content: read(t, "gate.yaml")}}})
	require.NoError(t, err)
}

// rehearse walks a whole rehearsal as two people, the flag level taking
// flagTime on the clock and every other level a minute.
func (b *bundle) rehearse(t testing.TB, flagTime time.Duration) *rehearsal.Rehearsal {
	t.Helper()
	r, err := b.rehearsals.Start(b.ana, "learner-app", "exam-submit", "staging")
	require.NoError(t, err)
	for n := 1; n <= len(r.Record.Steps); n++ {
		_, err = b.rehearsals.StepStart(b.ana, "learner-app", r.ID, n)
		require.NoError(t, err)
		b.clock.advance(30 * time.Second)
		_, err = b.rehearsals.StepEnd(b.bob, "learner-app", r.ID, n, "as expected")
		require.NoError(t, err)
	}
	for i, l := range r.Record.Levels {
		_, err = b.rehearsals.RollbackStart(b.bob, "learner-app", r.ID, l.Level)
		require.NoError(t, err)
		b.clock.advance(map[bool]time.Duration{true: flagTime, false: time.Minute}[i == 0])
		_, err = b.rehearsals.RollbackEnd(b.bob, "learner-app", r.ID, l.Level)
		require.NoError(t, err)
	}
	r, err = b.rehearsals.Finish(b.ana, "learner-app", r.ID, "Flag disabled, staging back to baseline")
	require.NoError(t, err)
	return r
}

func requireConflict(t *testing.T, err error, contains ...string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err), "%v", err)
	for _, c := range contains {
		require.Contains(t, err.Error(), c)
	}
}

// TestGateBlocksRolloutUntilRehearsed is the end-to-end story: GoRecorded,
// which the rollout flow calls before a production rollout starts, refuses
// until the release's touched flow is rehearsed, then holds, then refuses
// again once the runbook changes or the rehearsal blows its budget.
func TestGateBlocksRolloutUntilRehearsed(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, s storage.Store) {
		b := setup(t, s)
		ctx := b.ci
		b.push(t, read(t, "exam-submit.md"))

		requireConflict(t, b.gate.GoRecorded(ctx, "learner-app", "1.0.0"), "no go decision is recorded for learner-app 1.0.0")

		_, err := b.gate.RecordChanges(ctx, "learner-app", "1.0.0", gate.ChangesParams{Paths: []string{"android/feature/examsubmit/Submit.kt", "docs/x.md"}, Source: "git v0.9.0..HEAD"})
		require.NoError(t, err)
		d, err := b.gate.Check(ctx, "learner-app", "1.0.0")
		require.NoError(t, err)
		require.False(t, d.Go)
		require.Equal(t, []string{"runbooks-rehearsed", "cs-briefed"}, d.Failing())
		requireConflict(t, b.gate.GoRecorded(ctx, "learner-app", "1.0.0"), "was no-go: runbooks-rehearsed, cs-briefed fail")

		// The manual item: only @ana may check it, with evidence; a retry changes nothing.
		_, err = b.gate.Approve(b.bob, "learner-app", "1.0.0", "cs-briefed", "done")
		require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err), "%v", err)
		_, err = b.gate.Approve(b.ana, "learner-app", "1.0.0", "cs-briefed", "")
		require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err), "%v", err)
		_, err = b.gate.Approve(b.ana, "learner-app", "1.0.0", "runbooks-rehearsed", "trust me")
		require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err), "automatic items cannot be approved: %v", err)
		for range 2 {
			_, err = b.gate.Approve(b.ana, "learner-app", "1.0.0", "cs-briefed", "https://support.example.com/briefing/42")
			require.NoError(t, err)
		}
		as, err := b.gate.Approvals(ctx, "learner-app", "1.0.0")
		require.NoError(t, err)
		require.Len(t, as, 1)

		// Still no go: the rehearsal is missing. An unfinished one does not count.
		r, err := b.rehearsals.Start(b.ana, "learner-app", "exam-submit", "staging")
		require.NoError(t, err)
		_, err = b.rehearsals.Finish(b.ana, "learner-app", r.ID, "done")
		requireConflict(t, err, "nothing is recorded as rehearsed", "step 1 never started", "rollback level 4 (data) was never started")
		d, err = b.gate.Check(ctx, "learner-app", "1.0.0")
		require.NoError(t, err)
		require.Equal(t, []string{"runbooks-rehearsed"}, d.Failing())
		require.Contains(t, d.Items[1].Evidence[0], "exam-submit (flow exam-submit, touched by path android/feature/examsubmit/Submit.kt matches android/feature/examsubmit/**) has no finished rehearsal")

		done := b.rehearse(t, 90*time.Second)
		require.Equal(t, "Rollback rehearsed: confirmed 2 minutes. Ran by: ana@example.com, bob@example.com. Date: 2026-11-23. Flag disabled, staging back to baseline.", done.Result)
		rb, err := b.runbooks.Get(ctx, "learner-app", "exam-submit", 0)
		require.NoError(t, err)
		require.Len(t, rb.Confirmed, 4)
		require.Equal(t, 90*time.Second, rb.Confirmed[0].Measured, "confirmed time comes from the server clock")

		requireConflict(t, b.gate.GoRecorded(ctx, "learner-app", "1.0.0"), "was no-go")
		d, err = b.gate.Check(ctx, "learner-app", "1.0.0")
		require.NoError(t, err)
		require.True(t, d.Go, "%+v", d.Items)
		require.Len(t, d.ItemsHash, 64)
		require.NoError(t, b.gate.GoRecorded(ctx, "learner-app", "1.0.0"))

		// An edit makes the rehearsal stale: the recorded go no longer holds.
		b.push(t, strings.Replace(read(t, "exam-submit.md"), "## Context", "## Context\nEdited.", 1))
		requireConflict(t, b.gate.GoRecorded(ctx, "learner-app", "1.0.0"), "no longer holds", "runbooks-rehearsed", "is stale")

		// A rehearsal whose flag level takes longer than its 2m budget fails the item.
		b.rehearse(t, 3*time.Minute)
		d, err = b.gate.Check(ctx, "learner-app", "1.0.0")
		require.NoError(t, err)
		require.False(t, d.Go)
		require.Contains(t, d.Items[1].Evidence[0], "level 1 (flag) took 3m0s, budget 2m0s")

		entries, err := s.AuditList(context.Background(), storage.AuditListParams{})
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, e := range entries {
			seen[e.Action] = true
		}
		for _, a := range []string{"runbook.push", "gate.push", "release.changes", "gate.approve", "rehearsal.start", "rehearsal.step_end", "rehearsal.rollback_end", "rehearsal.finish", "gate.check"} {
			require.True(t, seen[a], "audit has no %s entry", a)
		}
	})
}

// TestBadInput checks precise refusals that store nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, s storage.Store) {
		b := setup(t, s)
		good := read(t, "exam-submit.md")
		for _, tt := range []struct {
			name  string
			files []runbooks.File
			want  string
		}{
			{"malformed YAML", []runbooks.File{{Path: "runbooks/exam-submit.md", Content: "---\nid: [\n---\n"}}, ".ripcord/runbooks/exam-submit.md:2: the front matter is not valid YAML"},
			{"unknown key", []runbooks.File{{Path: "runbooks/exam-submit.md", Content: strings.Replace(good, "title:", "titel:", 1)}}, `unknown key "titel"`},
			{"unknown flow", []runbooks.File{{Path: "runbooks/exam-submit.md", Content: strings.Replace(good, "    flow: exam-submit", "    flow: exam", 1)}}, `trigger T1 watches flow "exam", which no runbook of learner-app declares`},
			{"unknown flag", []runbooks.File{{Path: "runbooks/exam-submit.md", Content: strings.Replace(good, "    flag: exam_submit_v2", "    flag: v3", 1)}}, `flag "v3" is not a flag of learner-app`},
			{"other app", []runbooks.File{{Path: "runbooks/exam-submit.md", Content: strings.Replace(good, "app: learner-app", "app: shop", 1)}}, `app "shop" is not learner-app`},
			{"bad gate", []runbooks.File{{Path: "runbooks/exam-submit.md", Content: good}, {Path: "gate.yaml", Content: "apiVersion: ripcord/v1\nkind: Gate\napp: learner-app\nitems:\n  - id: x\n    check: vibes\n"}}, `check "vibes" is not known`},
			{"stray file", []runbooks.File{{Path: "../etc/passwd", Content: "x"}}, "is not a runbook or gate file"},
		} {
			_, err := b.runbooks.Push(b.ci, "learner-app", runbooks.PushParams{GitSHA: "0123456789abcdef", Files: tt.files})
			require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err), "%s: %v", tt.name, err)
			require.Contains(t, err.Error(), tt.want, tt.name)
		}
		_, err := b.runbooks.Push(b.ci, "learner-app", runbooks.PushParams{GitSHA: "not a sha", Files: []runbooks.File{{Path: "runbooks/exam-submit.md", Content: good}}})
		require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
		list, err := b.runbooks.List(b.ci, "learner-app", "")
		require.NoError(t, err)
		require.Empty(t, list, "refused pushes store nothing")

		b.push(t, good)
		_, err = b.rehearsals.Start(b.ana, "learner-app", "exam-submit", "production")
		require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
		_, err = b.rehearsals.Start(b.ana, "learner-app", "nope", "staging")
		require.Equal(t, ripcord.ENOTFOUND, ripcord.ErrorCode(err))
		r, err := b.rehearsals.Start(b.ana, "learner-app", "exam-submit", "staging")
		require.NoError(t, err)
		_, err = b.rehearsals.StepStart(b.ana, "learner-app", r.ID, 9)
		require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
		_, err = b.rehearsals.StepEnd(b.ana, "learner-app", r.ID, 1, "x")
		requireConflict(t, err, "step 1 has not started")
		_, err = b.rehearsals.Get(b.ana, "other", r.ID)
		require.Equal(t, ripcord.ENOTFOUND, ripcord.ErrorCode(err))
		_, err = b.gate.RecordChanges(b.ci, "learner-app", "1.0.0", gate.ChangesParams{Paths: []string{"/etc/passwd"}})
		require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
		_, err = b.gate.RecordChanges(b.ci, "learner-app", "9.9.9", gate.ChangesParams{Paths: []string{"a"}})
		require.Equal(t, ripcord.ENOTFOUND, ripcord.ErrorCode(err))
		viewer := ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "token:v", Role: ripcord.RoleViewer})
		_, err = b.gate.Check(viewer, "learner-app", "1.0.0")
		require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err))
	})
}

// TestLiveReleaseNeedsRollbackAndBaseline: once an earlier release is live,
// the rollback build must be uploaded or ready and the earlier release must
// have crash-free data as a baseline.
func TestLiveReleaseNeedsRollbackAndBaseline(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, s storage.Store) {
		b := setup(t, s)
		ctx := b.ci
		b.push(t, read(t, "exam-submit.md"))
		_, err := b.gate.RecordChanges(ctx, "learner-app", "1.0.0", gate.ChangesParams{Paths: []string{"docs/x.md"}})
		require.NoError(t, err)
		app, err := s.AppGetByName(context.Background(), "learner-app")
		require.NoError(t, err)
		live := &ripcord.Build{AppID: app.ID, Platform: ripcord.Android, Version: "0.9.0", BuildNumber: "90", SHA256: strings.Repeat("a", 64), Size: 1, BlobKey: "k", UploadedBy: "x", CreatedAt: t0}
		require.NoError(t, s.InTx(context.Background(), func(ctx context.Context, tx storage.Tx) error {
			if err := tx.BuildCreate(ctx, live); err != nil {
				return err
			}
			return tx.ReleaseCreate(ctx, &ripcord.Release{AppID: app.ID, Version: "0.9.0", CreatedBy: "x", CreatedAt: t0,
				Platforms: []ripcord.ReleasePlatform{{Platform: ripcord.Android, BuildID: live.ID, Status: ripcord.StatusComplete, UpdatedAt: t0}}})
		}))
		item := func(d *gate.Decision, id string) gate.ItemResult {
			for _, it := range d.Items {
				if it.ID == id {
					return it
				}
			}
			t.Fatalf("no item %s", id)
			return gate.ItemResult{}
		}
		d, err := b.gate.Check(ctx, "learner-app", "1.0.0")
		require.NoError(t, err)
		rb := item(d, "rollback-ready")
		require.False(t, rb.Pass)
		require.Contains(t, rb.Evidence[0], "android: rollback build is pending")
		base := item(d, "baseline")
		require.False(t, base.Pass)
		require.Contains(t, base.Evidence[0], "android: previous release 0.9.0 has no crash-free session data")
		require.True(t, item(d, "runbooks-rehearsed").Pass, "docs/x.md touches no runbook: %v", item(d, "runbooks-rehearsed").Evidence)

		require.NoError(t, s.InTx(context.Background(), func(ctx context.Context, tx storage.Tx) error {
			r := &ripcord.RollbackBuild{AppID: app.ID, Platform: ripcord.Android, TargetVersion: "1.0.0", Version: "1.0.1", BuildNumber: "91",
				SourceBuildID: live.ID, SourceSHA256: live.SHA256, State: ripcord.RollbackUploaded, Findings: "[]", StoreRef: "play:com.acme.learner/qa/91", CreatedAt: t0, UpdatedAt: t0}
			if err := tx.RollbackBuildCreate(ctx, r); err != nil {
				return err
			}
			return tx.HealthCountsAdd(ctx, []storage.HealthCountDelta{{AppID: app.ID, Platform: ripcord.Android, Version: "0.9.0", Metric: "crash_free_sessions",
				Bucket: t0, Counts: health.Counts{Bad: 3, Total: 1000}}})
		}))
		d, err = b.gate.Check(ctx, "learner-app", "1.0.0")
		require.NoError(t, err)
		require.Equal(t, []string{"android: rollback build 1.0.1 (91) is uploaded: verified and in the store at play:com.acme.learner/qa/91"}, item(d, "rollback-ready").Evidence)
		require.True(t, item(d, "baseline").Pass)
		require.Contains(t, item(d, "baseline").Evidence[0], "previous release 0.9.0 has 1000 sessions")
	})
}

// TestPushNeedsRolesHeld: with users' team roles known, a push naming a
// team role nobody holds is refused at the line that names it.
func TestPushNeedsRolesHeld(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, s storage.Store) {
		b := setup(t, s)
		held := []string{"oncall-mobile", "oncall-backend", "incident-lead", "release-manager", "eng-director"}
		svc := runbooks.New(runbooks.Config{Store: s, TeamRoles: func(context.Context) ([]string, error) { return held, nil }})
		files := []runbooks.File{{Path: "runbooks/exam-submit.md", Content: read(t, "exam-submit.md")}}
		_, err := svc.Push(b.ci, "learner-app", runbooks.PushParams{GitSHA: "0123456789abcdef", Files: files})
		require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err), "%v", err)
		require.Contains(t, err.Error(), ".ripcord/runbooks/exam-submit.md:56: team role dba is held by nobody in Ripcord")
		held = append(held, "dba")
		_, err = svc.Push(b.ci, "learner-app", runbooks.PushParams{GitSHA: "0123456789abcdef", Files: files})
		require.NoError(t, err)
	})
}

// TestApprovalsNeedTeamRoles: an approvals item needs one approval per
// listed team role, each from a person holding it.
func TestApprovalsNeedTeamRoles(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, s storage.Store) {
		b := setup(t, s)
		gateFile := "apiVersion: ripcord/v1\nkind: Gate\napp: learner-app\nitems:\n  - id: approvals\n    check: approvals\n    roles: [release-manager, qa-lead]\n"
		_, err := b.runbooks.Push(b.ci, "learner-app", runbooks.PushParams{GitSHA: "0123456789abcdef", Files: []runbooks.File{
			{Path: "runbooks/exam-submit.md", Content: read(t, "exam-submit.md")}, {Path: "gate.yaml", Content: gateFile}}})
		require.NoError(t, err)
		person := func(email string, roles ...string) context.Context {
			return ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "user:" + email, Role: ripcord.RoleViewer, TeamRoles: roles})
		}
		_, err = b.gate.Approve(b.ci, "learner-app", "1.0.0", "approvals", "")
		require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err), "a service token holds no team role: %v", err)
		as, err := b.gate.Approve(person("qa@example.com", "qa-lead", "oncall-mobile"), "learner-app", "1.0.0", "approvals", "")
		require.NoError(t, err)
		require.Len(t, as, 1)
		require.Equal(t, "qa-lead", as[0].Role)
		d, err := b.gate.Check(b.ci, "learner-app", "1.0.0")
		require.NoError(t, err)
		require.False(t, d.Go)
		require.Contains(t, d.Items[0].Evidence[0], "release-manager: no approval yet")
		require.Contains(t, d.Items[0].Evidence[1], "qa-lead: approved by user:qa@example.com")
		_, err = b.gate.Approve(person("rm@example.com", "release-manager"), "learner-app", "1.0.0", "approvals", "")
		require.NoError(t, err)
		d, err = b.gate.Check(b.ci, "learner-app", "1.0.0")
		require.NoError(t, err)
		require.True(t, d.Go, "%+v", d.Items)
	})
}

// TestConcurrentMarksAreAllKept: marks of different levels sent at once
// (two rehearsers, or a retrying dashboard) all end up recorded; a write
// over a stale revision is redone, never lost.
func TestConcurrentMarksAreAllKept(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, s storage.Store) {
		b := setup(t, s)
		b.push(t, read(t, "exam-submit.md"))
		r, err := b.rehearsals.Start(b.ana, "learner-app", "exam-submit", "staging")
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for _, level := range []string{"flag", "deploy", "migration", "data"} {
			for range 2 { // each mark twice: the repeat changes nothing
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := b.rehearsals.RollbackStart(b.bob, "learner-app", r.ID, level)
					errs <- err
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := b.rehearsals.Get(b.ana, "learner-app", r.ID)
		require.NoError(t, err)
		for _, l := range got.Record.Levels {
			require.NotNil(t, l.StartedAt, "level %s lost its start", l.Level)
		}
		entries, err := s.AuditList(context.Background(), storage.AuditListParams{})
		require.NoError(t, err)
		n := 0
		for _, e := range entries {
			if e.Action == "rehearsal.rollback_start" {
				n++
			}
		}
		require.Equal(t, 4, n, "a repeated mark is not audited twice")
	})
}
