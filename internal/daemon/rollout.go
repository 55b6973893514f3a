package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/httpapi"
	"github.com/ripcordhq/ripcord/internal/rollout"
)

// rolloutWorkers is how many rollout actions run at once in one instance.
const rolloutWorkers = 8

// rolloutQueue configures the rollout actions' queue. PostgreSQL tells
// River of new jobs at once (LISTEN/NOTIFY), so the usual poll is a
// fallback; SQLite has no notifications, so the queue polls every
// rollout.QueuePollInterval to start an action within milliseconds.
func rolloutQueue(dialect string) river.QueueConfig {
	q := river.QueueConfig{MaxWorkers: rolloutWorkers}
	if dialect == "sqlite" {
		q.FetchCooldown, q.FetchPollInterval = rollout.QueuePollInterval, rollout.QueuePollInterval
	}
	return q
}

// rolloutAPI adapts the rollout service to the API's Rollouts port.
type rolloutAPI struct{ svc *rollout.Service }

// RequestActions requests the action on each platform.
func (r rolloutAPI) RequestActions(ctx context.Context, p httpapi.ActionParams, platforms []ripcord.Platform) ([]httpapi.ActionOutcome, error) {
	out, err := r.svc.RequestPlatforms(ctx, rollout.ActionRequest{App: p.App, Version: p.Version, Kind: p.Kind, IdempotencyKey: p.IdempotencyKey, Reason: p.Reason}, platforms)
	if err != nil {
		return nil, err
	}
	res := make([]httpapi.ActionOutcome, 0, len(out))
	for _, o := range out {
		res = append(res, httpapi.ActionOutcome{Platform: o.Platform, Action: o.Action, Err: o.Err})
	}
	return res, nil
}

// ActionGet returns one action of a release.
func (r rolloutAPI) ActionGet(ctx context.Context, app, version string, id int64) (*ripcord.RolloutAction, error) {
	return r.svc.Get(ctx, app, version, id)
}

// appStoreOpener builds an App Store Connect client for an app from its
// stored API key (the use is audited under the caller's name), reaching
// App Store Connect at url (config stores.app_store_connect_url; empty for
// Apple's).
func appStoreOpener(creds *credentials.Service, url string, logger *slog.Logger) rollout.AppStoreOpener {
	return func(ctx context.Context, app *ripcord.App) (rollout.AppStore, error) {
		m, err := creds.Open(ctx, app.Name, credentials.KindASCAPIKey)
		if err != nil {
			return nil, fmt.Errorf("open the App Store Connect API key of %s (store it with `ripcord app credentials %s --asc-key FILE --asc-key-id ID --asc-issuer-id ID`): %w",
				app.Name, app.Name, err)
		}
		c, err := appstore.New(appstore.Config{KeyID: m.ASCKeyID, IssuerID: m.ASCIssuerID, Individual: m.ASCIssuerID == "", PrivateKeyPEM: m.ASCKey,
			BaseURL: url, Logger: logger})
		if err != nil {
			return nil, ripcord.Errorf(ripcord.EINVALID, "the App Store Connect API key of %s is not usable; store a new one: %v", app.Name, err)
		}
		return c, nil
	}
}
