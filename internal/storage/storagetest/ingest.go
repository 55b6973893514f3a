package storagetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// testIngestPipelineWrites covers what the ingest pipeline (issue 8)
// writes at each flush: its log position, device sets and event ids, all
// idempotent, in multi-row statements larger than one chunk.
func testIngestPipelineWrites(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	a := createApp(t, s, "shop")
	p := sentryProject(t, s, a, ripcord.IOS, fmt.Sprintf("%032x", 7))

	pos, err := s.IngestPosition(ctx, "sentry")
	require.NoError(t, err)
	require.Zero(t, pos, "no position before the first flush")
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.IngestPositionSet(ctx, "sentry", 4096) })
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.IngestPositionSet(ctx, "sentry", 8192) })
	pos, err = s.IngestPosition(ctx, "sentry")
	require.NoError(t, err)
	require.Equal(t, int64(8192), pos)
	other, err := s.IngestPosition(ctx, "other")
	require.NoError(t, err)
	require.Zero(t, other, "positions are per pipeline")

	var devices []storage.SentryDeviceParams
	for i := range 1200 { // more than one 500-row statement
		devices = append(devices, storage.SentryDeviceParams{ProjectID: p.ID, Version: "1.2.0", DID: fmt.Sprintf("dev-%d", i), Crashed: i%100 == 0})
	}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.SentryDevicesPut(ctx, devices) })
	// A replay of the same facts, and a later sighting without a crash,
	// change nothing; a later crash is kept.
	again := slices.Clone(devices)
	for i := range again {
		again[i].Crashed = i == 1
	}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.SentryDevicesPut(ctx, again) })
	got, err := s.SentryDeviceList(ctx, p.ID, "1.2.0")
	require.NoError(t, err)
	require.Len(t, got, 1200)
	crashed := 0
	for _, d := range got {
		if d.Crashed {
			crashed++
		}
	}
	require.Equal(t, 13, crashed, "12 crashed at first, dev-1 later; none un-crashed")
	none, err := s.SentryDeviceList(ctx, p.ID, "1.3.0")
	require.NoError(t, err)
	require.Empty(t, none)

	var events []storage.SentryEventParams
	for i := range 700 {
		events = append(events, storage.SentryEventParams{ProjectID: p.ID, EventID: fmt.Sprintf("%032x", i), At: t0})
	}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.SentryEventsPut(ctx, events) })
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.SentryEventsPut(ctx, events[:10]) })
	ask := []string{fmt.Sprintf("%032x", 3), fmt.Sprintf("%032x", 699), fmt.Sprintf("%032x", 5000)}
	for i := range 600 {
		ask = append(ask, fmt.Sprintf("%032x", 10_000+i))
	}
	seen, err := s.SentryEventsSeen(ctx, p.ID, ask)
	require.NoError(t, err)
	slices.Sort(seen)
	require.Equal(t, []string{fmt.Sprintf("%032x", 3), fmt.Sprintf("%032x", 699)}, seen)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		first, err := tx.SentryEventRecord(ctx, p.ID, fmt.Sprintf("%032x", 3), t0)
		require.False(t, first, "the per-fact path sees ids the pipeline put")
		return err
	})
}
