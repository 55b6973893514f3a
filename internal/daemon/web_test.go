package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

// browser starts a fresh headless Chromium for one test: its own profile
// directory, no network chatter of its own. In CI a missing Chromium
// fails the test; elsewhere it skips.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := testenv.LookPath(t, "chromium", "apt-get install chromium")
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// seedHealth reports healthy crash-free sessions for 1.1.0 (the baseline)
// and 1.2.0 over the last hours, so the chart has a history to draw.
func seedHealth(t *testing.T, pb *playBundle) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Minute)
	var samples []healthwatch.Sample
	for i := 36; i > 0; i-- {
		samples = append(samples,
			healthwatch.Sample{App: "shop", Platform: ripcord.Android, Version: "1.1.0", Metric: healthwatch.CrashFreeSessions,
				WindowStart: now.Add(-72*time.Hour - time.Duration(i)*10*time.Minute), Bad: 1, Total: 3000},
			healthwatch.Sample{App: "shop", Platform: ripcord.Android, Version: "1.2.0", Metric: healthwatch.CrashFreeSessions,
				WindowStart: now.Add(-time.Duration(i) * 10 * time.Minute), Bad: int64(i % 2), Total: 2000 + int64(i*10)})
	}
	var res healthwatch.IngestResult
	resp := pb.tb.call(t, pb.rm, "POST", "/api/v1/health/samples", jsonBody(httpapi.HealthSamplesRequest{Samples: samples}), &res)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, res.Rejected)
}

// TestDashboardHaltAndRollback drives the dashboard in a real headless
// Chromium against a real server (SQLite, fake Google Play over HTTP): a
// release manager signs in, opens release 1.2.0, halts it from the
// confirmation dialog and sees the new state arrive without a reload,
// resumes it, sees an automatic halt on a health breach arrive by
// server-sent events, then rolls back and watches the steps complete; the
// fake store ends with 1.2.0 (120) halted and 1.2.1 (121) serving 100 %.
func TestDashboardHaltAndRollback(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	pb := setupPlay(t)
	tb := pb.tb
	startRollout(t, pb, true)
	seedHealth(t, pb)
	_, err := tb.d.Access.UserCreate(pb.local, access.UserParams{Email: "rm@example.com", Name: "Robin Manager", Role: ripcord.RoleReleaseManager,
		TeamRoles: []string{"release-owner"}, Password: "correct horse battery"})
	require.NoError(t, err)
	release := tb.url + "/ui/apps/shop/releases/1.2.0"
	shots := screenshotDir(t)

	// Signing in from a deep link lands on that page.
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	do := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, actions...))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		require.NoError(t, err, sel)
		return strings.TrimSpace(s)
	}
	do(chromedp.Navigate(release),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), "rm@example.com"),
		chromedp.SendKeys(css("#password"), "correct horse battery"),
		chromedp.Click(css("#sign-in")),
		chromedp.WaitVisible(css("#platform-android")),
		waitJS(`document.getElementById('live-status').dataset.state === 'live'`))
	require.Equal(t, "rolling out", text("#status-android"))
	shots.take(t, ctx, "release")
	do(chromedp.Evaluate[chromedp.Void](`window.sameDocument = true`))

	// Halt: the dialog says exactly what happens on Play.
	do(chromedp.Click(css("#halt-android")), chromedp.WaitVisible(css("#confirm-dialog #confirm-go")))
	require.Contains(t, text("#confirm-dialog #confirm-sentence"), "One edit on Google Play: halt 1.2.0 (versionCode 120)")
	shots.take(t, ctx, "confirm-halt")
	do(chromedp.Click(css("#confirm-dialog #confirm-go")),
		waitJS(`document.getElementById('status-android').textContent.trim() === 'halted'`),
		waitJS(`window.sameDocument === true && document.body.dataset.lastEvent !== undefined`))
	tr, err := pb.pc.GetTrack(context.Background(), shopPkg, play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, play.StatusHalted, tr.Find(120).Status)

	// Resume, then a breach: the automatic halt reaches the open page by
	// itself.
	do(chromedp.Click(css("#resume-android")),
		chromedp.WaitVisible(css("#confirm-dialog #confirm-go")),
		chromedp.Click(css("#confirm-dialog #confirm-go")),
		waitJS(`document.getElementById('status-android').textContent.trim() === 'rolling out'`))
	start := time.Now()
	reportCrashes(t, pb, 300, 10_000)
	do(waitJS(`document.getElementById('status-android').textContent.trim() === 'halted'`))
	t.Logf("breach report to automatic halt shown in the open page: %s", time.Since(start).Round(time.Millisecond))
	same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sameDocument === true`))
	require.NoError(t, err)
	require.True(t, same, "no reload: the change arrived by server-sent events")
	require.Contains(t, text("#decisions"), "halt 1.2.0 by ripcord:health because")

	// Roll back: one Play edit, and every step shows done.
	do(chromedp.Click(css("#rollback-android")), chromedp.WaitVisible(css("#confirm-dialog #confirm-go")))
	require.Contains(t, text("#confirm-dialog #confirm-sentence"), "One edit on Google Play: halt 1.2.0 (versionCode 120) and release 1.2.1 (121) to 100 % of production.")
	shots.take(t, ctx, "confirm-rollback")
	do(chromedp.Click(css("#confirm-dialog #confirm-go")),
		waitJS(`document.getElementById('status-android').textContent.trim() === 'rolled back'`))
	steps, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#steps-android li')].map(li => li.className + ' ' + li.textContent.trim())`))
	require.NoError(t, err)
	require.NotEmpty(t, steps)
	for _, s := range steps {
		require.True(t, strings.HasPrefix(s, "step-done ✔"), "step not done: %q", s)
	}
	require.Contains(t, strings.Join(steps, "\n"), "edit: halt 120 + complete 121", "the one Play edit is a step of the durable action")
	shots.take(t, ctx, "release-rolled-back")
	tr, err = pb.pc.GetTrack(context.Background(), shopPkg, play.TrackProduction)
	require.NoError(t, err)
	require.Equal(t, play.StatusHalted, tr.Find(120).Status)
	require.Equal(t, play.StatusCompleted, tr.Find(121).Status)

	// The overview and the timeline show it too; signing out ends the
	// session.
	do(chromedp.Navigate(tb.url + "/ui/"))
	row := text("#row-shop-android")
	require.Contains(t, row, "1.2.1", "the rollback is what users get")
	require.Contains(t, row, "rolled back")
	shots.take(t, ctx, "overview")
	do(chromedp.Navigate(release + "/audit"))
	timeline := text("#timeline")
	require.Contains(t, timeline, "release.rollback")
	require.Contains(t, timeline, "user:rm@example.com")
	shots.take(t, ctx, "timeline")
	do(chromedp.Click(css("#sign-out")),
		chromedp.WaitVisible(css("#email")),
		chromedp.Navigate(release),
		chromedp.WaitVisible(css("#email")))
}

// waitJS polls a JavaScript condition until it holds (bounded by the
// test's browser timeout, never asserted against a clock).
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second))
}

// screenshots saves full-page PNGs to docs/screenshots when
// RIPCORD_SCREENSHOTS=1, for the README.
type screenshots struct{ dir string }

func screenshotDir(t *testing.T) screenshots {
	if os.Getenv("RIPCORD_SCREENSHOTS") != "1" {
		return screenshots{}
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "docs", "screenshots"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return screenshots{dir: dir}
}

func (s screenshots) take(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if s.dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join(s.dir, fmt.Sprintf("%s.png", name))
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot %s", path)
}
