package web_test

import (
	"context"
	"strconv"
	"sync"

	"github.com/ripcordhq/ripcord"
)

// Hand-written fakes of the services the pages read: one app "shop" on
// both platforms, release 1.2.0 rolling out on Android as build 120 with
// rollback build 1.2.1 (121) ready.

type fakeCatalog struct {
	mu  sync.Mutex
	app *ripcord.App
	rel *ripcord.Release
}

func newFakeCatalog() *fakeCatalog {
	return &fakeCatalog{
		app: &ripcord.App{ID: 1, Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop"},
		rel: &ripcord.Release{ID: 1, AppID: 1, Version: "1.2.0", Platforms: []ripcord.ReleasePlatform{
			{Platform: ripcord.Android, BuildID: 120, Status: ripcord.StatusRollingOut},
			{Platform: ripcord.IOS, Status: ripcord.StatusDraft},
		}},
	}
}

func (c *fakeCatalog) AppList(ctx context.Context) ([]*ripcord.App, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	return []*ripcord.App{c.app}, nil
}

func (c *fakeCatalog) AppGet(ctx context.Context, name string) (*ripcord.App, error) {
	if name != c.app.Name {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no app %s", name)
	}
	return c.app, nil
}

func (c *fakeCatalog) ReleaseList(ctx context.Context, app string) ([]*ripcord.Release, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := *c.rel
	r.Platforms = append([]ripcord.ReleasePlatform(nil), c.rel.Platforms...)
	return []*ripcord.Release{&r}, nil
}

func (c *fakeCatalog) ReleaseGet(ctx context.Context, app, version string) (*ripcord.Release, error) {
	if version != c.rel.Version {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no release %s", app, version)
	}
	rels, _ := c.ReleaseList(ctx, app)
	return rels[0], nil
}

func (c *fakeCatalog) BuildGet(ctx context.Context, app string, id int64) (*ripcord.Build, error) {
	v := map[int64]string{120: "1.2.0", 110: "1.1.0", 121: "1.2.1"}[id]
	return &ripcord.Build{ID: id, AppID: 1, Platform: ripcord.Android, Version: v, BuildNumber: strconv.FormatInt(id, 10)}, nil
}

func (c *fakeCatalog) setStatus(p ripcord.Platform, s ripcord.ReleaseStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rel.Platform(p).Status = s
}

type fakeRollbacks struct{}

func (fakeRollbacks) RollbackBuildGet(ctx context.Context, app, version string, p ripcord.Platform) (*ripcord.RollbackBuild, error) {
	if p == ripcord.IOS {
		return &ripcord.RollbackBuild{Platform: p, TargetVersion: version, State: ripcord.RollbackPending, Reason: "no rollback build has been prepared yet"}, nil
	}
	return &ripcord.RollbackBuild{Platform: p, TargetVersion: version, Version: "1.2.1", BuildNumber: "121", SourceBuildID: 110, State: ripcord.RollbackReady,
		StoreRef: "play:com.acme.shop/qa/121", Findings: "[]"}, nil
}

type fakeTokens struct{}

func (fakeTokens) TokenList(ctx context.Context) ([]*ripcord.Token, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleAdmin); err != nil {
		return nil, err
	}
	return []*ripcord.Token{{Name: "ci", Role: ripcord.RoleEngineer, Prefix: "rcd_ab12"}}, nil
}

// fakeRollouts records the actions it was asked for and moves the fake
// catalog's release as the store would.
type fakeRollouts struct {
	mu    sync.Mutex
	calls []string
	cat   *fakeCatalog
}

func (f *fakeRollouts) record(ctx context.Context, what string, p ripcord.Platform, to ripcord.ReleaseStatus) (*ripcord.Release, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.calls = append(f.calls, what+" "+string(p)+" by "+ripcord.ActorFromContext(ctx).Name)
	f.mu.Unlock()
	f.cat.setStatus(p, to)
	return f.cat.ReleaseGet(ctx, "shop", "1.2.0")
}

func (f *fakeRollouts) Halt(ctx context.Context, app, version string, p ripcord.Platform) (*ripcord.Release, error) {
	return f.record(ctx, "halt", p, ripcord.StatusHalted)
}

func (f *fakeRollouts) Resume(ctx context.Context, app, version string, p ripcord.Platform) (*ripcord.Release, error) {
	return f.record(ctx, "resume", p, ripcord.StatusRollingOut)
}

func (f *fakeRollouts) Rollback(ctx context.Context, app, version string, p ripcord.Platform) (*ripcord.Release, error) {
	return f.record(ctx, "rollback", p, ripcord.StatusRolledBack)
}

func (f *fakeRollouts) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// fakeAccounts holds users with passwords; a disabled user is refused.
type fakeAccounts struct {
	mu    sync.Mutex
	users map[string]fakeUser
}

type fakeUser struct {
	password string
	role     ripcord.Role
	disabled bool
}

func (a *fakeAccounts) PasswordLogin(ctx context.Context, email, password string) (ripcord.Actor, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[email]
	if !ok || u.password != password || u.disabled {
		return ripcord.Actor{}, ripcord.Errorf(ripcord.EUNAUTHORIZED, "the email or password is not right")
	}
	return ripcord.Actor{Name: "user:" + email, Role: u.role, TeamRoles: []string{"release-owner"}}, nil
}

func (a *fakeAccounts) ActorForUser(ctx context.Context, email string) (ripcord.Actor, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[email]
	if !ok || u.disabled {
		return ripcord.Actor{}, ripcord.Errorf(ripcord.EUNAUTHORIZED, "no enabled Ripcord user has this email")
	}
	return ripcord.Actor{Name: "user:" + email, Role: u.role}, nil
}

func (a *fakeAccounts) disable(email string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.users[email]
	u.disabled = true
	a.users[email] = u
}
