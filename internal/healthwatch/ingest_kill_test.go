package healthwatch

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/fleet"
	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// The killed-process test runs the ingest in a child process (this test
// binary, re-executed) and kills it with SIGKILL in the middle of the
// fleet's traffic: no deferred cleanup, no final flush, requests in
// flight cut off. The fleet keeps unacknowledged envelopes and sends them
// again after the restart, as SDKs do.

const childEnv = "RIPCORD_INGEST_CHILD_DB"

// TestIngestChildProcess is the child: it serves envelopes from the
// database and ingest directory named in the environment until killed.
// Without the environment it does nothing.
func TestIngestChildProcess(t *testing.T) {
	dbPath := os.Getenv(childEnv)
	if dbPath == "" {
		t.Skip("runs only as the child of TestKilledIngestProcessLosesNothing")
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dbPath, nil)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	clock := func() time.Time {
		b, _ := os.ReadFile(dbPath + ".clock")
		ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return time.Unix(0, ns).UTC()
	}
	svc := New(Config{Store: db, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		IngestDir: filepath.Join(filepath.Dir(dbPath), "ingest"), FlushInterval: 50 * time.Millisecond, CheckpointInterval: 300 * time.Millisecond})
	if err := svc.Start(ctx); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	fmt.Println("LISTEN", ln.Addr().String())
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := svc.SentryProject(r.Context(), "00000000000000000000000000000009")
		if err == nil {
			var body io.Reader
			if body, err = sentry.DecodeBody(r.Body, r.Header.Get("Content-Encoding"), 0); err == nil {
				var env *sentry.Envelope
				if env, err = sentry.ParseEnvelope(body, sentry.Limits{}); err == nil {
					if _, err = svc.IngestEnvelope(r.Context(), p, env); err == nil {
						w.WriteHeader(http.StatusOK)
						return
					}
				}
			}
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}))
}

type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, dbPath string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIngestChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+dbPath)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if addr, ok := strings.CutPrefix(line, "LISTEN "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return &child{cmd: cmd, addr: addr}
		}
		require.False(t, strings.HasPrefix(line, "ERROR"), line)
	}
	t.Fatalf("child ended without listening: %v", sc.Err())
	return nil
}

func (c *child) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

func TestKilledIngestProcessLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "r.db")
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	setClock := func(t0 time.Time) {
		require.NoError(t, os.WriteFile(dbPath+".clock", []byte(strconv.FormatInt(t0.UnixNano(), 10)), 0o600))
	}
	setClock(now)
	db, err := sqlite.Open(ctx, dbPath, nil)
	require.NoError(t, err)
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	app := &ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.AppCreate(ctx, app) }))
	project := &storage.SentryProject{AppID: app.ID, Platform: ripcord.IOS, PublicKey: fmt.Sprintf("%032x", 9), CreatedAt: now}
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.SentryProjectCreate(ctx, project) }))
	require.NoError(t, db.Close())

	// A stable front address: a tiny reverse proxy to the current child.
	current := make(chan string, 1)
	c := startChild(t, dbPath)
	current <- c.addr
	front := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := <-current
		current <- addr
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+addr+r.URL.Path, r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = front.Serve(ln) }()
	t.Cleanup(func() { front.Close() })

	clockNow := now
	f, err := fleet.New(fleet.Config{
		BaseURL: "http://" + ln.Addr().String(), PublicKey: project.PublicKey, ProjectID: fmt.Sprint(project.ID),
		Now: func() time.Time { return clockNow }, Seed: 21, Devices: 300, AggregateShare: -1, RetryFailed: true, Concurrency: 8,
		Releases: []fleet.Release{
			{Name: "com.acme.shop@1.0.0+100", CrashRate: 0.01, AbnormalRate: 0.01, ErrorRate: 0.05, FlowFailure: map[string]float64{"checkout": 0.05}},
			{Name: "com.acme.shop@1.1.0+110", Rollout: fleet.Ramp(now.Add(30*time.Minute), time.Hour, 0, 0.5), CrashRate: 0.05},
		},
		Flows: []string{"checkout"}, LaunchesPerHour: 6, DuplicateRate: 0.2,
	})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	kills := 0
	for step := range 14 {
		clockNow = clockNow.Add(10 * time.Minute)
		setClock(clockNow)
		done := make(chan struct{})
		if step%3 == 1 { // kill the child at a random moment inside this step's traffic
			go func() {
				defer close(done)
				time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
				c.kill()
				kills++
			}()
		} else {
			close(done)
		}
		_, err := f.Step(ctx, 10*time.Minute)
		require.NoError(t, err)
		<-done
		if c.cmd.ProcessState != nil { // killed: restart on the same files
			c = startChild(t, dbPath)
			<-current
			current <- c.addr
		}
	}
	for f.Totals().Pending > 0 { // send what the last kill left
		clockNow = clockNow.Add(time.Minute)
		setClock(clockNow)
		_, err := f.Step(ctx, time.Minute)
		require.NoError(t, err)
	}
	c.kill()
	truth := f.Totals()
	require.Positive(t, truth.Failed[http.StatusBadGateway]+truth.Failed[0], "some requests were cut off by the kills")

	// Read back through a fresh pipeline on the same files: the replay.
	db, err = sqlite.Open(ctx, dbPath, nil)
	require.NoError(t, err)
	defer db.Close()
	svc := New(Config{Store: db, Now: func() time.Time { return clockNow }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		IngestDir: filepath.Join(dir, "ingest"), FlushInterval: time.Hour, CheckpointInterval: time.Hour})
	require.NoError(t, svc.Start(ctx))
	defer svc.Close(ctx)
	actor := ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "t", Role: ripcord.RoleViewer})
	for v, name := range map[string]string{"1.0.0": "com.acme.shop@1.0.0+100", "1.1.0": "com.acme.shop@1.1.0+110"} {
		rs := truth.Releases[name]
		rep, err := svc.Report(actor, "shop", v, ripcord.IOS)
		require.NoError(t, err)
		got := map[string][2]int64{}
		for _, m := range rep.Platforms[0].Metrics {
			got[m.Metric] = [2]int64{m.Counts.Bad, m.Counts.Total}
		}
		require.Equal(t, [2]int64{rs.Crashed, rs.SessionsStarted}, got[CrashFreeSessions], "%s crash-free sessions after %d kills", v, kills)
		require.Equal(t, [2]int64{rs.Abnormal, rs.SessionsStarted}, got[AbnormalSessions], "%s abnormal", v)
		require.Equal(t, rs.CrashEvents, got[FatalEvents][0], "%s fatal events", v)
		if fs, ok := rs.Flows["checkout"]; ok {
			require.Equal(t, [2]int64{fs.Failure, fs.Success + fs.Failure}, got["flow:checkout"], "%s flow", v)
		}
	}
	t.Logf("%d SIGKILLs mid-traffic, %d requests, %d refused or cut off and sent again; counts equal the fleet's ground truth", kills, truth.Requests, truth.Requests-truth.Accepted)
}
