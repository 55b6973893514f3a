package web_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/postgres"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/testenv"
	"github.com/ripcordhq/ripcord/internal/web"
)

type testBundle struct {
	srv      *httptest.Server
	handler  *web.Handler
	store    storage.Store
	cat      *fakeCatalog
	rollouts *fakeRollouts
	accounts *fakeAccounts
	clock    *fakeClock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// setup serves the dashboard on a real SQLite database (sessions, audit)
// with fake services behind the pages.
func setup(t *testing.T) *testBundle { return setupWith(t, openSQLite, nil) }

// opener opens a fresh, empty database for one test.
type opener func(t *testing.T) storage.Store

func openSQLite(t *testing.T) storage.Store {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ripcord.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// openPostgres opens a schema of its own on RIPCORD_TEST_DATABASE_URL,
// dropped at cleanup; without the variable the test skips (fails in CI).
func openPostgres(t *testing.T) storage.Store {
	url := testenv.Getenv(t, "RIPCORD_TEST_DATABASE_URL", "PostgreSQL for storage tests, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	db, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = db.Pool().Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		db.Close()
	})
	return db
}

// onBothDatabases runs a session test on SQLite and on PostgreSQL: the
// sessions, their expiry and the live updates are database behaviour.
func onBothDatabases(t *testing.T, test func(t *testing.T, open opener)) {
	for name, open := range map[string]opener{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// setupWith is setup on a database with a change to the dashboard's
// configuration, made once the server's URL is known.
func setupWith(t *testing.T, open opener, tweak func(cfg *web.Config, url string)) *testBundle {
	t.Helper()
	ctx := context.Background()
	db := open(t)
	_, err := db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	cat := newFakeCatalog()
	tb := &testBundle{store: db, cat: cat, rollouts: &fakeRollouts{cat: cat}, clock: &fakeClock{t: time.Now().UTC()},
		accounts: &fakeAccounts{users: map[string]fakeUser{
			"rm@example.com":     {password: "rm password", role: ripcord.RoleReleaseManager},
			"viewer@example.com": {password: "viewer password", role: ripcord.RoleViewer},
			"admin@example.com":  {password: "admin password", role: ripcord.RoleAdmin},
		}}}
	tb.srv = httptest.NewUnstartedServer(nil)
	cfg := web.Config{
		Sources: web.Sources{Catalog: cat, Rollbacks: fakeRollbacks{}, Records: db, Tokens: fakeTokens{},
			Actions: web.RolloutActions{Rollouts: tb.rollouts, Records: db}},
		Accounts: tb.accounts, Sessions: db, SessionTTL: time.Hour, Now: tb.clock.Now, PollInterval: 20 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg, "http://"+tb.srv.Listener.Addr().String())
	}
	h, err := web.New(cfg)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	tb.handler = h
	tb.srv.Config.Handler = h
	tb.srv.Start()
	t.Cleanup(tb.srv.Close)
	return tb
}

// browser is a client with its own cookies that does not follow
// redirects, so tests see each answer.
type browser struct {
	*http.Client
	base string
}

func (tb *testBundle) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, base: tb.srv.URL}
}

func (b *browser) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(b.base + path)
	require.NoError(t, err)
	return resp, readBody(t, resp)
}

