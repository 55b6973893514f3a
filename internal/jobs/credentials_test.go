package jobs_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/jobs"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// TestCredentialExpiry records days left per expiring credential, warns
// about the expired and the soon-expiring, ignores what does not expire,
// and drops series of credentials deleted since the last run.
func TestCredentialExpiry(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	day := 24 * time.Hour
	require.NoError(t, tb.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		a := &ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop", CreatedAt: tb.now, UpdatedAt: tb.now}
		if err := tx.AppCreate(ctx, a); err != nil {
			return err
		}
		for kind, expires := range map[string]time.Time{
			"ios_identity":                tb.now.Add(200*day + time.Hour),
			"ios_profile:com.acme.shop":   tb.now.Add(10*day + time.Hour),
			"ios_profile:com.acme.shop.x": tb.now.Add(-2 * day),
			"asc_api_key":                 {},
		} {
			if err := tx.CredentialPut(ctx, &storage.Credential{AppID: a.ID, Kind: kind, Ciphertext: []byte{1}, Metadata: "{}", ExpiresAt: expires, CreatedBy: "t", UpdatedAt: tb.now}); err != nil {
				return err
			}
		}
		return nil
	}))
	gauge := jobs.NewCredentialsExpiringGauge()
	gauge.WithLabelValues("gone", "ios_identity").Set(3) // a credential deleted since the last run
	var logs bytes.Buffer
	w := jobs.NewCredentialExpiryWorker(jobs.Deps{Store: tb.store, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now: func() time.Time { return tb.now }, CredentialsExpiring: gauge})
	require.NoError(t, w.Work(ctx, &river.Job[jobs.CredentialExpiryArgs]{JobRow: &rivertype.JobRow{}}))

	reg := prometheus.NewRegistry()
	reg.MustRegister(gauge)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetValue())
			}
			got[strings.Join(labels, " ")] = m.GetGauge().GetValue()
		}
	}
	require.Equal(t, map[string]float64{
		"shop ios_identity": 200, "shop ios_profile:com.acme.shop": 10, "shop ios_profile:com.acme.shop.x": -2,
	}, got, "only expiring credentials have a series; the deleted one's is gone")

	out := logs.String()
	require.Equal(t, 1, strings.Count(out, "credential expired;"), out)
	require.Equal(t, 1, strings.Count(out, "credential expires soon;"), out)
	require.Contains(t, out, "kind=ios_profile:com.acme.shop.x days_left=-2")
	require.Contains(t, out, "checked=3 expiring=1 expired=1")
}
