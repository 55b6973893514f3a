package daemon_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

type testBundle struct {
	d       *daemon.Daemon
	url     string
	dir     string
	admin   string // admin token secret
	cancel  context.CancelFunc
	stopped chan error
}

// setup runs a real server on a free port with its own SQLite database.
func setup(t testing.TB, tweak ...func(*config.Config)) *testBundle {
	t.Helper()
	return setupWith(t, daemon.Options{}, tweak...)
}

// setupWith is setup with daemon options (a clock, rate limits).
func setupWith(t testing.TB, opts daemon.Options, tweak ...func(*config.Config)) *testBundle {
	t.Helper()
	return setupLogged(t, opts, io.Discard, tweak...)
}

// setupLogged is setupWith logging at debug level to logs, for tests that
// read what the server logged.
func setupLogged(t testing.TB, opts daemon.Options, logs io.Writer, tweak ...func(*config.Config)) *testBundle {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = filepath.Join(dir, "ripcord.db")
	cfg.Artifacts.URL = filepath.Join(dir, "artifacts")
	cfg.HTTP.ShutdownTimeout = 10 * time.Second
	for _, f := range tweak {
		f(cfg)
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.OpenWith(ctx, cfg, logger, opts)
	require.NoError(t, err)
	require.NoError(t, d.Listen())
	tb := &testBundle{d: d, url: d.URL(), dir: dir, cancel: cancel, stopped: make(chan error, 1)}
	go func() { tb.stopped <- d.Run(ctx) }()
	// Wait until the server answers, so tests start against a running one.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(tb.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		require.True(t, time.Now().Before(deadline), "server did not come up: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-tb.stopped
		d.Close()
	})
	local := daemon.LocalContext(context.Background(), "test")
	tb.admin, _, err = d.Access.TokenCreate(local, "admin", ripcord.RoleAdmin)
	require.NoError(t, err)
	return tb
}

func (tb *testBundle) token(t testing.TB, name string, role ripcord.Role) string {
	t.Helper()
	s, _, err := tb.d.Access.TokenCreate(daemon.LocalContext(context.Background(), "test"), name, role)
	require.NoError(t, err)
	return s
}

// call sends a request and decodes the JSON answer into out (if not nil).
func (tb *testBundle) call(t testing.TB, token, method, path string, body io.Reader, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, tb.url+path, body)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out), "body: %s", data)
	}
	return resp
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

