package config

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// allKeys is the "allowed keys" list every top-level unknown-key error shows.
const allKeys = "addr, database_url, no_migrate, log.level, log.format, artifacts.url, artifacts.max_bytes, " +
	"http.read_header_timeout, http.read_timeout, http.write_timeout, http.idle_timeout, http.shutdown_timeout, " +
	"http.max_body_bytes, http.request_timeout, jobs.workers, stores.google_play_url, stores.app_store_connect_url, health.auto_rollback_apps, secret_key, secret_key_file, " +
	"notify.webhooks, notify.slack_urls, notify.slack_urls_file, notify.signing_secret, notify.signing_secret_file, notify.public_url, " +
	"pollers.interval, pollers.max_errors, pollers.sentry_url, pollers.sentry_token, pollers.sentry_token_file, pollers.sentry_org, pollers.sentry_projects, " +
	"pollers.play_vitals_apps, stores.google_play_reporting_url, " +
	"web.session_ttl, web.secure_cookies, web.oidc.issuer, web.oidc.client_id, web.oidc.client_secret, web.oidc.client_secret_file, web.oidc.redirect_url"

// testKey is a valid secret_key: the bytes 0..31 in standard base64.
const testKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func testKeyBytes() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// writeFile creates dir/name with content and returns its path.
func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	require.NoError(tb, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// loadString writes content to ripcord.yaml in a fresh directory and loads it
// as an explicit config file with environ and flags. It returns the error
// text with the directory stripped, so file errors read "ripcord.yaml:N: ...".
func loadString(tb testing.TB, content string, environ []string, flags map[string]string) (*Config, string) {
	tb.Helper()
	dir := tb.TempDir()
	path := writeFile(tb, dir, DefaultFile, content)
	cfg, err := Load(Sources{Path: path, Explicit: true, Environ: environ, Flags: flags})
	if err != nil {
		require.Nil(tb, cfg)
		return nil, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	}
	return cfg, ""
}

// setting returns the Setting for key.
func setting(tb testing.TB, c *Config, key string) Setting {
	tb.Helper()
	for _, s := range c.Settings() {
		if s.Key == key {
			return s
		}
	}
	tb.Fatalf("no setting %q", key)
	return Setting{}
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name                  string
		file, env, flag       bool
		wantValue, wantSource string
	}{
		{name: "DefaultOnly", wantValue: "127.0.0.1:8080", wantSource: "default"},
		{name: "FileOverDefault", file: true, wantValue: "10.0.0.1:1", wantSource: "file ripcord.yaml:2"},
		{name: "EnvOverDefault", env: true, wantValue: "10.0.0.2:2", wantSource: "env RIPCORD_ADDR"},
		{name: "EnvOverFile", file: true, env: true, wantValue: "10.0.0.2:2", wantSource: "env RIPCORD_ADDR"},
		{name: "FlagOverDefault", flag: true, wantValue: "10.0.0.3:3", wantSource: "flag --addr"},
		{name: "FlagOverFile", file: true, flag: true, wantValue: "10.0.0.3:3", wantSource: "flag --addr"},
		{name: "FlagOverEnv", env: true, flag: true, wantValue: "10.0.0.3:3", wantSource: "flag --addr"},
		{name: "FlagOverAll", file: true, env: true, flag: true, wantValue: "10.0.0.3:3", wantSource: "flag --addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			content := "# test\nlog.level: warn\n"
			if tt.file {
				content = "# test\naddr: 10.0.0.1:1\n"
			}
			var environ []string
			if tt.env {
				environ = []string{"RIPCORD_ADDR=10.0.0.2:2"}
			}
			flags := map[string]string{}
			if tt.flag {
				flags["addr"] = "10.0.0.3:3"
			}
			dir := t.TempDir()
			path := writeFile(t, dir, DefaultFile, content)
			cfg, err := Load(Sources{Path: path, Explicit: true, Environ: environ, Flags: flags})
			require.NoError(t, err)
			require.Equal(t, tt.wantValue, cfg.Addr)
			s := setting(t, cfg, "addr")
			require.Equal(t, tt.wantValue, s.Value)
			require.Equal(t, tt.wantSource, strings.ReplaceAll(s.Source, dir+string(filepath.Separator), ""))
		})
	}
}

func TestLoadPrecedenceAcrossOptions(t *testing.T) {
	t.Parallel()

	cfg, errText := loadString(t, "log:\n  level: warn\n  format: json\njobs.workers: 3\nhttp:\n  read_timeout: 20m\n",
		[]string{"RIPCORD_LOG_LEVEL=error", "RIPCORD_JOBS_WORKERS=5"},
		map[string]string{"jobs.workers": "7"})
	require.Empty(t, errText)
	require.Equal(t, "error", setting(t, cfg, "log.level").Value)
	require.Equal(t, "env RIPCORD_LOG_LEVEL", setting(t, cfg, "log.level").Source)
	require.Equal(t, "json", cfg.Log.Format)
	require.Contains(t, setting(t, cfg, "log.format").Source, "ripcord.yaml:3")
	require.Equal(t, 7, cfg.Jobs.Workers)
	require.Equal(t, "flag --jobs-workers", setting(t, cfg, "jobs.workers").Source)
	require.Equal(t, 20*time.Minute, cfg.HTTP.ReadTimeout)
	require.Equal(t, 10*time.Minute, cfg.HTTP.WriteTimeout)
	require.Equal(t, "default", setting(t, cfg, "http.write_timeout").Source)
}

