package cli

import (
	"archive/zip"
	"cmp"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/aab"
	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
	"github.com/ripcordhq/ripcord/internal/apksig"
	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// artifactKind names what a file is: "apk", "aab" or "ipa", from its
// entries rather than its name, so a renamed file is still handled right.
func artifactKind(path string) (string, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return "", fmt.Errorf("%s is not an APK, AAB or IPA (not a readable zip archive: %v)", path, err)
	}
	defer zr.Close()
	var hasManifest, hasBundleConfig, hasPayload bool
	for _, f := range zr.File {
		switch {
		case f.Name == "AndroidManifest.xml":
			hasManifest = true
		case f.Name == "BundleConfig.pb" || f.Name == "base/manifest/AndroidManifest.xml":
			hasBundleConfig = true
		case strings.HasPrefix(f.Name, "Payload/"):
			hasPayload = true
		}
	}
	switch {
	case hasManifest:
		return "apk", nil
	case hasBundleConfig:
		return "aab", nil
	case hasPayload:
		return "ipa", nil
	}
	return "", fmt.Errorf("%s is a zip archive but neither an APK (no AndroidManifest.xml), an AAB (no BundleConfig.pb) nor an IPA (no Payload/)", path)
}

// openArtifact opens path for the codecs, which read at offsets.
func openArtifact(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open artifact: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open artifact: %w", err)
	}
	return f, st.Size(), nil
}

func (c *CLI) artifactCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "artifact", Short: "Inspect, verify and re-sign APKs, AABs and IPAs without a JVM or a Mac"}
	cmd.AddCommand(c.artifactInspectCmd(), c.artifactVerifyCmd(), c.artifactResignCmd())
	return cmd
}

func (c *CLI) artifactInspectCmd() *cobra.Command {
	var minTarget int
	var comp ipa.Compliance
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show package or bundles, versions, SDKs, signatures, signers, profiles and compliance findings",
		Long: "For an APK or AAB: package, versions, SDKs, signature schemes and signers. For an IPA: every bundle (app, " +
			"extensions, App Clips, frameworks) with its bundle id, versions, team id, signing certificate, entitlements, " +
			"embedded provisioning profile (name, expiry, entitlements), minimum OS, DTSDKName and DTXcode. Compliance " +
			"findings follow; inspecting succeeds whatever they say.",
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().IntVar(&minTarget, "min-target-sdk", apk.DefaultMinTargetSdk, "Play's minimum targetSdk for updates, for findings (APK and AAB)")
	addComplianceFlags(cmd, &comp)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		kind, err := artifactKind(args[0])
		if err != nil {
			return err
		}
		if err := checkKindFlags(cmd, kind); err != nil {
			return err
		}
		if kind == "ipa" {
			if err := validateCompliance(comp); err != nil {
				return err
			}
			insp, err := ipa.Inspect(cmd.Context(), args[0], ipa.InspectOptions{Compliance: comp})
			if err != nil {
				return fmt.Errorf("inspect %s: %w", args[0], err)
			}
			return c.print(insp, func(w *tabwriter.Writer) { printIPAInspection(w, insp) })
		}
		f, size, err := openArtifact(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		switch kind {
		case "apk":
			info, err := apk.Inspect(cmd.Context(), f, size, apk.InspectOptions{MinTargetSdk: minTarget})
			if err != nil {
				return err
			}
			return c.print(info, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "package\t%s\nversionCode\t%d\nversionName\t%s\nminSdk\t%d\ntargetSdk\t%d\nschemes\t%s\n",
					info.Package, info.VersionCode, info.VersionName, info.MinSdk, info.TargetSdk, strings.Join(info.Schemes, ", "))
				for _, s := range info.Signers {
					fmt.Fprintf(w, "signer\t%s %s\n", s.CertSHA256, s.Subject)
					if len(s.Lineage) > 0 {
						fmt.Fprintf(w, "lineage\t%s\n", strings.Join(s.Lineage, " → "))
					}
				}
				if info.PlaySigned {
					fmt.Fprintln(w, "note\tsigned by Google Play: re-signing needs the upload artifact from CI")
				}
				printFindings(w, findingsText(info.Findings))
			})
		case "aab":
			info, err := aab.Inspect(cmd.Context(), f, size, apkzip.Limits{})
			if err != nil {
				return err
			}
			findings := info.Findings(minTarget)
			out := struct {
				*aab.Info
				Findings []apk.Finding `json:"findings,omitempty"`
			}{info, findings}
			return c.print(out, func(w *tabwriter.Writer) {
				if base := info.Base(); base != nil {
					fmt.Fprintf(w, "package\t%s\nminSdk\t%d\ntargetSdk\t%d\n", base.Package, base.MinSdk, base.TargetSdk)
				}
				for _, m := range info.Modules {
					code := "none"
					if m.VersionCode != nil {
						code = strconv.FormatInt(*m.VersionCode, 10)
					}
					fmt.Fprintf(w, "module %s\tversionCode %s, versionName %s\n", m.Name, code, dash(m.VersionName))
				}
				for _, s := range info.Signers {
					fmt.Fprintf(w, "signer\t%s\n", s)
				}
				printFindings(w, findingsText(findings))
			})
		}
		return fmt.Errorf("inspect %s: unexpected artifact kind %q", args[0], kind)
	}
	return cmd
}

