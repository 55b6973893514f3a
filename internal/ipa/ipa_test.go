package ipa

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"howett.net/plist"

	"github.com/ripcordhq/ripcord/internal/macho"
	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

func (fx *fixture) opts(tb testing.TB) ResignOptions {
	tb.Helper()
	key, err := LoadIdentity(fx.new.p12(tb, "s3cret"), "s3cret")
	require.NoError(tb, err)
	return ResignOptions{Version: "2.16.1", Build: "217", Identity: key, Profiles: fx.profiles}
}

func plistOf(tb testing.TB, b []byte) (map[string]any, int) {
	tb.Helper()
	var m map[string]any
	format, err := plist.Unmarshal(b, &m)
	require.NoError(tb, err)
	return m, format
}

func TestResignEndToEnd(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, fixtureOpts{})
	out := filepath.Join(fx.dir, "out.ipa")
	rep, err := Resign(t.Context(), fx.in, out, fx.opts(t))
	require.NoError(t, err)
	require.Nil(t, hasErrors(rep.Findings), "%+v", rep.Findings)

	// Innermost first: the extension and framework before the app.
	var order []string
	for _, b := range rep.Bundles {
		order = append(order, b.BundleID)
	}
	require.Equal(t, []string{"com.example.demo.share", "com.example.demo.Clip", "com.example.Kit", "com.example.demo"}, order)
	app := rep.Bundles[3]
	require.Equal(t, []string{"SHA-1", "SHA-256"}, app.HashTypes, "same hash types in the same slots as the original")
	require.Equal(t, []string{"x86_64", "arm64"}, app.Architecture)
	require.Equal(t, []string{"SHA-256"}, rep.Bundles[0].HashTypes)

	// Our verifier recomputes every page, slot, seal and nested cdhash.
	v, err := Verify(t.Context(), out, VerifyOptions{Roots: fx.pki.roots()})
	require.NoError(t, err)
	require.Len(t, v.Bundles, 4)
	for _, b := range v.Bundles {
		require.Equal(t, fx.new.chain[0].Subject.CommonName, b.Signer)
		require.Equal(t, "TEAM123456", b.TeamID)
	}
	require.Equal(t, []string{"Payload/Demo.app/Frameworks/libswiftFoo.dylib"}, v.Bundles[3].Libraries)
	// The source IPA (stale CodeResources) does not verify: the check can fail.
	_, err = Verify(t.Context(), fx.in, VerifyOptions{})
	require.ErrorIs(t, err, ErrVerify)

	files := readZip(t, out)
	src := readZip(t, fx.in)
	// Versions: app and extension bumped, each keeping its plist format;
	// the framework keeps its own.
	m, format := plistOf(t, zipRead(t, files["Payload/Demo.app/Info.plist"]))
	require.Equal(t, plist.BinaryFormat, format)
	require.Equal(t, "2.16.1", m["CFBundleShortVersionString"])
	require.Equal(t, "217", m["CFBundleVersion"])
	require.Equal(t, "iphoneos26.0", m["DTSDKName"])
	m, format = plistOf(t, zipRead(t, files["Payload/Demo.app/PlugIns/Share.appex/Info.plist"]))
	require.Equal(t, plist.XMLFormat, format)
	require.Equal(t, "2.16.1", m["CFBundleShortVersionString"])
	require.Equal(t, "217", m["CFBundleVersion"])
	m, format = plistOf(t, zipRead(t, files["Payload/Demo.app/AppClips/Clip.app/Info.plist"]))
	require.Equal(t, plist.BinaryFormat, format)
	require.Equal(t, "2.16.1", m["CFBundleShortVersionString"])
	require.Equal(t, "217", m["CFBundleVersion"])
	require.Equal(t, zipRead(t, src["Payload/Demo.app/Frameworks/Kit.framework/Info.plist"]), zipRead(t, files["Payload/Demo.app/Frameworks/Kit.framework/Info.plist"]))
	// Profiles replaced; modes and symlinks kept; SwiftSupport untouched.
	require.Equal(t, fx.profiles["com.example.demo"], zipRead(t, files["Payload/Demo.app/embedded.mobileprovision"]))
	require.Equal(t, fs.FileMode(0o755), files["Payload/Demo.app/Demo"].Mode().Perm())
	link := files["Payload/Demo.app/AssetsLink"]
	require.NotZero(t, link.Mode()&fs.ModeSymlink)
	require.Equal(t, "Assets.car", string(zipRead(t, link)))
	require.Equal(t, zipRead(t, src["SwiftSupport/iphoneos/libswiftFoo.dylib"]), zipRead(t, files["SwiftSupport/iphoneos/libswiftFoo.dylib"]))
	require.Len(t, files, len(src)+3, "the extension, App Clip and framework gain CodeResources")
	require.True(t, files["Payload/Demo.app/"].Mode().IsDir())

	// CodeResources seals resources by hash, nested code by cdhash, and
	// symlinks by target.
	cr, err := ParseCodeResources(zipRead(t, files["Payload/Demo.app/_CodeSignature/CodeResources"]))
	require.NoError(t, err)
	require.Equal(t, "file", cr["Assets.car"])
	require.Equal(t, "file", cr["embedded.mobileprovision"])
	require.Equal(t, "symlink", cr["AssetsLink"])
	require.Equal(t, "nested", cr["PlugIns/Share.appex"])
	require.Equal(t, "nested", cr["Frameworks/Kit.framework"])
	require.Equal(t, "nested", cr["AppClips/Clip.app"])
	require.Equal(t, "nested", cr["Frameworks/libswiftFoo.dylib"])
	require.NotContains(t, cr, "Info.plist")
	require.NotContains(t, cr, "Demo")
	require.NotContains(t, cr, "PlugIns/Share.appex/Share")

	// Entitlements are the original's, bound by slots 5 and 7.
	exe := zipRead(t, files["Payload/Demo.app/Demo"])
	mf, err := macho.Parse(bytes.NewReader(exe), int64(len(exe)), macho.Limits{})
	require.NoError(t, err)
	ents, err := parseEntitlements(mf.Slices[1].Signature.Entitlements())
	require.NoError(t, err)
	require.Equal(t, "TEAM123456.com.example.demo", ents["application-identifier"])
	appDER, err := EncodeEntitlementsDER(ents)
	require.NoError(t, err)
	require.Equal(t, appDER, mf.Slices[1].Signature.EntitlementsDER(), "the app's DER entitlements are kept")
	// The extension had XML only; Resign derived the DER form (slot 7).
	share := zipRead(t, files["Payload/Demo.app/PlugIns/Share.appex/Share"])
	ss, err := macho.ParseSlice(share, macho.Limits{})
	require.NoError(t, err)
	require.NotNil(t, ss.Signature.EntitlementsDER())
	require.Len(t, ss.Signature.CodeDirectories[0].Special, macho.SlotEntitlementsDER)

	// Oracle: openssl accepts every CMS we wrote, over its CodeDirectory,
	// chained to the test CA.
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	caPath := filepath.Join(fx.dir, "ca.pem")
	require.NoError(t, os.WriteFile(caPath, fx.pki.caPEM, 0o600))
	n := 0
	for name, f := range files {
		if !strings.HasPrefix(name, "Payload/") || f.Mode().Perm()&0o100 == 0 || !f.Mode().IsRegular() {
			continue
		}
		b := zipRead(t, f)
		mf, err := macho.Parse(bytes.NewReader(b), int64(len(b)), macho.Limits{})
		require.NoError(t, err, name)
		for _, s := range mf.Slices {
			cdPath, sigPath := filepath.Join(fx.dir, "cd.bin"), filepath.Join(fx.dir, "sig.der")
			require.NoError(t, os.WriteFile(cdPath, s.Signature.CodeDirectories[0].Raw, 0o600))
			require.NoError(t, os.WriteFile(sigPath, s.Signature.CMS(), 0o600))
			outb, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", sigPath, "-content", cdPath, "-CAfile", caPath, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
			require.NoError(t, err, "%s %s: %s", name, s.Arch(), outb)
			n++
		}
	}
	require.Equal(t, 6, n, "app (2 slices), extension, App Clip, framework, dylib")

	// Inspect reads it all back.
	insp, err := Inspect(t.Context(), out, InspectOptions{})
	require.NoError(t, err)
	require.Nil(t, hasErrors(insp.Findings), "%+v", insp.Findings)
	require.Equal(t, "com.example.demo", insp.Bundles[0].BundleID)
	require.Equal(t, "Demo App Store 2026", insp.Bundles[0].Profile.Name)
	require.Equal(t, fx.new.chain[0].Subject.CommonName, insp.Bundles[0].Signing.CommonName)
	require.Equal(t, "TEAM123456", insp.Bundles[0].Signing.TeamID)
	require.Equal(t, "iphoneos26.0", insp.Bundles[0].DTSDKName)
	require.Equal(t, "2600", insp.Bundles[0].DTXcode)
}