func TestLoadFixtures(t *testing.T) {
	t.Parallel()

	want := &Config{
		Addr:        "0.0.0.0:9090",
		DatabaseURL: "postgres://ripcord:s3cret@db.internal:5432/ripcord?sslmode=disable",
		NoMigrate:   true,
		Log:         LogConfig{Level: -4, Format: "json"},
		Artifacts:   ArtifactsConfig{URL: "s3://ripcord-artifacts?region=eu-west-1", MaxBytes: 1_500_000_000},
		HTTP: HTTPConfig{
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Minute,
			WriteTimeout:      31 * time.Minute,
			IdleTimeout:       90 * time.Second,
			ShutdownTimeout:   time.Minute,
			MaxBodyBytes:      2 << 20,
			RequestTimeout:    time.Minute,
		},
		Jobs:      JobsConfig{Workers: 4},
		Stores:    StoresConfig{GooglePlayURL: "http://fakestore.internal:8181/", AppStoreConnectURL: "https://api.appstoreconnect.apple.com"},
		SecretKey: testKeyBytes(),
		Pollers: PollersConfig{Interval: 5 * time.Minute, MaxErrors: 3, SentryURL: "https://sentry.io",
			PlayReportingURL: "https://playdeveloperreporting.googleapis.com/"},
		Web: WebConfig{SessionTTL: 12 * time.Hour},
	}
	for _, name := range []string{"full.yaml", "flat.yaml"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(Sources{Path: filepath.Join("testdata", name), Explicit: true})
			require.NoError(t, err)
			got := *cfg
			got.origins = nil
			require.Equal(t, *want, got)
		})
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()

	t.Run("NoFileNoEnv", func(t *testing.T) {
		t.Parallel()
		cfg, err := Load(Sources{Dir: t.TempDir()})
		require.NoError(t, err)
		require.Equal(t, Default(), cfg)
		for _, s := range cfg.Settings() {
			require.Equal(t, "default", s.Source, s.Key)
		}
	})
	t.Run("CommentsOnly", func(t *testing.T) {
		t.Parallel()
		cfg, err := Load(Sources{Path: filepath.Join("testdata", "empty.yaml"), Explicit: true})
		require.NoError(t, err)
		require.Equal(t, Default(), cfg)
	})
	t.Run("EmptyFile", func(t *testing.T) {
		t.Parallel()
		cfg, errText := loadString(t, "", nil, nil)
		require.Empty(t, errText)
		require.Equal(t, Default(), cfg)
	})
	t.Run("EmptySection", func(t *testing.T) {
		t.Parallel()
		cfg, errText := loadString(t, "log:\nhttp: ~\n", nil, nil)
		require.Empty(t, errText)
		require.Equal(t, Default(), cfg)
	})
}