func (c *CLI) artifactVerifyCmd() *cobra.Command {
	var full bool
	var rootsPath string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check every signature; exit 0 only when all verify",
		Long: "For an IPA: recomputes every bundle's page hashes, special slots, CMS signature, CodeResources entries and " +
			"nested cdhashes; the error names the bundle and what failed. For an APK: checks every signature scheme present. When a v2 or v3 signature verifies over the whole content, the v1 " +
			"entry digests are not recomputed by inflating every entry: any changed byte already fails v2/v3. The v1 " +
			"signature, .SF and MANIFEST.MF are still checked. --full recomputes every v1 entry digest too, as apksigner does.",
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&full, "full", false, "also recompute every v1 entry digest (slower; catches v1 digests that were wrong when signed) (APK)")
	cmd.Flags().StringVar(&rootsPath, "roots", "", "PEM file of CA certificates every IPA signing certificate must chain to, e.g. Apple's roots (IPA; default: check signatures only)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		kind, err := artifactKind(args[0])
		if err != nil {
			return err
		}
		if err := checkKindFlags(cmd, kind); err != nil {
			return err
		}
		if kind == "ipa" {
			return c.verifyIPA(cmd.Context(), args[0], rootsPath)
		}
		f, size, err := openArtifact(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		switch kind {
		case "apk":
			res, err := apk.Verify(cmd.Context(), f, size, apk.VerifyOptions{ReuseV2ForV1: !full})
			if err != nil {
				return err
			}
			if perr := c.print(res, func(w *tabwriter.Writer) {
				for _, s := range res.Schemes {
					state := "verified"
					if !s.Verified {
						state = "FAILED: " + s.Reason
					}
					fmt.Fprintf(w, "%s\t%s\n", s.Scheme, state)
				}
			}); perr != nil {
				return perr
			}
			if !res.Verified {
				if bad := res.Failed(); bad != nil {
					return fmt.Errorf("%s: scheme %s does not verify: %s", args[0], bad.Scheme, bad.Reason)
				}
				return fmt.Errorf("%s: no signature scheme present", args[0])
			}
			return nil
		case "aab":
			res, err := aab.Verify(cmd.Context(), f, size, apkzip.Limits{})
			if err != nil {
				return err
			}
			if perr := c.print(res, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "jar signature\t%s\n", verdict(res.Verified, res.Reason))
			}); perr != nil {
				return perr
			}
			if !res.Verified {
				return fmt.Errorf("%s: JAR signature does not verify: %s", args[0], res.Reason)
			}
			return nil
		}
		return fmt.Errorf("verify %s: unexpected artifact kind %q", args[0], kind)
	}
	return cmd
}

func verdict(ok bool, reason string) string {
	if ok {
		return "verified"
	}
	return "FAILED: " + reason
}

// resignFlags are the key options of `artifact resign`. For an app whose
// key was rotated they repeat, in lineage order, oldest first.
type resignFlags struct {
	in, out, version, buildNumber string
	keystores, keystorePasses     []string
	aliases, keyPasses            []string
	keys, certs                   []string
	lineage                       string
	allowNewSigner                bool
	minTargetSdk                  int

	// IPA: a .p12 identity or an external signer, and profiles.
	identity, identityPass     string
	signerCommand, signerChain string
	profiles                   []string
	compliance                 ipa.Compliance

	// changed reports whether a flag was given, to refuse flags that do
	// not apply to the artifact's kind.
	changed func(name string) bool
}

