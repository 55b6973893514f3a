package ripcord

import (
	"regexp"
	"time"
)

// App is a mobile app Ripcord guards, with its identity on each store. An app
// has at least one platform; a platform without an identifier is not shipped
// through Ripcord.
type App struct {
	ID             int64
	Name           string // short handle used in the CLI and URLs, e.g. "shop"
	IOSBundleID    string // CFBundleIdentifier, e.g. com.acme.shop; "" when not on iOS
	AndroidPackage string // applicationId, e.g. com.acme.shop; "" when not on Android
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

var (
	appNameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	bundleIDRe  = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
	androidPkRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$`)
)

// Validate checks the app against the naming rules of Ripcord and of each
// store, so a typo is caught when the app is registered rather than at the
// first store call.
func (a *App) Validate() error {
	if !appNameRe.MatchString(a.Name) {
		return Errorf(EINVALID, "app name %q is not valid: use 1 to 63 lowercase letters, digits and dashes, starting with a letter or digit", a.Name)
	}
	if a.IOSBundleID == "" && a.AndroidPackage == "" {
		return Errorf(EINVALID, "app %q has no platform: give --ios-bundle-id, --android-package or both", a.Name)
	}
	if a.IOSBundleID != "" && (len(a.IOSBundleID) > 155 || !bundleIDRe.MatchString(a.IOSBundleID)) {
		return Errorf(EINVALID, "iOS bundle id %q is not valid: use reverse-DNS letters, digits, dashes and periods, such as com.acme.shop", a.IOSBundleID)
	}
	if a.AndroidPackage != "" && (len(a.AndroidPackage) > 150 || !androidPkRe.MatchString(a.AndroidPackage)) {
		return Errorf(EINVALID, "Android package %q is not valid: use at least two period-separated parts of letters, digits and underscores, each starting with a letter, such as com.acme.shop", a.AndroidPackage)
	}
	return nil
}

// Platforms returns the platforms the app ships on, in display order.
func (a *App) Platforms() []Platform {
	var ps []Platform
	for _, p := range Platforms() {
		if a.Has(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// Has reports whether the app ships on p.
func (a *App) Has(p Platform) bool {
	switch p {
	case IOS:
		return a.IOSBundleID != ""
	case Android:
		return a.AndroidPackage != ""
	}
	return false
}

// StoreID returns the app's identifier on p's store (bundle id or package).
func (a *App) StoreID(p Platform) string {
	if p == IOS {
		return a.IOSBundleID
	}
	return a.AndroidPackage
}