func TestLoadFileLookup(t *testing.T) {
	t.Parallel()

	t.Run("DefaultFileInDirIsRead", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := writeFile(t, dir, DefaultFile, "jobs:\n  workers: 2\n")
		cfg, err := Load(Sources{Dir: dir})
		require.NoError(t, err)
		require.Equal(t, 2, cfg.Jobs.Workers)
		require.Equal(t, "file "+path+":2", setting(t, cfg, "jobs.workers").Source)
	})
	t.Run("AbsentDefaultFileIsFine", func(t *testing.T) {
		t.Parallel()
		cfg, err := Load(Sources{Dir: t.TempDir(), Explicit: true})
		require.NoError(t, err)
		require.Equal(t, 10, cfg.Jobs.Workers)
	})
	t.Run("MissingImplicitPathIsFine", func(t *testing.T) {
		t.Parallel()
		cfg, err := Load(Sources{Path: filepath.Join(t.TempDir(), "nope.yaml")})
		require.NoError(t, err)
		require.Equal(t, 10, cfg.Jobs.Workers)
	})
	t.Run("MissingExplicitPathIsAnError", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "nope.yaml")
		_, err := Load(Sources{Path: path, Explicit: true})
		require.EqualError(t, err, path+": config file does not exist; check the path")
		var cerr *Error
		require.ErrorAs(t, err, &cerr)
		require.Equal(t, path, cerr.File)
	})
	t.Run("DirectoryIsAnError", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		_, err := Load(Sources{Path: dir, Explicit: true})
		require.EqualError(t, err, dir+": cannot read config file: is a directory")
	})
	t.Run("HugeFileIsAnError", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := writeFile(t, dir, "big.yaml", "# "+strings.Repeat("x", maxFileBytes)+"\n")
		_, err := Load(Sources{Path: path, Explicit: true})
		require.EqualError(t, err, path+": cannot read config file: it is larger than 1MiB")
	})
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()

	const (
		durationAllowedText = "a duration greater than 0 with a unit, e.g. 500ms, 30s, 10m or 1h30m"
		sizeAllowedText     = "a number of bytes greater than 0, optionally with a unit: KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 512MiB or 1.5GB"
		addrAllowedText     = "HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:8080 or :8080"
		dbAllowedText       = "a SQLite file path (ripcord.db), sqlite:///absolute/path.db, sqlite://relative/path.db, postgres://user:password@host/dbname or postgresql://..."
		keyAllowedText      = "empty, or 32 bytes in base64 (standard or URL alphabet); generate one with: openssl rand -base64 32"
	)
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{
			name:    "EnumNotAllowed",
			content: "addr: :1\nlog:\n  level: verbose\n",
			want:    `ripcord.yaml:3: log.level: "verbose" is not allowed; use one of debug, info, warn, error`,
		},
		{
			name:    "EnumIsCaseSensitive",
			content: "log.format: JSON\n",
			want:    `ripcord.yaml:1: log.format: "JSON" is not allowed; use one of text, json`,
		},
		{
			name:    "UnknownKeyWithSuggestion",
			content: "# comment\n\nadr: 0.0.0.0:80\n",
			want:    `ripcord.yaml:3: unknown key "adr" (did you mean "addr"?); allowed keys: ` + allKeys,
		},
		{
			name:    "UnknownKeyWithoutSuggestion",
			content: "colour: red\n",
			want:    `ripcord.yaml:1: unknown key "colour"; allowed keys: ` + allKeys,
		},
		{
			name:    "UnknownNestedKey",
			content: "log:\n  levle: debug\n",
			want:    `ripcord.yaml:2: unknown key "log.levle" (did you mean "log.level"?); allowed keys: log.level, log.format`,
		},
		{
			name:    "UnknownSectionSuggestsSection",
			content: "logs:\n  level: debug\n",
			want:    `ripcord.yaml:1: unknown key "logs" (did you mean "log"?); allowed keys: ` + allKeys,
		},
		{
			name:    "UnderscoreForDotSuggestsKey",
			content: "log_level: debug\n",
			want:    `ripcord.yaml:1: unknown key "log_level" (did you mean "log.level"?); allowed keys: ` + allKeys,
		},
		{
			name:    "ScalarWhereMappingExpected",
			content: "jobs: 5\n",
			want:    `ripcord.yaml:1: jobs: expected a mapping of jobs.workers, found the value "5"`,
		},
		{
			name:    "MappingWhereScalarExpected",
			content: "addr:\n  host: localhost\n  port: 80\n",
			want:    `ripcord.yaml:1: addr: expected a single value, found a mapping`,
		},
		{
			name:    "ListWhereScalarExpected",
			content: "jobs:\n  workers: [1, 2]\n",
			want:    `ripcord.yaml:2: jobs.workers: expected a single value, found a list`,
		},
		{
			name:    "SyntaxError",
			content: "addr: :1\nlog:\n  level: debug\n    format: json\n",
			want:    `ripcord.yaml:4: invalid YAML: mapping values are not allowed in this context`,
		},
		{
			name:    "SyntaxErrorOnFirstLine",
			content: "\tfoo: bar\n",
			want:    `ripcord.yaml:1: invalid YAML: found character that cannot start any token`,
		},
		{
			name:    "UnknownAnchor",
			content: "addr: *nope\n",
			want:    `ripcord.yaml: invalid YAML: unknown anchor 'nope' referenced`,
		},
		{
			name:    "SecondDocument",
			content: "addr: :1\n---\naddr: :2\n",
			want:    `ripcord.yaml:2: found a second YAML document; put all settings in one`,
		},
		{
			name:    "TopLevelList",
			content: "- addr: :1\n",
			want:    `ripcord.yaml:1: the top level must be a mapping of keys to values, e.g. "addr: 127.0.0.1:8080"; found a list`,
		},
		{
			name:    "KeySetTwice",
			content: "addr: :1\naddr: :2\n",
			want:    `ripcord.yaml:2: addr: set twice (first at line 1); keep only one`,
		},
		{
			name:    "KeySetTwiceDottedAndNested",
			content: "log.level: debug\nlog:\n  level: info\n",
			want:    `ripcord.yaml:3: log.level: set twice (first at line 1); keep only one`,
		},
		{
			name:    "SectionSetTwice",
			content: "log:\n  level: debug\nlog:\n  format: json\n",
			want:    `ripcord.yaml:3: log: set twice (first at line 1); keep only one`,
		},
		{
			name:    "MergeKey",
			content: "base: &b {addr: ':1'}\n<<: *b\n",
			want: `ripcord.yaml:1: unknown key "base"; allowed keys: ` + allKeys + "\n" +
				`ripcord.yaml:2: merge keys (<<) are not supported; write the keys out`,
		},
		{
			name:    "NonScalarKey",
			content: "? [a, b]\n: c\n",
			want:    `ripcord.yaml:1: a key must be a plain name, not a list`,
		},
		{
			name:    "WholeNumberNotANumber",
			content: "jobs.workers: many\n",
			want:    `ripcord.yaml:1: jobs.workers: "many" is not a whole number from 1 to 1000`,
		},
		{
			name:    "WholeNumberTooSmall",
			content: "jobs.workers: 0\n",
			want:    `ripcord.yaml:1: jobs.workers: "0" is not a whole number from 1 to 1000`,
		},
		{
			name:    "WholeNumberTooLarge",
			content: "jobs.workers: 1001\n",
			want:    `ripcord.yaml:1: jobs.workers: "1001" is not a whole number from 1 to 1000`,
		},
		{
			name:    "WholeNumberFraction",
			content: "jobs.workers: 1.5\n",
			want:    `ripcord.yaml:1: jobs.workers: "1.5" is not a whole number from 1 to 1000`,
		},
		{
			name:    "Bool",
			content: "no_migrate: maybe\n",
			want:    `ripcord.yaml:1: no_migrate: "maybe" is not allowed; use true or false`,
		},
		{
			name:    "DurationWithoutUnit",
			content: "http:\n  read_timeout: 600\n",
			want:    `ripcord.yaml:2: http.read_timeout: "600" is not a duration; use ` + durationAllowedText,
		},
		{
			name:    "DurationZero",
			content: "http.idle_timeout: 0s\n",
			want:    `ripcord.yaml:1: http.idle_timeout: "0s" is not allowed; use ` + durationAllowedText,
		},
		{
			name:    "DurationNegative",
			content: "http.shutdown_timeout: -5s\n",
			want:    `ripcord.yaml:1: http.shutdown_timeout: "-5s" is not allowed; use ` + durationAllowedText,
		},
		{
			name:    "SizeUnknownUnit",
			content: "artifacts:\n  max_bytes: 4GB2\n",
			want:    `ripcord.yaml:2: artifacts.max_bytes: "4GB2" is not a size; use ` + sizeAllowedText,
		},
		{
			name:    "SizeZero",
			content: "http.max_body_bytes: 0\n",
			want:    `ripcord.yaml:1: http.max_body_bytes: "0" is not allowed; use ` + sizeAllowedText,
		},
		{
			name:    "SizeNegative",
			content: "http.max_body_bytes: -1MiB\n",
			want:    `ripcord.yaml:1: http.max_body_bytes: "-1MiB" is negative; use ` + sizeAllowedText,
		},
		{
			name:    "SizeFractionOfAByte",
			content: "artifacts.max_bytes: 1.0001KB\n",
			want:    `ripcord.yaml:1: artifacts.max_bytes: "1.0001KB" is not a whole number of bytes; use ` + sizeAllowedText,
		},
		{
			name:    "SizeTooLarge",
			content: "artifacts.max_bytes: 9EiB\n",
			want:    `ripcord.yaml:1: artifacts.max_bytes: "9EiB" is not a size; use ` + sizeAllowedText,
		},
		{
			name:    "SizeOverflow",
			content: "artifacts.max_bytes: 10000000TB\n",
			want:    `ripcord.yaml:1: artifacts.max_bytes: "10000000TB" is too large; the largest size is 9223372036854775807 bytes (8EiB)`,
		},
		{
			name:    "AddrWithoutPort",
			content: "addr: localhost\n",
			want:    `ripcord.yaml:1: addr: "localhost" is not HOST:PORT (missing port in address); use ` + addrAllowedText,
		},
		{
			name:    "AddrPortOutOfRange",
			content: "addr: localhost:65536\n",
			want:    `ripcord.yaml:1: addr: "localhost:65536" has port "65536"; use ` + addrAllowedText,
		},
		{
			name:    "AddrNamedPort",
			content: "addr: localhost:http\n",
			want:    `ripcord.yaml:1: addr: "localhost:http" has port "http"; use ` + addrAllowedText,
		},
		{
			name:    "AddrEmpty",
			content: "addr:\n",
			want:    `ripcord.yaml:1: addr: "" is not HOST:PORT (missing port in address); use ` + addrAllowedText,
		},
		{
			name:    "DatabaseUnknownScheme",
			content: "database_url: mysql://root:hunter2@db/ripcord\n",
			want:    `ripcord.yaml:1: database_url: scheme "mysql" is not supported; use ` + dbAllowedText,
		},
		{
			name:    "DatabaseSQLiteWithoutPath",
			content: "database_url: sqlite://\n",
			want:    `ripcord.yaml:1: database_url: sqlite:// needs a file path after it, e.g. sqlite:///var/lib/ripcord/ripcord.db`,
		},
		{
			name:    "DatabaseSQLiteWithQuery",
			content: "database_url: sqlite://x.db?mode=ro\n",
			want:    `ripcord.yaml:1: database_url: a sqlite:// URL takes no query or fragment; write only the file path`,
		},
		{
			name:    "DatabasePostgresWithoutSlashes",
			content: "database_url: postgres:ripcord@db\n",
			want:    `ripcord.yaml:1: database_url: a postgres URL starts with postgres://; use ` + dbAllowedText,
		},
		{
			name:    "DatabaseEmpty",
			content: "database_url: ''\n",
			want:    `ripcord.yaml:1: database_url: is empty; use ` + dbAllowedText,
		},
		{
			name:    "ArtifactsURLWithoutSlashes",
			content: "artifacts.url: s3:bucket\n",
			want:    `ripcord.yaml:1: artifacts.url: "s3:bucket" looks like a URL but lacks // after "s3:"; use a directory path (artifacts) or a URL with a scheme (file:///var/lib/ripcord/artifacts, s3://bucket?region=eu-west-1)`,
		},
		{
			name:    "ArtifactsRelativeFileURL",
			content: "artifacts.url: file://artifacts\n",
			want:    `ripcord.yaml:1: artifacts.url: "file://artifacts": a file URL needs an absolute path after file://, e.g. file:///var/lib/ripcord/artifacts`,
		},
		{
			name:    "SecretKeyNotBase64",
			content: "secret_key: not*base64!\n",
			want:    `ripcord.yaml:1: secret_key: the value is not valid base64; use ` + keyAllowedText,
		},
		{
			name:    "SecretKeyWrongLength",
			content: "secret_key: " + base64.StdEncoding.EncodeToString(make([]byte, 16)) + "\n",
			want:    `ripcord.yaml:1: secret_key: the value decodes to 16 bytes, not 32; use ` + keyAllowedText,
		},
		{
			name:    "SecretKeyAndFileInOneSource",
			content: "secret_key: " + testKey + "\nsecret_key_file: /run/secrets/ripcord\n",
			want:    `ripcord.yaml:2: secret_key_file: conflicts with secret_key at line 1; set only one of them`,
		},
		{
			name:    "SecretFileEmptyPath",
			content: "secret_key_file: ''\n",
			want:    `ripcord.yaml:1: secret_key_file: is empty; give the path of a file holding the value`,
		},
		{
			name:    "RequestTimeoutNotBelowWriteTimeout",
			content: "http:\n  request_timeout: 10m\n",
			want:    `ripcord.yaml:2: http.request_timeout: 10m must be shorter than http.write_timeout (10m, default), or a slow request is cut off instead of getting a timeout response`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, errText := loadString(t, tt.content, nil, nil)
			require.Nil(t, cfg)
			require.Equal(t, tt.want, errText)
		})
	}
}

