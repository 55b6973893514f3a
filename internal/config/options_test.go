package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefault(t *testing.T) {
	t.Parallel()

	got := *Default()
	got.origins = nil
	require.Equal(t, Config{
		Addr:        "127.0.0.1:8080",
		DatabaseURL: "ripcord.db",
		NoMigrate:   false,
		Log:         LogConfig{Level: slog.LevelInfo, Format: "text"},
		Artifacts:   ArtifactsConfig{URL: "artifacts", MaxBytes: 4 << 30},
		HTTP: HTTPConfig{
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       10 * time.Minute,
			WriteTimeout:      10 * time.Minute,
			IdleTimeout:       2 * time.Minute,
			ShutdownTimeout:   30 * time.Second,
			MaxBodyBytes:      1 << 20,
			RequestTimeout:    30 * time.Second,
		},
		Jobs:      JobsConfig{Workers: 10},
		Stores:    StoresConfig{GooglePlayURL: "https://androidpublisher.googleapis.com/", AppStoreConnectURL: "https://api.appstoreconnect.apple.com"},
		SecretKey: nil,
		Pollers: PollersConfig{Interval: 5 * time.Minute, MaxErrors: 3, SentryURL: "https://sentry.io",
			PlayReportingURL: "https://playdeveloperreporting.googleapis.com/"},
		Web: WebConfig{SessionTTL: 12 * time.Hour},
	}, got)
}

func TestDefaultsParse(t *testing.T) {
	t.Parallel()

	// Default ignores set's error; every default must therefore parse.
	for _, o := range table() {
		var c Config
		require.NoError(t, o.set(&c, o.Default), o.Key)
		require.Equal(t, o.Default, o.get(&c), "%s: the default is not written as get writes it", o.Key)
	}
	require.NoError(t, Default().Validate())
}

func TestTableIsConsistent(t *testing.T) {
	t.Parallel()

	seen := map[string]string{}
	for _, o := range Describe() {
		require.NotEmpty(t, o.Doc, o.Key)
		require.NotEmpty(t, o.Allowed, o.Key)
		names := []string{o.Key, o.Env, "--" + o.Flag}
		if o.Secret {
			require.Equal(t, o.Key+"_file", o.FileKey)
			names = append(names, o.FileKey, o.FileEnv, "--"+o.FileFlag)
		} else {
			require.Empty(t, o.FileKey+o.FileEnv+o.FileFlag, o.Key)
		}
		for _, n := range names {
			prev, dup := seen[n]
			require.False(t, dup, "%s is used by %s and %s", n, prev, o.Key)
			seen[n] = o.Key
		}
		require.True(t, strings.HasPrefix(o.Env, "RIPCORD_"), o.Env)
	}
}

func TestDescribeNamesVariablesAndFlags(t *testing.T) {
	t.Parallel()

	byKey := map[string]Option{}
	for _, o := range Describe() {
		byKey[o.Key] = o
	}
	require.Equal(t, Option{
		Key: "http.read_header_timeout", Env: "RIPCORD_HTTP_READ_HEADER_TIMEOUT", Flag: "http-read-header-timeout",
		Default: "10s", Allowed: durationAllowed, Doc: "time allowed to read a request's headers",
	}, byKey["http.read_header_timeout"])
	sk := byKey["secret_key"]
	require.True(t, sk.Secret)
	require.Equal(t, []string{"secret_key_file", "RIPCORD_SECRET_KEY_FILE", "secret-key-file"},
		[]string{sk.FileKey, sk.FileEnv, sk.FileFlag})
	require.Equal(t, "one of debug, info, warn, error", byKey["log.level"].Allowed)
}

func TestKeys(t *testing.T) {
	t.Parallel()

	require.Equal(t, strings.Split(allKeys, ", "), Keys())

	var settingKeys []string
	for _, s := range Default().Settings() {
		settingKeys = append(settingKeys, s.Key)
	}
	var wantSettings []string
	for _, k := range strings.Split(allKeys, ", ") {
		if !strings.HasSuffix(k, "_file") {
			wantSettings = append(wantSettings, k)
		}
	}
	require.Equal(t, wantSettings, settingKeys, "every key but the secrets' _file variants")
}

func TestGetSetRoundTrip(t *testing.T) {
	t.Parallel()

	cfg, err := Load(Sources{Path: "testdata/full.yaml", Explicit: true})
	require.NoError(t, err)
	for _, o := range table() {
		var c Config
		require.NoError(t, o.set(&c, o.get(cfg)), o.Key)
		require.Equal(t, o.get(cfg), o.get(&c), o.Key)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{name: "DefaultIsValid", change: func(*Config) {}},
		{
			name:   "WorkersOutOfRange",
			change: func(c *Config) { c.Jobs.Workers = 0 },
			want:   `jobs.workers: "0" is not a whole number from 1 to 1000`,
		},
		{
			name:   "PlayURLNotHTTP",
			change: func(c *Config) { c.Stores.GooglePlayURL = "androidpublisher.googleapis.com" },
			want:   `stores.google_play_url: "androidpublisher.googleapis.com" is not an http or https URL; use ` + httpURLAllowed,
		},
		{
			name:   "AppStoreConnectURLNotHTTP",
			change: func(c *Config) { c.Stores.AppStoreConnectURL = "api.appstoreconnect.apple.com" },
			want:   `stores.app_store_connect_url: "api.appstoreconnect.apple.com" is not an http or https URL; use ` + httpURLAllowed,
		},
		{
			name:   "ShortSecretKey",
			change: func(c *Config) { c.SecretKey = []byte("0123456789abcdef") },
			want:   "secret_key: the value decodes to 16 bytes, not 32; use " + secretKeyAllowed,
		},
		{
			name:   "ZeroTimeout",
			change: func(c *Config) { c.HTTP.IdleTimeout = 0 },
			want:   `http.idle_timeout: "0s" is not allowed; use ` + durationAllowed,
		},
		{
			name:   "UnknownLogFormat",
			change: func(c *Config) { c.Log.Format = "" },
			want:   `log.format: "" is not allowed; use one of text, json`,
		},
		{
			name:   "UnsupportedLogLevel",
			change: func(c *Config) { c.Log.Level = slog.LevelInfo + 1 },
			want:   `log.level: "info+1" is not allowed; use one of debug, info, warn, error`,
		},
		{
			name:   "RequestTimeoutNotBelowWriteTimeout",
			change: func(c *Config) { c.HTTP.RequestTimeout = c.HTTP.WriteTimeout },
			want:   "http.request_timeout: 10m must be shorter than http.write_timeout (10m, default), or a slow request is cut off instead of getting a timeout response",
		},
		{
			name:   "SeveralProblems",
			change: func(c *Config) { c.Addr = "nowhere"; c.Artifacts.MaxBytes = -1 },
			want: `addr: "nowhere" is not HOST:PORT (missing port in address); use ` + addrAllowed + "\n" +
				`artifacts.max_bytes: "-1" is negative; use ` + sizeAllowed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.change(c)
			err := c.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)
			require.NotContains(t, err.Error(), "MDEyMzQ1Njc4OWFiY2RlZg", "the secret key must not be repeated")
		})
	}
}

func TestSettingsOfHandBuiltConfig(t *testing.T) {
	t.Parallel()

	c := &Config{Addr: ":1"}
	s := c.Settings()
	require.Equal(t, Setting{Key: "addr", Value: ":1", Source: ""}, s[0])
	require.Error(t, c.Validate())
}
