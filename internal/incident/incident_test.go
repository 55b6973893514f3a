package incident_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/incident"
	"github.com/ripcordhq/ripcord/internal/notify"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// alerts is a hand-written Notifier that records what was queued.
type alerts struct {
	mu   sync.Mutex
	msgs []notify.Message
}

var _ incident.Notifier = (*alerts)(nil)

func (a *alerts) Enqueue(_ context.Context, _ notify.JobInserter, m notify.Message) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.msgs = append(a.msgs, m)
	return nil
}

func (a *alerts) list() []notify.Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]notify.Message(nil), a.msgs...)
}

type testBundle struct {
	svc    *incident.Service
	store  *sqlite.DB
	alerts *alerts
	now    time.Time
	health context.Context // ripcord:health, release manager
	rm     context.Context
	viewer context.Context
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	tb := &testBundle{store: db, alerts: &alerts{}, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	for _, name := range []string{"shop", "blog"} {
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
			return tx.AppCreate(ctx, &ripcord.App{Name: name, IOSBundleID: "com.acme." + name, AndroidPackage: "com.acme." + name, CreatedAt: tb.now, UpdatedAt: tb.now})
		}))
	}
	tb.svc, err = incident.New(incident.Config{Store: db, Notify: tb.alerts, Now: func() time.Time { return tb.now },
		AutoRollback: func(app string) bool { return app == "blog" }, PublicURL: "https://ripcord.example", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	tb.health = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "ripcord:health", Role: ripcord.RoleReleaseManager})
	tb.rm = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:rm", Role: ripcord.RoleReleaseManager})
	tb.viewer = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:view", Role: ripcord.RoleViewer})
	return tb
}

func breach(app, outcome, sentence string) incident.IncidentParams {
	return incident.IncidentParams{App: app, Version: "1.2.0", Platform: ripcord.Android, Trigger: "health:crash_free_sessions", Decision: sentence, Outcome: outcome}
}

// audit appends an audit entry as another service would.
func (tb *testBundle) audit(t *testing.T, at time.Time, action, target, after string) {
	t.Helper()
	require.NoError(t, tb.store.InTx(context.Background(), func(ctx context.Context, tx storage.Tx) error {
		return tx.AuditAppend(ctx, &ripcord.AuditEntry{At: at, Actor: "ripcord:health", Action: action, Target: target, After: after})
	}))
}

func TestOpenAppendsRepeatBreachesAndAlertsWhenWorse(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	id, err := tb.svc.Open(tb.health, breach("shop", "pause", "99.41 %: pause tier"))
	require.NoError(t, err)
	tb.now = tb.now.Add(time.Minute)
	again, err := tb.svc.Open(tb.health, breach("shop", "pause", "99.38 %: pause tier"))
	require.NoError(t, err)
	require.Equal(t, id, again, "a repeat breach appends to the open incident")
	require.Len(t, tb.alerts.list(), 1, "the same tier again alerts nobody")

	tb.now = tb.now.Add(time.Minute)
	worse, err := tb.svc.Open(tb.health, breach("shop", "rollback", "98.70 %: rollback tier"))
	require.NoError(t, err)
	require.Equal(t, id, worse)
	msgs := tb.alerts.list()
	require.Len(t, msgs, 2)
	require.Equal(t, notify.EventIncidentOpened, msgs[0].Event)
	require.Nil(t, msgs[0].Rollback, "a pause-tier alert offers no rollback")
	require.Equal(t, notify.EventIncidentBreach, msgs[1].Event)
	require.Equal(t, "ripcord release rollback shop 1.2.0 --platform android", msgs[1].Rollback.CLI)
	require.Equal(t, "https://ripcord.example/api/v1/apps/shop/releases/1.2.0/rollback?platform=android", msgs[1].Rollback.APIURL)
	require.False(t, msgs[1].Rollback.Automatic)

	d, err := tb.svc.Get(tb.viewer, id)
	require.NoError(t, err)
	require.Equal(t, ripcord.IncidentOpen, d.Incident.State)
	var kinds []string
	for _, e := range d.Timeline {
		kinds = append(kinds, e.Kind)
	}
	require.Equal(t, []string{"opened", "breach", "breach"}, kinds)
	require.Equal(t, "98.70 %: rollback tier", d.Timeline[2].Message)

	// Another trigger or platform is another incident.
	p := breach("shop", "pause", "x")
	p.Trigger = "health:crash_free_users"
	other, err := tb.svc.Open(tb.health, p)
	require.NoError(t, err)
	require.NotEqual(t, id, other)
}

func TestRollbackAlertSaysAutomaticForOptedInApps(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := tb.svc.Open(tb.health, breach("blog", "rollback", "97.0 %: rollback tier"))
	require.NoError(t, err)
	msgs := tb.alerts.list()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].Rollback.Automatic)
	require.Empty(t, msgs[0].Rollback.CLI)
	require.Contains(t, msgs[0].Rollback.Note, "on its own")
}