func TestLoadReportsAllErrors(t *testing.T) {
	t.Parallel()

	path := filepath.Join("testdata", "errors.yaml")
	_, err := Load(Sources{
		Path:     path,
		Explicit: true,
		Environ:  []string{"RIPCORD_LOG_FORMAT=xml", "RIPCORD_JOBS_WORKERS=x"},
		Flags:    map[string]string{"addr": "nope", "log.level": "loud", "colour": "red"},
	})
	require.EqualError(t, err, strings.Join([]string{
		path + `:2: unknown key "adr" (did you mean "addr"?); allowed keys: ` + allKeys,
		path + `:4: log.level: "verbose" is not allowed; use one of debug, info, warn, error`,
		path + `:7: jobs.workers: "many" is not a whole number from 1 to 1000`,
		path + `:8: http: expected a mapping of http.read_header_timeout, http.read_timeout, http.write_timeout, http.idle_timeout, http.shutdown_timeout, http.max_body_bytes, http.request_timeout, found the value "30s"`,
		`RIPCORD_LOG_FORMAT: "xml" is not allowed; use one of text, json`,
		`RIPCORD_JOBS_WORKERS: "x" is not a whole number from 1 to 1000`,
		`--addr: "nope" is not HOST:PORT (missing port in address); use HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:8080 or :8080`,
		`--log-level: "loud" is not allowed; use one of debug, info, warn, error`,
		`--colour: unknown option "colour"; allowed keys: ` + allKeys,
	}, "\n"))

	var cerr *Error
	require.ErrorAs(t, err, &cerr)
	require.Equal(t, &Error{File: path, Line: 2, Msg: `unknown key "adr" (did you mean "addr"?); allowed keys: ` + allKeys}, cerr)
}

