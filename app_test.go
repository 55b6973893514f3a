package ripcord_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

func TestAppValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		app     ripcord.App
		wantErr string // "" when valid
	}{
		{"OKBoth", ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop"}, ""},
		{"OKIOSOnly", ripcord.App{Name: "shop", IOSBundleID: "com.acme.Shop-iOS"}, ""},
		{"OKAndroidOnly", ripcord.App{Name: "shop", AndroidPackage: "com.acme.shop_app"}, ""},
		{"OKOneChar", ripcord.App{Name: "a", AndroidPackage: "a.b"}, ""},
		{"OKDigitsAndDashes", ripcord.App{Name: "9shop-2-go", AndroidPackage: "com.acme.shop"}, ""},
		{"OKNameMaxLength", ripcord.App{Name: "a" + strings.Repeat("b", 62), AndroidPackage: "com.acme.shop"}, ""},
		{"OKLongBundleID", ripcord.App{Name: "shop", IOSBundleID: "com." + strings.Repeat("a", 151)}, ""},   // 155
		{"OKLongPackage", ripcord.App{Name: "shop", AndroidPackage: "com." + strings.Repeat("a", 146)}, ""}, // 150

		{"ErrNameRequired", ripcord.App{AndroidPackage: "com.acme.shop"}, `app name "" is not valid`},
		{"ErrNameUppercase", ripcord.App{Name: "Shop", AndroidPackage: "com.acme.shop"}, `app name "Shop" is not valid`},
		{"ErrNameLeadingDash", ripcord.App{Name: "-shop", AndroidPackage: "com.acme.shop"}, `app name "-shop" is not valid`},
		{"ErrNameUnderscore", ripcord.App{Name: "my_shop", AndroidPackage: "com.acme.shop"}, `app name "my_shop" is not valid`},
		{"ErrNameSpace", ripcord.App{Name: "my shop", AndroidPackage: "com.acme.shop"}, `app name "my shop" is not valid`},
		{"ErrNameSlash", ripcord.App{Name: "a/b", AndroidPackage: "com.acme.shop"}, `app name "a/b" is not valid`},
		{"ErrNameTooLong", ripcord.App{Name: strings.Repeat("a", 64), AndroidPackage: "com.acme.shop"}, "is not valid: use 1 to 63"},

		{"ErrNoPlatform", ripcord.App{Name: "shop"}, `app "shop" has no platform`},

		{"ErrBundleIDOnePart", ripcord.App{Name: "shop", IOSBundleID: "shop"}, `iOS bundle id "shop" is not valid`},
		{"ErrBundleIDEmptyPart", ripcord.App{Name: "shop", IOSBundleID: "com..shop"}, `iOS bundle id "com..shop" is not valid`},
		{"ErrBundleIDUnderscore", ripcord.App{Name: "shop", IOSBundleID: "com.acme_shop"}, `iOS bundle id "com.acme_shop" is not valid`},
		{"ErrBundleIDSpace", ripcord.App{Name: "shop", IOSBundleID: "com.acme shop"}, "iOS bundle id"},
		{"ErrBundleIDTrailingDot", ripcord.App{Name: "shop", IOSBundleID: "com.acme."}, "iOS bundle id"},
		{"ErrBundleIDTooLong", ripcord.App{Name: "shop", IOSBundleID: "com." + strings.Repeat("a", 152)}, "iOS bundle id"},
		// A bad identifier is caught even when the other platform's is fine.
		{"ErrBundleIDWithGoodPackage", ripcord.App{Name: "shop", IOSBundleID: "x", AndroidPackage: "com.acme.shop"}, "iOS bundle id"},

		{"ErrPackageOnePart", ripcord.App{Name: "shop", AndroidPackage: "shop"}, `Android package "shop" is not valid`},
		{"ErrPackageDigitStart", ripcord.App{Name: "shop", AndroidPackage: "com.1acme"}, `Android package "com.1acme" is not valid`},
		{"ErrPackageDash", ripcord.App{Name: "shop", AndroidPackage: "com.acme-shop"}, `Android package "com.acme-shop" is not valid`},
		{"ErrPackageUnderscoreStart", ripcord.App{Name: "shop", AndroidPackage: "com._acme"}, "Android package"},
		{"ErrPackageEmptyPart", ripcord.App{Name: "shop", AndroidPackage: "com..acme"}, "Android package"},
		{"ErrPackageTooLong", ripcord.App{Name: "shop", AndroidPackage: "com." + strings.Repeat("a", 147)}, "Android package"},
		{"ErrPackageWithGoodBundleID", ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com"}, "Android package"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.app.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
			require.Contains(t, ripcord.ErrorMessage(err), tc.wantErr)
		})
	}
}

func TestAppPlatforms(t *testing.T) {
	t.Parallel()
	both := ripcord.App{IOSBundleID: "com.acme.ios", AndroidPackage: "com.acme.android"}
	require.Equal(t, []ripcord.Platform{ripcord.Android, ripcord.IOS}, both.Platforms(), "Android first, the display order")
	require.Equal(t, "com.acme.ios", both.StoreID(ripcord.IOS))
	require.Equal(t, "com.acme.android", both.StoreID(ripcord.Android))

	iosOnly := ripcord.App{IOSBundleID: "com.acme.ios"}
	require.Equal(t, []ripcord.Platform{ripcord.IOS}, iosOnly.Platforms())
	require.True(t, iosOnly.Has(ripcord.IOS))
	require.False(t, iosOnly.Has(ripcord.Android))
	require.False(t, iosOnly.Has(ripcord.Platform("windows")))
}

func TestParsePlatform(t *testing.T) {
	t.Parallel()
	for _, p := range ripcord.Platforms() {
		got, err := ripcord.ParsePlatform(string(p))
		require.NoError(t, err)
		require.Equal(t, p, got)
		require.True(t, got.Valid())
	}
	_, err := ripcord.ParsePlatform("iOS")
	require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
	require.Contains(t, ripcord.ErrorMessage(err), "use ios or android")
	require.False(t, ripcord.Platform("").Valid())
}
