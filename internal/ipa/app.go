package ipa

import (
	"context"
	"fmt"
)

// AppIdentity is what the main app's Info.plist says about an IPA: what
// `ripcord build upload` checks its flags against.
type AppIdentity struct {
	BundleID string `json:"bundle_id"` // BundleID is CFBundleIdentifier.
	Version  string `json:"version"`   // Version is CFBundleShortVersionString.
	Build    string `json:"build"`     // Build is CFBundleVersion.
}

// ReadAppIdentity reads the main app's bundle id and versions. Unlike
// Inspect it reads only Info.plist files, not executables. A malformed IPA
// is an error wrapping ErrFormat.
func ReadAppIdentity(ctx context.Context, path string, lim Limits) (*AppIdentity, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a, err := openArchive(path, lim)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	root, err := discover(a)
	if err != nil {
		return nil, fmt.Errorf("ipa: %s: %w", path, err)
	}
	id := &AppIdentity{BundleID: root.id(), Version: root.info.str("CFBundleShortVersionString"), Build: root.info.str("CFBundleVersion")}
	if id.BundleID == "" || id.Version == "" || id.Build == "" {
		return nil, fmt.Errorf("%w: %s: %s/Info.plist lacks CFBundleIdentifier, CFBundleShortVersionString or CFBundleVersion", ErrFormat, path, root.dir)
	}
	return id, nil
}