func TestLoadErrorsAreSortedByLineAndCapped(t *testing.T) {
	t.Parallel()

	// Walking the aliased section revisits line 2 after line 3.
	_, errText := loadString(t, "jobs: &j\n  workers: 0\nhttp: 5\nlog: *j\n", nil, nil)
	require.Equal(t, strings.Join([]string{
		`ripcord.yaml:2: jobs.workers: "0" is not a whole number from 1 to 1000`,
		`ripcord.yaml:2: unknown key "log.workers"; allowed keys: log.level, log.format`,
		`ripcord.yaml:3: http: expected a mapping of http.read_header_timeout, http.read_timeout, http.write_timeout, http.idle_timeout, http.shutdown_timeout, http.max_body_bytes, http.request_timeout, found the value "5"`,
	}, "\n"), errText)

	var b strings.Builder
	for i := range maxErrors + 5 {
		b.WriteString("unknown" + strings.Repeat("x", i) + ": 1\n")
	}
	_, errText = loadString(t, b.String(), nil, nil)
	lines := strings.Split(errText, "\n")
	require.Len(t, lines, maxErrors+1)
	for i, l := range lines[:maxErrors] {
		require.True(t, strings.HasPrefix(l, "ripcord.yaml:"+strconv.Itoa(i+1)+": unknown key"), l)
	}
	require.Equal(t, "5 more problems not shown", lines[maxErrors])
}

