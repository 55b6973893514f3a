package sentry

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseRelease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in                  string
		pkg, version, build string
		ok                  bool
	}{
		{"com.acme.app@1.2.0+456", "com.acme.app", "1.2.0", "456", true},
		{"org.example.FooApp@1.0rc1+20200101100", "org.example.FooApp", "1.0rc1", "20200101100", true},
		{"foo.bar.baz.App@1.0+1.0.200", "foo.bar.baz.App", "1.0", "1.0.200", true},
		{"my-project-name@1.0.0", "my-project-name", "1.0.0", "", true},
		{"1.2.0+456", "", "1.2.0", "456", true},
		{"085240e737828d8326719bf97730188e927e49ca", "", "085240e737828d8326719bf97730188e927e49ca", "", true},
		{"@foo.bar.baz--blah@1.2.3-dev+BUILD-code", "@foo.bar.baz--blah", "1.2.3-dev", "BUILD-code", true},
		{"  com.acme@2.0+9  ", "com.acme", "2.0", "9", true},
		{"pkg@ver@sion", "pkg", "ver@sion", "", true},
		{"", "", "", "", false},
		{"latest", "", "", "", false},
		{"..", "", "", "", false},
		{"a/b@1", "", "", "", false},
		{"a@1\n", "a", "1", "", true}, // trimmed, as Sentry does
		{"a@1\tb", "", "", "", false},
		{"pkg@", "", "", "", false},
		{"pkg@1.0+", "", "", "", false},
		{"pkg@+5", "", "", "", false},
		{strings.Repeat("a", 201), "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			pkg, version, build, ok := ParseRelease(tt.in)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.pkg, pkg)
			require.Equal(t, tt.version, version)
			require.Equal(t, tt.build, build)
		})
	}
}
