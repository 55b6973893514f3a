package daemon

import (
	"context"

	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// countsWithPending is the store as readers of health counts other than
// healthwatch (runbook triggers) must see it: the ingest pipeline keeps an
// acknowledged envelope's counts in memory until its next flush, so sums
// go through healthwatch, which adds them to the stored ones.
type countsWithPending struct {
	storage.Store
	health *healthwatch.Service
}

// HealthSum adds up stored and not yet flushed counts.
func (c countsWithPending) HealthSum(ctx context.Context, p storage.HealthSumParams) (health.Counts, error) {
	return c.health.Sum(ctx, p)
}