func TestLoadEnv(t *testing.T) {
	t.Parallel()

	t.Run("UnknownPrefixedVariablesAreIgnored", func(t *testing.T) {
		t.Parallel()
		cfg, err := Load(Sources{Dir: t.TempDir(), Environ: []string{
			"RIPCORD_SERVER=https://ripcord.example.com",
			"RIPCORD_TOKEN=rpc_secret",
			"RIPCORD_TEST_DATABASE_URL=postgres://x@y/z",
			"RIPCORD_LOG=debug",
			"PATH=/usr/bin",
		}})
		require.NoError(t, err)
		require.Equal(t, Default(), cfg)
	})
	t.Run("EmptyVariablesAreIgnored", func(t *testing.T) {
		t.Parallel()
		cfg, err := Load(Sources{Dir: t.TempDir(), Environ: []string{"RIPCORD_ADDR=", "RIPCORD_JOBS_WORKERS=  "}})
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1:8080", cfg.Addr)
		require.Equal(t, "default", setting(t, cfg, "addr").Source)
	})
	t.Run("LastDuplicateWins", func(t *testing.T) {
		t.Parallel()
		cfg, err := Load(Sources{Dir: t.TempDir(), Environ: []string{"RIPCORD_JOBS_WORKERS=2", "RIPCORD_JOBS_WORKERS=3"}})
		require.NoError(t, err)
		require.Equal(t, 3, cfg.Jobs.Workers)
	})
	t.Run("ValuesAreTrimmed", func(t *testing.T) {
		t.Parallel()
		cfg, err := Load(Sources{Dir: t.TempDir(), Environ: []string{"RIPCORD_LOG_LEVEL= debug\n"}})
		require.NoError(t, err)
		require.Equal(t, "debug", setting(t, cfg, "log.level").Value)
	})
	t.Run("EveryOptionHasAVariable", func(t *testing.T) {
		t.Parallel()
		environ := []string{
			"RIPCORD_ADDR=:1",
			"RIPCORD_DATABASE_URL=sqlite:///tmp/x.db",
			"RIPCORD_NO_MIGRATE=true",
			"RIPCORD_LOG_LEVEL=error",
			"RIPCORD_LOG_FORMAT=json",
			"RIPCORD_ARTIFACTS_URL=file:///srv/artifacts",
			"RIPCORD_ARTIFACTS_MAX_BYTES=1GiB",
			"RIPCORD_HTTP_READ_HEADER_TIMEOUT=1s",
			"RIPCORD_HTTP_READ_TIMEOUT=2s",
			"RIPCORD_HTTP_WRITE_TIMEOUT=3s",
			"RIPCORD_HTTP_IDLE_TIMEOUT=4s",
			"RIPCORD_HTTP_SHUTDOWN_TIMEOUT=5s",
			"RIPCORD_HTTP_MAX_BODY_BYTES=6KiB",
			"RIPCORD_HTTP_REQUEST_TIMEOUT=2s",
			"RIPCORD_JOBS_WORKERS=8",
			"RIPCORD_STORES_GOOGLE_PLAY_URL=http://127.0.0.1:8181/",
			"RIPCORD_STORES_APP_STORE_CONNECT_URL=http://127.0.0.1:8181",
			"RIPCORD_HEALTH_AUTO_ROLLBACK_APPS=shop, demo",
			"RIPCORD_SECRET_KEY=" + testKey,
			"RIPCORD_NOTIFY_WEBHOOKS=https://hooks.example/ripcord",
			"RIPCORD_NOTIFY_SLACK_URLS=https://hooks.slack.example/services/T/B/X",
			"RIPCORD_NOTIFY_SIGNING_SECRET=0123456789abcdef",
			"RIPCORD_NOTIFY_PUBLIC_URL=https://ripcord.example/",
			"RIPCORD_POLLERS_INTERVAL=10m",
			"RIPCORD_POLLERS_MAX_ERRORS=5",
			"RIPCORD_POLLERS_SENTRY_URL=http://127.0.0.1:9000",
			"RIPCORD_POLLERS_SENTRY_TOKEN=sntrys_x",
			"RIPCORD_POLLERS_SENTRY_ORG=acme",
			"RIPCORD_POLLERS_SENTRY_PROJECTS=shop:ios=42,shop:android=43",
			"RIPCORD_POLLERS_PLAY_VITALS_APPS=shop",
			"RIPCORD_STORES_GOOGLE_PLAY_REPORTING_URL=http://127.0.0.1:8181/",
			"RIPCORD_WEB_SESSION_TTL=1h",
			"RIPCORD_WEB_SECURE_COOKIES=true",
			"RIPCORD_WEB_OIDC_ISSUER=https://id.example.com",
			"RIPCORD_WEB_OIDC_CLIENT_ID=ripcord",
			"RIPCORD_WEB_OIDC_CLIENT_SECRET=s3cret",
			"RIPCORD_WEB_OIDC_REDIRECT_URL=https://ripcord.example.com/ui/oidc/callback",
		}
		cfg, err := Load(Sources{Dir: t.TempDir(), Environ: environ})
		require.NoError(t, err)
		for i, s := range cfg.Settings() {
			name, _, _ := strings.Cut(environ[i], "=")
			require.Equal(t, "env "+name, s.Source, s.Key)
		}
		require.Equal(t, []string{"shop", "demo"}, cfg.Health.AutoRollbackApps, "trimmed, in order")
		require.Equal(t, map[string]string{"shop:ios": "42", "shop:android": "43"}, cfg.Pollers.SentryProjects)
		require.Equal(t, "https://ripcord.example", cfg.Notify.PublicURL)
		require.Equal(t, 10*time.Minute, cfg.Pollers.Interval)
	})
	t.Run("SecretAndFileVariablesConflict", func(t *testing.T) {
		t.Parallel()
		keyFile := writeFile(t, t.TempDir(), "key", testKey)
		_, err := Load(Sources{Dir: t.TempDir(), Environ: []string{
			"RIPCORD_SECRET_KEY=" + testKey, "RIPCORD_SECRET_KEY_FILE=" + keyFile,
		}})
		require.EqualError(t, err, "RIPCORD_SECRET_KEY_FILE: conflicts with RIPCORD_SECRET_KEY; set only one of them")
	})
}

