package daemon_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ripcordhq/ripcord/internal/daemon"
)

// BenchmarkSentryIngestPipeline measures envelope ingest through the real
// HTTP server on SQLite with the ingest pipeline (log, group commit,
// in-memory dedupe, flushes every 500 ms): RIPCORD_BENCH_SENDERS (default
// 8) connections each send envelopes of 100 session updates — the init
// updates of 50 new sessions and the exits of its previous envelope's 50,
// a tenth errored, a 200th crashed — over RIPCORD_BENCH_DEVICES (default
// 100,000) distinct devices, as a
// Relay forwarding a busy fleet would. It reports session updates per
// second, p50/p99 reply latency, and the heap and RSS before and after
// (memory must stay flat: the dedupe state of ended sessions is bounded).
// Bodies are built while sending, by the same process, so the figure
// includes that client work on the same cores.
func BenchmarkSentryIngestPipeline(b *testing.B) {
	senders, devices := 8, int64(100_000)
	if v, err := strconv.Atoi(os.Getenv("RIPCORD_BENCH_SENDERS")); err == nil && v > 0 {
		senders = v
	}
	if v, err := strconv.ParseInt(os.Getenv("RIPCORD_BENCH_DEVICES"), 10, 64); err == nil && v > 0 {
		devices = v
	}
	tb := setupWith(b, daemon.Options{SentryRate: -1})
	ios, _ := tb.sentryApp(b)
	url := tb.url + envelopePath(ios)
	auth := ios.AuthHeader("bench/1")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders, DisableCompression: true}}

	const perEnvelope = 100
	var next atomic.Int64
	var failed atomic.Int64
	lat := make([][]time.Duration, senders)
	heapBefore, rssBefore := memory()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			var body []byte
			prev := int64(-1)
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				now := time.Now().UTC()
				body = benchEnvelope(body[:0], w, i, prev, devices, now)
				prev = i
				req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
				req.Header.Set("X-Sentry-Auth", auth)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[w] = append(lat[w], time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d envelopes failed", n)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	heapAfter, rssAfter := memory()
	b.ReportMetric(float64(b.N*perEnvelope)/elapsed.Seconds(), "updates/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(heapBefore)/(1<<20), "heap-before-MiB")
	b.ReportMetric(float64(heapAfter)/(1<<20), "heap-after-MiB")
	b.ReportMetric(float64(rssBefore)/(1<<20), "rss-before-MiB")
	b.ReportMetric(float64(rssAfter)/(1<<20), "rss-after-MiB")
}

// benchEnvelope appends envelope i of sender w: 50 inits of new sessions
// and the 50 exits of envelope prev's sessions (50 more inits on the
// sender's first envelope).
func benchEnvelope(dst []byte, w int, i, prev, devices int64, now time.Time) []byte {
	stamp := now.Format("2006-01-02T15:04:05.000Z")
	started := now.Add(-2 * time.Minute).Format("2006-01-02T15:04:05.000Z")
	dst = append(dst, `{"sent_at":"`...)
	dst = append(dst, stamp...)
	dst = append(dst, "\"}\n"...)
	item := func(n int64, init bool, status string, errors int) {
		dst = append(dst, "{\"type\":\"session\"}\n{\"sid\":\""...)
		dst = fmt.Appendf(dst, "%08x-%04x-4000-8000-%012x", w, n%0xffff, n)
		dst = append(dst, `","did":"dev-`...)
		dst = strconv.AppendInt(dst, (n*7919+int64(w))%devices, 10)
		dst = append(dst, `","seq":`...)
		if init {
			dst = append(dst, `0,"init":true`...)
		} else {
			dst = append(dst, `1`...)
		}
		dst = append(dst, `,"started":"`...)
		dst = append(dst, started...)
		dst = append(dst, `","timestamp":"`...)
		dst = append(dst, stamp...)
		dst = append(dst, `","status":"`...)
		dst = append(dst, status...)
		dst = append(dst, `","errors":`...)
		dst = strconv.AppendInt(dst, int64(errors), 10)
		dst = append(dst, `,"attrs":{"release":"com.acme.shop@1.2.0+120","environment":"production"}}`+"\n"...)
	}
	for j := range int64(50) {
		item(i*50+j, true, "ok", 0)
	}
	for j := range int64(50) {
		if prev < 0 {
			item(-(i*50 + j + 1), true, "ok", 0)
			continue
		}
		n := prev*50 + j
		switch {
		case n%200 == 7:
			item(n, false, "crashed", 1)
		case n%10 == 3:
			item(n, false, "exited", 1)
		default:
			item(n, false, "exited", 0)
		}
	}
	return dst
}

// memory returns the live heap after a GC and the process's resident set.
func memory() (heap, rss uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if data, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			rss = pages * uint64(os.Getpagesize())
		}
	}
	return ms.HeapAlloc, rss
}
