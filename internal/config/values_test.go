package config

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in      string
		want    int64
		wantErr string // substring of the error; "" means success
	}{
		{in: "1", want: 1},
		{in: "4294967296", want: 4 << 30},
		{in: "512MiB", want: 512 << 20},
		{in: "4GiB", want: 4 << 30},
		{in: "100MB", want: 100_000_000},
		{in: "1.5GB", want: 1_500_000_000},
		{in: "1.5KiB", want: 1536},
		{in: "512 MiB", want: 512 << 20},
		{in: "10kb", want: 10_000},
		{in: "2TiB", want: 2 << 40},
		{in: "3TB", want: 3_000_000_000_000},
		{in: "7B", want: 7},
		{in: "9223372036854775807", want: 1<<63 - 1},
		{in: "", wantErr: `"" is not a size`},
		{in: "0", wantErr: `"0" is not allowed`},
		{in: "0.0GB", wantErr: `"0.0GB" is not allowed`},
		{in: "-1", wantErr: `"-1" is negative`},
		{in: "1.0001KB", wantErr: "not a whole number of bytes"},
		{in: "1.5", wantErr: "not a whole number of bytes"},
		{in: "1..5GB", wantErr: "is not a size"},
		{in: ".5GB", wantErr: "is not a size"},
		{in: "5.GB", wantErr: "is not a size"},
		{in: "12XB", wantErr: "is not a size"},
		{in: "4G", wantErr: "is not a size"},
		{in: "1e3", wantErr: "is not a size"},
		{in: "0x10", wantErr: "is not a size"},
		{in: "MiB", wantErr: "is not a size"},
		{in: "9223372036854775808", wantErr: "is too large"},
		{in: "10000000TiB", wantErr: "is too large"},
		{in: strings.Repeat("9", 100), wantErr: "is not a size"},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if tt.wantErr != "" {
			require.ErrorContains(t, err, tt.wantErr, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestFormatSizeRoundTrips(t *testing.T) {
	t.Parallel()

	tests := []struct {
		n    int64
		want string
	}{
		{1, "1"},
		{1000, "1000"},
		{1024, "1KiB"},
		{1536, "1536"},
		{1 << 20, "1MiB"},
		{4 << 30, "4GiB"},
		{3 << 40, "3TiB"},
		{1<<63 - 1, "9223372036854775807"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, formatSize(tt.n))
		back, err := parseSize(formatSize(tt.n))
		require.NoError(t, err)
		require.Equal(t, tt.n, back)
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in, formatted string
		want          time.Duration
	}{
		{"10s", "10s", 10 * time.Second},
		{"10m", "10m", 10 * time.Minute},
		{"2h", "2h", 2 * time.Hour},
		{"1h30m", "1h30m", 90 * time.Minute},
		{"90s", "1m30s", 90 * time.Second},
		{"500ms", "500ms", 500 * time.Millisecond},
		{"1h0m1s", "1h0m1s", time.Hour + time.Second},
	}
	for _, tt := range tests {
		d, err := parseDuration(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, d)
		require.Equal(t, tt.formatted, formatDuration(d))
	}
	for _, bad := range []string{"", "10", "0", "0s", "-1s", "ten seconds", "1y"} {
		_, err := parseDuration(bad)
		require.Error(t, err, bad)
	}
}

func TestCheckAddr(t *testing.T) {
	t.Parallel()

	for _, ok := range []string{"127.0.0.1:8080", ":8080", "[::1]:0", "localhost:65535", "0.0.0.0:9", "ripcord.internal:443"} {
		require.NoError(t, checkAddr(ok), ok)
	}
	for _, bad := range []string{"", "localhost", "localhost:", "localhost:65536", "localhost:http", "host:-1", "host:+80", "[::1", "a:b:c", "::1"} {
		require.Error(t, checkAddr(bad), bad)
	}
}

func TestParseBoolAndInt(t *testing.T) {
	t.Parallel()

	for in, want := range map[string]bool{"true": true, "TRUE": true, "yes": true, "on": true, "1": true,
		"false": false, "False": false, "no": false, "off": false, "0": false} {
		got, err := parseBool(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := parseBool("y")
	require.EqualError(t, err, `"y" is not allowed; use true or false`)

	n, err := parseInt("+7", 1, 10)
	require.NoError(t, err)
	require.Equal(t, 7, n)
	_, err = parseInt("11", 1, 10)
	require.EqualError(t, err, `"11" is not a whole number from 1 to 10`)
}

func TestDatabase(t *testing.T) {
	t.Parallel()

	tests := []struct {
		url                 string
		wantDriver, wantDSN string
		wantErr             string
	}{
		{url: "ripcord.db", wantDriver: DriverSQLite, wantDSN: "ripcord.db"},
		{url: "/var/lib/ripcord/ripcord.db", wantDriver: DriverSQLite, wantDSN: "/var/lib/ripcord/ripcord.db"},
		{url: "./data:2024.db", wantDriver: DriverSQLite, wantDSN: "./data:2024.db"},
		{url: `C:\ripcord\ripcord.db`, wantDriver: DriverSQLite, wantDSN: `C:\ripcord\ripcord.db`},
		{url: ":memory:", wantDriver: DriverSQLite, wantDSN: ":memory:"},
		{url: "sqlite:///var/lib/ripcord.db", wantDriver: DriverSQLite, wantDSN: "/var/lib/ripcord.db"},
		{url: "sqlite://data/ripcord.db", wantDriver: DriverSQLite, wantDSN: "data/ripcord.db"},
		{url: "SQLite:///x.db", wantDriver: DriverSQLite, wantDSN: "/x.db"},
		{url: "postgres://u:p@db:5432/ripcord?sslmode=disable", wantDriver: DriverPostgres, wantDSN: "postgres://u:p@db:5432/ripcord?sslmode=disable"},
		{url: "postgresql:///ripcord", wantDriver: DriverPostgres, wantDSN: "postgresql:///ripcord"},
		{url: "", wantErr: "database_url: is empty; use " + databaseAllowed},
		{url: "mysql://db/x", wantErr: `database_url: scheme "mysql" is not supported; use ` + databaseAllowed},
		{url: "file:x.db", wantErr: `database_url: scheme "file" is not supported; use ` + databaseAllowed},
		{url: "sqlite:x.db", wantErr: "database_url: a sqlite URL starts with sqlite://; use " + databaseAllowed},
		{url: "postgres://db:port/x", wantErr: `database_url: not a valid postgres URL: invalid port ":port" after host`},
	}
	for _, tt := range tests {
		c := Default()
		c.DatabaseURL = tt.url
		driver, dsn, err := c.Database()
		if tt.wantErr != "" {
			require.EqualError(t, err, tt.wantErr, tt.url)
			require.Empty(t, driver)
			require.Empty(t, dsn)
			continue
		}
		require.NoError(t, err, tt.url)
		require.Equal(t, tt.wantDriver, driver, tt.url)
		require.Equal(t, tt.wantDSN, dsn, tt.url)
	}
}

func TestCheckArtifactsURL(t *testing.T) {
	t.Parallel()

	for _, ok := range []string{"artifacts", "/srv/ripcord/artifacts", "file:///srv/artifacts",
		"s3://bucket?region=eu-west-1", "gs://bucket", "azblob://container", "mem://"} {
		require.NoError(t, checkArtifactsURL(ok), ok)
	}
	for _, bad := range []string{"", "s3:bucket", "file://relative", "file://", "s3://bu cket/%zz"} {
		require.Error(t, checkArtifactsURL(bad), bad)
	}
}

func TestCheckHTTPURL(t *testing.T) {
	t.Parallel()

	for _, ok := range []string{"https://androidpublisher.googleapis.com/", "http://127.0.0.1:8181", "http://fake:80/play/"} {
		require.NoError(t, checkHTTPURL(ok), ok)
	}
	for bad, want := range map[string]string{
		"":                      "is empty",
		"ftp://host/":           "not an http or https URL",
		"androidpublisher":      "not an http or https URL",
		"https:///path":         "has no host",
		"https://host/?token=x": "has a query or fragment",
		"https://host/%zz":      "is not a valid URL",
	} {
		err := checkHTTPURL(bad)
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), want, bad)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()

	tests := []struct{ in, want string }{
		{"ripcord.db", "ripcord.db"},
		{"sqlite:///var/x.db", "sqlite:///var/x.db"},
		{"postgres://db/ripcord", "postgres://db/ripcord"},
		{"postgres://ripcord@db/ripcord", "postgres://ripcord@db/ripcord"},
		{"postgres://ripcord:pw@db/ripcord", "postgres://ripcord:<redacted>@db/ripcord"},
		{"postgres://:pw@db", "postgres://:<redacted>@db"},
		{"postgres://ripcord:p%40ss@db/r?sslmode=require", "postgres://ripcord:<redacted>@db/r?sslmode=require"},
		{"postgres://db/r?user=x&password=pw&sslmode=disable", "postgres://db/r?user=x&password=<redacted>&sslmode=disable"},
		{"postgres://db/r?PASSWORD=pw", "postgres://db/r?PASSWORD=<redacted>"},
		{"s3://bucket?region=eu-west-1", "s3://bucket?region=eu-west-1"},
		{"postgres://u:pw@db:bad/x", "<redacted>"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, redactURL(tt.in), tt.in)
	}
}

func TestParseSecretKey(t *testing.T) {
	t.Parallel()

	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(250 - i) // produces + and / (or - and _) in base64
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		got, err := parseSecretKey(enc.EncodeToString(key))
		require.NoError(t, err)
		require.Equal(t, key, got)
	}
	got, err := parseSecretKey("")
	require.NoError(t, err)
	require.Nil(t, got)

	_, err = parseSecretKey(base64.StdEncoding.EncodeToString(make([]byte, 33)))
	require.ErrorContains(t, err, "decodes to 33 bytes, not 32")
	_, err = parseSecretKey("%%%%")
	require.ErrorContains(t, err, "not valid base64")
}

func TestSuggest(t *testing.T) {
	t.Parallel()

	candidates := []string{"addr", "database_url", "log", "log.level", "jobs.workers"}
	tests := []struct{ in, want string }{
		{"adr", "addr"},
		{"addrr", "addr"},
		{"databse_url", "database_url"},
		{"log_level", "log.level"},
		{"logs", "log"},
		{"jobs.worker", "jobs.workers"},
		{"x", ""},
		{"ab", ""},
		{"colour", ""},
		{strings.Repeat("a", 1000), ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, suggest(tt.in, candidates), tt.in)
	}
	require.Equal(t, 3, editDistance("kitten", "sitting"))
	require.Equal(t, 0, editDistance("", ""))
	require.Equal(t, 4, editDistance("", "addr"))
}

func TestQuoteShortensLongValues(t *testing.T) {
	t.Parallel()

	require.Equal(t, `"abc"`, quote("abc"))
	long := strings.Repeat("é", 100) // two bytes each: the cut must not split one
	q := quote(long)
	require.Equal(t, `"`+strings.Repeat("é", maxQuoted/2)+`"...`, q)
}