func TestOpenRefusesBadInput(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tests := []struct {
		name string
		ctx  context.Context
		edit func(p *incident.IncidentParams)
		code string
		msg  string
	}{
		{"viewer", tb.viewer, func(*incident.IncidentParams) {}, ripcord.EFORBIDDEN, ""},
		{"unknown app", tb.health, func(p *incident.IncidentParams) { p.App = "nope" }, ripcord.ENOTFOUND, "no app nope"},
		{"bad version", tb.health, func(p *incident.IncidentParams) { p.Version = "one" }, ripcord.EINVALID, ""},
		{"bad platform", tb.health, func(p *incident.IncidentParams) { p.Platform = "web" }, ripcord.EINVALID, ""},
		{"bad trigger", tb.health, func(p *incident.IncidentParams) { p.Trigger = "because" }, ripcord.EINVALID, "trigger \"because\""},
		{"no decision", tb.health, func(p *incident.IncidentParams) { p.Decision = " " }, ripcord.EINVALID, "decision is required"},
		{"bad outcome", tb.health, func(p *incident.IncidentParams) { p.Outcome = "healthy" }, ripcord.EINVALID, "not a breach tier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := breach("shop", "pause", "99.4 %: pause tier")
			tt.edit(&p)
			_, err := tb.svc.Open(tt.ctx, p)
			require.Error(t, err)
			require.Equal(t, tt.code, ripcord.ErrorCode(err), err.Error())
			require.Contains(t, err.Error(), tt.msg)
		})
	}
	list, err := tb.svc.List(tb.viewer, incident.ListParams{})
	require.NoError(t, err)
	require.Empty(t, list, "nothing was half-written")
	require.Empty(t, tb.alerts.list())
}

func TestTimelineMitigationAndResolve(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	opened := tb.now
	tb.audit(t, opened.Add(-time.Hour), "release.start", "release/shop/1.2.0/android", `{"status":"rolling_out"}`)
	id, err := tb.svc.Open(tb.health, breach("shop", "pause", "99.41 %: pause tier"))
	require.NoError(t, err)
	tb.audit(t, opened.Add(2*time.Second), "release.halt", "release/shop/1.2.0/android", `{"status":"halted","reason":"99.41 %: pause tier"}`)
	tb.audit(t, opened.Add(3*time.Second), "health.decision", "release/shop/1.2.0", `{"platform":"ios","sentence":"ios is fine"}`)
	tb.audit(t, opened.Add(4*time.Second), "health.decision", "release/shop/1.2.0", `{"platform":"android","sentence":"99.30 %: pause tier"}`)
	tb.audit(t, opened.Add(5*time.Second), "release.halt", "release/shop/1.3.0/android", `{"status":"halted"}`)

	d, err := tb.svc.Get(tb.viewer, id)
	require.NoError(t, err)
	require.Equal(t, ripcord.IncidentMitigated, d.Incident.State)
	require.Equal(t, opened.Add(2*time.Second), d.Incident.MitigatedAt)
	var lines []string
	for _, e := range d.Timeline {
		lines = append(lines, e.Source+" "+e.Kind+" "+e.Message)
	}
	require.Equal(t, []string{
		"incident opened 99.41 %: pause tier",
		"audit release.halt now halted: 99.41 %: pause tier",
		"audit health.decision 99.30 %: pause tier",
	}, lines, "before the opening, other platforms and other releases stay out")

	list, err := tb.svc.List(tb.viewer, incident.ListParams{App: "shop", OpenOnly: true})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, ripcord.IncidentMitigated, list[0].State)

	_, err = tb.svc.Resolve(tb.viewer, id, "fixed")
	require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err))
	_, err = tb.svc.Resolve(tb.rm, id, "  ")
	require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
	tb.now = tb.now.Add(time.Hour)
	in, err := tb.svc.Resolve(tb.rm, id, "Halted at 20 %; 1.2.1 fixes the crash.")
	require.NoError(t, err)
	require.Equal(t, ripcord.IncidentResolved, in.State)
	_, err = tb.svc.Resolve(tb.rm, id, "again")
	require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
	require.Contains(t, err.Error(), "already resolved")

	got, err := tb.svc.Get(tb.viewer, id)
	require.NoError(t, err)
	require.Equal(t, opened.Add(2*time.Second), got.Incident.MitigatedAt, "stored at resolve")
	require.Equal(t, "token:rm", got.Incident.ResolvedBy)
	require.Equal(t, "resolved", got.Timeline[len(got.Timeline)-1].Kind)
	open, err := tb.svc.List(tb.viewer, incident.ListParams{OpenOnly: true})
	require.NoError(t, err)
	require.Empty(t, open)

	next, err := tb.svc.Open(tb.health, breach("shop", "pause", "99.5 %: pause tier"))
	require.NoError(t, err)
	require.NotEqual(t, id, next, "a breach after the resolve opens a new incident")

	_, err = tb.svc.Get(tb.viewer, 9999)
	require.Equal(t, ripcord.ENOTFOUND, ripcord.ErrorCode(err))
	entries, err := tb.store.AuditList(context.Background(), storage.AuditListParams{Target: "incident/1"})
	require.NoError(t, err)
	require.Equal(t, "incident.open", entries[0].Action)
	require.Equal(t, "incident.resolve", entries[len(entries)-1].Action)
}

func TestConcurrentOpensMakeOneIncident(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ids := make([]int64, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := tb.svc.Open(tb.health, breach("shop", "pause", "99.4 %: pause tier"))
			require.NoError(t, err)
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	list, err := tb.svc.List(tb.viewer, incident.ListParams{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Len(t, tb.alerts.list(), 1)
}
