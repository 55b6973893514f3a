// Package config loads Ripcord's server configuration.
//
// Every option is declared once, in the table in options.go: its key, default,
// parser and validator, the text describing allowed values, whether it is a
// secret, and a doc line. Values are applied in this order, each overriding
// the one before:
//
//  1. the defaults from the table;
//  2. a YAML file (ripcord.yaml in the working directory unless another path
//     is given), where keys may be nested ("log: {level: debug}") or dotted
//     ("log.level: debug");
//  3. RIPCORD_* environment variables: "RIPCORD_" + the key upper-cased with
//     "." replaced by "_", e.g. RIPCORD_LOG_LEVEL. Unknown RIPCORD_* variables
//     are ignored because other tools share the prefix; empty ones are ignored
//     so that templated environments can leave a value out;
//  4. command-line flags, handed over by the CLI as option key -> value.
//
// Secret options also accept a file holding the value: the key with "_file"
// appended (secret_key_file, RIPCORD_SECRET_KEY_FILE, --secret-key-file). A
// relative path in the YAML file is resolved against the YAML file's
// directory; elsewhere against the working directory.
//
// Load returns a *Config that the program passes explicitly to whoever needs
// it; the package holds no state.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config is the effective server configuration, built by Load or Default and
// passed explicitly to the parts of the program that need it.
type Config struct {
	// Addr is the HOST:PORT the HTTP server listens on. Default 127.0.0.1:8080.
	Addr string
	// DatabaseURL names the database: a SQLite file path, a sqlite:// URL or a
	// postgres:// URL. Use Database to split it into driver and DSN.
	// Default ripcord.db.
	DatabaseURL string
	// NoMigrate stops the server from applying pending schema migrations at
	// start-up; it then refuses to run on a stale schema. Default false.
	NoMigrate bool
	// Log configures the process logger.
	Log LogConfig
	// Artifacts configures where uploaded build artifacts are stored.
	Artifacts ArtifactsConfig
	// HTTP configures the HTTP server's limits.
	HTTP HTTPConfig
	// Jobs configures the background job runner.
	Jobs JobsConfig
	// Stores configures how Ripcord reaches the app stores.
	Stores StoresConfig
	// Health configures what Ripcord does on its own on a health verdict.
	Health HealthConfig
	// Notify configures where incident and poller alerts go.
	Notify NotifyConfig
	// Pollers configures the health data Ripcord fetches itself.
	Pollers PollersConfig
	// Web configures the dashboard: sessions and OIDC sign-in.
	Web WebConfig
	// SecretKey encrypts store credentials at rest. It is exactly 32 bytes,
	// or nil when unset (the default).
	SecretKey []byte

	// origins records where each option's value came from, by option key.
	// It is nil for a Config built by hand.
	origins map[string]origin
}

// LogConfig groups the log.* options so the logger can be built from one value.
type LogConfig struct {
	// Level is the minimum level logged. Default slog.LevelInfo.
	Level slog.Level
	// Format is "text" or "json". Default "text".
	Format string
}

// ArtifactsConfig groups the artifacts.* options for the blob storage layer.
type ArtifactsConfig struct {
	// URL is a local directory path (relative to the working directory) or a
	// gocloud.dev/blob URL such as file:///var/lib/ripcord or
	// s3://bucket?region=eu-west-1. Default "artifacts".
	URL string
	// MaxBytes is the largest artifact accepted for upload. Default 4 GiB.
	MaxBytes int64
}

// HTTPConfig groups the http.* options that bound the HTTP server's resources.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, uploads included. Default 10m.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response. Default 10m.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for the next
	// request. Default 2m.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown on SIGTERM. Default 30s.
	ShutdownTimeout time.Duration
	// MaxBodyBytes is the largest JSON request body accepted. Default 1 MiB.
	MaxBodyBytes int64
	// RequestTimeout bounds the handler of a JSON endpoint. It is always
	// shorter than WriteTimeout. Default 30s.
	RequestTimeout time.Duration
}

