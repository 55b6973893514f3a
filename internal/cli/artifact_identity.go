package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/aab"
	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
	"github.com/ripcordhq/ripcord/internal/ipa"
)

// artifactIdentity is what an artifact says about itself.
type artifactIdentity struct {
	Kind        string // apk, aab or ipa
	Platform    ripcord.Platform
	StoreID     string // package name or bundle id
	Version     string
	BuildNumber string
}

// readArtifactIdentity reads the store identity and versions from an
// artifact file. ok is false when the file is not an artifact Ripcord can
// read, which is then left to the flags.
func readArtifactIdentity(ctx context.Context, path string) (id artifactIdentity, ok bool, err error) {
	kind, kerr := artifactKind(path)
	if kerr != nil {
		return id, false, nil
	}
	f, size, err := openArtifact(path)
	if err != nil {
		return id, false, err
	}
	defer f.Close()
	switch kind {
	case "apk":
		info, err := apk.Inspect(ctx, f, size, apk.InspectOptions{})
		if err != nil {
			return id, false, fmt.Errorf("read %s: %w", path, err)
		}
		return artifactIdentity{Kind: kind, Platform: ripcord.Android, StoreID: info.Package, Version: info.VersionName,
			BuildNumber: strconv.FormatInt(info.VersionCode, 10)}, true, nil
	case "aab":
		info, err := aab.Inspect(ctx, f, size, apkzip.Limits{})
		if err != nil {
			return id, false, fmt.Errorf("read %s: %w", path, err)
		}
		base := info.Base()
		if base == nil || base.VersionCode == nil {
			return id, false, fmt.Errorf("read %s: the bundle has no base module with a versionCode", path)
		}
		return artifactIdentity{Kind: kind, Platform: ripcord.Android, StoreID: base.Package, Version: base.VersionName,
			BuildNumber: strconv.FormatInt(*base.VersionCode, 10)}, true, nil
	case "ipa":
		// The main app's Info.plist; extensions carry the same versions
		// (artifact inspect reports any that differ).
		app, err := ipa.ReadAppIdentity(ctx, path, ipa.Limits{})
		if err != nil {
			return id, false, fmt.Errorf("read %s: %w", path, err)
		}
		return artifactIdentity{Kind: kind, Platform: ripcord.IOS, StoreID: app.BundleID, Version: app.Version, BuildNumber: app.Build}, true, nil
	}
	return id, false, nil
}

// reconcileIdentity fills the upload's version and build number from the
// artifact, or checks the ones given as flags against it.
func reconcileIdentity(id artifactIdentity, platform ripcord.Platform, version, buildNumber *string) error {
	if id.Platform != platform {
		return usagef("the file is an %s (%s) but --platform is %s", id.Kind, id.Platform, platform)
	}
	if *version == "" {
		*version = id.Version
	} else if *version != id.Version {
		return usagef("--version %s does not match the artifact's version %s", *version, id.Version)
	}
	if *buildNumber == "" {
		*buildNumber = id.BuildNumber
	} else if *buildNumber != id.BuildNumber {
		return usagef("--build-number %s does not match the artifact's build number %s", *buildNumber, id.BuildNumber)
	}
	return nil
}
