package ipa_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"howett.net/plist"

	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/ipa/ipatest"
	"github.com/ripcordhq/ripcord/internal/macho"
	"github.com/ripcordhq/ripcord/internal/signingkey"
	"github.com/ripcordhq/ripcord/internal/testenv"
)

func resignOpts(tb testing.TB, fx *ipatest.Fixture) ipa.ResignOptions {
	tb.Helper()
	key, err := ipa.LoadIdentity(fx.New.P12(tb, "s3cret"), "s3cret")
	require.NoError(tb, err)
	return ipa.ResignOptions{Version: "2.16.1", Build: "217", Identity: key, Profiles: fx.Profiles}
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
	fx := newFixture(t, ipatest.Options{})
	out := filepath.Join(fx.Dir, "out.ipa")
	rep, err := ipa.Resign(t.Context(), fx.Path, out, resignOpts(t, fx))
	require.NoError(t, err)
	require.Nil(t, ipa.HasErrors(rep.Findings), "%+v", rep.Findings)

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
	v, err := ipa.Verify(t.Context(), out, ipa.VerifyOptions{Roots: fx.PKI.Roots()})
	require.NoError(t, err)
	require.Len(t, v.Bundles, 4)
	for _, b := range v.Bundles {
		require.Equal(t, fx.New.Chain[0].Subject.CommonName, b.Signer)
		require.Equal(t, "TEAM123456", b.TeamID)
	}
	require.Equal(t, []string{"Payload/Demo.app/Frameworks/libswiftFoo.dylib"}, v.Bundles[3].Libraries)
	// The source IPA (stale CodeResources) does not verify: the check can fail.
	_, err = ipa.Verify(t.Context(), fx.Path, ipa.VerifyOptions{})
	require.ErrorIs(t, err, ipa.ErrVerify)

	files := ipatest.ReadZip(t, out)
	src := ipatest.ReadZip(t, fx.Path)
	// Versions: app and extension bumped, each keeping its plist format;
	// the framework keeps its own.
	m, format := plistOf(t, ipatest.ReadEntry(t, files["Payload/Demo.app/Info.plist"]))
	require.Equal(t, plist.BinaryFormat, format)
	require.Equal(t, "2.16.1", m["CFBundleShortVersionString"])
	require.Equal(t, "217", m["CFBundleVersion"])
	require.Equal(t, "iphoneos26.0", m["DTSDKName"])
	m, format = plistOf(t, ipatest.ReadEntry(t, files["Payload/Demo.app/PlugIns/Share.appex/Info.plist"]))
	require.Equal(t, plist.XMLFormat, format)
	require.Equal(t, "2.16.1", m["CFBundleShortVersionString"])
	require.Equal(t, "217", m["CFBundleVersion"])
	m, format = plistOf(t, ipatest.ReadEntry(t, files["Payload/Demo.app/AppClips/Clip.app/Info.plist"]))
	require.Equal(t, plist.BinaryFormat, format)
	require.Equal(t, "2.16.1", m["CFBundleShortVersionString"])
	require.Equal(t, "217", m["CFBundleVersion"])
	require.Equal(t, ipatest.ReadEntry(t, src["Payload/Demo.app/Frameworks/Kit.framework/Info.plist"]), ipatest.ReadEntry(t, files["Payload/Demo.app/Frameworks/Kit.framework/Info.plist"]))
	// Profiles replaced; modes and symlinks kept; SwiftSupport untouched.
	require.Equal(t, fx.Profiles["com.example.demo"], ipatest.ReadEntry(t, files["Payload/Demo.app/embedded.mobileprovision"]))
	require.Equal(t, fs.FileMode(0o755), files["Payload/Demo.app/Demo"].Mode().Perm())
	link := files["Payload/Demo.app/AssetsLink"]
	require.NotZero(t, link.Mode()&fs.ModeSymlink)
	require.Equal(t, "Assets.car", string(ipatest.ReadEntry(t, link)))
	require.Equal(t, ipatest.ReadEntry(t, src["SwiftSupport/iphoneos/libswiftFoo.dylib"]), ipatest.ReadEntry(t, files["SwiftSupport/iphoneos/libswiftFoo.dylib"]))
	require.Len(t, files, len(src)+3, "the extension, App Clip and framework gain CodeResources")
	require.True(t, files["Payload/Demo.app/"].Mode().IsDir())

	// CodeResources seals resources by hash, nested code by cdhash, and
	// symlinks by target.
	cr, err := ipa.ParseCodeResources(ipatest.ReadEntry(t, files["Payload/Demo.app/_CodeSignature/CodeResources"]))
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
	exe := ipatest.ReadEntry(t, files["Payload/Demo.app/Demo"])
	mf, err := macho.Parse(bytes.NewReader(exe), int64(len(exe)), macho.Limits{})
	require.NoError(t, err)
	ents, err := ipa.ParseEntitlements(mf.Slices[1].Signature.Entitlements())
	require.NoError(t, err)
	require.Equal(t, "TEAM123456.com.example.demo", ents["application-identifier"])
	appDER, err := ipa.EncodeEntitlementsDER(ents)
	require.NoError(t, err)
	require.Equal(t, appDER, mf.Slices[1].Signature.EntitlementsDER(), "the app's DER entitlements are kept")
	// The extension had XML only; Resign derived the DER form (slot 7).
	share := ipatest.ReadEntry(t, files["Payload/Demo.app/PlugIns/Share.appex/Share"])
	ss, err := macho.ParseSlice(share, macho.Limits{})
	require.NoError(t, err)
	require.NotNil(t, ss.Signature.EntitlementsDER())
	require.Len(t, ss.Signature.CodeDirectories[0].Special, macho.SlotEntitlementsDER)

	// Oracle: openssl accepts every CMS we wrote, over its CodeDirectory,
	// chained to the test CA.
	openssl := ipatest.NeedTool(t, "openssl")
	caPath := filepath.Join(fx.Dir, "ca.pem")
	require.NoError(t, os.WriteFile(caPath, fx.PKI.CAPEM, 0o600))
	n, err := ipatest.VerifyCMS(openssl, out, caPath, t.TempDir())
	require.NoError(t, err)
	require.Equal(t, 6, n, "app (2 slices), extension, App Clip, framework, dylib")

	// Inspect reads it all back.
	insp, err := ipa.Inspect(t.Context(), out, ipa.InspectOptions{})
	require.NoError(t, err)
	require.Nil(t, ipa.HasErrors(insp.Findings), "%+v", insp.Findings)
	require.Equal(t, "com.example.demo", insp.Bundles[0].BundleID)
	require.Equal(t, "Demo App Store 2026", insp.Bundles[0].Profile.Name)
	require.Equal(t, fx.New.Chain[0].Subject.CommonName, insp.Bundles[0].Signing.CommonName)
	require.Equal(t, "TEAM123456", insp.Bundles[0].Signing.TeamID)
	require.Equal(t, "iphoneos26.0", insp.Bundles[0].DTSDKName)
	require.Equal(t, "2600", insp.Bundles[0].DTXcode)
}