func (c *CLI) artifactResignCmd() *cobra.Command {
	var o resignFlags
	cmd := &cobra.Command{
		Use:   "resign --in IN --out OUT --version V --build-number N KEY...",
		Short: "Write a copy with a higher version, signed with the same key",
		Long: "KEY is --keystore FILE (JKS or PKCS#12) with --keystore-pass, --key-alias and --key-pass, or --key FILE --cert FILE " +
			"(PEM or DER). Passwords are given as env:NAME or file:PATH. For an app whose signing key was rotated, repeat the key " +
			"options for every key in the lineage, oldest first. --lineage FILE (what `apksigner rotate --out` writes) signs an APK " +
			"that has no lineage, or an older one, for a rotated key: v1/v2 keep the input's signer and v3 gets the lineage's newest " +
			"key; give the keys of the input's signer and of the newest certificate. The output is written atomically: on any error " +
			"no file is left.",
		Args: cobra.NoArgs,
	}
	cmd.Long += "\n\nFor an IPA, KEY is --identity FILE.p12 with --identity-pass, or --signer-command CMD with --signer-cert-chain " +
		"FILE for a key in an HSM or a cloud KMS: Ripcord runs CMD (split into words like a command line, without a shell) once " +
		"per signature with the DER signed attributes on stdin and RIPCORD_SIGN_ALG (rsa-pkcs1-sha256 or ecdsa-p256-sha256) in " +
		"its environment, and reads the signature from its stdout. --profile BUNDLE_ID=FILE.mobileprovision replaces a bundle's " +
		"embedded profile; bundles without one keep theirs, which must still be valid for the identity. The app and every " +
		"nested app and extension get the new version; frameworks keep theirs. Compliance findings are printed as warnings."
	fs := cmd.Flags()
	fs.StringVar(&o.in, "in", "", "input artifact")
	fs.StringVar(&o.out, "out", "", "output file")
	fs.StringVar(&o.version, "version", "", "new version (versionName / CFBundleShortVersionString)")
	fs.StringVar(&o.buildNumber, "build-number", "", "new build number (versionCode / CFBundleVersion)")
	fs.StringArrayVar(&o.keystores, "keystore", nil, "JKS or PKCS#12 keystore (repeat for rotated keys, oldest first)")
	fs.StringArrayVar(&o.keystorePasses, "keystore-pass", nil, "keystore password as env:NAME or file:PATH")
	fs.StringArrayVar(&o.aliases, "key-alias", nil, "key alias in the keystore (default: its only key)")
	fs.StringArrayVar(&o.keyPasses, "key-pass", nil, "key password as env:NAME or file:PATH (default: the keystore password)")
	fs.StringArrayVar(&o.keys, "key", nil, "private key file, PEM or DER PKCS#8 (repeat for rotated keys, oldest first)")
	fs.StringArrayVar(&o.certs, "cert", nil, "certificate file, PEM or DER")
	fs.StringVar(&o.lineage, "lineage", "", "key-rotation lineage file from `apksigner rotate --out` (APK only)")
	fs.BoolVar(&o.allowNewSigner, "allow-new-signer", false, "sign even when the key differs from the input's signer (installed apps will refuse the update)")
	fs.IntVar(&o.minTargetSdk, "min-target-sdk", apk.DefaultMinTargetSdk, "Play's minimum targetSdk for updates, for findings")
	fs.StringVar(&o.identity, "identity", "", "distribution identity, PKCS#12 (.p12) (IPA)")
	fs.StringVar(&o.identityPass, "identity-pass", "", "identity password as env:NAME or file:PATH (IPA)")
	fs.StringArrayVar(&o.profiles, "profile", nil, "BUNDLE_ID=FILE.mobileprovision replacing that bundle's embedded profile (IPA; repeat per bundle)")
	fs.StringVar(&o.signerCommand, "signer-command", "", "external signer command, instead of --identity (IPA)")
	fs.StringVar(&o.signerChain, "signer-cert-chain", "", "PEM certificate chain of the --signer-command key, leaf first (IPA)")
	addComplianceFlags(cmd, &o.compliance)
	for _, f := range []string{"in", "out", "version", "build-number"} {
		_ = cmd.MarkFlagRequired(f)
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		o.changed = cmd.Flags().Changed
		return c.resign(cmd.Context(), o)
	}
	return cmd
}