func (b *browser) post(t *testing.T, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := b.PostForm(b.base+path, form)
	require.NoError(t, err)
	return resp, readBody(t, resp)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

var (
	loginCSRFRe = regexp.MustCompile(`name="login_csrf" value="([^"]+)"`)
	csrfRe      = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

func field(t *testing.T, re *regexp.Regexp, page string) string {
	t.Helper()
	m := re.FindStringSubmatch(page)
	require.NotNil(t, m, "no %s in page:\n%s", re, page)
	return m[1]
}

// signIn signs b in with the login form, as a person with JavaScript off
// would, and returns the session's CSRF token.
func (b *browser) signIn(t *testing.T, email, password string) string {
	t.Helper()
	_, page := b.get(t, "/ui/login")
	resp, _ := b.post(t, "/ui/login", url.Values{"login_csrf": {field(t, loginCSRFRe, page)}, "email": {email}, "password": {password}, "next": {"/ui/"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/ui/", resp.Header.Get("Location"))
	_, page = b.get(t, "/ui/")
	return field(t, csrfRe, page)
}

func (tb *testBundle) auditActions(t *testing.T) []string {
	t.Helper()
	es, err := tb.store.AuditList(context.Background(), storage.AuditListParams{Limit: 1000})
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Action+" "+e.Target+" by "+e.Actor)
	}
	return out
}

// TestHaltWithoutJavaScript walks the whole path with plain HTTP, as a
// browser with JavaScript off does: the sign-in redirect keeps the page
// asked for, the release page links to a confirmation page whose form
// halts the release, and the answer redirects back with the result.
func TestHaltWithoutJavaScript(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, open opener) {
		tb := setupWith(t, open, nil)
		b := tb.browser(t)

		resp, _ := b.get(t, "/ui/apps/shop/releases/1.2.0")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "/ui/login", loc.Path)
		require.Equal(t, "/ui/apps/shop/releases/1.2.0", loc.Query().Get("next"))

		_, page := b.get(t, loc.RequestURI())
		resp, _ = b.post(t, "/ui/login", url.Values{"login_csrf": {field(t, loginCSRFRe, page)}, "email": {"rm@example.com"}, "password": {"rm password"},
			"next": {loc.Query().Get("next")}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/ui/apps/shop/releases/1.2.0", resp.Header.Get("Location"))
		var sc *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "ripcord_session" {
				sc = c
			}
		}
		require.NotNil(t, sc, "a session cookie is set")
		require.True(t, sc.HttpOnly)
		require.Equal(t, http.SameSiteLaxMode, sc.SameSite)
		require.False(t, sc.Secure, "plain http on localhost: a Secure cookie would be dropped")

		resp, page = b.get(t, "/ui/apps/shop/releases/1.2.0")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
		require.Contains(t, page, `href="/ui/apps/shop/releases/1.2.0/confirm/halt?platform=android"`)
		require.Contains(t, page, `href="/ui/apps/shop/releases/1.2.0/confirm/rollback?platform=android"`)
		require.NotContains(t, page, "onclick", "no inline script: the page works, and CSP holds, without it")

		resp, page = b.get(t, "/ui/apps/shop/releases/1.2.0/confirm/halt?platform=android")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, page, "One edit on Google Play: halt 1.2.0 (versionCode 120) on the production track.")
		require.Contains(t, page, `<form method="post" action="/ui/apps/shop/releases/1.2.0/actions/halt">`)
		require.Empty(t, tb.rollouts.Calls(), "showing the confirmation changes nothing")

		resp, _ = b.post(t, "/ui/apps/shop/releases/1.2.0/actions/halt", url.Values{"csrf": {field(t, csrfRe, page)}, "platform": {"android"}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/ui/apps/shop/releases/1.2.0?done="), resp.Header.Get("Location"))
		require.Equal(t, []string{"halt android by user:rm@example.com"}, tb.rollouts.Calls())
		_, page = b.get(t, resp.Header.Get("Location"))
		require.Contains(t, page, "Halt 1.2.0 on Google Play: done.")
		require.Regexp(t, `id="status-android"><span class="badge s-halted">halted</span>`, page)
		require.Contains(t, page, `href="/ui/apps/shop/releases/1.2.0/confirm/resume?platform=android"`, "a halted release offers Resume")

		// The rollback confirmation names both versions; iOS says why not.
		_, page = b.get(t, "/ui/apps/shop/releases/1.2.0/confirm/rollback?platform=android")
		require.Contains(t, page, "One edit on Google Play: halt 1.2.0 (versionCode 120) and release 1.2.1 (121) to 100 % of production.")
		_, page = b.get(t, "/ui/apps/shop/releases/1.2.0/confirm/rollback?platform=ios")
		require.Contains(t, page, "Not possible now")
		require.NotContains(t, page, `/actions/rollback`, "no form to submit")

		resp, page = b.get(t, "/ui/")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, page, `id="row-shop-android"`)
		require.Contains(t, page, "halted")
		require.Contains(t, tb.auditActions(t), "session.sign_in user/rm@example.com by user:rm@example.com")
	})
}

// TestCSRFRefused checks that no state-changing request passes without the
// session's own token: missing, wrong, or another session's.
func TestCSRFRefused(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, open opener) {
		tb := setupWith(t, open, nil)
		rm, other := tb.browser(t), tb.browser(t)
		token := rm.signIn(t, "rm@example.com", "rm password")
		otherToken := other.signIn(t, "admin@example.com", "admin password")
		require.NotEqual(t, token, otherToken)

		for name, form := range map[string]url.Values{
			"missing":         {"platform": {"android"}},
			"wrong":           {"platform": {"android"}, "csrf": {token[:len(token)-2] + "xx"}},
			"another session": {"platform": {"android"}, "csrf": {otherToken}},
		} {
			resp, page := rm.post(t, "/ui/apps/shop/releases/1.2.0/actions/halt", form)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, name)
			require.Contains(t, page, "security token does not match your session", name)
		}
		resp, _ := rm.post(t, "/ui/logout", url.Values{})
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "sign-out needs the token too")
		require.Empty(t, tb.rollouts.Calls(), "nothing reached the store")

		// A sign-in form posted from elsewhere (no login cookie) is refused.
		fresh := tb.browser(t)
		resp, page := fresh.post(t, "/ui/login", url.Values{"login_csrf": {"forged"}, "email": {"rm@example.com"}, "password": {"rm password"}})
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, page, "did not come from Ripcord")
		resp, _ = fresh.get(t, "/ui/")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "still signed out")

		// The right token works.
		resp, _ = rm.post(t, "/ui/apps/shop/releases/1.2.0/actions/halt", url.Values{"platform": {"android"}, "csrf": {token}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Len(t, tb.rollouts.Calls(), 1)
	})
}

