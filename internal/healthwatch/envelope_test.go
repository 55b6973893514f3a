package healthwatch_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// project gives "shop" an Android project.
func (tb *testBundle) project(t *testing.T) *storage.SentryProject {
	t.Helper()
	app, err := tb.store.AppGetByName(context.Background(), "shop")
	require.NoError(t, err)
	p := &storage.SentryProject{AppID: app.ID, Platform: ripcord.Android, PublicKey: fmt.Sprintf("%032x", 7), CreatedAt: tb.now}
	require.NoError(t, tb.store.InTx(context.Background(), func(ctx context.Context, tx storage.Tx) error { return tx.SentryProjectCreate(ctx, p) }))
	return p
}

func parse(t *testing.T, tb *testBundle, items ...string) *sentry.Envelope {
	t.Helper()
	var out []sentry.OutItem
	for i := 0; i+1 < len(items); i += 2 {
		out = append(out, sentry.OutItem{Type: items[i], Payload: []byte(items[i+1])})
	}
	var buf bytes.Buffer
	require.NoError(t, sentry.WriteEnvelope(&buf, map[string]any{"sent_at": tb.now.Format(time.RFC3339)}, out...))
	env, err := sentry.ParseEnvelope(&buf, sentry.Limits{})
	require.NoError(t, err)
	return env
}

func (tb *testBundle) sum(t *testing.T, version, metric string) health.Counts {
	t.Helper()
	app, err := tb.store.AppGetByName(context.Background(), "shop")
	require.NoError(t, err)
	c, err := tb.store.HealthSum(context.Background(), storage.HealthSumParams{AppID: app.ID, Platform: ripcord.Android, Version: version, Metric: metric})
	require.NoError(t, err)
	return c
}

// TestIngestEnvelopeReleases maps releases to versions: another app's
// package and unparseable versions are dropped with a reason, a release
// without a package is the project's app, and an unknown version counts.
func TestIngestEnvelopeReleases(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	p := tb.project(t)
	started := tb.now.Add(-5 * time.Minute).Format(time.RFC3339)
	sess := func(sid, release string) string {
		return fmt.Sprintf(`{"sid":"%s","did":"d-%s","init":true,"started":%q,"status":"ok","attrs":{"release":%q}}`, sid, sid[:1], started, release)
	}
	env := parse(t, tb,
		sentry.ItemSession, sess("a0000000-0000-4000-8000-000000000001", "com.acme.shop@3.0.0+300"),
		sentry.ItemSession, sess("b0000000-0000-4000-8000-000000000002", "com.other@3.0.0+300"),
		sentry.ItemSession, sess("c0000000-0000-4000-8000-000000000003", "com.acme.shop@not-a-version"),
		sentry.ItemSession, sess("d0000000-0000-4000-8000-000000000004", "3.0.0+300"),
	)
	res, err := tb.svc.IngestEnvelope(tb.ctx, p, env)
	require.NoError(t, err)
	require.Equal(t, 2, res.Accepted)
	require.Len(t, res.Dropped, 2)
	require.Contains(t, res.Dropped[0].Reason, `names package "com.other", but this DSN's app is "com.acme.shop" on android`)
	require.Contains(t, res.Dropped[1].Reason, "not-a-version")
	require.Equal(t, health.Counts{Total: 2}, tb.sum(t, "3.0.0", healthwatch.CrashFreeSessions), "3.0.0 has no release in Ripcord and still counts")
	require.Equal(t, health.Counts{Total: 2}, tb.sum(t, "3.0.0", healthwatch.CrashFreeUsers))
	require.Len(t, res.Verdicts, 2, "crash-free sessions and users are decided")
}

// TestIngestEnvelopeAggregatesAndEvents counts aggregates as they come and
// events once each; fatal events never add to the crash-free metrics.
func TestIngestEnvelopeAggregatesAndEvents(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	p := tb.project(t)
	minute := tb.now.Add(-30 * time.Minute).Format(time.RFC3339)
	agg := fmt.Sprintf(`{"attrs":{"release":"com.acme.shop@1.0.0+1"},"aggregates":[
		{"started":%q,"did":"dev-1","exited":5,"errored":2,"abnormal":1,"crashed":1},
		{"started":%q,"did":"dev-2","exited":3}]}`, minute, minute)
	fatal := `{"event_id":"0123456789abcdef0123456789abcdef","level":"fatal","release":"com.acme.shop@1.0.0+1"}`
	for range 2 {
		env := parse(t, tb, sentry.ItemSessions, agg, sentry.ItemEvent, fatal)
		_, err := tb.svc.IngestEnvelope(tb.ctx, p, env)
		require.NoError(t, err)
	}
	require.Equal(t, health.Counts{Bad: 2, Total: 24}, tb.sum(t, "1.0.0", healthwatch.CrashFreeSessions), "aggregates cannot be deduplicated; the fatal event adds nothing here")
	require.Equal(t, health.Counts{Bad: 8, Total: 24}, tb.sum(t, "1.0.0", healthwatch.ErroredSessions))
	require.Equal(t, health.Counts{Bad: 2, Total: 24}, tb.sum(t, "1.0.0", healthwatch.AbnormalSessions))
	require.Equal(t, health.Counts{Bad: 1, Total: 2}, tb.sum(t, "1.0.0", healthwatch.CrashFreeUsers), "exact distinct devices")
	require.Equal(t, health.Counts{Bad: 1, Total: 1}, tb.sum(t, "1.0.0", healthwatch.FatalEvents), "the event counted once")
}