func (c *CLI) resign(ctx context.Context, o resignFlags) error {
	kind, err := artifactKind(o.in)
	if err != nil {
		return err
	}
	for _, name := range kindFlags[otherKind(kind)] {
		if o.changed != nil && o.changed(name) {
			return usagef("--%s does not apply to %s", name, kindName(kind))
		}
	}
	if kind == "ipa" {
		return c.resignIPA(ctx, o)
	}
	if _, err := ripcord.ParseVersion(o.version); err != nil {
		return usageError{err}
	}
	code, err := ripcord.ParseVersionCode(o.buildNumber)
	if err != nil {
		return usageError{err}
	}
	if kind == "aab" && o.lineage != "" {
		return usagef("--lineage applies to APKs: an AAB is JAR-signed with the upload key alone")
	}
	var lineage []apksig.LineageNode
	if o.lineage != "" {
		if lineage, err = readLineage(o.lineage); err != nil {
			return err
		}
	}
	keys, err := c.loadKeys(o)
	if err != nil {
		return err
	}
	f, size, err := openArtifact(o.in)
	if err != nil {
		return err
	}
	defer f.Close()
	if kind == "aab" {
		if len(keys) != 1 {
			return usagef("an AAB is signed with one upload key; give exactly one")
		}
		rep, err := aab.Resign(ctx, f, size, o.out, aab.ResignOptions{VersionCode: code, VersionName: o.version, Key: keys[0], AllowNewSigner: o.allowNewSigner})
		if err != nil {
			return err
		}
		findings := aab.Findings(rep.After, o.minTargetSdk)
		out := struct {
			*aab.Report
			Findings []apk.Finding `json:"findings,omitempty"`
		}{rep, findings}
		return c.print(out, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "wrote\t%s (%s)\nversionCode\t%d\nversionName\t%s\nmanifests\t%s\nsigner\t%s\n",
				o.out, humanBytes(rep.Size), code, o.version, strings.Join(rep.Changed, ", "), rep.Signer)
			printFindings(w, findingsText(findings))
		})
	}
	rep, err := apk.Resign(ctx, f, size, o.out, apk.ResignOptions{
		VersionCode: code, VersionName: o.version, Keys: keys, Lineage: lineage, AllowNewSigner: o.allowNewSigner, MinTargetSdk: o.minTargetSdk,
	})
	if err != nil {
		return err
	}
	return c.print(rep, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "wrote\t%s (%s)\npackage\t%s\nversionCode\t%d → %d\nversionName\t%s → %s\nschemes\t%s\nsigners\t%s\n",
			o.out, humanBytes(rep.Size), rep.After.Package, rep.Before.VersionCode, rep.After.VersionCode,
			rep.Before.VersionName, rep.After.VersionName, strings.Join(rep.Schemes, ", "), strings.Join(rep.Signers, ", "))
		if len(rep.Lineage) > 0 {
			fmt.Fprintf(w, "lineage\t%s\n", strings.Join(rep.Lineage, " → "))
		}
		printFindings(w, findingsText(rep.Findings))
	})
}

// readLineage reads a key-rotation lineage file, refusing one larger than
// any real lineage before reading it.
func readLineage(path string) ([]apksig.LineageNode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read lineage: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, apksig.MaxLineageFile+1))
	if err != nil {
		return nil, fmt.Errorf("read lineage %s: %w", path, err)
	}
	nodes, err := apksig.ParseLineageFile(b)
	if err != nil {
		return nil, fmt.Errorf("lineage %s: %w (give the file `apksigner rotate --out` wrote)", path, err)
	}
	return nodes, nil
}

