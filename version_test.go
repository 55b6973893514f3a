package ripcord_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

func TestParseVersion(t *testing.T) {
	t.Parallel()

	valid := []struct {
		in   string
		want string // String() of the parsed version
	}{
		{"1", "1"},
		{"1.2", "1.2"},
		{"1.2.0", "1.2.0"},
		{"0.0.0", "0.0.0"},
		{"10.20.30", "10.20.30"},
		{"4294967295", "4294967295"},                 // 2^32-1 is the largest part
		{"4294967295.0.1", "4294967295.0.1"},         // 14 characters
		{"1234567.1234567.12", "1234567.1234567.12"}, // exactly 18 characters
		{"01.002", "1.2"},                            // leading zeros are numbers like any other
	}
	for _, tc := range valid {
		t.Run("OK/"+tc.in, func(t *testing.T) {
			t.Parallel()
			v, err := ripcord.ParseVersion(tc.in)
			require.NoError(t, err)
			require.False(t, v.IsZero())
			require.Equal(t, tc.want, v.String())
		})
	}

	invalid := []struct {
		name   string
		in     string
		reason string
	}{
		{"Empty", "", "it is empty"},
		{"FourParts", "1.2.3.4", "it has more than three parts"},
		{"ManyParts", "1.2.3.4.5.6", "it has more than three parts"},
		{"Letter", "1.2a", "it has a character that is not a digit or a period"},
		{"LeadingV", "v1.2", "it has a character that is not a digit or a period"},
		{"Negative", "1.-2", "it has a character that is not a digit or a period"},
		{"Plus", "+1.2", "it has a character that is not a digit or a period"},
		{"Space", "1.2 ", "it has a character that is not a digit or a period"},
		{"NonASCIIDigit", "1.\u0662", "it has a character that is not a digit or a period"},
		{"Suffix", "1.2.0-beta", "it has a character that is not a digit or a period"},
		{"EmptyPart", "1..2", "it has an empty part"},
		{"TrailingDot", "1.2.", "it has an empty part"},
		{"LeadingDot", ".1", "it has an empty part"},
		{"PartIs2To32", "4294967296", "a part is 2^32 or more"},
		{"LaterPartTooBig", "1.2.99999999999", "a part is 2^32 or more"},
		{"NineteenChars", "1234567.1234567.123", "it is longer than 18 characters"},
		{"LongZeros", "0000000000000000001", "it is longer than 18 characters"},
	}
	for _, tc := range invalid {
		t.Run("Err"+tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := ripcord.ParseVersion(tc.in)
			require.Error(t, err)
			require.True(t, v.IsZero(), "a failed parse returns the zero version")
			require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
			msg := ripcord.ErrorMessage(err)
			require.Contains(t, msg, `version "`+tc.in+`" is not valid: `+tc.reason)
			require.Contains(t, msg, "such as 1.2.0", "the message says what is accepted")
		})
	}
}

func TestMustParseVersion(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1.2.3", ripcord.MustParseVersion("1.2.3").String())
	require.Panics(t, func() { ripcord.MustParseVersion("1.x") })
}

func TestVersionIsZero(t *testing.T) {
	t.Parallel()
	require.True(t, ripcord.Version{}.IsZero())
	require.Equal(t, "", ripcord.Version{}.String())
	require.False(t, ripcord.MustParseVersion("0").IsZero(), "version 0 was set")
}

func TestVersionCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"1.2", "1.2.0", 0},
		{"1", "1.0.0", 0},
		{"0", "0.0", 0},
		{"1.02", "1.2", 0},
		{"1.10", "1.9", 1},
		{"1.2.10", "1.2.9", 1},
		{"2", "1.99.99", 1},
		{"1.2.3", "1.2.4", -1},
		{"1.2", "1.2.1", -1},
		{"4294967295", "4294967294.9.9", 1},
	}
	for _, tc := range tests {
		t.Run(tc.a+"_vs_"+tc.b, func(t *testing.T) {
			t.Parallel()
			a, b := ripcord.MustParseVersion(tc.a), ripcord.MustParseVersion(tc.b)
			require.Equal(t, tc.want, a.Compare(b))
			require.Equal(t, -tc.want, b.Compare(a), "ordering is antisymmetric")
			require.Equal(t, 0, a.Compare(a))
		})
	}
}

func TestVersionNextPatch(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"1.2", "1.2.1"},
		{"1.2.0", "1.2.1"},
		{"1", "1.0.1"},
		{"1.2.9", "1.2.10"},
		{"0.0.0", "0.0.1"},
		{"3.4.4294967294", "3.4.4294967295"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			v := ripcord.MustParseVersion(tc.in)
			next := v.NextPatch()
			require.Equal(t, tc.want, next.String())
			require.Equal(t, 1, next.Compare(v), "the next patch sorts above the version")
			require.Equal(t, tc.in, v.String(), "the receiver is not changed")
			reparsed, err := ripcord.ParseVersion(next.String())
			require.NoError(t, err)
			require.Equal(t, next, reparsed)
		})
	}
}

func TestValidateBuildNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		platform ripcord.Platform
		in       string
		wantErr  string // "" when valid
	}{
		{"AndroidOne", ripcord.Android, "1", ""},
		{"AndroidTypical", ripcord.Android, "120", ""},
		{"AndroidMax", ripcord.Android, "2100000000", ""},
		{"AndroidZero", ripcord.Android, "0", "not a valid Android versionCode: use a whole number from 1 to 2100000000"},
		{"AndroidAboveMax", ripcord.Android, "2100000001", "not a valid Android versionCode"},
		{"AndroidNegative", ripcord.Android, "-5", "not a valid Android versionCode"},
		{"AndroidDotted", ripcord.Android, "1.0", "not a valid Android versionCode"},
		{"AndroidEmpty", ripcord.Android, "", "not a valid Android versionCode"},
		{"AndroidLetters", ripcord.Android, "12a", "not a valid Android versionCode"},
		{"AndroidHuge", ripcord.Android, "99999999999999999999999", "not a valid Android versionCode"},
		{"IOSSingle", ripcord.IOS, "5", ""},
		{"IOSDotted", ripcord.IOS, "1.2.3", ""},
		{"IOSMaxPart", ripcord.IOS, "4294967295", ""},
		{"IOSFourParts", ripcord.IOS, "1.2.3.4", `build number (CFBundleVersion) "1.2.3.4" is not valid: it has more than three parts`},
		{"IOSEmpty", ripcord.IOS, "", "it is empty"},
		{"IOSLetter", ripcord.IOS, "5b", "not a digit or a period"},
		{"IOSTooLong", ripcord.IOS, "1234567.1234567.123", "longer than 18 characters"},
		{"IOSPartTooBig", ripcord.IOS, "4294967296", "2^32 or more"},
		{"UnknownPlatform", ripcord.Platform("windows"), "1", `platform "windows" is not known; use ios or android`},
		{"NoPlatform", ripcord.Platform(""), "1", "is not known"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ripcord.ValidateBuildNumber(tc.platform, tc.in)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
			require.Contains(t, ripcord.ErrorMessage(err), tc.wantErr)
		})
	}
}

func TestParseVersionCode(t *testing.T) {
	t.Parallel()
	n, err := ripcord.ParseVersionCode("2100000000")
	require.NoError(t, err)
	require.Equal(t, int64(ripcord.MaxVersionCode), n)
	_, err = ripcord.ParseVersionCode("2100000001")
	require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
}

func TestCompareBuildNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		platform ripcord.Platform
		a, b     string
		want     int
	}{
		{ripcord.Android, "9", "10", -1}, // numeric, not lexical
		{ripcord.Android, "120", "120", 0},
		{ripcord.Android, "0120", "120", 0},
		{ripcord.Android, "2100000000", "1", 1},
		{ripcord.IOS, "1.10", "1.9", 1},
		{ripcord.IOS, "9", "10", -1},
		{ripcord.IOS, "2", "2.0.0", 0},
		{ripcord.IOS, "1.2.3", "1.2.4", -1},
		{ripcord.IOS, "1.2", "1.2.1", -1},
	}
	for _, tc := range tests {
		t.Run(string(tc.platform)+"/"+tc.a+"_vs_"+tc.b, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, ripcord.CompareBuildNumbers(tc.platform, tc.a, tc.b))
			require.Equal(t, -tc.want, ripcord.CompareBuildNumbers(tc.platform, tc.b, tc.a))
		})
	}
}

// FuzzParseVersion checks that no input panics the parser and that a parsed
// version prints as a string that parses back to the same version.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"", "1", "1.2", "1.2.3", "1.2.3.4", "01.002.0003", "4294967295", "4294967296",
		"1..2", ".", "1.2.", "v1", "1234567.1234567.12", "1234567.1234567.123", "١.٢", "\xff", "-1", "+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ripcord.ParseVersion(s)
		if err != nil {
			require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
			require.True(t, v.IsZero())
			return
		}
		require.False(t, v.IsZero())
		out := v.String()
		require.LessOrEqual(t, len(out), len(s), "printing never lengthens a version")
		require.LessOrEqual(t, strings.Count(out, "."), 2)
		again, err := ripcord.ParseVersion(out)
		require.NoError(t, err, "String() of %q is %q, which does not parse", s, out)
		require.Equal(t, v, again)
		require.Equal(t, 0, v.Compare(again))
		require.Equal(t, out, again.String())
	})
}