func TestLoadFlags(t *testing.T) {
	t.Parallel()

	t.Run("EveryKeyIsAccepted", func(t *testing.T) {
		t.Parallel()
		keyFile := writeFile(t, t.TempDir(), "key", testKey)
		flags := map[string]string{}
		for _, o := range Describe() {
			flags[o.Key] = o.Default
		}
		delete(flags, "secret_key")
		flags["secret_key_file"] = keyFile
		cfg, err := Load(Sources{Dir: t.TempDir(), Flags: flags})
		require.NoError(t, err)
		require.Equal(t, testKeyBytes(), cfg.SecretKey)
		for _, s := range cfg.Settings() {
			want := "flag --" + flagName(s.Key)
			if s.Key == "secret_key" {
				want = "flag --secret-key-file"
			}
			require.Equal(t, want, s.Source)
		}
	})
	t.Run("EmptyValueIsValidated", func(t *testing.T) {
		t.Parallel()
		_, err := Load(Sources{Dir: t.TempDir(), Flags: map[string]string{"jobs.workers": ""}})
		require.EqualError(t, err, `--jobs-workers: "" is not a whole number from 1 to 1000`)
		var cerr *Error
		require.ErrorAs(t, err, &cerr)
		require.Equal(t, "jobs-workers", cerr.Flag)
		require.Equal(t, "jobs.workers", cerr.Key)
	})
}

func TestLoadSecretFromFile(t *testing.T) {
	t.Parallel()

	t.Run("EnvFileIsTrimmed", func(t *testing.T) {
		t.Parallel()
		keyFile := writeFile(t, t.TempDir(), "key", "\n  "+testKey+"\n\n")
		cfg, err := Load(Sources{Dir: t.TempDir(), Environ: []string{"RIPCORD_SECRET_KEY_FILE=" + keyFile}})
		require.NoError(t, err)
		require.Equal(t, testKeyBytes(), cfg.SecretKey)
		require.Equal(t, Setting{Key: "secret_key", Value: "<redacted>", Source: "env RIPCORD_SECRET_KEY_FILE"},
			setting(t, cfg, "secret_key"))
	})
	t.Run("YAMLRelativePathIsBesideTheConfigFile", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, dir, "key.txt", testKey)
		path := writeFile(t, dir, "ripcord.yaml", "secret_key_file: key.txt\n")
		cfg, err := Load(Sources{Path: path, Explicit: true})
		require.NoError(t, err)
		require.Equal(t, testKeyBytes(), cfg.SecretKey)
		require.Equal(t, "file "+path+":1", setting(t, cfg, "secret_key").Source)
	})
	t.Run("HigherSourceWinsOverOtherForm", func(t *testing.T) {
		t.Parallel()
		other := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
		keyFile := writeFile(t, t.TempDir(), "key", other)
		cfg, errText := loadString(t, "secret_key: "+testKey+"\n", []string{"RIPCORD_SECRET_KEY_FILE=" + keyFile}, nil)
		require.Empty(t, errText)
		require.Equal(t, make([]byte, 32), cfg.SecretKey)
	})
	t.Run("MissingFile", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(t.TempDir(), "nope")
		_, err := Load(Sources{Dir: t.TempDir(), Environ: []string{"RIPCORD_SECRET_KEY_FILE=" + missing}})
		require.EqualError(t, err, `RIPCORD_SECRET_KEY_FILE: cannot read "`+missing+`": no such file or directory`)
	})
	t.Run("EmptyFile", func(t *testing.T) {
		t.Parallel()
		keyFile := writeFile(t, t.TempDir(), "key", " \n")
		_, err := Load(Sources{Dir: t.TempDir(), Flags: map[string]string{"secret_key_file": keyFile}})
		require.EqualError(t, err, `--secret-key-file: file "`+keyFile+`" is empty; it must hold the value`)
	})
	t.Run("BadContentIsNotRepeated", func(t *testing.T) {
		t.Parallel()
		keyFile := writeFile(t, t.TempDir(), "key", "hunter2hunter2")
		_, err := Load(Sources{Dir: t.TempDir(), Environ: []string{"RIPCORD_SECRET_KEY_FILE=" + keyFile}})
		require.EqualError(t, err, `RIPCORD_SECRET_KEY_FILE: value read from "`+keyFile+
			`": the value decodes to 10 bytes, not 32; use empty, or 32 bytes in base64 (standard or URL alphabet); generate one with: openssl rand -base64 32`)
		require.NotContains(t, err.Error(), "hunter2")
	})
}

