package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// NotifyConfig groups the notify.* options: where incident and poller
// alerts go and how they are signed.
type NotifyConfig struct {
	// Webhooks receive every alert as signed JSON. Default none.
	Webhooks []string
	// SlackURLs are Slack incoming-webhook URLs (secrets: anyone holding
	// one can post to the channel). Default none.
	SlackURLs []string
	// SigningSecret keys the HMAC-SHA256 signature of every alert; it is
	// required when a webhook or Slack URL is set. Default none.
	SigningSecret string
	// PublicURL is the server's address as people reach it, for the links
	// and the one-click rollback call in alerts. Default "" (paths only).
	PublicURL string
}

// PollersConfig groups the pollers.* options: health data Ripcord fetches
// itself, from the Sentry sessions API and Play's Android vitals.
type PollersConfig struct {
	// Interval is how often each poller runs. Default 5m.
	Interval time.Duration
	// MaxErrors is how many polls in a row may fail before an alert goes
	// out. Default 3.
	MaxErrors int
	// SentryURL is the Sentry server. Default https://sentry.io.
	SentryURL string
	// SentryToken is a Sentry auth token with org:read. Default none.
	SentryToken string
	// SentryOrg is the organization slug. Default none.
	SentryOrg string
	// SentryProjects maps "app:platform" to a Sentry project id. Default
	// none: the Sentry poller is off.
	SentryProjects map[string]string
	// PlayVitalsApps are the apps whose Android vitals are polled hourly
	// with their stored Play service account. Default none.
	PlayVitalsApps []string
	// PlayReportingURL is the Play Developer Reporting API root. Default
	// https://playdeveloperreporting.googleapis.com/.
	PlayReportingURL string
}

func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func listOption(key, allowed, doc string, secret bool, field func(c *Config) *[]string, check func(string) error) option {
	o := option{
		Option: Option{Key: key, Default: "", Allowed: allowed, Doc: doc, Secret: secret},
		set: func(c *Config, s string) error {
			items := splitList(s)
			for _, it := range items {
				if check != nil {
					if err := check(it); err != nil {
						return err
					}
				}
			}
			*field(c) = items
			return nil
		},
		get: func(c *Config) string { return strings.Join(*field(c), ",") },
	}
	if secret {
		o.redact = redactSecret
	}
	return o
}

