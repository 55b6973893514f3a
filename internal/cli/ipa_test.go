package cli_test

import (
	"archive/zip"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ripcordhq/ripcord/internal/ipa/ipatest"
)

// iosFixtures builds the darwin executables, the team (a test CA with the
// old and new distribution identities) and the IPAs the artifact scripts
// use once per test binary, in dir, and copies them into each script's
// $WORK: `go build` for darwin is the slow part.
type iosFixtures struct {
	dir string

	once sync.Once
	bins *ipatest.Binaries
	team *ipatest.Team
	err  error

	mu    sync.Mutex
	built map[string]*builtFixture // make-ipa arguments → fixture
}

func newIOSFixtures(dir string) *iosFixtures {
	return &iosFixtures{dir: dir, built: map[string]*builtFixture{}}
}

func (fx *iosFixtures) load() (*ipatest.Binaries, *ipatest.Team, error) {
	fx.once.Do(func() {
		dir := filepath.Join(fx.dir, "darwin")
		if fx.err = os.MkdirAll(dir, 0o755); fx.err != nil {
			return
		}
		if fx.bins, fx.err = ipatest.BuildBinaries(dir); fx.err != nil {
			return
		}
		fx.team, fx.err = ipatest.GenerateTeam()
	})
	return fx.bins, fx.team, fx.err
}

// identityPassword opens every .p12 make-identity writes.
const identityPassword = "s3cret"

// cmdMakeIdentity: make-identity DIR — write into DIR the test CA
// (ca.pem), the new distribution identity as dist.p12 (password "s3cret"),
// dist-key.pem (PEM PKCS#8, for openssl) and dist-chain.pem (leaf first),
// the identity that signed make-ipa's IPAs as old.p12, an identity of
// another team as other.p12, and App Store profiles for the new identity:
// app.mobileprovision, share.mobileprovision and clip.mobileprovision
// (com.example.demo, .share and .Clip).
func (fx *iosFixtures) cmdMakeIdentity(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: make-identity DIR")
	}
	_, team, err := fx.load()
	checkFixture(ts, err)
	dst := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dst, 0o755))
	write := func(name string, b []byte, err error) {
		ts.Check(err)
		ts.Check(os.WriteFile(filepath.Join(dst, name), b, 0o600))
	}
	write("ca.pem", team.PKI.CAPEM, nil)
	p12, err := team.New.EncodeP12(identityPassword)
	write("dist.p12", p12, err)
	key, err := team.New.KeyPEM()
	write("dist-key.pem", key, err)
	write("dist-chain.pem", team.New.ChainPEM(), nil)
	p12, err = team.Old.EncodeP12(identityPassword)
	write("old.p12", p12, err)
	other, err := team.PKI.IssueIdentity("OTHERTEAM1", false, time.Now().Add(365*24*time.Hour))
	ts.Check(err)
	p12, err = other.EncodeP12(identityPassword)
	write("other.p12", p12, err)
	expires := time.Now().Add(300 * 24 * time.Hour)
	for file, id := range map[string]string{"app": ipatest.AppID, "share": ipatest.ShareID, "clip": ipatest.ClipID} {
		b, err := team.ProfileFor(id, file+" App Store 2026", team.New, expires, nil)
		write(file+".mobileprovision", b, err)
	}
}

