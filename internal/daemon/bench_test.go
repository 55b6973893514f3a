package daemon_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/sentry"
)

// BenchmarkBuildUpload measures end-to-end upload throughput: HTTP, auth,
// streaming to the artifact directory while hashing, the database row and
// the audit entry. RIPCORD_BENCH_FILE names the artifact to upload (the
// benchmark script passes the same file to sha256sum for comparison);
// without it a 64 MiB random file is made.
func BenchmarkBuildUpload(b *testing.B) {
	path := os.Getenv("RIPCORD_BENCH_FILE")
	if path == "" {
		path = filepath.Join(b.TempDir(), "artifact.bin")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyN(f, rand.Reader, 64<<20); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	tb := setup(b)
	t := b
	tb.createApp(t)
	b.SetBytes(st.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		// The same bytes under one app would be an idempotent re-upload
		// that stores nothing, so each iteration uploads to a fresh app.
		app := fmt.Sprintf("bench%d", i)
		resp := tb.call(t, tb.admin, "POST", "/api/v1/apps", jsonBody(httpapi.AppCreateRequest{Name: app, AndroidPackage: "com.bench.a" + strconv.Itoa(i)}), nil)
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("create app: %d", resp.StatusCode)
		}
		req, _ := http.NewRequest("POST", tb.url+"/api/v1/apps/"+app+"/builds?platform=android&version=1.0.0&build_number=1", f)
		req.ContentLength = st.Size()
		req.Header.Set("Authorization", "Bearer "+tb.admin)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		f.Close()
		if r.StatusCode != http.StatusCreated {
			b.Fatalf("upload: %d", r.StatusCode)
		}
	}
}

// BenchmarkAPIReleaseGet measures one authenticated JSON read end to end
// (token lookup, two queries, encoding) over loopback HTTP.
func BenchmarkAPIReleaseGet(b *testing.B) {
	tb := setup(b)
	t := b
	tb.createApp(t)
	resp := tb.call(t, tb.admin, "POST", "/api/v1/apps/shop/releases", jsonBody(httpapi.ReleaseCreateRequest{Version: "1.2.0"}), nil)
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("create release: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", tb.url+"/api/v1/apps/shop/releases/1.2.0", nil)
	req.Header.Set("Authorization", "Bearer "+tb.admin)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := http.DefaultClient.Do(req.Clone(req.Context()))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
			if r.StatusCode != http.StatusOK {
				b.Fatalf("status %d", r.StatusCode)
			}
		}
	})
}

// BenchmarkSentryEnvelopeIngest measures Sentry envelope ingest through the
// real HTTP server on SQLite: each envelope carries 100 session updates
// (half the init updates of new sessions, half the exits of the previous
// envelope's sessions, a tenth of them errored), as SDKs batch them. It
// reports session updates per second.
func BenchmarkSentryEnvelopeIngest(b *testing.B) {
	tb := setupWith(b, daemon.Options{SentryRate: -1})
	ios, _ := tb.sentryApp(b)
	const perEnvelope = 100
	started := time.Now().UTC().Add(-time.Hour)
	sid := func(n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n) }
	bodies := make([][]byte, b.N)
	for i := range bodies {
		items := make([]sentry.OutItem, 0, perEnvelope)
		for j := range perEnvelope / 2 {
			n := i*perEnvelope/2 + j
			items = append(items, session(sid(n), fmt.Sprintf("dev-%d", n%5000), "com.acme.shop@1.2.0+120", 0, true, "ok", 0, started))
			if i > 0 {
				prev := n - perEnvelope/2
				items = append(items, session(sid(prev), fmt.Sprintf("dev-%d", prev%5000), "com.acme.shop@1.2.0+120", 60, false, "exited", int64(prev%10/9), started))
			} else {
				items = append(items, session(sid(1<<30+j), "dev-x", "com.acme.shop@1.2.0+120", 0, true, "ok", 0, started))
			}
		}
		bodies[i] = envelope(b, time.Now(), items...)
	}
	client := &http.Client{}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("POST", tb.url+envelopePath(ios), bytes.NewReader(bodies[i]))
		req.Header.Set("X-Sentry-Auth", ios.AuthHeader("bench/1"))
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*perEnvelope)/time.Since(start).Seconds(), "updates/s")
}

// TestRollbackLatency measures, over RIPCORD_ROLLBACK_RUNS runs (skipped
// when unset; e.g. 10), Ripcord's own time from sending POST .../rollback
// to the fake Play acknowledging the edit's commit, through the real
// server: authentication, the action and its job recorded, the rollout
// queue picking the job up, the Play client built from the stored service
// account (token fetch included) and the one edit. The fake answers at
// once, so the figure is Ripcord's. Each run is a fresh server and fake
// store. A measurement that logs, never a timed assertion.
func TestRollbackLatency(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("RIPCORD_ROLLBACK_RUNS"))
	if runs <= 0 {
		t.Skip("set RIPCORD_ROLLBACK_RUNS=10 to measure rollback request-to-store latency")
	}
	lat := make([]time.Duration, 0, runs)
	for i := range runs {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			pb := setupPlay(t)
			startRollout(t, pb, true)
			before := pb.fake.CountEvents("androidpublisher.edits.commit")
			start := time.Now()
			req, _ := http.NewRequest("POST", pb.tb.url+"/api/v1/apps/shop/releases/1.2.0/rollback?platform=android", nil)
			req.Header.Set("Authorization", "Bearer "+pb.rm)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("rollback: %d", resp.StatusCode)
			}
			deadline := start.Add(10 * time.Second)
			for pb.fake.CountEvents("androidpublisher.edits.commit") == before {
				if time.Now().After(deadline) {
					t.Fatal("no commit within 10 s")
				}
				time.Sleep(200 * time.Microsecond)
			}
			lat = append(lat, time.Since(start))
		})
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("rollback request to Play commit over %d runs: p50 %s, p90 %s, max %s (target ≤ 50ms)", runs, pct(0.5), pct(0.9), lat[len(lat)-1])
}