// loadKeys reads the signing keys in the order given.
func (c *CLI) loadKeys(o resignFlags) ([]*signingkey.Key, error) {
	if len(o.keystores) > 0 && len(o.keys) > 0 {
		return nil, usagef("give keys either as --keystore or as --key/--cert, not both")
	}
	var keys []*signingkey.Key
	for i, ks := range o.keystores {
		data, err := os.ReadFile(ks)
		if err != nil {
			return nil, fmt.Errorf("read keystore: %w", err)
		}
		storePass, err := c.readSecret("--keystore-pass", at(o.keystorePasses, i))
		if err != nil {
			return nil, err
		}
		keyPass, err := c.readSecret("--key-pass", at(o.keyPasses, i))
		if err != nil {
			return nil, err
		}
		k, err := signingkey.LoadKeystore(data, storePass, at(o.aliases, i), keyPass)
		if err != nil {
			return nil, fmt.Errorf("keystore %s: %w", ks, err)
		}
		keys = append(keys, k)
	}
	if len(o.keys) != len(o.certs) {
		return nil, usagef("each --key needs its --cert (got %d keys and %d certificates)", len(o.keys), len(o.certs))
	}
	for i := range o.keys {
		kd, err := os.ReadFile(o.keys[i])
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
		cd, err := os.ReadFile(o.certs[i])
		if err != nil {
			return nil, fmt.Errorf("read certificate: %w", err)
		}
		k, err := signingkey.LoadKeyPair(kd, cd)
		if err != nil {
			return nil, fmt.Errorf("key %s with certificate %s: %w", o.keys[i], o.certs[i], err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, usagef("no signing key: give --keystore FILE (with --keystore-pass env:NAME) or --key FILE --cert FILE")
	}
	return keys, nil
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func findingsText(fs []apk.Finding) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Message+" ["+f.Code+"]")
	}
	return out
}

func printFindings(w *tabwriter.Writer, fs []string) {
	for _, f := range fs {
		fmt.Fprintf(w, "warning\t%s\n", f)
	}
}

// kindFlags are the flags of `artifact inspect|verify|resign` that apply to
// Android artifacts only or to IPAs only; the other kind refuses them.
var kindFlags = map[string][]string{
	"android": {"keystore", "keystore-pass", "key-alias", "key-pass", "key", "cert", "lineage", "allow-new-signer", "min-target-sdk", "full"},
	"ipa":     {"identity", "identity-pass", "profile", "signer-command", "signer-cert-chain", "min-sdk", "min-xcode", "roots"},
}

// otherKind names the kindFlags entry that does not apply to kind.
func otherKind(kind string) string {
	if kind == "ipa" {
		return "android"
	}
	return "ipa"
}

func kindName(kind string) string { return "an " + strings.ToUpper(kind) }

// checkKindFlags refuses, as a usage error, flags given to cmd that belong
// to the other platform's artifacts.
func checkKindFlags(cmd *cobra.Command, kind string) error {
	for _, name := range kindFlags[otherKind(kind)] {
		if cmd.Flags().Changed(name) {
			return usagef("--%s does not apply to %s", name, kindName(kind))
		}
	}
	return nil
}

// addComplianceFlags registers the App Store minimums IPA findings are
// checked against.
func addComplianceFlags(cmd *cobra.Command, comp *ipa.Compliance) {
	cmd.Flags().StringVar(&comp.MinSDK, "min-sdk", "", "App Store minimum SDK version for findings, e.g. 26.0 (IPA; default 26.0, required since April 2026)")
	cmd.Flags().StringVar(&comp.MinXcode, "min-xcode", "", "App Store minimum DTXcode for findings, e.g. 2600 (IPA; default 2600, Xcode 26)")
}

// validateCompliance checks --min-sdk and --min-xcode are dotted numbers.
func validateCompliance(comp ipa.Compliance) error {
	for flag, v := range map[string]string{"--min-sdk": comp.MinSDK, "--min-xcode": comp.MinXcode} {
		if v == "" {
			continue
		}
		for _, part := range strings.Split(v, ".") {
			if _, err := strconv.ParseUint(part, 10, 32); err != nil {
				return usagef("%s %q: give a version such as 26.0 (SDK) or 2600 (Xcode)", flag, v)
			}
		}
	}
	return nil
}

