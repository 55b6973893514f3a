package httpapi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

func TestParseActionPlatforms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		list          []string
		single, query string
		want          []ripcord.Platform
		err           string
	}{
		{list: []string{"android", "ios"}, want: []ripcord.Platform{ripcord.Android, ripcord.IOS}},
		{single: "ios", want: []ripcord.Platform{ripcord.IOS}},
		{query: "android", want: []ripcord.Platform{ripcord.Android}},
		{single: "android", query: "android", want: []ripcord.Platform{ripcord.Android}},
		{single: "all"},
		{query: "all"},
		{err: "name the platforms"},
		{single: "ios", query: "android", err: "disagree"},
		{list: []string{"all", "ios"}, err: "do not name others"},
		{list: []string{"ios", "ios"}, err: "named twice"},
		{list: []string{"web"}, err: "not known"},
	}
	for _, tt := range tests {
		got, err := parseActionPlatforms(tt.list, tt.single, tt.query)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err)
			require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}

// FuzzParseActionPlatforms: whatever a client sends, the answer is an
// invalid-request error or platforms that exist, each once (nil: all).
func FuzzParseActionPlatforms(f *testing.F) {
	f.Add("android,ios", "", "")
	f.Add("", "all", "")
	f.Add("", "ios", "android")
	f.Add("all,all", "", "all")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, list, single, query string) {
		var names []string
		if list != "" {
			names = strings.Split(list, ",")
		}
		got, err := parseActionPlatforms(names, single, query)
		if err != nil {
			if ripcord.ErrorCode(err) != ripcord.EINVALID {
				t.Fatalf("error %v is not an invalid-request error", err)
			}
			return
		}
		seen := map[ripcord.Platform]bool{}
		for _, p := range got {
			if _, err := ripcord.ParsePlatform(string(p)); err != nil || seen[p] {
				t.Fatalf("platforms %v: %q is unknown or repeated", got, p)
			}
			seen[p] = true
		}
	})
}
