package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/stages"
)

// newStages builds the staged-rollout service on the apps' stored store
// credentials.
func newStages(d *Daemon, cfg *config.Config, logger *slog.Logger, opts Options) (*stages.Service, error) {
	return stages.New(stages.Config{
		Store: d.Store, Artifacts: d.Artifacts, Now: opts.Now, Logger: logger,
		Gate: d.Gate, // no production rollout starts without a recorded go
		Play: func(ctx context.Context, app *ripcord.App) (stages.Play, error) {
			m, err := d.Credentials.Open(ctx, app.Name, credentials.KindPlayServiceAccount)
			if err != nil {
				return nil, fmt.Errorf("open the Play service account of %s (store it with `ripcord app credentials %s --play-service-account FILE`): %w", app.Name, app.Name, err)
			}
			pc, err := play.New(ctx, play.Config{ServiceAccountJSON: m.ServiceAccount, Endpoint: cfg.Stores.GooglePlayURL, Logger: logger})
			if err != nil {
				return nil, fmt.Errorf("the Play service account of %s is not usable; store a new key with `ripcord app credentials %s --play-service-account FILE`: %w", app.Name, app.Name, err)
			}
			return pc, nil
		},
		AppStore: func(ctx context.Context, app *ripcord.App) (stages.AppStore, error) {
			m, err := d.Credentials.Open(ctx, app.Name, credentials.KindASCAPIKey)
			if err != nil {
				return nil, fmt.Errorf("open the App Store Connect API key of %s (store it with `ripcord app credentials %s --asc-key FILE --asc-key-id ID --asc-issuer-id ID`): %w", app.Name, app.Name, err)
			}
			// Tokens are signed on the wall clock, not opts.Now: Apple
			// checks them against its own.
			c, err := appstore.New(appstore.Config{KeyID: m.ASCKeyID, IssuerID: m.ASCIssuerID, Individual: m.ASCIssuerID == "", PrivateKeyPEM: m.ASCKey,
				BaseURL: cfg.Stores.AppStoreConnectURL, Logger: logger, PollInterval: opts.StorePollInterval})
			if err != nil {
				return nil, fmt.Errorf("the App Store Connect API key of %s is not usable; store a new key with `ripcord app credentials %s`: %w", app.Name, app.Name, err)
			}
			return c, nil
		},
	})
}