// printIPAInspection prints every bundle, outermost first, then the
// findings with their severity.
func printIPAInspection(w *tabwriter.Writer, insp *ipa.Inspection) {
	for i, b := range insp.Bundles {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "bundle\t%s (%s)\n", b.Path, b.Kind)
		fmt.Fprintf(w, "bundle id\t%s\n", dash(b.BundleID))
		fmt.Fprintf(w, "version\t%s\nbuild\t%s\n", dash(b.Version), dash(b.Build))
		fmt.Fprintf(w, "team id\t%s\n", dash(b.TeamID))
		if s := b.Signing; s != nil {
			fmt.Fprintf(w, "certificate\t%s (team %s, expires %s, sha256 %s)\n", s.CommonName, dash(s.TeamID), s.NotAfter.Format(time.DateOnly), s.SHA256)
		} else {
			fmt.Fprintln(w, "certificate\tnone (ad-hoc or unsigned)")
		}
		if len(b.Entitlements) > 0 {
			fmt.Fprintf(w, "entitlements\t%s\n", formatEntitlements(b.Entitlements))
		}
		if p := b.Profile; p != nil {
			fmt.Fprintf(w, "profile\t%q (team %s, expires %s)\n", p.Name, dash(p.TeamID), p.Expires.Format(time.DateOnly))
			fmt.Fprintf(w, "profile entitlements\t%s\n", formatEntitlements(p.Entitlements))
		}
		minOS := b.MinOS
		var archs []string
		for _, sl := range b.Slices {
			minOS = cmp.Or(minOS, sl.MinOS)
			a := sl.Arch
			if sl.Encrypted {
				a += " (encrypted)"
			} else if len(sl.HashTypes) > 0 {
				a += " (" + strings.Join(sl.HashTypes, ", ") + ")"
			}
			archs = append(archs, a)
		}
		fmt.Fprintf(w, "min OS\t%s\n", dash(minOS))
		if b.Kind == ipa.KindApp || b.DTSDKName != "" || b.DTXcode != "" {
			fmt.Fprintf(w, "SDK\t%s\nXcode\t%s\n", dash(b.DTSDKName), dash(b.DTXcode))
		}
		fmt.Fprintf(w, "executable\t%s: %s\n", b.Executable, strings.Join(archs, ", "))
		for _, l := range b.Libraries {
			fmt.Fprintf(w, "library\t%s\n", l)
		}
	}
	if len(insp.Findings) > 0 {
		fmt.Fprintln(w)
	}
	for _, f := range insp.Findings {
		fmt.Fprintf(w, "%s\t%s: %s [%s]\n", f.Severity, f.Bundle, f.Message, f.Code)
	}
}

// formatEntitlements prints entitlements as key=value, sorted by key.
func formatEntitlements(ents map[string]any) string {
	keys := slices.Sorted(maps.Keys(ents))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, ents[k]))
	}
	return strings.Join(parts, ", ")
}

// verifyIPA checks every bundle; the error names the bundle and what
// failed.
func (c *CLI) verifyIPA(ctx context.Context, path, rootsPath string) error {
	var roots *x509.CertPool
	if rootsPath != "" {
		var err error
		if roots, err = readRoots(rootsPath); err != nil {
			return err
		}
	}
	res, err := ipa.Verify(ctx, path, ipa.VerifyOptions{Roots: roots})
	if err != nil {
		return fmt.Errorf("%s does not verify: %w", path, err)
	}
	return c.print(res, func(w *tabwriter.Writer) {
		for _, b := range res.Bundles {
			signer := b.Signer
			if signer == "" {
				signer = "ad-hoc"
			}
			fmt.Fprintf(w, "%s\tverified: %s, %s, team %s, %s\n", b.Path, dash(b.BundleID), signer, dash(b.TeamID), strings.Join(b.HashTypes, "+"))
			for _, l := range b.Libraries {
				fmt.Fprintf(w, "%s\tverified\n", l)
			}
		}
		if roots != nil {
			fmt.Fprintf(w, "chain\tevery signing certificate chains to %s\n", rootsPath)
		}
	})
}

// readRoots reads a PEM file of CA certificates.
func readRoots(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --roots: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--roots %s holds no PEM certificate", path)
	}
	return pool, nil
}