func TestLoadErrorsDoNotLeakSecrets(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		content string
		environ []string
	}{
		{name: "SecretKey", content: "secret_key: hunter2\n"},
		{name: "SecretKeyEnv", environ: []string{"RIPCORD_SECRET_KEY=hunter2=="}},
		{name: "PostgresBadEscape", content: "database_url: postgres://u:hunter2%zz@db/x\n"},
		{name: "PostgresBadPort", content: "database_url: postgres://u:hunter2@db:port/x\n"},
		{name: "UnknownScheme", content: "database_url: mysql://u:hunter2@db/x\n"},
		{name: "PostgresConflictsWithCrossCheck", content: "database_url: postgres://u:hunter2@db/x\nhttp.request_timeout: 1h\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, errText := loadString(t, tt.content, tt.environ, nil)
			require.NotEmpty(t, errText)
			require.NotContains(t, errText, "hunter2")
		})
	}
}

func TestSettingsRedact(t *testing.T) {
	t.Parallel()

	cfg, errText := loadString(t,
		"secret_key: "+testKey+"\n"+
			"database_url: postgres://ripcord:s3cret@db:5432/ripcord?sslmode=disable&password=s3cret\n"+
			"artifacts.url: s3://user:s3cret@bucket?region=eu-west-1\n",
		nil, nil)
	require.Empty(t, errText)
	require.Equal(t, "<redacted>", setting(t, cfg, "secret_key").Value)
	require.Equal(t, "postgres://ripcord:<redacted>@db:5432/ripcord?sslmode=disable&password=<redacted>",
		setting(t, cfg, "database_url").Value)
	require.Equal(t, "s3://user:<redacted>@bucket?region=eu-west-1", setting(t, cfg, "artifacts.url").Value)
	for _, s := range cfg.Settings() {
		require.NotContains(t, s.Value, "s3cret", s.Key)
		require.NotContains(t, s.Value, testKey, s.Key)
	}
	// The Config itself keeps the real values for the program to use.
	require.Contains(t, cfg.DatabaseURL, ":s3cret@")
	require.Equal(t, testKeyBytes(), cfg.SecretKey)

	// An unset secret shows as empty, so "is it set?" stays answerable.
	require.Equal(t, "", setting(t, Default(), "secret_key").Value)
}

func TestLoadYAMLScalarForms(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		content string
		check   func(t *testing.T, c *Config)
	}{
		{
			name:    "QuotedTilde",
			content: "artifacts.url: '~'\n",
			check:   func(t *testing.T, c *Config) { require.Equal(t, "~", c.Artifacts.URL) },
		},
		{
			name:    "BlockScalarTrimmed",
			content: "addr: |\n  0.0.0.0:1\n",
			check:   func(t *testing.T, c *Config) { require.Equal(t, "0.0.0.0:1", c.Addr) },
		},
		{
			name:    "AliasedValue",
			content: "http:\n  read_timeout: &t 42s\n  write_timeout: *t\n",
			check:   func(t *testing.T, c *Config) { require.Equal(t, 42*time.Second, c.HTTP.WriteTimeout) },
		},
		{
			name:    "YAMLBoolSpellings",
			content: "no_migrate: on\n",
			check:   func(t *testing.T, c *Config) { require.True(t, c.NoMigrate) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, errText := loadString(t, tt.content, nil, nil)
			require.Empty(t, errText)
			tt.check(t, cfg)
		})
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()

	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "r.yaml", Line: 7, Key: "log.level", Msg: "m"}, "r.yaml:7: log.level: m"},
		{&Error{File: "r.yaml", Msg: "m"}, "r.yaml: m"},
		{&Error{Env: "RIPCORD_ADDR", Key: "addr", Msg: "m"}, "RIPCORD_ADDR: m"},
		{&Error{Flag: "log-level", Key: "log.level", Msg: "m"}, "--log-level: m"},
		{&Error{Key: "jobs.workers", Msg: "m"}, "jobs.workers: m"},
		{&Error{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.err.Error())
	}

	// Load's errors unwrap to *Error through errors.Join.
	_, err := Load(Sources{Dir: t.TempDir(), Environ: []string{"RIPCORD_ADDR=x"}})
	var cerr *Error
	require.True(t, errors.As(err, &cerr))
	require.Equal(t, "RIPCORD_ADDR", cerr.Env)
	require.Equal(t, "addr", cerr.Key)
}
