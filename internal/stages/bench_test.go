package stages

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// BenchmarkTickIdle measures one pass of the periodic job over 100
// releases rolling out on Android whose next stage is not due: the cost
// paid every minute while nothing moves (database reads only, SQLite).
func BenchmarkTickIdle(b *testing.B) {
	tb := setup(b, monday.Add(time.Hour))
	plan := ripcord.DefaultRolloutPlan()
	now := tb.fake.Now()
	require.NoError(b, tb.store.InTx(context.Background(), func(ctx context.Context, tx storage.Tx) error {
		for i := range 100 {
			r := &ripcord.Release{AppID: tb.app.ID, Version: fmt.Sprintf("2.%d.0", i), CreatedBy: "x", CreatedAt: now, Platforms: []ripcord.ReleasePlatform{
				{Platform: ripcord.Android, Status: ripcord.StatusRollingOut, UpdatedAt: now},
				{Platform: ripcord.IOS, Status: ripcord.StatusDraft, UpdatedAt: now},
			}}
			if err := tx.ReleaseCreate(ctx, r); err != nil {
				return err
			}
			rp := r.Platforms[0]
			rp.Stage, rp.StageStartedAt, rp.RolloutStartedAt, rp.Plan = 1, now, now, &plan
			if err := tx.ReleaseRolloutPut(ctx, r.ID, rp); err != nil {
				return err
			}
		}
		return nil
	}))
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		res, err := tb.svc.Tick(ctx)
		if err != nil || res.Held != 100 || res.Advanced != 0 {
			b.Fatalf("tick: %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/100, "µs/release")
}
