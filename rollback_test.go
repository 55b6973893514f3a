package ripcord_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

func TestRollbackVersion(t *testing.T) {
	t.Parallel()
	v := ripcord.MustParseVersion
	tests := []struct {
		name   string
		target string
		taken  []string
		want   string
	}{
		{"NextPatch", "1.2.0", nil, "1.2.1"},
		{"TwoPartTarget", "1.2", nil, "1.2.1"},
		{"HotfixTookIt", "1.2.0", []string{"1.1.0", "1.2.0", "1.2.1"}, "1.2.2"},
		{"AboveEverythingReleased", "1.2.0", []string{"1.2.1", "1.2.5"}, "1.2.6"},
		{"OlderVersionsIgnored", "2.0.0", []string{"1.9.9"}, "2.0.1"},
		{"NewerForwardRelease", "1.2.0", []string{"1.3.0"}, "1.3.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var taken []ripcord.Version
			for _, s := range tc.taken {
				taken = append(taken, v(s))
			}
			got := ripcord.RollbackVersion(v(tc.target), taken)
			require.Equal(t, tc.want, got.String())
			require.Positive(t, got.Compare(v(tc.target)), "the rollback sorts above the target")
		})
	}
}

func TestNextBuildNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		platform ripcord.Platform
		used     []string
		want     string
		err      string
	}{
		{"AndroidAboveHighestEver", ripcord.Android, []string{"110", "125", "120"}, "126", ""},
		{"AndroidNumericNotText", ripcord.Android, []string{"99", "100"}, "101", ""},
		{"AndroidFirst", ripcord.Android, nil, "1", ""},
		{"AndroidAtCap", ripcord.Android, []string{"2100000000"}, "", "Play's maximum"},
		{"AndroidBad", ripcord.Android, []string{"12a"}, "", "not a valid Android versionCode"},
		{"IOSFirstPart", ripcord.IOS, []string{"120.3", "119"}, "121", ""},
		{"IOSBad", ripcord.IOS, []string{"1..2"}, "", "empty part"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ripcord.NextBuildNumber(tc.platform, tc.used)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			for _, u := range tc.used {
				require.Positive(t, ripcord.CompareBuildNumbers(tc.platform, got, u))
			}
		})
	}
}