// incidentOptions are the notify.* and pollers.* options (issue #8).
func incidentOptions() []option {
	return []option{
		listOption("notify.webhooks", "comma-separated http or https URLs", "URLs that receive every incident and poller alert as HMAC-signed JSON", false,
			func(c *Config) *[]string { return &c.Notify.Webhooks }, checkHookURL),
		listOption("notify.slack_urls", "comma-separated Slack incoming-webhook URLs", "Slack incoming webhooks that receive every incident and poller alert", true,
			func(c *Config) *[]string { return &c.Notify.SlackURLs }, checkHookURL),
		{
			Option: Option{Key: "notify.signing_secret", Default: "", Allowed: "at least 16 characters", Secret: true,
				Doc: "key of the X-Ripcord-Signature HMAC on every alert; required with notify.webhooks or notify.slack_urls"},
			set: func(c *Config, s string) error {
				if s != "" && len(s) < 16 {
					return fmt.Errorf("is %d characters; use at least 16 (e.g. openssl rand -hex 32)", len(s))
				}
				c.Notify.SigningSecret = s
				return nil
			},
			get:    func(c *Config) string { return c.Notify.SigningSecret },
			redact: redactSecret,
		},
		{
			Option: Option{Key: "notify.public_url", Default: "", Allowed: "an http or https URL, or empty",
				Doc: "address people reach this server at, for links and the one-click rollback call in alerts"},
			set: func(c *Config, s string) error {
				if s != "" {
					if err := checkHookURL(s); err != nil {
						return err
					}
				}
				c.Notify.PublicURL = strings.TrimSuffix(s, "/")
				return nil
			},
			get: func(c *Config) string { return c.Notify.PublicURL },
		},
		{
			Option: Option{Key: "pollers.interval", Default: "5m", Allowed: "a duration from 1m to 24h",
				Doc: "how often the Sentry and Play vitals pollers fetch health data"},
			set: func(c *Config, s string) error {
				d, err := parseDuration(s)
				if err != nil {
					return err
				}
				if d < time.Minute || d > 24*time.Hour {
					return fmt.Errorf("%s is outside 1m to 24h", s)
				}
				c.Pollers.Interval = d
				return nil
			},
			get: func(c *Config) string { return formatDuration(c.Pollers.Interval) },
		},
		{
			Option: Option{Key: "pollers.max_errors", Default: "3", Allowed: intAllowed(1, 100),
				Doc: "failed polls in a row before an alert goes out (the verdict is no-data meanwhile, never healthy)"},
			set: func(c *Config, s string) error {
				n, err := parseInt(s, 1, 100)
				if err != nil {
					return err
				}
				c.Pollers.MaxErrors = n
				return nil
			},
			get: func(c *Config) string { return fmt.Sprint(c.Pollers.MaxErrors) },
		},
		{
			Option: Option{Key: "pollers.sentry_url", Default: "https://sentry.io", Allowed: httpURLAllowed, Doc: "Sentry server whose sessions API is polled"},
			set: func(c *Config, s string) error {
				if err := checkHTTPURL(s); err != nil {
					return err
				}
				c.Pollers.SentryURL = strings.TrimSuffix(s, "/")
				return nil
			},
			get: func(c *Config) string { return c.Pollers.SentryURL },
		},
		{
			Option: Option{Key: "pollers.sentry_token", Default: "", Allowed: "a Sentry auth token with org:read", Secret: true, Doc: "token of the Sentry sessions poller"},
			set:    func(c *Config, s string) error { c.Pollers.SentryToken = s; return nil },
			get:    func(c *Config) string { return c.Pollers.SentryToken },
			redact: redactSecret,
		},
		{
			Option: Option{Key: "pollers.sentry_org", Default: "", Allowed: "a Sentry organization slug", Doc: "organization of the Sentry sessions poller"},
			set:    func(c *Config, s string) error { c.Pollers.SentryOrg = s; return nil },
			get:    func(c *Config) string { return c.Pollers.SentryOrg },
		},
		{
			Option: Option{Key: "pollers.sentry_projects", Default: "", Allowed: "comma-separated APP:PLATFORM=PROJECT_ID, e.g. shop:ios=42,shop:android=43",
				Doc: "Sentry projects to poll per app and platform; empty turns the Sentry poller off"},
			set: func(c *Config, s string) error {
				var m map[string]string
				for _, item := range splitList(s) {
					k, id, ok := strings.Cut(item, "=")
					app, platform, ok2 := strings.Cut(k, ":")
					if !ok || !ok2 || app == "" || (platform != "ios" && platform != "android") || !isDigits(id) {
						return fmt.Errorf("%s is not APP:PLATFORM=PROJECT_ID (platform ios or android, a numeric project id), e.g. shop:ios=42", quote(item))
					}
					if m == nil {
						m = map[string]string{}
					}
					m[k] = id
				}
				c.Pollers.SentryProjects = m
				return nil
			},
			get: func(c *Config) string {
				var parts []string
				for k, v := range c.Pollers.SentryProjects {
					parts = append(parts, k+"="+v)
				}
				slices.Sort(parts)
				return strings.Join(parts, ",")
			},
		},
		listOption("pollers.play_vitals_apps", "comma-separated app names", "apps whose Android vitals (crash and ANR rates) are polled hourly with their Play service account", false,
			func(c *Config) *[]string { return &c.Pollers.PlayVitalsApps }, nil),
		{
			Option: Option{Key: "stores.google_play_reporting_url", Default: "https://playdeveloperreporting.googleapis.com/", Allowed: httpURLAllowed,
				Doc: "root of the Play Developer Reporting API that Android vitals are read from; point it at a fake store for tests and demos"},
			set: func(c *Config, s string) error {
				if err := checkHTTPURL(s); err != nil {
					return err
				}
				c.Pollers.PlayReportingURL = s
				return nil
			},
			get:    func(c *Config) string { return c.Pollers.PlayReportingURL },
			redact: redactURL,
		},
	}
}

// checkHookURL accepts an absolute http or https URL; unlike an API root
// it may carry a query (some receivers take their key there).
func checkHookURL(s string) error {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return checkHTTPURL(s[:i])
	}
	return checkHTTPURL(s)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
