package ripcord_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

var (
	shaA = strings.Repeat("a", 64)
	shaB = strings.Repeat("b", 64)
)

func validBuild() ripcord.Build {
	return ripcord.Build{AppID: 1, Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", SHA256: shaA, Size: 1024}
}

func TestBuildValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(b *ripcord.Build)
		wantErr string // "" when valid
	}{
		{"OK", func(*ripcord.Build) {}, ""},
		{"OKIOS", func(b *ripcord.Build) { b.Platform, b.BuildNumber = ripcord.IOS, "1.2.3" }, ""},
		{"OKUppercaseHex", func(b *ripcord.Build) { b.SHA256 = strings.Repeat("AB", 32) }, ""},
		{"OKSourceCommit100", func(b *ripcord.Build) { b.SourceCommit = strings.Repeat("c", 100) }, ""},
		{"ErrPlatformEmpty", func(b *ripcord.Build) { b.Platform = "" }, `platform "" is not known`},
		{"ErrPlatformUnknown", func(b *ripcord.Build) { b.Platform = "windows" }, `platform "windows" is not known`},
		{"ErrVersionEmpty", func(b *ripcord.Build) { b.Version = "" }, `version "" is not valid: it is empty`},
		{"ErrVersionFourParts", func(b *ripcord.Build) { b.Version = "1.2.3.4" }, "more than three parts"},
		{"ErrAndroidBuildNumberZero", func(b *ripcord.Build) { b.BuildNumber = "0" }, "Android versionCode"},
		{"ErrAndroidBuildNumberDotted", func(b *ripcord.Build) { b.BuildNumber = "1.2" }, "Android versionCode"},
		{"ErrIOSBuildNumber", func(b *ripcord.Build) { b.Platform, b.BuildNumber = ripcord.IOS, "1.2.3.4" }, "CFBundleVersion"},
		{"ErrSHA256Short", func(b *ripcord.Build) { b.SHA256 = "abc" }, "not a hex SHA-256 digest"},
		{"ErrSHA256Empty", func(b *ripcord.Build) { b.SHA256 = "" }, "not a hex SHA-256 digest"},
		{"ErrSHA256NotHex", func(b *ripcord.Build) { b.SHA256 = strings.Repeat("z", 64) }, "not a hex SHA-256 digest"},
		{"ErrSizeZero", func(b *ripcord.Build) { b.Size = 0 }, "artifact is empty"},
		{"ErrSizeNegative", func(b *ripcord.Build) { b.Size = -1 }, "artifact is empty"},
		{"ErrSourceCommitTooLong", func(b *ripcord.Build) { b.SourceCommit = strings.Repeat("c", 101) }, "longer than 100 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := validBuild()
			tc.edit(&b)
			err := b.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
			require.Contains(t, ripcord.ErrorMessage(err), tc.wantErr)
		})
	}
}

func TestBuildLabel(t *testing.T) {
	t.Parallel()
	b := validBuild()
	require.Equal(t, "1.2.0 (120)", b.Label())
}

func TestBuildSameIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(o *ripcord.Build)
		want bool
	}{
		{"Same", func(*ripcord.Build) {}, true},
		{"AndroidVersionCodeAloneCounts", func(o *ripcord.Build) { o.Version = "9.9.9" }, true},
		{"AndroidVersionCodeNumeric", func(o *ripcord.Build) { o.BuildNumber = "0120" }, true},
		{"OtherBuildNumber", func(o *ripcord.Build) { o.BuildNumber = "121" }, false},
		{"OtherApp", func(o *ripcord.Build) { o.AppID = 2 }, false},
		{"OtherPlatform", func(o *ripcord.Build) { o.Platform = ripcord.IOS }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, o := validBuild(), validBuild()
			tc.edit(&o)
			require.Equal(t, tc.want, b.SameIdentity(&o))
			require.Equal(t, tc.want, o.SameIdentity(&b))
		})
	}

	t.Run("IOSBuildNumberRepeatsUnderNewVersion", func(t *testing.T) {
		t.Parallel()
		b := ripcord.Build{AppID: 1, Platform: ripcord.IOS, Version: "1.2.0", BuildNumber: "5"}
		o := b
		require.True(t, b.SameIdentity(&o))
		o.Version = "1.3.0"
		require.False(t, b.SameIdentity(&o), "Apple lets a build number repeat under a new version")
	})
}

func TestUploadConflict(t *testing.T) {
	t.Parallel()
	existing := func(p ripcord.Platform) *ripcord.Build {
		return &ripcord.Build{ID: 7, AppID: 1, Platform: p, Version: "1.2.0", BuildNumber: "120", SHA256: shaA, Size: 10}
	}

	t.Run("OKSameBytesSameIdentity", func(t *testing.T) {
		t.Parallel()
		for _, p := range ripcord.Platforms() {
			b := *existing(p)
			b.ID = 0
			require.NoError(t, ripcord.UploadConflict(existing(p), &b), "re-uploading is idempotent on %s", p)
		}
	})

	t.Run("ErrSameBytesOtherIdentity", func(t *testing.T) {
		t.Parallel()
		b := *existing(ripcord.Android)
		b.ID, b.BuildNumber = 0, "121"
		err := ripcord.UploadConflict(existing(ripcord.Android), &b)
		require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
		msg := ripcord.ErrorMessage(err)
		require.Contains(t, msg, "already uploaded as android build 1.2.0 (120)", "names the existing build")
		require.Contains(t, msg, "aaaaaaaaaaaa", "names the digest")
		require.NotContains(t, msg, shaA, "the digest is shortened")
		require.Equal(t, int64(7), ripcord.ErrorDetails(err)["existing_build_id"])
		require.Equal(t, "120", ripcord.ErrorDetails(err)["existing_build_number"])
	})

	t.Run("ErrSameBytesOtherVersion", func(t *testing.T) {
		t.Parallel()
		b := *existing(ripcord.IOS)
		b.ID, b.Version = 0, "1.3.0"
		err := ripcord.UploadConflict(existing(ripcord.IOS), &b)
		require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
		require.Contains(t, ripcord.ErrorMessage(err), "already uploaded as ios build 1.2.0 (120)")
	})

	t.Run("ErrSameVersionCodeOtherBytes", func(t *testing.T) {
		t.Parallel()
		b := *existing(ripcord.Android)
		b.ID, b.SHA256 = 0, shaB
		err := ripcord.UploadConflict(existing(ripcord.Android), &b)
		require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
		msg := ripcord.ErrorMessage(err)
		require.Contains(t, msg, "android build 1.2.0 (120) already exists with different bytes")
		require.Contains(t, msg, "versionCode 120 is taken; raise the build number")
		require.Contains(t, msg, "sha256 aaaaaaaaaaaa, not bbbbbbbbbbbb")
		d := ripcord.ErrorDetails(err)
		require.Equal(t, int64(7), d["existing_build_id"])
		require.Equal(t, shaA, d["existing_sha256"])
		require.Equal(t, shaB, d["upload_sha256"])
	})

	t.Run("ErrSameIOSIdentityOtherBytes", func(t *testing.T) {
		t.Parallel()
		b := *existing(ripcord.IOS)
		b.ID, b.SHA256 = 0, shaB
		err := ripcord.UploadConflict(existing(ripcord.IOS), &b)
		require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
		require.Contains(t, ripcord.ErrorMessage(err), "build number 120 under version 1.2.0 is taken; raise the build number")
	})
}