// resignIPA builds an iOS rollback: versions raised in the app and every
// nested app and extension, every bundle re-signed innermost first.
func (c *CLI) resignIPA(ctx context.Context, o resignFlags) error {
	if err := ipa.CheckVersion(o.version); err != nil {
		return usageError{fmt.Errorf("--version: %w", err)}
	}
	if err := ipa.CheckBuild(o.buildNumber); err != nil {
		return usageError{fmt.Errorf("--build-number: %w", err)}
	}
	if err := validateCompliance(o.compliance); err != nil {
		return err
	}
	switch {
	case o.identity != "" && o.signerCommand != "":
		return usagef("give either --identity (a .p12) or --signer-command with --signer-cert-chain, not both")
	case o.identity == "" && o.signerCommand == "":
		return usagef("no signing identity: give --identity FILE.p12 with --identity-pass env:NAME, or --signer-command CMD with --signer-cert-chain FILE")
	case o.signerCommand != "" && o.signerChain == "":
		return usagef("--signer-command needs --signer-cert-chain FILE, the PEM certificate chain of its key, leaf first")
	case o.identity != "" && o.signerChain != "":
		return usagef("--signer-cert-chain goes with --signer-command; a .p12 identity carries its own chain")
	case o.identity == "" && o.identityPass != "":
		return usagef("--identity-pass goes with --identity")
	}
	opts := ipa.ResignOptions{Version: o.version, Build: o.buildNumber, Compliance: o.compliance}
	if o.identity != "" {
		pass, err := c.readSecret("--identity-pass", o.identityPass)
		if err != nil {
			return err
		}
		p12, err := os.ReadFile(o.identity)
		if err != nil {
			return fmt.Errorf("read identity: %w", err)
		}
		if opts.Identity, err = ipa.LoadIdentity(p12, pass); err != nil {
			return fmt.Errorf("identity %s: %w", o.identity, err)
		}
	} else {
		if _, err := ipa.SplitCommand(o.signerCommand); err != nil {
			return usageError{fmt.Errorf("--signer-command: %w", err)}
		}
		pemChain, err := os.ReadFile(o.signerChain)
		if err != nil {
			return fmt.Errorf("read --signer-cert-chain: %w", err)
		}
		if opts.SignerChain, err = ipa.LoadCertChain(pemChain); err != nil {
			return fmt.Errorf("--signer-cert-chain %s: %w", o.signerChain, err)
		}
		opts.SignerCommand = o.signerCommand
	}
	if len(o.profiles) > 0 {
		opts.Profiles = map[string][]byte{}
	}
	for _, spec := range o.profiles {
		id, file, ok := strings.Cut(spec, "=")
		if !ok || id == "" || file == "" {
			return usagef("--profile %q: give BUNDLE_ID=FILE.mobileprovision", spec)
		}
		if _, dup := opts.Profiles[id]; dup {
			return usagef("--profile: two profiles for %s", id)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read profile for %s: %w", id, err)
		}
		opts.Profiles[id] = b
	}
	rep, err := ipa.Resign(ctx, o.in, o.out, opts)
	if err != nil {
		return fmt.Errorf("resign %s: %w", o.in, err)
	}
	var size int64
	if st, err := os.Stat(o.out); err == nil {
		size = st.Size()
	}
	return c.print(rep, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "wrote\t%s (%s)\n", o.out, humanBytes(size))
		for _, b := range rep.Bundles {
			if b.Kind == ipa.KindApp {
				fmt.Fprintf(w, "bundle id\t%s\nversion\t%s → %s\nbuild\t%s → %s\n", b.BundleID, b.OldVersion, b.Version, b.OldBuild, b.Build)
			}
		}
		for _, b := range rep.Bundles {
			profile := ""
			switch {
			case b.Profile != "" && b.ProfileNew:
				profile = fmt.Sprintf(", profile %q (new)", b.Profile)
			case b.Profile != "":
				profile = fmt.Sprintf(", profile %q (kept)", b.Profile)
			}
			fmt.Fprintf(w, "signed\t%s (%s, %s, %s)%s\n", b.Path, b.BundleID, strings.Join(b.Architecture, "+"), strings.Join(b.HashTypes, "+"), profile)
		}
		for _, f := range rep.Findings {
			fmt.Fprintf(w, "warning\t%s: %s [%s]\n", f.Bundle, f.Message, f.Code)
		}
	})
}