func (tb *testBundle) createApp(t testing.TB) {
	t.Helper()
	resp := tb.call(t, tb.admin, "POST", "/api/v1/apps", jsonBody(httpapi.AppCreateRequest{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop"}), nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
}

// artifactFiles lists every file in the artifact store, temporary ones too.
func (tb *testBundle) artifactFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(filepath.Join(tb.dir, "artifacts"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// postgresURL returns a database URL whose connections use a fresh schema
// of their own (dropped at cleanup), so this test's server is isolated.
func postgresURL(t testing.TB) string {
	t.Helper()
	base := testenv.Getenv(t, "RIPCORD_TEST_DATABASE_URL", "PostgreSQL for end-to-end tests, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "e2e_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown parameters as run-time settings
	u.RawQuery = q.Encode()
	return u.String()
}

// TestUploadAndRelease runs the main upload-to-release path on both
// databases through a real server.
func TestUploadAndRelease(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			var tweak []func(*config.Config)
			if dialect == "postgres" {
				u := postgresURL(t)
				tweak = append(tweak, func(c *config.Config) { c.DatabaseURL = u })
			}
			testUploadAndRelease(t, setup(t, tweak...))
		})
	}
}

func testUploadAndRelease(t *testing.T, tb *testBundle) {
	tb.createApp(t)
	eng := tb.token(t, "ci", ripcord.RoleEngineer)
	data := bytes.Repeat([]byte("apk"), 50000)

	var b httpapi.Build
	resp := tb.call(t, eng, "POST", "/api/v1/apps/shop/builds?platform=android&version=1.2.0&build_number=120&source_commit=abc123", bytes.NewReader(data), &b)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, int64(len(data)), b.Size)
	require.Equal(t, "token:ci", b.UploadedBy)
	require.Len(t, tb.artifactFiles(t), 1)

	var again httpapi.Build
	resp = tb.call(t, eng, "POST", "/api/v1/apps/shop/builds?platform=android&version=1.2.0&build_number=120", bytes.NewReader(data), &again)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the same artifact again is idempotent")
	require.Equal(t, b.ID, again.ID)
	require.Len(t, tb.artifactFiles(t), 1, "the duplicate's bytes are not kept")

	var eb httpapi.ErrorBody
	resp = tb.call(t, eng, "POST", "/api/v1/apps/shop/builds?platform=android&version=1.2.1&build_number=120", strings.NewReader("other bytes"), &eb)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "conflict", eb.Error.Code)
	require.Contains(t, eb.Error.Message, "versionCode 120 is taken")
	require.Len(t, tb.artifactFiles(t), 1)

	// An engineer may not create releases; the answer names the role.
	resp = tb.call(t, eng, "POST", "/api/v1/apps/shop/releases", jsonBody(httpapi.ReleaseCreateRequest{Version: "1.2.0"}), &eb)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "release-manager", eb.Error.Details["required_role"])

	var rel httpapi.Release
	resp = tb.call(t, tb.admin, "POST", "/api/v1/apps/shop/releases", jsonBody(httpapi.ReleaseCreateRequest{Version: "1.2.0"}), &rel)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, []httpapi.ReleasePlatform{
		{Platform: "android", Status: "uploaded", BuildID: b.ID, UpdatedAt: rel.Platforms[0].UpdatedAt},
		{Platform: "ios", Status: "draft", UpdatedAt: rel.Platforms[1].UpdatedAt},
	}, rel.Platforms)
	require.Equal(t, "draft", rel.Status)

	var got httpapi.Release
	resp = tb.call(t, eng, "GET", "/api/v1/apps/shop/releases/1.2.0", nil, &got)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for i := range got.Platforms { // release show adds the staged rollout's schedule
		require.NotNil(t, got.Platforms[i].Rollout, got.Platforms[i].Platform)
		require.Equal(t, "not started", got.Platforms[i].Rollout.Label)
		got.Platforms[i].Rollout = nil
	}
	require.Equal(t, rel.Platforms, got.Platforms)

	var v httpapi.AuditVerifyResult
	tb.call(t, eng, "GET", "/api/v1/audit/verify", nil, &v)
	require.True(t, v.OK)
	require.GreaterOrEqual(t, v.Entries, int64(4))
}

func TestErrorsShapeAndLimits(t *testing.T) {
	t.Parallel()
	tb := setup(t, func(c *config.Config) { c.Artifacts.MaxBytes = 1000; c.HTTP.MaxBodyBytes = 200 })
	tb.createApp(t)
	tests := []struct {
		name, token, method, path string
		body                      io.Reader
		status                    int
		code, message             string
	}{
		{"NoToken", "", "GET", "/api/v1/apps", nil, 401, "unauthorized", "authentication required"},
		{"BadToken", "rcd_nope", "GET", "/api/v1/apps", nil, 401, "unauthorized", "not valid"},
		{"UnknownApp", tb.admin, "GET", "/api/v1/apps/nope", nil, 404, "not_found", `app "nope" does not exist`},
		{"UnknownPath", tb.admin, "GET", "/api/v1/nothing", nil, 404, "not_found", "no API endpoint"},
		{"BadJSON", tb.admin, "POST", "/api/v1/apps", strings.NewReader("{"), 400, "invalid", "not valid JSON"},
		{"UnknownField", tb.admin, "POST", "/api/v1/apps", strings.NewReader(`{"nmae":"x"}`), 400, "invalid", "unknown field"},
		{"BodyTooLarge", tb.admin, "POST", "/api/v1/apps", strings.NewReader(`{"name":"` + strings.Repeat("x", 300) + `"}`), 413, "too_large", "200-byte limit"},
		{"UploadTooLarge", tb.admin, "POST", "/api/v1/apps/shop/builds?platform=ios&version=1.0.0&build_number=1", bytes.NewReader(make([]byte, 1001)), 413, "too_large", "1000-byte limit"},
		{"UploadMissingParam", tb.admin, "POST", "/api/v1/apps/shop/builds?platform=ios", strings.NewReader("x"), 400, "invalid", "version"},
		{"BadVersion", tb.admin, "POST", "/api/v1/apps/shop/releases", jsonBody(httpapi.ReleaseCreateRequest{Version: "1.2.x"}), 400, "invalid", "period-separated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var eb httpapi.ErrorBody
			resp := tb.call(t, tt.token, tt.method, tt.path, tt.body, &eb)
			require.Equal(t, tt.status, resp.StatusCode)
			require.Equal(t, tt.code, eb.Error.Code)
			require.Contains(t, eb.Error.Message, tt.message)
			require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		})
	}
	require.Empty(t, tb.artifactFiles(t), "no refused upload left bytes behind")
}

