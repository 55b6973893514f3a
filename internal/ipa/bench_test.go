//go:build unix

package ipa_test

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"

	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/ipa/ipatest"
)

// BenchmarkResign100MB re-signs an IPA of about 100 MB: the app, the
// extension and framework of the usual fixture, three 24 MB executables (half
// random) and 1,500 incompressible resources of 40 KB. It reports the IPA size and the peak heap
// above what was live before (uncollected garbage included).
func BenchmarkResign100MB(b *testing.B) {
	fx := newFixture(b, ipatest.Options{BigExe: 24 << 20, Resources: 1500, ResSize: 40 << 10})
	st, err := os.Stat(fx.Path)
	if err != nil {
		b.Fatal(err)
	}
	opts := resignOpts(b, fx)
	out := filepath.Join(fx.Dir, "out.ipa")
	fx.Entries = nil // the fixture's own copies are not Resign's memory
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	baseline := sample[0].Value.Uint64()
	var peak uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				metrics.Read(sample)
				peak = max(peak, sample[0].Value.Uint64())
			}
		}
	}()
	var before syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ipa.Resign(b.Context(), fx.Path, out, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(b.N)
	// CPU time per re-sign is steadier than wall time on a shared machine;
	// wall time is at least cpu/2 on 2 cores.
	b.ReportMetric(cpu.Seconds(), "cpu-s/op")
	close(done)
	<-stopped
	b.ReportMetric(float64(st.Size())/(1<<20), "input-MB")
	// Peak heap above the baseline, garbage not yet collected included.
	b.ReportMetric(float64(peak-min(peak, baseline))/(1<<20), "peak-heap-MB")
}
