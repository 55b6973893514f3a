package ipatest

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"howett.net/plist"

	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/macho"
)

// TeamID is the team every fixture identity and profile belongs to.
const TeamID = "TEAM123456"

// Bundle ids of the fixture IPA. Frameworks and loose dylibs need no
// profile; the app, the extension and the App Clip do.
const (
	AppID   = "com.example.demo"       // AppID is the app, Payload/Demo.app.
	ShareID = "com.example.demo.share" // ShareID is the extension, PlugIns/Share.appex.
	ClipID  = "com.example.demo.Clip"  // ClipID is the App Clip, AppClips/Clip.app.
	KitID   = "com.example.Kit"        // KitID is the framework, Frameworks/Kit.framework.
)

// ProfiledBundles are the bundle ids of the fixture that carry a profile.
var ProfiledBundles = []string{AppID, ShareID, ClipID}

// Team is a PKI with two distribution identities of TeamID: Old signed the
// source IPA and its embedded profiles list it; New is the identity a
// rollback is re-signed with.
type Team struct {
	PKI      *PKI
	Old, New *Identity
}

// GenerateTeam makes a CA and two RSA identities valid for a year.
func GenerateTeam() (*Team, error) {
	p, err := GeneratePKI()
	if err != nil {
		return nil, err
	}
	year := time.Now().Add(365 * 24 * time.Hour)
	old, err := p.IssueIdentity(TeamID, false, year)
	if err != nil {
		return nil, err
	}
	nu, err := p.IssueIdentity(TeamID, false, year)
	if err != nil {
		return nil, err
	}
	return &Team{PKI: p, Old: old, New: nu}, nil
}

// NewTeam is GenerateTeam for tests.
func NewTeam(tb testing.TB) *Team {
	tb.Helper()
	t, err := GenerateTeam()
	require.NoError(tb, err)
	return t
}

// ProfileFor builds an App Store profile for bundleID listing id's
// certificate, expiring at expires and granting extra entitlements on top
// of the defaults (see ProfileSpec).
func (t *Team) ProfileFor(bundleID, name string, id *Identity, expires time.Time, extra map[string]any) ([]byte, error) {
	return t.PKI.BuildProfile(ProfileSpec{Name: name, Team: TeamID, AppID: TeamID + "." + bundleID, Expires: expires, Certs: id.Chain[:1], ExtraEntitlements: extra})
}

// Options shape a fixture IPA; the zero value is a current, valid export.
type Options struct {
	Version string // Version is CFBundleShortVersionString; default "2.16.0".
	Build   string // Build is CFBundleVersion; default "216".
	SDK     string // SDK is the app's DTSDKName; default "iphoneos26.0".
	// Encrypted marks the app's executable FairPlay-encrypted, as an App
	// Store download is (and leaves it unsigned).
	Encrypted bool
	// AppEntitlements are extra entitlements in the app's signature, also
	// granted by its embedded profile (not by the ones for Team.New).
	AppEntitlements map[string]any
	// ProfileExpires is when the embedded profiles expire; default in 300
	// days.
	ProfileExpires time.Time
	// EmbeddedProfilesListNew makes the embedded profiles list Team.New's
	// certificate besides Team.Old's, as a profile regenerated for both of
	// a team's distribution certificates does: re-signing with Team.New
	// then needs no replacement profiles.
	EmbeddedProfilesListNew bool
	// WithoutProfile lists bundle ids whose embedded.mobileprovision is
	// left out.
	WithoutProfile []string
	// BigExe, when set, adds three extensions whose executables are padded
	// to about this many bytes (benchmarks).
	BigExe int
	// Resources adds this many incompressible files of ResSize bytes.
	Resources, ResSize int
}

// Entry is one file of a fixture zip.
type Entry struct {
	Name string      // Name is the path in the archive.
	Data []byte      // Data is the content; a symlink's target.
	Mode fs.FileMode // Mode defaults to 0644; fs.ModeSymlink and fs.ModeDir are kept.
}

// Fixture is a source IPA as Xcode would export it, signed by Team.Old,
// with the profiles tests re-sign it with for Team.New.
type Fixture struct {
	*Team
	Dir      string            // Dir is the directory holding Path, free for outputs.
	Path     string            // Path is the IPA.
	Profiles map[string][]byte // Profiles map every profiled bundle id to a profile for Team.New.
	Entries  []Entry           // Entries are the IPA's files, in order.
}

