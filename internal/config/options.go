package config

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Option describes one configuration option, so that the CLI can register its
// flags and "ripcord config" can document every option from the same table
// Load uses.
type Option struct {
	// Key is the option's YAML key path, e.g. "log.level".
	Key string
	// Env is the environment variable that sets it, e.g. "RIPCORD_LOG_LEVEL".
	Env string
	// Flag is the command-line flag name without dashes, e.g. "log-level".
	Flag string
	// Default is the default value, written as in YAML ("" for none).
	Default string
	// Allowed describes the accepted values, e.g. "one of text, json".
	Allowed string
	// Doc is one line saying what the option does.
	Doc string
	// Secret marks a value that is never shown and may be read from a file.
	Secret bool
	// FileKey, FileEnv and FileFlag name the variants that read a secret
	// from a file, e.g. "secret_key_file"; they are empty unless Secret.
	FileKey, FileEnv, FileFlag string
}

// option is a row of the table: the description plus the code that parses,
// validates, stores, reads back and redacts the value.
type option struct {
	Option
	// set parses and validates s and stores it in c. It leaves c untouched
	// and returns a message naming s and the allowed values on bad input.
	set func(c *Config, s string) error
	// get returns the value in c written so that set accepts it again.
	get func(c *Config) string
	// redact hides secrets in a value returned by get; nil shows it as is.
	redact func(v string) string
}

// envPrefix starts every environment variable Load reads.
const envPrefix = "RIPCORD_"

// fileSuffix turns a secret's key into the key of its read-from-file variant.
const fileSuffix = "_file"

