// Package demo plays Ripcord's main story on a laptop with nothing but the
// binary: embedded fake App Store Connect and Google Play, the sample app
// com.example.ripcord.demo live as 1.1.0 on both, 1.2.0 as the target, its
// 1.2.1 rollback prepared in the background, a staged rollout, a crash spike
// from a simulated fleet, an automatic halt and a one-click rollback on both
// stores. `ripcord demo` and its --scripted form run it.
package demo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/base32"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/ipa/devpki"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// AppName is the demo app's handle; its store identifier is BundleID.
const (
	AppName  = "demo"
	BundleID = "com.example.ripcord.demo"
	// DemoTeam is the Apple team id of the demo's identities and profiles.
	DemoTeam = "RPCRDDEMO1"
	// UserEmail is the demo's sign-in for the dashboard.
	UserEmail = "demo@example.com"
)

// The story's versions: what the stores serve when the demo starts, and the
// release going out.
const (
	liveVersion   = "1.1.0"
	liveBuild     = 110
	targetVersion = "1.2.0"
	targetBuild   = 120
	// The rollback Ripcord prepares: the next patch above the target, and
	// the next build number above every one used.
	rollbackVersion     = "1.2.1"
	rollbackBuildNumber = 121
)

// Seeded is what Seed made, for the demo to print.
type Seeded struct {
	AdminToken string
	UserToken  string // acts as UserEmail
	Password   string // UserEmail's password, fresh for every demo
	App        *ripcord.App
	Release    *ripcord.Release // the target, 1.2.0
}

// sampleAPK and sampleIPA are real, signed builds of the sample app
// (1.0.0, 100), made at development time by TestUpdateFixtures so the demo
// needs neither aapt2, a JVM nor a Go toolchain. Seed re-signs them into
// each demo version with keys it makes at start.
var (
	//go:embed assets/sample.apk
	sampleAPK []byte
	//go:embed assets/sample.ipa
	sampleIPA []byte
)

// signing is the demo's signing material, made at start.
type signing struct {
	android  *signingkey.Key
	androidK []byte // PKCS#8 of android's key
	identity *devpki.Identity
	p12      []byte
	profile  []byte
}

// p12Password protects the demo identity's .p12 in the credential store.
const p12Password = "ripcord-demo"

// Seed registers the sample app with the stores' credentials and the demo's
// signing material, uploads 1.1.0 (110) and 1.2.0 (120) on both platforms
// (real APKs and IPAs re-signed from the embedded fixtures), creates the
// 1.2.0 release — which queues the preparation of its rollback build on
// both stores — and makes an admin token and a sign-in for the dashboard.
func (e *Env) Seed(ctx context.Context) (*Seeded, error) {
	d := e.Daemon
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "local:demo", Role: ripcord.RoleAdmin})
	secret, _, err := d.Access.TokenCreate(ctx, "demo-admin", ripcord.RoleAdmin)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	password, err := randomPassword()
	if err != nil {
		return nil, err
	}
	if _, err := d.Access.UserCreate(ctx, access.UserParams{Email: UserEmail, Name: "Demo Release Manager", Role: ripcord.RoleAdmin,
		TeamRoles: []string{"release-manager", "qa-lead", "oncall-mobile", "incident-lead"}, Password: password}); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	// The story approves the gate as this person, so approvals carry a
	// name and team roles, as they would from the dashboard.
	userToken, _, err := d.Access.TokenCreateForUser(ctx, "demo-user", ripcord.RoleAdmin, UserEmail)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	ctx = ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:demo-admin", Role: ripcord.RoleAdmin})
	app, err := d.Catalog.AppCreate(ctx, ripcord.App{Name: AppName, IOSBundleID: BundleID, AndroidPackage: BundleID})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	sg, err := newSigning()
	if err != nil {
		return nil, err
	}
	creds := e.Fake.Credentials()
	for _, c := range []struct {
		kind string
		m    credentials.Material
	}{
		{credentials.KindPlayServiceAccount, credentials.Material{ServiceAccount: creds.PlayServiceAccountJSON}},
		{credentials.KindASCAPIKey, credentials.Material{ASCKey: creds.ASCPrivateKeyPEM, ASCKeyID: creds.ASCKeyID, ASCIssuerID: creds.ASCIssuerID}},
		{credentials.KindAndroidKeystore, credentials.Material{Key: sg.androidK, Cert: sg.android.Chain[0].Raw}},
		{credentials.KindIOSIdentity, credentials.Material{Identity: sg.p12, IdentityPassword: p12Password}},
		{credentials.KindIOSProfile + ":" + BundleID, credentials.Material{Profile: sg.profile}},
	} {
		if _, err := d.Credentials.Put(ctx, AppName, c.kind, c.m); err != nil {
			return nil, fmt.Errorf("demo: store %s: %w", c.kind, err)
		}
	}
	work := filepath.Join(e.Dir, "work")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(work)
	for _, v := range []struct {
		version, commit string
		build           int
	}{{liveVersion, "a1b2c3d", liveBuild}, {targetVersion, "e4f5a6b", targetBuild}} {
		for _, p := range app.Platforms() {
			path, err := sg.artifact(ctx, p, v.version, v.build, work)
			if err != nil {
				return nil, err
			}
			f, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("demo: %w", err)
			}
			_, _, err = d.Catalog.BuildUpload(ctx, catalog.BuildUploadParams{
				App: AppName, Platform: p, Version: v.version, BuildNumber: fmt.Sprint(v.build), SourceCommit: v.commit, Body: f,
			})
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("demo: upload %s %s: %w", p, v.version, err)
			}
			if p == ripcord.Android && v.version == targetVersion {
				if err := e.ciUploadToPlay(ctx, path); err != nil {
					return nil, err
				}
			}
		}
	}
	rel, err := d.Catalog.ReleaseCreate(ctx, AppName, targetVersion)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return &Seeded{AdminToken: secret, UserToken: userToken, Password: password, App: app, Release: rel}, nil
}

