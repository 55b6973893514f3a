package rollout_test

import (
	"testing"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/rollout"
)

// BenchmarkRollback measures Ripcord's own time for a one-click rollback
// against zero-latency fake stores over loopback HTTP, on SQLite: from the
// request (recording the action and its job) through the job's run to the
// store acknowledging the last call and the result recorded; the job
// queue's pick-up is measured separately (the daemon's
// TestRollbackLatency). It reports the store API calls per rollback and
// how many of them write, counted at the fake, and Ripcord's own time: the
// total less the time the fake spent serving (it writes its state file on
// every change, which a real store's latency would replace).
func BenchmarkRollback(b *testing.B) {
	for _, c := range []struct {
		platform ripcord.Platform
		writeOp  string
	}{{ripcord.Android, "androidpublisher.edits.commit"}, {ripcord.IOS, "asc.appStoreVersionReleaseRequests.create"}} {
		b.Run(string(c.platform), func(b *testing.B) {
			var calls, writes int64
			var total, inFake time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				bd := setup(b, "sqlite")
				svc := bd.service(b, 3, nil)
				calls0, writes0, fake0 := bd.calls.Load(), bd.fake.CountEvents(c.writeOp), bd.inFake.Load()
				start := time.Now()
				b.StartTimer()
				a, err := svc.Request(bd.rm, rollout.ActionRequest{App: "shop", Version: "1.2.0", Platform: c.platform, Kind: ripcord.ActionRollback})
				if err != nil {
					b.Fatal(err)
				}
				if a, err = svc.Run(bd.rm, a.ID); err != nil || a.State != ripcord.ActionSucceeded {
					b.Fatalf("rollback: %v %+v", err, a)
				}
				b.StopTimer()
				total += time.Since(start)
				calls += bd.calls.Load() - calls0
				inFake += time.Duration(bd.inFake.Load() - fake0)
				writes += int64(bd.fake.CountEvents(c.writeOp) - writes0)
			}
			b.ReportMetric(float64(calls)/float64(b.N), "store-calls/op")
			b.ReportMetric(float64(writes)/float64(b.N), "store-writes/op")
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/rollback")
			b.ReportMetric(float64((total-inFake).Microseconds())/1000/float64(b.N), "ripcord-ms/rollback")
		})
	}
}