func TestResignKeepsEmbeddedProfiles(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, ipatest.Options{})
	opts := resignOpts(t, fx)
	// The embedded profiles list the old certificate only: signing with
	// the new one and no replacement profiles is refused.
	opts.Profiles = nil
	out := filepath.Join(fx.Dir, "out.ipa")
	_, err := ipa.Resign(t.Context(), fx.Path, out, opts)
	require.ErrorIs(t, err, ipa.ErrProfile)
	require.ErrorContains(t, err, "does not list certificate")
	// With the old identity the embedded profiles fit.
	key, err := signingkey.New(fx.Old.Key, fx.Old.Chain)
	require.NoError(t, err)
	opts.Identity = key
	_, err = ipa.Resign(t.Context(), fx.Path, out, opts)
	require.NoError(t, err)
	_, err = ipa.Verify(t.Context(), out, ipa.VerifyOptions{Roots: fx.PKI.Roots()})
	require.NoError(t, err)
}

func TestResignErrors(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, ipatest.Options{})
	other := fx.PKI.Issue(t, "OTHERTEAM1", false, time.Now().Add(24*time.Hour))
	for _, tc := range []struct {
		name string
		in   func(t *testing.T) string
		edit func(t *testing.T, o *ipa.ResignOptions)
		is   error
		msg  string
	}{
		{name: "BadVersion", edit: func(t *testing.T, o *ipa.ResignOptions) { o.Version = "2.16.x" }, is: ipa.ErrVersion, msg: "non-numeric"},
		{name: "BuildTooLarge", edit: func(t *testing.T, o *ipa.ResignOptions) { o.Build = "4294967296" }, is: ipa.ErrVersion, msg: "below 2^32"},
		{name: "ExpiredProfile", edit: func(t *testing.T, o *ipa.ResignOptions) {
			o.Profiles = clone(o.Profiles)
			o.Profiles["com.example.demo"] = fx.PKI.Profile(t, ipatest.ProfileSpec{Name: "Old", Team: "TEAM123456", AppID: "TEAM123456.com.example.demo", Expires: time.Now().Add(-time.Hour), Certs: fx.New.Chain[:1]})
		}, is: ipa.ErrProfile, msg: `provisioning profile "Old" expired`},
		{name: "WrongBundleID", edit: func(t *testing.T, o *ipa.ResignOptions) {
			o.Profiles = clone(o.Profiles)
			o.Profiles["com.example.demo"] = fx.PKI.Profile(t, ipatest.ProfileSpec{Name: "Other", Team: "TEAM123456", AppID: "TEAM123456.com.example.other", Expires: time.Now().Add(time.Hour * 48), Certs: fx.New.Chain[:1]})
		}, is: ipa.ErrProfile, msg: "not \"com.example.demo\""},
		{name: "IdentityNotInProfile", edit: func(t *testing.T, o *ipa.ResignOptions) {
			k, err := signingkey.New(other.Key, other.Chain)
			require.NoError(t, err)
			o.Identity = k
		}, is: ipa.ErrProfile, msg: "team"},
		{name: "MissingProfile", in: func(t *testing.T) string {
			var es []ipatest.Entry
			for _, e := range fx.Entries {
				if !strings.HasSuffix(e.Name, "Share.appex/embedded.mobileprovision") {
					es = append(es, e)
				}
			}
			p := filepath.Join(t.TempDir(), "noprofile.ipa")
			ipatest.Zip(t, p, es)
			return p
		}, edit: func(t *testing.T, o *ipa.ResignOptions) {
			o.Profiles = clone(o.Profiles)
			delete(o.Profiles, "com.example.demo.share")
		}, is: ipa.ErrProfile, msg: "--profile com.example.demo.share=FILE"},
		{name: "UnknownProfileBundle", edit: func(t *testing.T, o *ipa.ResignOptions) {
			o.Profiles = clone(o.Profiles)
			o.Profiles["com.example.typo"] = o.Profiles["com.example.demo"]
		}, is: ipa.ErrProfile, msg: `"com.example.typo", which is not an app or extension`},
		{name: "MissingEntitlement", in: func(t *testing.T) string {
			f := newFixture(t, ipatest.Options{AppEntitlements: map[string]any{"aps-environment": "production"}})
			return f.Path
		}, edit: func(t *testing.T, o *ipa.ResignOptions) {}, is: ipa.ErrEntitlement, msg: `"aps-environment"`},
		{name: "Encrypted", in: func(t *testing.T) string { return newFixture(t, ipatest.Options{Encrypted: true}).Path }, is: ipa.ErrEncrypted, msg: "use the exported archive"},
		{name: "NotAZip", in: func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "x.ipa")
			require.NoError(t, os.WriteFile(p, []byte("not a zip"), 0o600))
			return p
		}, is: ipa.ErrFormat, msg: "zip"},
		{name: "CorruptSignature", in: func(t *testing.T) string {
			var es []ipatest.Entry
			for _, e := range fx.Entries {
				if strings.HasSuffix(e.Name, "Share.appex/Share") {
					b := bytes.Clone(e.Data)
					s, err := macho.ParseSlice(b, macho.Limits{})
					require.NoError(t, err)
					b[s.SigOffset+8] = 0xff // blob count
					e.Data = b
				}
				es = append(es, e)
			}
			p := filepath.Join(t.TempDir(), "corrupt.ipa")
			ipatest.Zip(t, p, es)
			return p
		}, is: macho.ErrFormat, msg: "blob count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := fx.Path
			if tc.in != nil {
				in = tc.in(t)
			}
			opts := resignOpts(t, fx)
			if tc.edit != nil {
				tc.edit(t, &opts)
			}
			outDir := t.TempDir()
			_, err := ipa.Resign(t.Context(), in, filepath.Join(outDir, "out.ipa"), opts)
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
	p := ipatest.NewPKI(t)
	id := p.Issue(t, "TEAM123456", true, time.Now().Add(time.Hour))
	_, err := ipa.LoadIdentity(id.P12(t, "right"), "wrong")
	require.ErrorIs(t, err, signingkey.ErrWrongPassword)
}

