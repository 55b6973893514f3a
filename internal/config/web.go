package config

import (
	"time"
)

// WebConfig groups the web.* options of the dashboard.
type WebConfig struct {
	// SessionTTL is how long a dashboard sign-in lasts. Default 12h.
	SessionTTL time.Duration
	// SecureCookies marks every dashboard cookie Secure, for a server
	// behind a TLS proxy that does not send X-Forwarded-Proto. Requests
	// that arrive over TLS get Secure cookies anyway. Default false, so
	// that `ripcord demo` works over http on localhost.
	SecureCookies bool
	// OIDC is the identity provider people may sign in with; an empty
	// Issuer turns it off.
	OIDC OIDCConfig
}

// OIDCConfig groups the web.oidc.* options.
type OIDCConfig struct {
	Issuer       string // e.g. https://accounts.google.com; "" for none
	ClientID     string
	ClientSecret string // secret; also read from web.oidc.client_secret_file
	RedirectURL  string // https://ripcord.example.com/ui/oidc/callback
}

// webOptions are the dashboard's rows of the option table.
func webOptions() []option {
	return []option{
		durationOption("web.session_ttl", "12h", "how long a dashboard sign-in lasts",
			func(c *Config) *time.Duration { return &c.Web.SessionTTL }),
		boolOption("web.secure_cookies", "false",
			"mark dashboard cookies Secure even when the request did not arrive over TLS (behind a TLS proxy that sends no X-Forwarded-Proto)",
			func(c *Config) *bool { return &c.Web.SecureCookies }),
		optionalURLOption("web.oidc.issuer", "OIDC issuer URL people sign in with (its /.well-known/openid-configuration is read at start-up); empty turns OIDC off",
			func(c *Config) *string { return &c.Web.OIDC.Issuer }),
		{
			Option: Option{Key: "web.oidc.client_id", Default: "", Allowed: "the client id the identity provider issued", Doc: "OIDC client id of this Ripcord"},
			set:    func(c *Config, s string) error { c.Web.OIDC.ClientID = s; return nil },
			get:    func(c *Config) string { return c.Web.OIDC.ClientID },
		},
		{
			Option: Option{Key: "web.oidc.client_secret", Default: "", Allowed: "the client secret the identity provider issued", Secret: true,
				Doc: "OIDC client secret of this Ripcord; prefer web.oidc.client_secret_file"},
			set:    func(c *Config, s string) error { c.Web.OIDC.ClientSecret = s; return nil },
			get:    func(c *Config) string { return c.Web.OIDC.ClientSecret },
			redact: redactSecret,
		},
		optionalURLOption("web.oidc.redirect_url", "URL the identity provider sends people back to: this server's /ui/oidc/callback",
			func(c *Config) *string { return &c.Web.OIDC.RedirectURL }),
	}
}

// optionalURLOption is an http(s) URL option that may be left empty.
func optionalURLOption(key, doc string, field func(*Config) *string) option {
	return option{
		Option: Option{Key: key, Default: "", Allowed: "empty, or " + httpURLAllowed, Doc: doc},
		set: func(c *Config, s string) error {
			if s != "" {
				if err := checkHTTPURL(s); err != nil {
					return err
				}
			}
			*field(c) = s
			return nil
		},
		get: func(c *Config) string { return *field(c) },
	}
}