// BuildIPA writes the fixture IPA to path: Payload/Demo.app (universal
// x86_64 + arm64, SHA-1 and SHA-256 CodeDirectories, binary Info.plist,
// DER and XML entitlements) with PlugIns/Share.appex (arm64, SHA-256, XML
// Info.plist, XML entitlements only), AppClips/Clip.app,
// Frameworks/Kit.framework and Frameworks/libswiftFoo.dylib (minimal
// dylibs), resources, a symlink, a stale CodeResources and SwiftSupport/.
func BuildIPA(ctx context.Context, path string, bins *Binaries, team *Team, o Options) (*Fixture, error) {
	b := &ipaBuilder{team: team, o: o}
	entries, profiles, err := b.build(ctx, bins)
	if err != nil {
		return nil, err
	}
	if err := WriteZip(path, entries); err != nil {
		return nil, err
	}
	return &Fixture{Team: team, Dir: filepath.Dir(path), Path: path, Profiles: profiles, Entries: entries}, nil
}

// NewFixture is BuildIPA for tests, into a fresh temporary directory as
// in.ipa.
func NewFixture(tb testing.TB, bins *Binaries, team *Team, o Options) *Fixture {
	tb.Helper()
	fx, err := BuildIPA(tb.Context(), filepath.Join(tb.TempDir(), "in.ipa"), bins, team, o)
	require.NoError(tb, err)
	return fx
}

type ipaBuilder struct {
	team *Team
	o    Options
}

// sign signs a Mach-O as Xcode does, with the old identity. The app
// carries the DER entitlements Xcode writes; the others XML only, as
// signers before iOS 15 wrote, so re-signing must derive the DER form.
func (b *ipaBuilder) sign(ctx context.Context, data []byte, ident string, types []uint8, ents map[string]any) ([]byte, error) {
	var x, der []byte
	if ents != nil {
		var err error
		if x, err = plist.MarshalIndent(ents, plist.XMLFormat, "\t"); err != nil {
			return nil, fmt.Errorf("ipatest: entitlements of %s: %w", ident, err)
		}
		if ident == AppID {
			if der, err = ipa.EncodeEntitlementsDER(ents); err != nil {
				return nil, fmt.Errorf("ipatest: entitlements of %s: %w", ident, err)
			}
		}
	}
	old := b.team.Old
	req, _ := macho.DesignatedRequirement(ident, old.Chain[0].Subject.CommonName)
	out, err := macho.SignFile(ctx, data, macho.SignParams{
		Ident: ident, TeamID: TeamID, HashTypes: types, Entitlements: x, EntitlementsDER: der, Requirements: req,
		Signer: macho.KeySigner(old.Key, old.Chain), InfoPlist: []byte("old"), Resources: []byte("old"),
	})
	if err != nil {
		return nil, fmt.Errorf("ipatest: sign %s: %w", ident, err)
	}
	return out, nil
}