func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, ipatest.Options{})
	out := filepath.Join(fx.Dir, "out.ipa")
	_, err := ipa.Resign(t.Context(), fx.Path, out, resignOpts(t, fx))
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
			var es []ipatest.Entry
			for name, f := range ipatest.ReadZip(t, out) {
				b := ipatest.ReadEntry(t, f)
				if nb, ok := tc.edit(name, b); ok {
					b = nb
				}
				es = append(es, ipatest.Entry{Name: name, Data: b, Mode: f.Mode()})
			}
			if tc.name == "ExtraFile" {
				es = append(es, ipatest.Entry{Name: "Payload/Demo.app/extra.txt", Data: []byte("x")})
			}
			p := filepath.Join(t.TempDir(), "t.ipa")
			ipatest.Zip(t, p, es)
			_, err := ipa.Verify(t.Context(), p, ipa.VerifyOptions{})
			require.ErrorIs(t, err, ipa.ErrVerify)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestSignerCommand(t *testing.T) {
	t.Parallel()
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	fx := newFixture(t, ipatest.Options{})
	for _, ec := range []bool{false, true} {
		name := map[bool]string{false: "RSA", true: "ECDSA"}[ec]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := fx.New
			profiles := fx.Profiles
			if ec {
				id = fx.PKI.Issue(t, "TEAM123456", true, time.Now().Add(48*time.Hour))
				profiles = map[string][]byte{}
				for _, bid := range []string{"com.example.demo", "com.example.demo.share", "com.example.demo.Clip"} {
					profiles[bid] = fx.PKI.Profile(t, ipatest.ProfileSpec{Name: bid, Team: "TEAM123456", AppID: "TEAM123456." + bid, Expires: time.Now().Add(48 * time.Hour), Certs: id.Chain[:1]})
				}
			}
			dir := t.TempDir()
			keyPath := filepath.Join(dir, "key with space.pem")
			der, err := id.KeyPEM()
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(keyPath, der, 0o600))
			// A script records the algorithm Ripcord asked for.
			algLog := filepath.Join(dir, "alg")
			script := filepath.Join(dir, "sign.sh")
			require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nprintf %s \"$RIPCORD_SIGN_ALG\" >> \"$2\"\nexec \""+openssl+"\" dgst -sha256 -sign \"$1\"\n"), 0o755))
			out := filepath.Join(dir, "out.ipa")
			_, err = ipa.Resign(t.Context(), fx.Path, out, ipa.ResignOptions{
				Version: "2.16.1", Build: "217", Profiles: profiles,
				SignerCommand: script + ` "` + keyPath + `" ` + strings.ReplaceAll(algLog, " ", `\ `),
				SignerChain:   id.Chain,
			})
			require.NoError(t, err)
			_, err = ipa.Verify(t.Context(), out, ipa.VerifyOptions{Roots: fx.PKI.Roots()})
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
		_, err := ipa.Resign(t.Context(), fx.Path, out, ipa.ResignOptions{Version: "2.16.1", Build: "217", Profiles: fx.Profiles, SignerCommand: "sh -c 'echo no key >&2; exit 3'", SignerChain: fx.New.Chain})
		require.ErrorContains(t, err, "no key")
		require.NoFileExists(t, out)
	})
	t.Run("WrongKey", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		keyPath := filepath.Join(dir, "k.pem")
		der, err := fx.Old.KeyPEM()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(keyPath, der, 0o600))
		_, err = ipa.Resign(t.Context(), fx.Path, filepath.Join(dir, "out.ipa"), ipa.ResignOptions{Version: "2.16.1", Build: "217", Profiles: fx.Profiles, SignerCommand: openssl + " dgst -sha256 -sign " + keyPath, SignerChain: fx.New.Chain})
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
		got, err := ipa.SplitCommand(tc.in)
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
	fx := newFixture(t, ipatest.Options{SDK: "iphoneos18.2"})
	insp, err := ipa.Inspect(t.Context(), fx.Path, ipa.InspectOptions{})
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
	insp, err = ipa.Inspect(t.Context(), fx.Path, ipa.InspectOptions{Compliance: ipa.Compliance{MinSDK: "18.0"}})
	require.NoError(t, err)
	for _, f := range insp.Findings {
		require.NotEqual(t, "sdk-too-old", f.Code)
	}
	// Expiry is reported ahead of time.
	insp, err = ipa.Inspect(t.Context(), fx.Path, ipa.InspectOptions{Now: func() time.Time { return time.Now().Add(290 * 24 * time.Hour) }})
	require.NoError(t, err)
	found := false
	for _, f := range insp.Findings {
		found = found || f.Code == "profile-expiring"
	}
	require.True(t, found, "%+v", insp.Findings)
}