func TestResignKeepsEmbeddedProfiles(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, fixtureOpts{})
	opts := fx.opts(t)
	// The embedded profiles list the old certificate only: signing with
	// the new one and no replacement profiles is refused.
	opts.Profiles = nil
	out := filepath.Join(fx.dir, "out.ipa")
	_, err := Resign(t.Context(), fx.in, out, opts)
	require.ErrorIs(t, err, ErrProfile)
	require.ErrorContains(t, err, "does not list certificate")
	// With the old identity the embedded profiles fit.
	key, err := signingkey.New(fx.old.key, fx.old.chain)
	require.NoError(t, err)
	opts.Identity = key
	_, err = Resign(t.Context(), fx.in, out, opts)
	require.NoError(t, err)
	_, err = Verify(t.Context(), out, VerifyOptions{Roots: fx.pki.roots()})
	require.NoError(t, err)
}

func TestResignErrors(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, fixtureOpts{})
	other := fx.pki.issue(t, "OTHERTEAM1", false, time.Now().Add(24*time.Hour))
	for _, tc := range []struct {
		name string
		in   func(t *testing.T) string
		edit func(t *testing.T, o *ResignOptions)
		is   error
		msg  string
	}{
		{name: "BadVersion", edit: func(t *testing.T, o *ResignOptions) { o.Version = "2.16.x" }, is: ErrVersion, msg: "non-numeric"},
		{name: "BuildTooLarge", edit: func(t *testing.T, o *ResignOptions) { o.Build = "4294967296" }, is: ErrVersion, msg: "below 2^32"},
		{name: "ExpiredProfile", edit: func(t *testing.T, o *ResignOptions) {
			o.Profiles = clone(o.Profiles)
			o.Profiles["com.example.demo"] = fx.pki.makeProfile(t, profileSpec{name: "Old", team: "TEAM123456", appID: "TEAM123456.com.example.demo", expires: time.Now().Add(-time.Hour), certs: fx.new.chain[:1]})
		}, is: ErrProfile, msg: `provisioning profile "Old" expired`},
		{name: "WrongBundleID", edit: func(t *testing.T, o *ResignOptions) {
			o.Profiles = clone(o.Profiles)
			o.Profiles["com.example.demo"] = fx.pki.makeProfile(t, profileSpec{name: "Other", team: "TEAM123456", appID: "TEAM123456.com.example.other", expires: time.Now().Add(time.Hour * 48), certs: fx.new.chain[:1]})
		}, is: ErrProfile, msg: "not \"com.example.demo\""},
		{name: "IdentityNotInProfile", edit: func(t *testing.T, o *ResignOptions) {
			k, err := signingkey.New(other.key, other.chain)
			require.NoError(t, err)
			o.Identity = k
		}, is: ErrProfile, msg: "team"},
		{name: "MissingProfile", in: func(t *testing.T) string {
			var es []zipEntry
			for _, e := range fx.entries {
				if !strings.HasSuffix(e.name, "Share.appex/embedded.mobileprovision") {
					es = append(es, e)
				}
			}
			p := filepath.Join(t.TempDir(), "noprofile.ipa")
			writeZip(t, p, es)
			return p
		}, edit: func(t *testing.T, o *ResignOptions) {
			o.Profiles = clone(o.Profiles)
			delete(o.Profiles, "com.example.demo.share")
		}, is: ErrProfile, msg: "--profile com.example.demo.share=FILE"},
		{name: "UnknownProfileBundle", edit: func(t *testing.T, o *ResignOptions) {
			o.Profiles = clone(o.Profiles)
			o.Profiles["com.example.typo"] = o.Profiles["com.example.demo"]
		}, is: ErrProfile, msg: `"com.example.typo", which is not an app or extension`},
		{name: "MissingEntitlement", in: func(t *testing.T) string {
			f := newFixture(t, fixtureOpts{appEntsExt: map[string]any{"aps-environment": "production"}})
			return f.in
		}, edit: func(t *testing.T, o *ResignOptions) {}, is: ErrEntitlement, msg: `"aps-environment"`},
		{name: "Encrypted", in: func(t *testing.T) string { return newFixture(t, fixtureOpts{encrypted: true}).in }, is: ErrEncrypted, msg: "use the exported archive"},
		{name: "NotAZip", in: func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "x.ipa")
			require.NoError(t, os.WriteFile(p, []byte("not a zip"), 0o600))
			return p
		}, is: ErrFormat, msg: "zip"},
		{name: "CorruptSignature", in: func(t *testing.T) string {
			var es []zipEntry
			for _, e := range fx.entries {
				if strings.HasSuffix(e.name, "Share.appex/Share") {
					b := bytes.Clone(e.data)
					s, err := macho.ParseSlice(b, macho.Limits{})
					require.NoError(t, err)
					b[s.SigOffset+8] = 0xff // blob count
					e.data = b
				}
				es = append(es, e)
			}
			p := filepath.Join(t.TempDir(), "corrupt.ipa")
			writeZip(t, p, es)
			return p
		}, is: macho.ErrFormat, msg: "blob count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := fx.in
			if tc.in != nil {
				in = tc.in(t)
			}
			opts := fx.opts(t)
			if tc.edit != nil {
				tc.edit(t, &opts)
			}
			outDir := t.TempDir()
			_, err := Resign(t.Context(), in, filepath.Join(outDir, "out.ipa"), opts)
			require.ErrorIs(t, err, tc.is)
			require.ErrorContains(t, err, tc.msg)
			left, err := os.ReadDir(outDir)
			require.NoError(t, err)
			require.Empty(t, left, "no partial output")
		})
	}
}