// TestRoleRefused checks that viewers see but do not act, and that only
// admins see tokens, with the same role rule as the API.
func TestRoleRefused(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	v := tb.browser(t)
	token := v.signIn(t, "viewer@example.com", "viewer password")

	resp, page := v.get(t, "/ui/apps/shop/releases/1.2.0")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, page, "confirm/halt", "no Halt button for a viewer")
	require.Contains(t, page, "Release managers can halt and roll back")

	resp, page = v.get(t, "/ui/apps/shop/releases/1.2.0/confirm/halt?platform=android")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, page, "needs the release-manager role")
	resp, _ = v.post(t, "/ui/apps/shop/releases/1.2.0/actions/rollback", url.Values{"platform": {"android"}, "csrf": {token}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Empty(t, tb.rollouts.Calls())
	resp, _ = v.get(t, "/ui/admin")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	a := tb.browser(t)
	a.signIn(t, "admin@example.com", "admin password")
	resp, page = a.get(t, "/ui/admin")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, "rcd_ab12")
}

// TestSessionExpiry checks that a session ends at its expiry: the next
// request goes to the sign-in page saying so, and the row is gone.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, open opener) {
		tb := setupWith(t, open, nil)
		b := tb.browser(t)
		b.signIn(t, "rm@example.com", "rm password")
		resp, _ := b.get(t, "/ui/")
		require.Equal(t, http.StatusOK, resp.StatusCode)

		tb.clock.Add(time.Hour) // the TTL
		resp, _ = b.get(t, "/ui/")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		require.Equal(t, "Your session expired. Sign in again.", loc.Query().Get("why"))
		require.Contains(t, tb.auditActions(t), "session.expire user/rm@example.com by user:rm@example.com")
		resp, _ = b.get(t, "/ui/")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		loc, _ = url.Parse(resp.Header.Get("Location"))
		require.Equal(t, "Your session has ended. Sign in again.", loc.Query().Get("why"), "the expired row was deleted")
	})
}

// TestLogout checks that signing out ends the session on the server: the
// old cookie, replayed, no longer works.
func TestLogout(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, open opener) {
		tb := setupWith(t, open, nil)
		b := tb.browser(t)
		token := b.signIn(t, "rm@example.com", "rm password")
		u, _ := url.Parse(tb.srv.URL)
		old := b.Jar.Cookies(u)

		resp, _ := b.post(t, "/ui/logout", url.Values{"csrf": {token}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		resp, _ = b.get(t, "/ui/")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "signed out")

		replay := tb.browser(t)
		replay.Jar.SetCookies(u, old)
		resp, _ = replay.get(t, "/ui/")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "a copied cookie dies with the session")
		require.Contains(t, tb.auditActions(t), "session.sign_out user/rm@example.com by user:rm@example.com")
	})
}

// TestDisabledUserSignedOut checks that the account, not the session,
// decides: disabling a user ends their open session at the next request.
func TestDisabledUserSignedOut(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.browser(t)
	b.signIn(t, "rm@example.com", "rm password")
	tb.accounts.disable("rm@example.com")
	resp, _ := b.get(t, "/ui/")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	require.Contains(t, loc.Query().Get("why"), "no longer active")
}

// TestWrongPassword checks that a bad password and an unknown email get
// the same answer, and that the typed email is kept in the form.
func TestWrongPassword(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var pages []string
	for _, email := range []string{"rm@example.com", "nobody@example.com"} {
		b := tb.browser(t)
		_, page := b.get(t, "/ui/login")
		resp, page := b.post(t, "/ui/login", url.Values{"login_csrf": {field(t, loginCSRFRe, page)}, "email": {email}, "password": {"guess"}})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Contains(t, page, `value="`+email+`"`)
		pages = append(pages, regexp.MustCompile(`id="login-error">[^<]*`).FindString(page))
	}
	require.Equal(t, pages[0], pages[1])
}

// TestSafeNext checks that the sign-in page sends people only to dashboard
// pages afterwards, never to another site.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for next, want := range map[string]string{
		"/ui/apps/shop/releases/1.2.0": "/ui/apps/shop/releases/1.2.0",
		"https://evil.example/":        "/ui/",
		"//evil.example/ui/":           "/ui/",
		"/ui/\\evil":                   "/ui/",
		"/api/v1/tokens":               "/ui/",
	} {
		b := tb.browser(t)
		_, page := b.get(t, "/ui/login")
		resp, _ := b.post(t, "/ui/login", url.Values{"login_csrf": {field(t, loginCSRFRe, page)}, "email": {"rm@example.com"}, "password": {"rm password"}, "next": {next}})
		require.Equal(t, want, resp.Header.Get("Location"), next)
	}
}
