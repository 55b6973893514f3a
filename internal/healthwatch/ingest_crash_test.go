package healthwatch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/fleet"
	"github.com/ripcordhq/ripcord/internal/ingestlog"
	"github.com/ripcordhq/ripcord/internal/postgres"
	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

// openStore opens a migrated store of the dialect: SQLite in a temporary
// file, or PostgreSQL in a schema of its own dropped at cleanup.
func openStore(t *testing.T, dialect string) storage.Store {
	t.Helper()
	ctx := context.Background()
	var s storage.Store
	switch dialect {
	case "sqlite":
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
		require.NoError(t, err)
		s = db
	case "postgres":
		url := testenv.Getenv(t, "RIPCORD_TEST_DATABASE_URL", "PostgreSQL for ingest tests, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "ingest_" + hex.EncodeToString(b[:])
		db, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() {
			conn, err := pgx.Connect(context.Background(), url)
			if err == nil {
				_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
				conn.Close(context.Background())
			}
		})
		s = db
	}
	t.Cleanup(func() { s.Close() })
	_, err := s.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	return s
}

// crashRig serves envelopes over real HTTP to whichever Service is current,
// so a test can crash one and start the next on the same log and database.
type crashRig struct {
	t       *testing.T
	store   storage.Store
	dir     string
	clock   *simClock
	project *storage.SentryProject
	srv     *httptest.Server

	mu   sync.Mutex
	svc  *Service
	sent [][]byte // bodies acknowledged, to re-send as late retries
}

type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newCrashRig(t *testing.T, dialect string) *crashRig {
	r := &crashRig{t: t, store: openStore(t, dialect), dir: t.TempDir(), clock: &simClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}}
	ctx := context.Background()
	app := &ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", CreatedAt: r.clock.Now(), UpdatedAt: r.clock.Now()}
	require.NoError(t, r.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.AppCreate(ctx, app) }))
	r.project = &storage.SentryProject{AppID: app.ID, Platform: ripcord.IOS, PublicKey: fmt.Sprintf("%032x", 9), CreatedAt: r.clock.Now()}
	require.NoError(t, r.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.SentryProjectCreate(ctx, r.project) }))
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	r.start()
	return r
}

// start opens a Service on the rig's log directory and database, as a
// restarted server would. Flushes happen only when the test asks.
func (r *crashRig) start() {
	svc := New(Config{Store: r.store, Now: r.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		IngestDir: r.dir, FlushInterval: time.Hour, CheckpointInterval: time.Hour})
	require.NoError(r.t, svc.Start(context.Background()))
	r.mu.Lock()
	r.svc = svc
	r.mu.Unlock()
}

func (r *crashRig) current() *Service {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.svc
}

func (r *crashRig) serve(w http.ResponseWriter, req *http.Request) {
	body, err := sentry.DecodeBody(req.Body, req.Header.Get("Content-Encoding"), 0)
	if err == nil {
		var raw []byte
		if raw, err = io.ReadAll(body); err == nil {
			var env *sentry.Envelope
			if env, err = sentry.ParseEnvelope(bytes.NewReader(raw), sentry.Limits{}); err == nil {
				if _, err = r.current().IngestEnvelope(req.Context(), r.project, env); err == nil {
					r.mu.Lock()
					r.sent = append(r.sent, raw)
					r.mu.Unlock()
					w.WriteHeader(http.StatusOK)
					return
				}
			}
		}
	}
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// crash stops the current Service after its last reply, before any flush,
// and tears the log's tail as a write cut short by the crash would.
func (r *crashRig) crash() {
	svc := r.current()
	svc.pipe.crash()
	segs, err := filepath.Glob(filepath.Join(r.dir, "*.wal"))
	require.NoError(r.t, err)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(r.t, err)
	_, err = f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 'p', 'a', 'r', 't'}) // a record header promising 200 bytes, then 4
	require.NoError(r.t, err)
	require.NoError(r.t, f.Close())
}

// resend posts acknowledged bodies again, as SDKs retrying after a lost
// reply would; dedupe must make them count nothing. Bodies with sessions
// aggregates are left out: they carry no ids, so the protocol cannot
// deduplicate them (Sentry counts a re-sent aggregate twice too).
func (r *crashRig) resend(bodies [][]byte) {
	for _, b := range bodies {
		if bytes.Contains(b, []byte(`"type":"sessions"`)) {
			continue
		}
		resp, err := http.Post(r.srv.URL, "application/x-sentry-envelope", bytes.NewReader(b))
		require.NoError(r.t, err)
		resp.Body.Close()
		require.Equal(r.t, http.StatusOK, resp.StatusCode)
	}
}