func TestInspectEncrypted(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, ipatest.Options{Encrypted: true})
	insp, err := ipa.Inspect(t.Context(), fx.Path, ipa.InspectOptions{})
	require.NoError(t, err)
	require.Equal(t, "encrypted", insp.Findings[0].Code)
	require.True(t, insp.Bundles[0].Slices[0].Encrypted)
	_, err = ipa.Verify(t.Context(), fx.Path, ipa.VerifyOptions{})
	require.ErrorIs(t, err, ipa.ErrEncrypted)
	b, err := json.Marshal(insp)
	require.NoError(t, err)
	require.Contains(t, string(b), `"bundle_id":"com.example.demo"`)
}

func TestSetVersionsKeepsFormat(t *testing.T) {
	t.Parallel()
	for _, format := range []int{plist.BinaryFormat, plist.XMLFormat} {
		in, err := plist.Marshal(map[string]any{"CFBundleShortVersionString": "1.0.0", "CFBundleVersion": "1", "UIRequiredDeviceCapabilities": []any{"arm64"}, "Flag": true, "Count": uint64(3)}, format)
		require.NoError(t, err)
		out, err := ipa.SetVersions(in, "1.0.1", "2.0.5")
		require.NoError(t, err)
		m, got := plistOf(t, out)
		require.Equal(t, format, got)
		require.Equal(t, "1.0.1", m["CFBundleShortVersionString"])
		require.Equal(t, "2.0.5", m["CFBundleVersion"])
		require.Equal(t, true, m["Flag"])
		require.Equal(t, []any{"arm64"}, m["UIRequiredDeviceCapabilities"])
	}
	_, err := ipa.SetVersions([]byte("<plist><array/></plist>"), "1", "1")
	require.Error(t, err)
}

