package daemon

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/web"
)

// openWeb builds the dashboard from the services and serves it next to the
// API on the same server: "/" and /ui/ go to the dashboard, everything else
// (/api, /healthz, /readyz, /metrics) to the API as before. The services
// built in parallel (stages, incidents, gate, rollout actions with steps)
// plug in as one field of web.Sources each.
func (d *Daemon) openWeb(ctx context.Context, rbs rollbacks, api http.Handler, now func() time.Time) error {
	cfg := d.cfg.Web
	var oidc *web.OIDC
	if cfg.OIDC.Issuer != "" {
		var err error
		if oidc, err = web.NewOIDC(ctx, web.OIDCConfig{Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID,
			ClientSecret: cfg.OIDC.ClientSecret, RedirectURL: cfg.OIDC.RedirectURL}); err != nil {
			return fmt.Errorf("refusing to start: %w", err)
		}
	}
	h, err := web.New(web.Config{
		Sources: web.Sources{
			Catalog: d.Catalog, Rollbacks: rbs, Records: d.Store, Tokens: d.Access,
			Actions: web.DurableActions{Rollouts: d.Rollout, Records: d.Store},
			Users:   webUsers{d.Access},
		},
		Accounts: d.Access, Sessions: d.Store, OIDC: oidc,
		SessionTTL: cfg.SessionTTL, SecureCookies: cfg.SecureCookies, Now: now, Logger: d.logger,
	})
	if err != nil {
		return err
	}
	d.web = h
	mux := http.NewServeMux()
	mux.Handle("/ui/", h)
	mux.Handle("GET /{$}", h)
	mux.Handle("/", api)
	d.handler = mux
	return nil
}

// webUsers lists accounts for the admin page, without their passwords.
type webUsers struct{ access *access.Service }

func (u webUsers) UserList(ctx context.Context) ([]web.UserView, error) {
	us, err := u.access.UserList(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.UserView, len(us))
	for i, x := range us {
		out[i] = web.UserView{Email: x.Email, Name: x.Name, Role: x.Role, TeamRoles: x.TeamRoles, Disabled: x.Disabled, CreatedAt: x.CreatedAt}
	}
	return out, nil
}