// TestCrashBetweenReplyAndFlushLosesNothingAndCountsNothingTwice drives
// the simulated fleet against the pipeline over HTTP, crashes it twice
// between replies and flushes (once with nothing flushed or snapshotted
// since a flush, once after a snapshot), tears the log's tail each time,
// re-sends acknowledged envelopes after each restart, and checks that the
// counts equal the fleet's ground truth exactly — in the decisions' view
// while running and in the database after a clean close.
func TestCrashBetweenReplyAndFlushLosesNothingAndCountsNothingTwice(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			r := newCrashRig(t, dialect)
			ctx := context.Background()
			start := r.clock.Now()
			f, err := fleet.New(fleet.Config{
				BaseURL: r.srv.URL, PublicKey: r.project.PublicKey, ProjectID: fmt.Sprint(r.project.ID), Now: r.clock.Now, Seed: 5, Devices: 200,
				Releases: []fleet.Release{
					{Name: "com.acme.shop@1.0.0+100", CrashRate: 0.01, AbnormalRate: 0.01, ErrorRate: 0.05, FlowFailure: map[string]float64{"checkout": 0.05}},
					{Name: "com.acme.shop@1.1.0+110", Rollout: fleet.Ramp(start.Add(30*time.Minute), time.Hour, 0, 0.5), CrashRate: 0.05, FlowFailure: map[string]float64{"checkout": 0.2}},
				},
				Flows: []string{"checkout"}, LaunchesPerHour: 4, DuplicateRate: 0.2,
			})
			require.NoError(t, err)
			step := func(n int) {
				for range n {
					r.clock.Advance(10 * time.Minute)
					st, err := f.Step(ctx, 10*time.Minute)
					require.NoError(t, err)
					require.Empty(t, st.Failed, "every envelope is acknowledged")
				}
			}
			step(3)
			require.NoError(t, r.current().Flush(ctx)) // some counts reach the database...
			step(3)                                    // ...and these only the log
			r.mu.Lock()
			late := append([][]byte(nil), r.sent[len(r.sent)-40:]...)
			r.mu.Unlock()
			r.crash()
			r.start()
			r.resend(late)
			step(3)
			require.NoError(t, r.current().pipe.checkpoint(ctx)) // a snapshot, then more log after it
			step(2)
			r.mu.Lock()
			late = append([][]byte(nil), r.sent[len(r.sent)-40:]...)
			r.mu.Unlock()
			r.crash()
			r.start()
			r.resend(late)
			step(2)

			truth := f.Totals()
			require.Positive(t, truth.Duplicates)
			check := func(when string) {
				for v, name := range map[string]string{"1.0.0": "com.acme.shop@1.0.0+100", "1.1.0": "com.acme.shop@1.1.0+110"} {
					rs := truth.Releases[name]
					require.Positive(t, rs.SessionsStarted, v)
					rep, err := r.current().Report(ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "t", Role: ripcord.RoleViewer}), "shop", v, ripcord.IOS)
					require.NoError(t, err)
					got := map[string][2]int64{}
					for _, m := range rep.Platforms[0].Metrics {
						got[m.Metric] = [2]int64{m.Counts.Bad, m.Counts.Total}
					}
					require.Equal(t, [2]int64{rs.Crashed, rs.SessionsStarted}, got[CrashFreeSessions], "%s %s crash-free sessions", when, v)
					require.Equal(t, [2]int64{rs.Abnormal, rs.SessionsStarted}, got[AbnormalSessions], "%s %s abnormal", when, v)
					require.Equal(t, rs.CrashEvents, got[FatalEvents][0], "%s %s fatal events", when, v)
					fs := rs.Flows["checkout"]
					require.Equal(t, [2]int64{fs.Failure, fs.Success + fs.Failure}, got["flow:checkout"], "%s %s flow", when, v)
					users := got[CrashFreeUsers]
					require.True(t, users[1] > 0 && users[1] <= 200 && users[0] <= users[1], "%s %s users %v", when, v, users)
				}
			}
			check("before close")
			reg := prometheus.NewRegistry()
			reg.MustRegister(r.current().Collector())
			families, err := reg.Gather()
			require.NoError(t, err)
			require.Len(t, families, 6, "the pipeline's gauges are exported")
			before := map[string]storage.HealthSpan{}
			spans, err := r.current().healthSpans(ctx, r.project.AppID, ripcord.IOS)
			require.NoError(t, err)
			for _, sp := range spans {
				before[sp.Version+" "+sp.Metric] = sp
			}
			require.NoError(t, r.current().Close(ctx))
			stored, err := r.store.HealthSpans(ctx, r.project.AppID, ripcord.IOS)
			require.NoError(t, err)
			require.Len(t, stored, len(before))
			for _, sp := range stored {
				require.Equal(t, before[sp.Version+" "+sp.Metric].Counts, sp.Counts, "stored %s %s equals what decisions saw", sp.Version, sp.Metric)
			}
			// Users: the stored device sets hold each device once.
			for _, v := range []string{"1.0.0", "1.1.0"} {
				devs, err := r.store.SentryDeviceList(ctx, r.project.ID, v)
				require.NoError(t, err)
				crashed := int64(0)
				for _, d := range devs {
					if d.Crashed {
						crashed++
					}
				}
				require.Equal(t, [2]int64{crashed, int64(len(devs))}, [2]int64{before[v+" "+CrashFreeUsers].Counts.Bad, before[v+" "+CrashFreeUsers].Counts.Total}, "%s users", v)
			}
			// Log segments before both the snapshot and the flushed
			// position were removed at checkpoints.
			l, err := ingestlog.Open(r.dir, nil)
			require.NoError(t, err)
			require.LessOrEqual(t, len(l.Segments()), 2)
			require.NoError(t, l.Close())
		})
	}
}