func (b *ipaBuilder) build(ctx context.Context, bins *Binaries) ([]Entry, map[string][]byte, error) {
	o, team := b.o, b.team
	if bins == nil {
		return nil, nil, fmt.Errorf("ipatest: no darwin binaries; call BuildBinaries first")
	}
	version, build, sdk := o.Version, o.Build, o.SDK
	if version == "" {
		version = "2.16.0"
	}
	if build == "" {
		build = "216"
	}
	if sdk == "" {
		sdk = "iphoneos26.0"
	}
	embeddedExpiry := o.ProfileExpires
	if embeddedExpiry.IsZero() {
		embeddedExpiry = time.Now().Add(300 * 24 * time.Hour)
	}
	newExpiry := time.Now().Add(300 * 24 * time.Hour)

	appEnts := map[string]any{"application-identifier": TeamID + "." + AppID, "com.apple.developer.team-identifier": TeamID, "get-task-allow": false, "keychain-access-groups": []any{TeamID + "." + AppID}}
	maps.Copy(appEnts, o.AppEntitlements)
	extEnts := map[string]any{"application-identifier": TeamID + "." + ShareID, "com.apple.developer.team-identifier": TeamID}

	amd := bins.AMD64
	if o.Encrypted {
		var err error
		if amd, err = Encrypt(amd); err != nil {
			return nil, nil, err
		}
	}
	appExe, err := macho.BuildFat([]macho.FatSlice{{CPUType: macho.CPUX86_64, CPUSubtype: 3, Align: 12, Data: amd}, {CPUType: macho.CPUARM64, Align: 14, Data: bins.ARM64}})
	if err != nil {
		return nil, nil, fmt.Errorf("ipatest: universal binary: %w", err)
	}
	type exe struct {
		dst         *[]byte
		data        []byte
		ident       string
		types       []uint8
		ents        map[string]any
		skipSigning bool
	}
	var extExe, kitExe, libExe, clipExe []byte
	for _, e := range []exe{
		{&appExe, appExe, AppID, []uint8{macho.HashSHA1, macho.HashSHA256}, appEnts, o.Encrypted},
		{&extExe, bins.ARM64, ShareID, []uint8{macho.HashSHA256}, extEnts, false},
		{&kitExe, MinimalDylib(1), KitID, nil, nil, false},
		{&libExe, MinimalDylib(2), "libswiftFoo", nil, nil, false},
		{&clipExe, MinimalDylib(3), ClipID, nil, map[string]any{"application-identifier": TeamID + "." + ClipID}, false},
	} {
		if e.skipSigning {
			continue
		}
		if *e.dst, err = b.sign(ctx, e.data, e.ident, e.types, e.ents); err != nil {
			return nil, nil, err
		}
	}

	var errs []error
	binInfo := func(m map[string]any) []byte {
		out, err := plist.Marshal(m, plist.BinaryFormat)
		errs = append(errs, err)
		return out
	}
	xmlInfo := func(m map[string]any) []byte {
		out, err := plist.MarshalIndent(m, plist.XMLFormat, "\t")
		errs = append(errs, err)
		return out
	}
	embeddedCerts := team.Old.Chain[:1]
	if o.EmbeddedProfilesListNew {
		embeddedCerts = append(embeddedCerts[:1:1], team.New.Chain[0])
	}
	oldProfile := func(name, bundleID string) []byte {
		out, err := team.PKI.BuildProfile(ProfileSpec{Name: name, Team: TeamID, AppID: TeamID + "." + bundleID, Expires: embeddedExpiry, Certs: embeddedCerts, ExtraEntitlements: o.AppEntitlements})
		errs = append(errs, err)
		return out
	}
	profiles := map[string][]byte{}
	for id, name := range map[string]string{AppID: "Demo App Store 2026", ShareID: "Demo Share App Store 2026", ClipID: "Clip App Store 2026"} {
		p, err := team.ProfileFor(id, name, team.New, newExpiry, nil)
		if err != nil {
			return nil, nil, err
		}
		profiles[id] = p
	}
	omit := map[string]bool{}
	for _, id := range o.WithoutProfile {
		omit[id] = true
	}
	app := "Payload/Demo.app/"
	entries := []Entry{
		{Name: "Payload/", Mode: fs.ModeDir | 0o755}, // Xcode's IPAs carry directory entries.
		{Name: app, Mode: fs.ModeDir | 0o755},
		{Name: app + "Info.plist", Data: binInfo(map[string]any{"CFBundleIdentifier": AppID, "CFBundleExecutable": "Demo", "CFBundleShortVersionString": version, "CFBundleVersion": build, "DTSDKName": sdk, "DTXcode": "2600", "MinimumOSVersion": "15.0", "CFBundlePackageType": "APPL"})},
		{Name: app + "Demo", Data: appExe, Mode: 0o755},
		{Name: app + "PkgInfo", Data: []byte("APPL????")},
		{Name: app + "embedded.mobileprovision", Data: oldProfile("Demo App Store 2025", AppID)},
		{Name: app + "Assets.car", Data: bytes.Repeat([]byte("assets"), 1000)},
		{Name: app + "en.lproj/Localizable.strings", Data: []byte(`"hello" = "Hello";`)},
		{Name: app + "Base.lproj/Main.storyboardc/Info.plist", Data: []byte("storyboard")},
		{Name: app + "AssetsLink", Data: []byte("Assets.car"), Mode: fs.ModeSymlink | 0o777},
		{Name: app + "_CodeSignature/CodeResources", Data: []byte("stale")},
		{Name: app + "PlugIns/Share.appex/Info.plist", Data: xmlInfo(map[string]any{"CFBundleIdentifier": ShareID, "CFBundleExecutable": "Share", "CFBundleShortVersionString": version, "CFBundleVersion": build, "CFBundlePackageType": "XPC!"})},
		{Name: app + "PlugIns/Share.appex/Share", Data: extExe, Mode: 0o755},
		{Name: app + "PlugIns/Share.appex/embedded.mobileprovision", Data: oldProfile("Demo Share App Store 2025", ShareID)},
		{Name: app + "PlugIns/Share.appex/icon.png", Data: []byte("png")},
		{Name: app + "Frameworks/Kit.framework/Info.plist", Data: xmlInfo(map[string]any{"CFBundleIdentifier": KitID, "CFBundleExecutable": "Kit", "CFBundleShortVersionString": "1.4.0", "CFBundleVersion": "7", "CFBundlePackageType": "FMWK"})},
		{Name: app + "Frameworks/Kit.framework/Kit", Data: kitExe, Mode: 0o755},
		{Name: app + "Frameworks/libswiftFoo.dylib", Data: libExe, Mode: 0o755},
		{Name: app + "AppClips/Clip.app/Info.plist", Data: binInfo(map[string]any{"CFBundleIdentifier": ClipID, "CFBundleExecutable": "Clip", "CFBundleShortVersionString": version, "CFBundleVersion": build})},
		{Name: app + "AppClips/Clip.app/Clip", Data: clipExe, Mode: 0o755},
		{Name: app + "AppClips/Clip.app/embedded.mobileprovision", Data: oldProfile("Clip 2025", ClipID)},
		{Name: "SwiftSupport/iphoneos/libswiftFoo.dylib", Data: libExe, Mode: 0o755},
	}
	for i := range o.Resources {
		data := make([]byte, o.ResSize)
		_, _ = rand.Read(data) // images and compiled assets do not compress
		entries = append(entries, Entry{Name: fmt.Sprintf("%sres/%04d.bin", app, i), Data: data})
	}
	if o.BigExe > 0 {
		// A few large executables: extensions built from padded copies.
		for i := range 3 {
			name := fmt.Sprintf("Big%d", i)
			id := AppID + "." + name
			big, err := BigBinary(bins.ARM64, o.BigExe)
			if err != nil {
				return nil, nil, err
			}
			exe, err := b.sign(ctx, big, id, []uint8{macho.HashSHA256}, map[string]any{"application-identifier": TeamID + "." + id})
			if err != nil {
				return nil, nil, err
			}
			dir := app + "PlugIns/" + name + ".appex/"
			entries = append(entries,
				Entry{Name: dir + "Info.plist", Data: binInfo(map[string]any{"CFBundleIdentifier": id, "CFBundleExecutable": name, "CFBundleShortVersionString": version, "CFBundleVersion": build})},
				Entry{Name: dir + name, Data: exe, Mode: 0o755},
				Entry{Name: dir + "embedded.mobileprovision", Data: oldProfile(name, id)},
			)
			if profiles[id], err = team.ProfileFor(id, name+" 2026", team.New, newExpiry, nil); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, e := range errs {
		if e != nil {
			return nil, nil, fmt.Errorf("ipatest: fixture plist or profile: %w", e)
		}
	}
	kept := entries[:0]
	for _, e := range entries {
		if dir, ok := bytes.CutSuffix([]byte(e.Name), []byte("/embedded.mobileprovision")); ok && omit[bundleIDOf(string(dir))] {
			continue
		}
		kept = append(kept, e)
	}
	return kept, profiles, nil
}

// bundleIDOf maps a fixture bundle directory to its bundle id.
func bundleIDOf(dir string) string {
	switch filepath.Base(dir) {
	case "Demo.app":
		return AppID
	case "Share.appex":
		return ShareID
	case "Clip.app":
		return ClipID
	}
	return AppID + "." + filepath.Base(dir[:len(dir)-len(filepath.Ext(dir))])
}

// WriteZip writes entries to path, deflated (directories and symlinks
// stored), with a fixed modification time.
func WriteZip(path string, entries []Entry) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("ipatest: %w", err)
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
		}
		fh.SetMode(mode)
		if mode&fs.ModeSymlink != 0 || mode.IsDir() {
			fh.Method = zip.Store
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			f.Close()
			return fmt.Errorf("ipatest: zip %s: %w", e.Name, err)
		}
		if _, err := w.Write(e.Data); err != nil {
			f.Close()
			return fmt.Errorf("ipatest: zip %s: %w", e.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("ipatest: zip %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ipatest: zip %s: %w", path, err)
	}
	return nil
}

// Zip is WriteZip for tests.
func Zip(tb testing.TB, path string, entries []Entry) {
	tb.Helper()
	require.NoError(tb, WriteZip(path, entries))
}

// ReadZip opens path and maps entry names to entries; the archive is
// closed when the test ends.
func ReadZip(tb testing.TB, path string) map[string]*zip.File {
	tb.Helper()
	r, err := zip.OpenReader(path)
	require.NoError(tb, err)
	tb.Cleanup(func() { r.Close() })
	out := map[string]*zip.File{}
	for _, f := range r.File {
		out[f.Name] = f
	}
	return out
}

// ReadEntry returns an entry's content.
func ReadEntry(tb testing.TB, f *zip.File) []byte {
	tb.Helper()
	require.NotNil(tb, f)
	rc, err := f.Open()
	require.NoError(tb, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(tb, err)
	return b
}

// MinimalDylib is the smallest arm64 MH_DYLIB the signer accepts: a
// __TEXT segment with one section and an empty __LINKEDIT. Go cannot build
// darwin dylibs on Linux, so frameworks use this; seed varies the code.
func MinimalDylib(seed byte) []byte {
	const textSize, linkSize = 0x4000, 0x20
	b := make([]byte, textSize+linkSize)
	le := binary.LittleEndian
	le.PutUint32(b, macho.Magic64)
	le.PutUint32(b[4:], macho.CPUARM64)
	le.PutUint32(b[12:], macho.TypeDylib)
	le.PutUint32(b[16:], 2)
	le.PutUint32(b[20:], 72+80+72)
	c := b[32:]
	le.PutUint32(c, macho.LoadSegment64)
	le.PutUint32(c[4:], 72+80)
	copy(c[8:], "__TEXT")
	le.PutUint64(c[32:], textSize)
	le.PutUint64(c[48:], textSize)
	le.PutUint32(c[64:], 1)
	s := c[72:]
	copy(s, "__text")
	copy(s[16:], "__TEXT")
	le.PutUint64(s[32:], 0x100)
	le.PutUint32(s[48:], 0x1000)
	c = b[32+72+80:]
	le.PutUint32(c, macho.LoadSegment64)
	le.PutUint32(c[4:], 72)
	copy(c[8:], "__LINKEDIT")
	le.PutUint64(c[24:], textSize)
	le.PutUint64(c[32:], linkSize)
	le.PutUint64(c[40:], textSize)
	le.PutUint64(c[48:], linkSize)
	for i := 0x1000; i < 0x1100; i++ {
		b[i] = seed + byte(i)
	}
	return b
}

// BigBinary grows a thin Go darwin binary to about size bytes by extending
// __LINKEDIT with pseudo-random bytes (half of them; the rest zeros, so it
// compresses by half), dropping the old signature and pointing
// LC_CODE_SIGNATURE at a zero-length one at the end.
func BigBinary(thin []byte, size int) ([]byte, error) {
	s, err := macho.ParseSlice(thin, macho.Limits{})
	if err != nil {
		return nil, fmt.Errorf("ipatest: big binary: %w", err)
	}
	body := bytes.Clone(thin[:s.SigOffset])
	if size < len(body) {
		return nil, fmt.Errorf("ipatest: big binary: %d bytes is below the input's %d", size, len(body))
	}
	fill := make([]byte, size-len(body))
	_, _ = rand.Read(fill[:len(fill)/2])
	body = append(body, fill...)
	for len(body)%16 != 0 {
		body = append(body, 0)
	}
	le := binary.LittleEndian
	sigOff := len(body)
	le.PutUint32(body[s.SigCmdOffset+8:], uint32(sigOff))
	le.PutUint32(body[s.SigCmdOffset+12:], 0)
	le.PutUint64(body[s.LinkEdit.CmdOffset+48:], uint64(len(body))-s.LinkEdit.FileOff)
	le.PutUint64(body[s.LinkEdit.CmdOffset+32:], (uint64(len(body))-s.LinkEdit.FileOff+0x3fff)&^0x3fff)
	return body, nil
}

// Encrypt adds LC_ENCRYPTION_INFO_64 with cryptid 1 to a thin binary, as
// App Store downloads have.
func Encrypt(thin []byte) ([]byte, error) {
	s, err := macho.ParseSlice(thin, macho.Limits{})
	if err != nil {
		return nil, fmt.Errorf("ipatest: encrypt: %w", err)
	}
	out := bytes.Clone(thin)
	at := s.HeaderSize + int(s.SizeOfCmds)
	le := binary.LittleEndian
	le.PutUint32(out[at:], macho.LoadEncryptionInfo64)
	le.PutUint32(out[at+4:], 24)
	le.PutUint32(out[at+16:], 1)
	le.PutUint32(out[16:], s.NCmds+1)
	le.PutUint32(out[20:], s.SizeOfCmds+24)
	return out, nil
}