// cmdMakeIPA: make-ipa [-sdk NAME] [-profile-days N] [-encrypted]
// [-entitlement KEY=VALUE] [-without-profile BUNDLE_ID] [-profiles-list-new]
// DIR NAME version build
// — write DIR/NAME, the ipatest IPA (com.example.demo with an extension,
// an App Clip, a framework and a dylib) signed by the old identity, its
// embedded profiles expiring in N days (default 300). -sdk sets DTSDKName
// (default iphoneos26.0), -encrypted marks the app's executable
// FairPlay-encrypted, -entitlement adds a string entitlement to the app
// (granted by its embedded profile only), -without-profile leaves out a
// bundle's embedded.mobileprovision, -profiles-list-new makes the embedded
// profiles list dist.p12's certificate too, so it can re-sign without
// --profile.
func (fx *iosFixtures) cmdMakeIPA(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: make-ipa [-sdk NAME] [-profile-days N] [-encrypted] [-entitlement KEY=VALUE] [-without-profile BUNDLE_ID] [-profiles-list-new] DIR NAME version build"
	if neg {
		ts.Fatalf(usage)
	}
	fs := flag.NewFlagSet("make-ipa", flag.ContinueOnError)
	sdk := fs.String("sdk", "", "")
	days := fs.Int("profile-days", 300, "")
	encrypted := fs.Bool("encrypted", false, "")
	ent := fs.String("entitlement", "", "")
	without := fs.String("without-profile", "", "")
	listNew := fs.Bool("profiles-list-new", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 4 {
		ts.Fatalf(usage)
	}
	o := ipatest.Options{SDK: *sdk, Encrypted: *encrypted, EmbeddedProfilesListNew: *listNew, Version: fs.Arg(2), Build: fs.Arg(3), ProfileExpires: time.Now().Add(time.Duration(*days) * 24 * time.Hour)}
	if *ent != "" {
		k, v, ok := strings.Cut(*ent, "=")
		if !ok {
			ts.Fatalf("make-ipa: -entitlement %q: want KEY=VALUE", *ent)
		}
		o.AppEntitlements = map[string]any{k: v}
	}
	if *without != "" {
		o.WithoutProfile = []string{*without}
	}
	bins, team, err := fx.load()
	checkFixture(ts, err)
	key := strings.Join(append(slices.Clone(args[:len(args)-4]), fs.Arg(2), fs.Arg(3)), " ")
	fx.mu.Lock()
	b := fx.built[key]
	if b == nil {
		b = &builtFixture{}
		fx.built[key] = b
	}
	fx.mu.Unlock()
	b.once.Do(func() {
		dir, err := os.MkdirTemp(fx.dir, "ipa-")
		if err != nil {
			b.err = err
			return
		}
		f, err := ipatest.BuildIPA(context.Background(), filepath.Join(dir, "app.ipa"), bins, team, o)
		if err != nil {
			b.err = err
			return
		}
		b.path = f.Path
	})
	checkFixture(ts, b.err)
	copyFile(ts, b.path, filepath.Join(ts.MkAbs(fs.Arg(0)), fs.Arg(1)))
}

// cmdCMSVerify: cms-verify IPA CA.pem N — the openssl oracle: `openssl cms
// -verify` must accept the CMS signature of every slice of every
// executable in IPA over its CodeDirectory, chained to CA.pem, and there
// must be N of them.
func cmdCMSVerify(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: cms-verify IPA CA.pem N")
	}
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	openssl, err := ipatest.Tool("openssl")
	checkFixture(ts, err)
	work, err := os.MkdirTemp(ts.MkAbs("."), "cms-")
	ts.Check(err)
	defer os.RemoveAll(work)
	n, err := ipatest.VerifyCMS(openssl, ts.MkAbs(args[0]), ts.MkAbs(args[1]), work)
	ts.Check(err)
	if n != want {
		ts.Fatalf("cms-verify: openssl verified %d signatures, want %d", n, want)
	}
	ts.Logf("openssl cms -verify accepted %d signatures", n)
}

// cmdZipPut: zip-put ZIP ENTRY TEXT — rewrite ZIP with ENTRY's content
// replaced by TEXT (or added), every other entry copied as it is: a
// tampered file that still inflates cleanly.
func cmdZipPut(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: zip-put ZIP ENTRY TEXT")
	}
	path := ts.MkAbs(args[0])
	zr, err := zip.OpenReader(path)
	ts.Check(err)
	defer zr.Close()
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	ts.Check(err)
	zw := zip.NewWriter(out)
	put := func(fh *zip.FileHeader) {
		fh.Method = zip.Deflate
		w, err := zw.CreateHeader(fh)
		ts.Check(err)
		_, err = w.Write([]byte(args[2]))
		ts.Check(err)
	}
	found := false
	for _, f := range zr.File {
		if f.Name == args[1] {
			fh := f.FileHeader
			put(&fh)
			found = true
			continue
		}
		ts.Check(zw.Copy(f))
	}
	if !found {
		fh := &zip.FileHeader{Name: args[1], Modified: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		fh.SetMode(0o644)
		put(fh)
	}
	ts.Check(zw.Close())
	ts.Check(out.Close())
	ts.Check(os.Rename(tmp, path))
	if !found {
		ts.Logf("zip-put: added %s", args[1])
	}
}
