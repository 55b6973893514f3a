package incident_test

import (
	"fmt"
	"testing"
)

// BenchmarkOpen measures what a breach verdict adds to the ingest that
// reports it (the incident is recorded in the request, after the halt was
// started): opening a new incident, and appending a repeat breach, on
// SQLite.
func BenchmarkOpen(b *testing.B) {
	tb := setup(b)
	b.Run("new", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			p := breach("shop", "pause", "99.41 %: pause tier")
			p.Version = fmt.Sprintf("1.%d.0", i)
			if _, err := tb.svc.Open(tb.health, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("repeat", func(b *testing.B) {
		for b.Loop() {
			if _, err := tb.svc.Open(tb.health, breach("blog", "pause", "99.41 %: pause tier")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
