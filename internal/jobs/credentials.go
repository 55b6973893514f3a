package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/rollback"
)

// NewCredentialsExpiringGauge builds the gauge the expiry check sets, for
// the daemon to register: ripcord_credentials_expiring{app,kind} is the
// days left (negative once expired) of every credential that expires, so
// an alert on `< 30` catches a certificate or profile in time.
func NewCredentialsExpiringGauge() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ripcord_credentials_expiring",
		Help: "Days until a stored certificate or provisioning profile expires (negative once expired), as of the last daily check.",
	}, []string{"app", "kind"})
}

// CredentialExpiryArgs asks for the expiry of every stored certificate and
// profile to be checked. A rollback build signed with an expired identity
// or profile is refused by the App Store, so the team must hear of it
// weeks before, not during an incident.
type CredentialExpiryArgs struct{}

// Kind names the job in the queue.
func (CredentialExpiryArgs) Kind() string { return "credential_expiry" }

// InsertOpts makes the check unique per twelve hours, so restarts and
// several instances do not repeat it.
func (CredentialExpiryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 12 * time.Hour}}
}

// CredentialExpiryWorker checks expiry and records the findings.
type CredentialExpiryWorker struct {
	river.WorkerDefaults[CredentialExpiryArgs]
	deps Deps
}

// NewCredentialExpiryWorker builds the expiry worker.
func NewCredentialExpiryWorker(d Deps) *CredentialExpiryWorker {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &CredentialExpiryWorker{deps: d}
}

// Work sets the gauge for every credential that expires (replacing the
// last run's series, so deleted credentials disappear), logs a warning for
// each one expired or expiring within credentials.ExpiryWarning, and a
// summary line. It reads metadata only; nothing is decrypted.
func (w *CredentialExpiryWorker) Work(ctx context.Context, _ *river.Job[CredentialExpiryArgs]) error {
	list, err := credentials.Expiring(ctx, w.deps.Store)
	if err != nil {
		return fmt.Errorf("credential expiry check: %w", err)
	}
	now := w.deps.Now()
	actx := ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: rollback.Actor, Role: ripcord.RoleAdmin})
	if g := w.deps.CredentialsExpiring; g != nil {
		g.Reset()
	}
	var expiring, expired int
	for _, c := range list {
		days := c.DaysLeft(now)
		if g := w.deps.CredentialsExpiring; g != nil {
			g.WithLabelValues(c.App, c.Kind).Set(float64(days))
		}
		attrs := []any{slog.String("app", c.App), slog.String("kind", c.Kind), slog.Int("days_left", days), slog.Time("expires_at", c.ExpiresAt)}
		switch c.Expiry(now) {
		case credentials.ExpiryExpired:
			expired++
			w.deps.Logger.WarnContext(ctx, "credential expired; store a renewed one with `ripcord app credentials`", attrs...)
			// Rollback builds signed with it are retired (helper ios).
			if n, err := NewInvalidator(w.deps).CredentialExpired(actx, c.App, c.Kind, c.ExpiresAt); err != nil {
				return fmt.Errorf("credential expiry check: retire rollback builds signed with %s of %s: %w", c.Kind, c.App, err)
			} else if n > 0 {
				w.deps.Logger.WarnContext(ctx, "rollback builds signed with an expired credential retired", append(attrs, slog.Int("rollback_builds", n))...)
			}
		case credentials.ExpiryExpiring:
			expiring++
			w.deps.Logger.WarnContext(ctx, "credential expires soon; store a renewed one with `ripcord app credentials`", attrs...)
		}
	}
	w.deps.Logger.InfoContext(ctx, "credential expiry checked", slog.Int("checked", len(list)), slog.Int("expiring", expiring), slog.Int("expired", expired))
	return nil
}