// ciUploadToPlay puts the target's APK on Google Play's internal track, as
// the app's CI does when it builds a release: Play burns its versionCode,
// and the rollback Ripcord prepares takes the next one above it.
func (e *Env) ciUploadToPlay(ctx context.Context, apkPath string) error {
	b, err := os.ReadFile(apkPath)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	pc, err := play.New(ctx, play.Config{ServiceAccountJSON: e.Fake.Credentials().PlayServiceAccountJSON, Endpoint: e.FakeURL + "/"})
	if err != nil {
		return fmt.Errorf("demo: CI's Play client: %w", err)
	}
	if _, err := pc.Upload(ctx, play.UploadParams{Package: BundleID, File: b, APK: true, Track: play.TrackInternal}); err != nil {
		return fmt.Errorf("demo: CI's upload of %s to Google Play: %w", targetVersion, err)
	}
	return nil
}

// artifact writes the demo build of a platform and version into dir: the
// embedded APK or IPA re-signed as version and build with the demo keys.
func (sg *signing) artifact(ctx context.Context, p ripcord.Platform, version string, build int, dir string) (string, error) {
	out := filepath.Join(dir, fmt.Sprintf("demo-%s-%s-%d", p, version, build))
	if p == ripcord.IOS {
		in := filepath.Join(dir, "sample.ipa")
		if err := os.WriteFile(in, sampleIPA, 0o600); err != nil {
			return "", fmt.Errorf("demo: %w", err)
		}
		k, err := signingkey.New(sg.identity.Key, sg.identity.Chain)
		if err != nil {
			return "", fmt.Errorf("demo: iOS identity: %w", err)
		}
		if _, err := ipa.Resign(ctx, in, out+".ipa", ipa.ResignOptions{Version: version, Build: fmt.Sprint(build), Identity: k,
			Profiles: map[string][]byte{BundleID: sg.profile}}); err != nil {
			return "", fmt.Errorf("demo: build the %s IPA: %w", version, err)
		}
		return out + ".ipa", nil
	}
	if _, err := apk.Resign(ctx, bytes.NewReader(sampleAPK), int64(len(sampleAPK)), out+".apk", apk.ResignOptions{
		VersionCode: int64(build), VersionName: version, Keys: []*signingkey.Key{sg.android}, AllowNewSigner: true,
	}); err != nil {
		return "", fmt.Errorf("demo: build the %s APK: %w", version, err)
	}
	return out + ".apk", nil
}

// newSigning makes the demo's keys: an Android upload key (EC, self-signed)
// and an iOS distribution identity with an App Store profile for the
// sample app, issued by a local stand-in for Apple's CA.
func newSigning() (*signing, error) {
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
	sg := &signing{}
	if sg.android, err = signingkey.New(priv, []*x509.Certificate{cert}); err != nil {
		return nil, err
	}
	if sg.androidK, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
		return nil, fmt.Errorf("demo: key: %w", err)
	}
	pki, err := devpki.GeneratePKI()
	if err != nil {
		return nil, err
	}
	expires := time.Now().AddDate(1, 0, 0)
	if sg.identity, err = pki.IssueIdentity(DemoTeam, true, expires); err != nil {
		return nil, err
	}
	if sg.p12, err = sg.identity.EncodeP12(p12Password); err != nil {
		return nil, err
	}
	sg.profile, err = pki.BuildProfile(devpki.ProfileSpec{Name: "Ripcord Demo App Store", Team: DemoTeam, AppID: DemoTeam + "." + BundleID,
		Expires: expires, Certs: sg.identity.Chain[:1]})
	if err != nil {
		return nil, err
	}
	return sg, nil
}

// randomPassword makes the demo sign-in's password: five groups of four
// letters and digits, easy to type from the terminal.
func randomPassword() (string, error) {
	var raw [13]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("demo: password: %w", err)
	}
	s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))[:20]
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20], nil
}