// table declares every option, in the order Settings and Describe list them.
// It is a function, not a variable, so that no package state exists.
func table() []option {
	opts := []option{
		{
			Option: Option{Key: "addr", Default: "127.0.0.1:8080", Allowed: addrAllowed,
				Doc: "HOST:PORT the HTTP server listens on; use 0.0.0.0:8080 to listen on all interfaces"},
			set: func(c *Config, s string) error {
				if err := checkAddr(s); err != nil {
					return err
				}
				c.Addr = s
				return nil
			},
			get: func(c *Config) string { return c.Addr },
		},
		{
			Option: Option{Key: "database_url", Default: "ripcord.db", Allowed: databaseAllowed,
				Doc: "database to use: a SQLite file path or a postgres:// URL"},
			set: func(c *Config, s string) error {
				if _, _, err := parseDatabaseURL(s); err != nil {
					return err
				}
				c.DatabaseURL = s
				return nil
			},
			get:    func(c *Config) string { return c.DatabaseURL },
			redact: redactURL,
		},
		boolOption("no_migrate", "false",
			"do not apply pending schema migrations at start-up; refuse to serve a stale schema instead",
			func(c *Config) *bool { return &c.NoMigrate }),
		{
			Option: Option{Key: "log.level", Default: "info", Allowed: oneOf(logLevels()),
				Doc: "minimum level of log messages"},
			set: func(c *Config, s string) error {
				for _, l := range logLevels() {
					if s == l {
						return c.Log.Level.UnmarshalText([]byte(s))
					}
				}
				return notAllowed(s, logLevels())
			},
			get: func(c *Config) string { return strings.ToLower(c.Log.Level.String()) },
		},
		enumOption("log.format", "text", []string{"text", "json"},
			"log output format: text for people, json for log collectors",
			func(c *Config) *string { return &c.Log.Format }),
		{
			Option: Option{Key: "artifacts.url", Default: "artifacts", Allowed: artifactsAllowed,
				Doc: "where artifacts are stored: a local directory or a gocloud.dev/blob URL (file:///dir, s3://bucket?region=...)"},
			set: func(c *Config, s string) error {
				if err := checkArtifactsURL(s); err != nil {
					return err
				}
				c.Artifacts.URL = s
				return nil
			},
			get:    func(c *Config) string { return c.Artifacts.URL },
			redact: redactURL,
		},
		sizeOption("artifacts.max_bytes", "4GiB", "largest artifact accepted for upload",
			func(c *Config) *int64 { return &c.Artifacts.MaxBytes }),
		durationOption("http.read_header_timeout", "10s", "time allowed to read a request's headers",
			func(c *Config) *time.Duration { return &c.HTTP.ReadHeaderTimeout }),
		durationOption("http.read_timeout", "10m", "time allowed to read a whole request, uploads included",
			func(c *Config) *time.Duration { return &c.HTTP.ReadTimeout }),
		durationOption("http.write_timeout", "10m", "time allowed to write a response",
			func(c *Config) *time.Duration { return &c.HTTP.WriteTimeout }),
		durationOption("http.idle_timeout", "2m", "time a keep-alive connection may wait for its next request",
			func(c *Config) *time.Duration { return &c.HTTP.IdleTimeout }),
		durationOption("http.shutdown_timeout", "30s", "time in-flight requests get to finish on shutdown",
			func(c *Config) *time.Duration { return &c.HTTP.ShutdownTimeout }),
		sizeOption("http.max_body_bytes", "1MiB", "largest JSON request body accepted",
			func(c *Config) *int64 { return &c.HTTP.MaxBodyBytes }),
		durationOption("http.request_timeout", "30s", "time a JSON endpoint may take; must be shorter than http.write_timeout",
			func(c *Config) *time.Duration { return &c.HTTP.RequestTimeout }),
		intOption("jobs.workers", "10", 1, 1000, "number of background jobs run at once",
			func(c *Config) *int { return &c.Jobs.Workers }),
		{
			Option: Option{Key: "stores.google_play_url", Default: "https://androidpublisher.googleapis.com/", Allowed: httpURLAllowed,
				Doc: "root of the Google Play Developer API that rollback builds are uploaded to; point it at a fake store (ripcord fakestore serve) for tests and demos"},
			set: func(c *Config, s string) error {
				if err := checkHTTPURL(s); err != nil {
					return err
				}
				c.Stores.GooglePlayURL = s
				return nil
			},
			get:    func(c *Config) string { return c.Stores.GooglePlayURL },
			redact: redactURL,
		},
		{
			Option: Option{Key: "stores.app_store_connect_url", Default: "https://api.appstoreconnect.apple.com", Allowed: httpURLAllowed,
				Doc: "root of the App Store Connect API that iOS rollback builds are uploaded to; point it at a fake store (ripcord fakestore serve) for tests and demos"},
			set: func(c *Config, s string) error {
				if err := checkHTTPURL(s); err != nil {
					return err
				}
				c.Stores.AppStoreConnectURL = s
				return nil
			},
			get:    func(c *Config) string { return c.Stores.AppStoreConnectURL },
			redact: redactURL,
		},
		{
			Option: Option{Key: "health.auto_rollback_apps", Default: "", Allowed: "comma-separated app names",
				Doc: "apps that Ripcord rolls back on its own on a rollback-tier verdict when a rollback build is ready; other apps are only halted"},
			set: func(c *Config, s string) error {
				c.Health.AutoRollbackApps = nil
				for name := range strings.SplitSeq(s, ",") {
					if name = strings.TrimSpace(name); name != "" {
						c.Health.AutoRollbackApps = append(c.Health.AutoRollbackApps, name)
					}
				}
				return nil
			},
			get: func(c *Config) string { return strings.Join(c.Health.AutoRollbackApps, ",") },
		},
		{
			Option: Option{Key: "secret_key", Default: "", Allowed: secretKeyAllowed, Secret: true,
				Doc: "key that encrypts store credentials at rest; generate one with: openssl rand -base64 32"},
			set: func(c *Config, s string) error {
				k, err := parseSecretKey(s)
				if err != nil {
					return err
				}
				c.SecretKey = k
				return nil
			},
			get: func(c *Config) string {
				if len(c.SecretKey) == 0 {
					return ""
				}
				return base64.StdEncoding.EncodeToString(c.SecretKey)
			},
			redact: redactSecret,
		},
	}
	opts = append(opts, incidentOptions()...)
	opts = append(opts, webOptions()...) // the dashboard's, in web.go
	for i := range opts {
		o := &opts[i].Option
		o.Env = envName(o.Key)
		o.Flag = flagName(o.Key)
		if o.Secret {
			o.FileKey = o.Key + fileSuffix
			o.FileEnv = envName(o.FileKey)
			o.FileFlag = flagName(o.FileKey)
		}
	}
	return opts
}

