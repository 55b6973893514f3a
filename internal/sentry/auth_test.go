package sentry

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseAuth(t *testing.T) {
	t.Parallel()
	const key = "e12d836b15bb49d7bbf99e64295d995b"
	tests := []struct {
		name   string
		header string
		query  url.Values
		want   string
		err    error
	}{
		{"header", "Sentry sentry_version=7, sentry_key=" + key + ", sentry_client=sentry.cocoa/8.36.0", nil, key, nil},
		{"header lower prefix, no spaces", "sentry sentry_key=" + key + ",sentry_version=7", nil, key, nil},
		{"header with secret", "Sentry sentry_key=" + key + ", sentry_secret=abc", nil, key, nil},
		{"query", "", url.Values{"sentry_key": {key}, "sentry_version": {"7"}}, key, nil},
		{"both agree", "Sentry sentry_key=" + key, url.Values{"sentry_key": {key}}, key, nil},
		{"both disagree", "Sentry sentry_key=" + key, url.Values{"sentry_key": {"aaaa"}}, "", ErrAuthInvalid},
		{"missing", "", nil, "", ErrAuthMissing},
		{"not sentry", "Bearer " + key, nil, "", ErrAuthInvalid},
		{"no key in header", "Sentry sentry_version=7", nil, "", ErrAuthInvalid},
		{"empty key", "Sentry sentry_key=, sentry_version=7", nil, "", ErrAuthInvalid},
		{"bad key chars", "Sentry sentry_key=ab/cd", nil, "", ErrAuthInvalid},
		{"bad query key", "", url.Values{"sentry_key": {"a b"}}, "", ErrAuthInvalid},
		{"huge header", "Sentry " + strings.Repeat("x=y,", 2000), nil, "", ErrAuthInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAuth(tt.header, tt.query)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want DSN
		str  string
		ok   bool
	}{
		{"https://e12d836b15bb49d7bbf99e64295d995b@sentry.io/42", DSN{"https", "e12d836b15bb49d7bbf99e64295d995b", "sentry.io", "", "42"}, "", true},
		{"https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42", DSN{"https", "e12d836b15bb49d7bbf99e64295d995b", "sentry.io", "", "42"}, "https://e12d836b15bb49d7bbf99e64295d995b@sentry.io/42", true},
		{"http://abc:secret@127.0.0.1:8080/prefix/7", DSN{"http", "abc", "127.0.0.1:8080", "/prefix", "7"}, "http://abc@127.0.0.1:8080/prefix/7", true},
		{"ftp://abc@host/1", DSN{}, "", false},
		{"https://host/1", DSN{}, "", false},
		{"https://abc@host", DSN{}, "", false},
		{"https://abc@host/x", DSN{}, "", false},
		{"https://abc@host/1?x=1", DSN{}, "", false},
		{"https://abc@/1", DSN{}, "", false},
		{"::", DSN{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDSN(tt.in)
			if !tt.ok {
				require.ErrorIs(t, err, ErrInvalidDSN)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			str := tt.str
			if str == "" {
				str = tt.in
			}
			require.Equal(t, str, got.String())
			again, err := ParseDSN(got.String())
			require.NoError(t, err)
			require.Equal(t, got, again)
		})
	}
	d, err := ParseDSN("http://abc@127.0.0.1:8080/prefix/7")
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080/prefix/api/7/envelope/", d.EnvelopeURL())
	key, err := ParseAuth(d.AuthHeader("ripcord-fleet/1"), nil)
	require.NoError(t, err)
	require.Equal(t, "abc", key)
}