// JobsConfig groups the jobs.* options for the background job runner.
type JobsConfig struct {
	// Workers is how many jobs run at once, from 1 to 1000. Default 10.
	Workers int
}

// HealthConfig groups the health.* options: the policies the health engine
// acts on without a person.
type HealthConfig struct {
	// AutoRollbackApps names the apps that opted in to an automatic
	// rollback on a rollback-tier verdict (when a rollback build is ready).
	// Every other app is only halted, and a person clicks the rollback.
	// It is a server option rather than an app setting because opting in
	// is an operator's decision about what Ripcord may do unattended.
	// Default none.
	AutoRollbackApps []string
}

// StoresConfig groups the stores.* options: where the store APIs are, so a
// deployment, a test or the demo can point Ripcord at a fake store.
type StoresConfig struct {
	// GooglePlayURL is the Google Play Developer API root. Default
	// "https://androidpublisher.googleapis.com/".
	GooglePlayURL string
	// AppStoreConnectURL is the App Store Connect API root. Default
	// "https://api.appstoreconnect.apple.com".
	AppStoreConnectURL string
}

// Setting is one effective option as shown by "ripcord config" and logged at
// start-up, with secrets redacted.
type Setting struct {
	// Key is the option key, e.g. "log.level".
	Key string
	// Value is the effective value in the form a user would write it;
	// secrets read "<redacted>" and a postgres password is replaced by it.
	Value string
	// Source says where the value came from: "default",
	// "file ripcord.yaml:7", "env RIPCORD_ADDR" or "flag --addr". It is empty
	// for a Config built by hand.
	Source string
}

// redacted replaces secret values in Settings.
const redacted = "<redacted>"

// Default returns a Config holding every option's default value, for callers
// (mostly tests) that do not read the environment.
func Default() *Config {
	c := &Config{origins: make(map[string]origin)}
	for _, o := range table() {
		// The defaults are constants checked by TestDefaultsParse; an error
		// here cannot depend on input.
		_ = o.set(c, o.Default)
	}
	return c
}

// Settings lists the effective value and source of every option, in table
// order, with secrets redacted, so that the configuration can be shown or
// logged safely.
func (c *Config) Settings() []Setting {
	opts := table()
	out := make([]Setting, 0, len(opts))
	for _, o := range opts {
		v := o.get(c)
		if o.redact != nil {
			v = o.redact(v)
		}
		s := Setting{Key: o.Key, Value: v}
		if c.origins != nil {
			s.Source = c.origins[o.Key].String()
		}
		out = append(out, s)
	}
	return out
}

// Validate checks every option's value and the rules between options, with
// the same code and messages as Load, which has already applied them; it
// exists for Configs built or changed by hand. The returned error joins one
// *Error per problem.
func (c *Config) Validate() error {
	var errs []error
	for _, o := range table() {
		var scratch Config
		if err := o.set(&scratch, o.get(c)); err != nil {
			errs = append(errs, &Error{Key: o.Key, Msg: err.Error()})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, e := range c.crossCheck() {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// crossCheck returns the problems between options whose values are each valid.
func (c *Config) crossCheck() []*Error {
	var errs []*Error
	if c.HTTP.RequestTimeout >= c.HTTP.WriteTimeout {
		at := c.origins["http.request_timeout"]
		other := c.origins["http.write_timeout"].String()
		errs = append(errs, at.error("http.request_timeout", fmt.Sprintf(
			"%s must be shorter than http.write_timeout (%s%s), or a slow request is cut off instead of getting a timeout response",
			formatDuration(c.HTTP.RequestTimeout), formatDuration(c.HTTP.WriteTimeout), parenSep(other))))
	}
	return errs
}

// parenSep formats a source for use after a value inside parentheses.
func parenSep(source string) string {
	if source == "" {
		return ""
	}
	return ", " + source
}