// Describe returns every option in table order, for the CLI's flags and
// documentation.
func Describe() []Option {
	opts := table()
	out := make([]Option, len(opts))
	for i, o := range opts {
		out[i] = o.Option
	}
	return out
}

// Keys returns every key Load accepts in Sources.Flags, in table order: each
// option's key, followed by its _file variant for secrets.
func Keys() []string {
	var keys []string
	for _, o := range table() {
		keys = append(keys, o.Key)
		if o.FileKey != "" {
			keys = append(keys, o.FileKey)
		}
	}
	return keys
}

// envName returns the environment variable for an option key.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// flagName returns the command-line flag (without dashes) for an option key.
func flagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// logLevels lists the accepted log.level values, most verbose first.
func logLevels() []string { return []string{"debug", "info", "warn", "error"} }

// boolOption declares a true/false option stored in *field.
func boolOption(key, def, doc string, field func(*Config) *bool) option {
	return option{
		Option: Option{Key: key, Default: def, Allowed: boolAllowed, Doc: doc},
		set: func(c *Config, s string) error {
			b, err := parseBool(s)
			if err != nil {
				return err
			}
			*field(c) = b
			return nil
		},
		get: func(c *Config) string { return strconv.FormatBool(*field(c)) },
	}
}

// enumOption declares an option restricted to values, stored in *field.
func enumOption(key, def string, values []string, doc string, field func(*Config) *string) option {
	return option{
		Option: Option{Key: key, Default: def, Allowed: oneOf(values), Doc: doc},
		set: func(c *Config, s string) error {
			for _, v := range values {
				if s == v {
					*field(c) = s
					return nil
				}
			}
			return notAllowed(s, values)
		},
		get: func(c *Config) string { return *field(c) },
	}
}

// intOption declares a whole-number option in [lo, hi], stored in *field.
func intOption(key, def string, lo, hi int, doc string, field func(*Config) *int) option {
	return option{
		Option: Option{Key: key, Default: def, Allowed: intAllowed(lo, hi), Doc: doc},
		set: func(c *Config, s string) error {
			n, err := parseInt(s, lo, hi)
			if err != nil {
				return err
			}
			*field(c) = n
			return nil
		},
		get: func(c *Config) string { return strconv.Itoa(*field(c)) },
	}
}

// durationOption declares a positive duration option stored in *field.
func durationOption(key, def, doc string, field func(*Config) *time.Duration) option {
	return option{
		Option: Option{Key: key, Default: def, Allowed: durationAllowed, Doc: doc},
		set: func(c *Config, s string) error {
			d, err := parseDuration(s)
			if err != nil {
				return err
			}
			*field(c) = d
			return nil
		},
		get: func(c *Config) string { return formatDuration(*field(c)) },
	}
}

// sizeOption declares a positive byte-size option stored in *field.
func sizeOption(key, def, doc string, field func(*Config) *int64) option {
	return option{
		Option: Option{Key: key, Default: def, Allowed: sizeAllowed, Doc: doc},
		set: func(c *Config, s string) error {
			n, err := parseSize(s)
			if err != nil {
				return err
			}
			*field(c) = n
			return nil
		},
		get: func(c *Config) string { return formatSize(*field(c)) },
	}
}

// redactSecret hides a secret's value but still shows whether it is set.
func redactSecret(v string) string {
	if v == "" {
		return ""
	}
	return redacted
}
