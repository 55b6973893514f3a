// Package demo seeds a fresh Ripcord with the sample app a newcomer meets in
// `ripcord demo`: com.example.ripcord.demo on both stores, 1.1.0 live and
// 1.2.0 as the target release, with builds uploaded through the same service
// CI uses, an admin token and an audit trail.
package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/catalog"
)

// AppName is the demo app's handle; its store identifier is BundleID.
const (
	AppName  = "demo"
	BundleID = "com.example.ripcord.demo"
)

// Seeded is what Seed made, for the demo to print.
type Seeded struct {
	AdminToken string
	App        *ripcord.App
	Releases   []*ripcord.Release
}

// Seed registers the sample app, its builds and releases, and an admin token.
func Seed(ctx context.Context, cat *catalog.Service, acc *access.Service) (*Seeded, error) {
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "local:demo", Role: ripcord.RoleAdmin})
	secret, _, err := acc.TokenCreate(ctx, "demo-admin", ripcord.RoleAdmin)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:demo-admin", Role: ripcord.RoleAdmin})
	app, err := cat.AppCreate(ctx, ripcord.App{Name: AppName, IOSBundleID: BundleID, AndroidPackage: BundleID})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	out := &Seeded{AdminToken: secret, App: app}
	for _, v := range []struct{ version, build, commit string }{{"1.1.0", "110", "a1b2c3d"}, {"1.2.0", "120", "e4f5a6b"}} {
		for _, p := range app.Platforms() {
			_, _, err := cat.BuildUpload(ctx, catalog.BuildUploadParams{
				App: AppName, Platform: p, Version: v.version, BuildNumber: v.build, SourceCommit: v.commit,
				Body: bytes.NewReader(sampleArtifact(p, v.version, v.build)),
			})
			if err != nil {
				return nil, fmt.Errorf("demo: %w", err)
			}
		}
		rel, err := cat.ReleaseCreate(ctx, AppName, v.version)
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		out.Releases = append(out.Releases, rel)
	}
	return out, nil
}

// sampleArtifact makes distinct, deterministic bytes standing for a build's
// binary; the artifact codecs replace them with real APK and IPA files.
func sampleArtifact(p ripcord.Platform, version, build string) []byte {
	seed := sha256.Sum256([]byte(fmt.Sprintf("ripcord demo %s %s %s", p, version, build)))
	return bytes.Repeat(seed[:], 4096)
}