func clone(m map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	id := p.issue(t, "TEAM123456", true, time.Now().Add(time.Hour))
	_, err := LoadIdentity(id.p12(t, "right"), "wrong")
	require.ErrorIs(t, err, signingkey.ErrWrongPassword)
}

func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, fixtureOpts{})
	out := filepath.Join(fx.dir, "out.ipa")
	_, err := Resign(t.Context(), fx.in, out, fx.opts(t))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		edit func(name string, b []byte) ([]byte, bool)
		msg  string
	}{
		{"Resource", func(n string, b []byte) ([]byte, bool) { return []byte("changed"), strings.HasSuffix(n, "Assets.car") }, "Assets.car does not match"},
		{"NestedInfoPlist", func(n string, b []byte) ([]byte, bool) {
			return append(bytes.Clone(b), ' '), strings.HasSuffix(n, "Share.appex/Info.plist")
		}, "special slot 1"},
		{"NestedExecutable", func(n string, b []byte) ([]byte, bool) {
			if !strings.HasSuffix(n, "Share.appex/Share") {
				return nil, false
			}
			c := bytes.Clone(b)
			c[0x3000] ^= 1
			return c, true
		}, "page 3"},
		{"ExtraFile", func(n string, b []byte) ([]byte, bool) { return b, false }, "extra.txt is not sealed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var es []zipEntry
			for name, f := range readZip(t, out) {
				b := zipRead(t, f)
				if nb, ok := tc.edit(name, b); ok {
					b = nb
				}
				es = append(es, zipEntry{name: name, data: b, mode: f.Mode()})
			}
			if tc.name == "ExtraFile" {
				es = append(es, zipEntry{name: "Payload/Demo.app/extra.txt", data: []byte("x")})
			}
			p := filepath.Join(t.TempDir(), "t.ipa")
			writeZip(t, p, es)
			_, err := Verify(t.Context(), p, VerifyOptions{})
			require.ErrorIs(t, err, ErrVerify)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestSignerCommand(t *testing.T) {
	t.Parallel()
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	fx := newFixture(t, fixtureOpts{})
	for _, ec := range []bool{false, true} {
		name := map[bool]string{false: "RSA", true: "ECDSA"}[ec]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := fx.new
			profiles := fx.profiles
			if ec {
				id = fx.pki.issue(t, "TEAM123456", true, time.Now().Add(48*time.Hour))
				profiles = map[string][]byte{}
				for _, bid := range []string{"com.example.demo", "com.example.demo.share", "com.example.demo.Clip"} {
					profiles[bid] = fx.pki.makeProfile(t, profileSpec{name: bid, team: "TEAM123456", appID: "TEAM123456." + bid, expires: time.Now().Add(48 * time.Hour), certs: id.chain[:1]})
				}
			}
			dir := t.TempDir()
			keyPath := filepath.Join(dir, "key with space.pem")
			der, err := x509MarshalPKCS8(id)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(keyPath, der, 0o600))
			// A script records the algorithm Ripcord asked for.
			algLog := filepath.Join(dir, "alg")
			script := filepath.Join(dir, "sign.sh")
			require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nprintf %s \"$RIPCORD_SIGN_ALG\" >> \"$2\"\nexec \""+openssl+"\" dgst -sha256 -sign \"$1\"\n"), 0o755))
			out := filepath.Join(dir, "out.ipa")
			_, err = Resign(t.Context(), fx.in, out, ResignOptions{
				Version: "2.16.1", Build: "217", Profiles: profiles,
				SignerCommand: script + ` "` + keyPath + `" ` + strings.ReplaceAll(algLog, " ", `\ `),
				SignerChain:   id.chain,
			})
			require.NoError(t, err)
			_, err = Verify(t.Context(), out, VerifyOptions{Roots: fx.pki.roots()})
			require.NoError(t, err)
			alg, err := os.ReadFile(algLog)
			require.NoError(t, err)
			want := map[bool]string{false: macho.AlgRSAPKCS1SHA256, true: macho.AlgECDSAP256SHA256}[ec]
			require.Equal(t, strings.Repeat(want, 6), string(alg), "one run per signature")
		})
	}
	t.Run("Failing", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "out.ipa")
		_, err := Resign(t.Context(), fx.in, out, ResignOptions{Version: "2.16.1", Build: "217", Profiles: fx.profiles, SignerCommand: "sh -c 'echo no key >&2; exit 3'", SignerChain: fx.new.chain})
		require.ErrorContains(t, err, "no key")
		require.NoFileExists(t, out)
	})
	t.Run("WrongKey", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		keyPath := filepath.Join(dir, "k.pem")
		der, err := x509MarshalPKCS8(fx.old)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(keyPath, der, 0o600))
		_, err = Resign(t.Context(), fx.in, filepath.Join(dir, "out.ipa"), ResignOptions{Version: "2.16.1", Build: "217", Profiles: fx.profiles, SignerCommand: openssl + " dgst -sha256 -sign " + keyPath, SignerChain: fx.new.chain})
		require.ErrorContains(t, err, "does not verify with certificate")
	})
}

func TestSplitCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"openssl dgst -sha256 -sign key.pem", []string{"openssl", "dgst", "-sha256", "-sign", "key.pem"}, false},
		{`a 'b c' "d \"e\"" f\ g`, []string{"a", "b c", `d "e"`, "f g"}, false},
		{`x ''`, []string{"x", ""}, false},
		{`kms-sign --key="projects/p/keys/k" $HOME`, []string{"kms-sign", "--key=projects/p/keys/k", "$HOME"}, false},
		{`a 'b`, nil, true},
		{`a "b`, nil, true},
		{`a \`, nil, true},
	} {
		got, err := SplitCommand(tc.in)
		if tc.err {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestInspectFindings(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, fixtureOpts{sdk: "iphoneos18.2"})
	insp, err := Inspect(t.Context(), fx.in, InspectOptions{})
	require.NoError(t, err)
	codes := map[string]bool{}
	for _, f := range insp.Findings {
		codes[f.Code] = true
	}
	require.True(t, codes["sdk-too-old"], "%+v", insp.Findings)
	require.False(t, codes["xcode-too-old"])
	require.Len(t, insp.Bundles, 4)
	require.Equal(t, []string{"SHA-1", "SHA-256"}, insp.Bundles[0].Slices[0].HashTypes)
	// A configurable minimum: with iOS 18 allowed there is no finding.
	insp, err = Inspect(t.Context(), fx.in, InspectOptions{Compliance: Compliance{MinSDK: "18.0"}})
	require.NoError(t, err)
	for _, f := range insp.Findings {
		require.NotEqual(t, "sdk-too-old", f.Code)
	}
	// Expiry is reported ahead of time.
	insp, err = Inspect(t.Context(), fx.in, InspectOptions{Now: func() time.Time { return time.Now().Add(290 * 24 * time.Hour) }})
	require.NoError(t, err)
	found := false
	for _, f := range insp.Findings {
		found = found || f.Code == "profile-expiring"
	}
	require.True(t, found, "%+v", insp.Findings)
}

func TestInspectEncrypted(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, fixtureOpts{encrypted: true})
	insp, err := Inspect(t.Context(), fx.in, InspectOptions{})
	require.NoError(t, err)
	require.Equal(t, "encrypted", insp.Findings[0].Code)
	require.True(t, insp.Bundles[0].Slices[0].Encrypted)
	_, err = Verify(t.Context(), fx.in, VerifyOptions{})
	require.ErrorIs(t, err, ErrEncrypted)
	b, err := json.Marshal(insp)
	require.NoError(t, err)
	require.Contains(t, string(b), `"bundle_id":"com.example.demo"`)
}

func TestSetVersionsKeepsFormat(t *testing.T) {
	t.Parallel()
	for _, format := range []int{plist.BinaryFormat, plist.XMLFormat} {
		in, err := plist.Marshal(map[string]any{"CFBundleShortVersionString": "1.0.0", "CFBundleVersion": "1", "UIRequiredDeviceCapabilities": []any{"arm64"}, "Flag": true, "Count": uint64(3)}, format)
		require.NoError(t, err)
		out, err := SetVersions(in, "1.0.1", "2.0.5")
		require.NoError(t, err)
		m, got := plistOf(t, out)
		require.Equal(t, format, got)
		require.Equal(t, "1.0.1", m["CFBundleShortVersionString"])
		require.Equal(t, "2.0.5", m["CFBundleVersion"])
		require.Equal(t, true, m["Flag"])
		require.Equal(t, []any{"arm64"}, m["UIRequiredDeviceCapabilities"])
	}
	_, err := SetVersions([]byte("<plist><array/></plist>"), "1", "1")
	require.Error(t, err)
}

func TestEncodeEntitlementsDER(t *testing.T) {
	t.Parallel()
	der, err := EncodeEntitlementsDER(map[string]any{
		"b-key": []any{"x", "y"}, "a-key": true, "c": uint64(300), "d": map[string]any{"z": "s", "e": false},
	})
	require.NoError(t, err)
	// [APPLICATION 16] { INTEGER 1, [CONTEXT 16] { SEQUENCE{ "a-key", TRUE }, ... } }, keys sorted.
	want := []byte{0x70, 0x42, 0x02, 0x01, 0x01, 0xb0, 0x3d,
		0x30, 0x0a, 0x0c, 0x05, 'a', '-', 'k', 'e', 'y', 0x01, 0x01, 0xff,
		0x30, 0x0f, 0x0c, 0x05, 'b', '-', 'k', 'e', 'y', 0x30, 0x06, 0x0c, 0x01, 'x', 0x0c, 0x01, 'y',
		0x30, 0x07, 0x0c, 0x01, 'c', 0x02, 0x02, 0x01, 0x2c,
		0x30, 0x15, 0x0c, 0x01, 'd', 0xb0, 0x10,
		0x30, 0x06, 0x0c, 0x01, 'e', 0x01, 0x01, 0x00,
		0x30, 0x06, 0x0c, 0x01, 'z', 0x0c, 0x01, 's'}
	require.Equal(t, want, der)
	// Oracle: openssl parses it as well-formed DER.
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	p := filepath.Join(t.TempDir(), "ents.der")
	require.NoError(t, os.WriteFile(p, der, 0o600))
	out, err := exec.Command(openssl, "asn1parse", "-inform", "DER", "-in", p).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "UTF8STRING        :b-key")
	_, err = EncodeEntitlementsDER(map[string]any{"when": time.Now()})
	require.ErrorContains(t, err, "no DER form")
}

func TestCheckEntitlements(t *testing.T) {
	t.Parallel()
	granted := map[string]any{"application-identifier": "T.*", "keychain-access-groups": []any{"T.*"}, "get-task-allow": false, "aps-environment": "production"}
	require.NoError(t, CheckEntitlements(map[string]any{"application-identifier": "T.com.x", "keychain-access-groups": []any{"T.com.x", "T.shared"}, "get-task-allow": false}, granted))
	err := CheckEntitlements(map[string]any{"get-task-allow": true}, granted)
	require.ErrorIs(t, err, ErrEntitlement)
	require.ErrorContains(t, err, "get-task-allow")
	err = CheckEntitlements(map[string]any{"com.apple.developer.icloud-services": []any{"CloudKit"}}, granted)
	require.ErrorContains(t, err, `"com.apple.developer.icloud-services"`)
	require.ErrorContains(t, CheckEntitlements(map[string]any{"aps-environment": "development"}, granted), "aps-environment")
}

func TestArchiveRejectsUnsafeNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"../evil", "/abs", `Payload\x.app`, "a//b"} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		_, err := zw.Create(name)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		_, err = newArchive(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{}.withDefaults())
		require.ErrorIs(t, err, ErrFormat, name)
	}
	// Declared sizes past the limit are refused before inflating.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("big")
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 1<<20))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	_, err = newArchive(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{MaxTotal: 1 << 10}.withDefaults())
	require.True(t, errors.Is(err, ErrFormat))
}
