// Package demo seeds a fresh Ripcord with the sample app a newcomer meets in
// `ripcord demo`: com.example.ripcord.demo on both stores, 1.1.0 live and
// 1.2.0 as the target release, with builds uploaded through the same service
// CI uses, an admin token and an audit trail.
package demo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// AppName is the demo app's handle; its store identifier is BundleID.
const (
	AppName  = "demo"
	BundleID = "com.example.ripcord.demo"
	// DemoTeam is the Apple team id of the demo's identities and profiles.
	DemoTeam = "RPCRDDEMO1"
)

// Seeded is what Seed made, for the demo to print.
type Seeded struct {
	AdminToken string
	App        *ripcord.App
	Releases   []*ripcord.Release
}

// sampleAPK is a real, signed APK of the sample app (versionCode 100), made
// at development time by TestUpdateFixtures so the demo needs neither aapt2
// nor a JVM. Seed re-signs it into each demo version with a key it makes.
//
//go:embed assets/sample.apk
var sampleAPK []byte

// Seed registers the sample app, its builds and releases, and an admin
// token. Android builds are real APKs, re-signed into 1.1.0 (110) and 1.2.0
// (120) with a demo key generated now; dir holds the files while they are
// uploaded.
func Seed(ctx context.Context, cat *catalog.Service, acc *access.Service, dir string) (*Seeded, error) {
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
	key, err := demoKey()
	if err != nil {
		return nil, err
	}
	for _, v := range []struct{ version, build, commit string }{{"1.1.0", "110", "a1b2c3d"}, {"1.2.0", "120", "e4f5a6b"}} {
		for _, p := range app.Platforms() {
			body, err := artifact(ctx, p, v.version, v.build, key, dir)
			if err != nil {
				return nil, err
			}
			_, _, err = cat.BuildUpload(ctx, catalog.BuildUploadParams{
				App: AppName, Platform: p, Version: v.version, BuildNumber: v.build, SourceCommit: v.commit, Body: body,
			})
			if c, ok := body.(io.Closer); ok {
				c.Close()
			}
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

// artifact returns the bytes of a demo build: a real APK re-signed to the
// version on Android; on iOS, until the demo embeds an IPA, distinct
// deterministic bytes standing for one.
func artifact(ctx context.Context, p ripcord.Platform, version, build string, key *signingkey.Key, dir string) (io.Reader, error) {
	if p == ripcord.IOS {
		seed := sha256.Sum256([]byte(fmt.Sprintf("ripcord demo %s %s %s", p, version, build)))
		return bytes.NewReader(bytes.Repeat(seed[:], 4096)), nil
	}
	code, err := ripcord.ParseVersionCode(build)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, fmt.Sprintf("demo-%s-%s.apk", version, build))
	if _, err := apk.Resign(ctx, bytes.NewReader(sampleAPK), int64(len(sampleAPK)), out, apk.ResignOptions{
		VersionCode: code, VersionName: version, Keys: []*signingkey.Key{key}, AllowNewSigner: true,
	}); err != nil {
		return nil, fmt.Errorf("demo: build the %s APK: %w", version, err)
	}
	return os.Open(out)
}

// demoKey makes the demo's signing key: an EC key with a self-signed
// certificate, fresh for every demo run.
func demoKey() (*signingkey.Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("demo: key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Ripcord demo upload key"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(25, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("demo: certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("demo: certificate: %w", err)
	}
	return signingkey.New(priv, []*x509.Certificate{cert})
}