// TestUploadStreamingOverLimit sends more than the limit without a
// Content-Length, so the server finds out while streaming.
func TestUploadStreamingOverLimit(t *testing.T) {
	t.Parallel()
	tb := setup(t, func(c *config.Config) { c.Artifacts.MaxBytes = 4096 })
	tb.createApp(t)
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(make([]byte, 10000))
		pw.Close()
	}()
	var eb httpapi.ErrorBody
	resp := tb.call(t, tb.admin, "POST", "/api/v1/apps/shop/builds?platform=android&version=1.0.0&build_number=1", io.NopCloser(pr), &eb)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Contains(t, eb.Error.Message, "4096-byte limit")
	require.Empty(t, tb.artifactFiles(t))
}

// TestInterruptedUploadLeavesNothing cuts the connection halfway through an
// upload: no blob and no build row may remain.
func TestInterruptedUploadLeavesNothing(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.createApp(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(tb.url, "http://"))
	require.NoError(t, err)
	fmt.Fprintf(conn, "POST /api/v1/apps/shop/builds?platform=android&version=1.0.0&build_number=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000000\r\n\r\n", tb.admin)
	_, err = conn.Write(make([]byte, 300000))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // let the server start streaming to storage
	require.NoError(t, conn.Close())

	// The server notices the cut connection and cleans up; wait for it,
	// bounded, by watching for an empty store and an empty build list.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(tb.artifactFiles(t)) > 0 {
		time.Sleep(20 * time.Millisecond)
	}
	require.Empty(t, tb.artifactFiles(t))
	var l httpapi.List[httpapi.Build]
	tb.call(t, tb.admin, "GET", "/api/v1/apps/shop/builds", nil, &l)
	require.Empty(t, l.Items)
}

func TestProbesMetricsAndRequestID(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	resp := tb.call(t, "", "GET", "/healthz", nil, nil)
	require.Equal(t, 200, resp.StatusCode)
	var ready map[string]string
	resp = tb.call(t, "", "GET", "/readyz", nil, &ready)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "ready", ready["status"])

	req, _ := http.NewRequest("GET", tb.url+"/api/v1/apps", nil)
	req.Header.Set("X-Request-Id", "trace-42")
	req.Header.Set("Authorization", "Bearer "+tb.admin)
	r2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r2.Body.Close()
	require.Equal(t, "trace-42", r2.Header.Get("X-Request-Id"), "a sane incoming id is kept")

	// The leader enqueues the periodic sweep shortly after start; wait for
	// it to be counted, bounded.
	var m string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err = http.Get(tb.url + "/metrics")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m = string(body); strings.Contains(m, "ripcord_jobs{") {
			break
		}
	}
	require.Contains(t, m, `ripcord_http_requests_total{method="GET",route="/api/v1/apps",status="200"} 1`)
	require.Contains(t, m, `ripcord_http_request_duration_seconds_bucket{method="GET",route="/api/v1/apps",status="200"`)
	require.Contains(t, m, `ripcord_build_info{database="sqlite"`)
	require.Contains(t, m, `ripcord_jobs{kind="artifact_sweep"`, "the periodic sweep is queued at start and counted")
}

func TestReadyzReportsPendingMigrations(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := tb.d.Store.Migrate(context.Background(), storage.MigrateDown, 0)
	require.NoError(t, err)
	var ready map[string]string
	resp := tb.call(t, "", "GET", "/readyz", nil, &ready)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, ready["reason"], "is pending")
}

func TestNoMigrateRefusesStaleSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DatabaseURL = filepath.Join(dir, "ripcord.db")
	cfg.Artifacts.URL = filepath.Join(dir, "a")
	cfg.NoMigrate = true
	_, err := daemon.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorContains(t, err, "database schema is not current")
	require.ErrorContains(t, err, "ripcord migrate up")
}

// TestGracefulShutdownFinishesInflightUpload starts a slow upload, asks the
// server to stop, and checks that the upload still completes.
func TestGracefulShutdownFinishesInflightUpload(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.createApp(t)
	pr, pw := io.Pipe()
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", tb.url+"/api/v1/apps/shop/builds?platform=ios&version=1.0.0&build_number=7", pr)
		req.Header.Set("Authorization", "Bearer "+tb.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	_, err := pw.Write(make([]byte, 64<<10))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // the request is now in flight
	tb.cancel()                        // SIGTERM
	time.Sleep(100 * time.Millisecond)
	_, err = pw.Write(make([]byte, 64<<10))
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, http.StatusCreated, r.status, "the in-flight upload completes during shutdown")
	require.NoError(t, <-tb.stopped)
	tb.stopped <- nil // for cleanup
	b, err := tb.d.Store.BuildList(context.Background(), storage.BuildListParams{})
	require.NoError(t, err)
	require.Len(t, b, 1)
}

// TestHealthSamplesAndReport reports counts through the batch API and reads
// the release's health back with its decision.
func TestHealthSamplesAndReport(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.createApp(t)
	eng := tb.token(t, "ci", ripcord.RoleEngineer)
	now := time.Now().UTC()
	body := fmt.Sprintf(`{"samples":[
		{"app":"shop","platform":"android","version":"1.2.0","metric":"crash_free_sessions","window_start":%q,"bad":40,"total":400},
		{"app":"shop","platform":"android","version":"1.2.0","metric":"flow:checkout","window_start":%q,"bad":1,"total":90},
		{"app":"shop","platform":"android","version":"1.2.0","metric":"crash_free_sessions","window_start":%q,"bad":9,"total":3}]}`,
		now.Format(time.RFC3339), now.Format(time.RFC3339), now.Format(time.RFC3339))
	var res struct {
		Accepted int `json:"accepted"`
		Rejected []struct {
			Index   int    `json:"index"`
			Message string `json:"message"`
		} `json:"rejected"`
		Verdicts []struct {
			Decision struct {
				Outcome  string `json:"outcome"`
				Sentence string `json:"sentence"`
			} `json:"decision"`
		} `json:"verdicts"`
	}
	resp := tb.call(t, eng, "POST", "/api/v1/health/samples", strings.NewReader(body), &res)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 2, res.Accepted)
	require.Len(t, res.Rejected, 1)
	require.Equal(t, 2, res.Rejected[0].Index)
	require.Len(t, res.Verdicts, 1, "flows are reported, crash-free sessions decided")
	require.Equal(t, "rollback", res.Verdicts[0].Decision.Outcome, res.Verdicts[0].Decision.Sentence)

	var rep struct {
		Platforms []struct {
			Platform string `json:"platform"`
			Metrics  []struct {
				Metric string   `json:"metric"`
				Rate   *float64 `json:"rate"`
				Counts struct {
					Bad, Total int64
				} `json:"counts"`
				Decision struct {
					Outcome string `json:"outcome"`
				} `json:"decision"`
			} `json:"metrics"`
		} `json:"platforms"`
	}
	resp = tb.call(t, eng, "GET", "/api/v1/apps/shop/releases/1.2.0/health?platform=android", nil, &rep)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, rep.Platforms, 1)
	require.Len(t, rep.Platforms[0].Metrics, 2)
	cf := rep.Platforms[0].Metrics[0]
	require.Equal(t, "crash_free_sessions", cf.Metric)
	require.Equal(t, int64(400), cf.Counts.Total)
	require.InDelta(t, 0.9, *cf.Rate, 1e-9)
	require.Equal(t, "rollback", cf.Decision.Outcome)

	viewer := tb.token(t, "viewer", ripcord.RoleViewer)
	resp = tb.call(t, viewer, "POST", "/api/v1/health/samples", strings.NewReader(body), nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}