func TestEncodeEntitlementsDER(t *testing.T) {
	t.Parallel()
	der, err := ipa.EncodeEntitlementsDER(map[string]any{
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
	_, err = ipa.EncodeEntitlementsDER(map[string]any{"when": time.Now()})
	require.ErrorContains(t, err, "no DER form")
}

func TestCheckEntitlements(t *testing.T) {
	t.Parallel()
	granted := map[string]any{"application-identifier": "T.*", "keychain-access-groups": []any{"T.*"}, "get-task-allow": false, "aps-environment": "production"}
	require.NoError(t, ipa.CheckEntitlements(map[string]any{"application-identifier": "T.com.x", "keychain-access-groups": []any{"T.com.x", "T.shared"}, "get-task-allow": false}, granted))
	err := ipa.CheckEntitlements(map[string]any{"get-task-allow": true}, granted)
	require.ErrorIs(t, err, ipa.ErrEntitlement)
	require.ErrorContains(t, err, "get-task-allow")
	err = ipa.CheckEntitlements(map[string]any{"com.apple.developer.icloud-services": []any{"CloudKit"}}, granted)
	require.ErrorContains(t, err, `"com.apple.developer.icloud-services"`)
	require.ErrorContains(t, ipa.CheckEntitlements(map[string]any{"aps-environment": "development"}, granted), "aps-environment")
}
