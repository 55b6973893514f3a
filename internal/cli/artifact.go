package cli

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/aab"
	"github.com/ripcordhq/ripcord/internal/apk"
	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
	"github.com/ripcordhq/ripcord/internal/apksig"
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
	cmd := &cobra.Command{Use: "artifact", Short: "Inspect, verify and re-sign APKs and AABs (and IPAs) without a JVM or a Mac"}
	cmd.AddCommand(c.artifactInspectCmd(), c.artifactVerifyCmd(), c.artifactResignCmd())
	return cmd
}

func (c *CLI) artifactInspectCmd() *cobra.Command {
	var minTarget int
	cmd := &cobra.Command{Use: "inspect FILE", Short: "Show package, versions, SDKs, signature schemes, signers and compliance findings", Args: cobra.ExactArgs(1)}
	cmd.Flags().IntVar(&minTarget, "min-target-sdk", apk.DefaultMinTargetSdk, "Play's minimum targetSdk for updates, for findings")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		kind, err := artifactKind(args[0])
		if err != nil {
			return err
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
			return c.print(info, func(w *tabwriter.Writer) {
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
			})
		}
		return c.unsupportedIPA()
	}
	return cmd
}

func (c *CLI) artifactVerifyCmd() *cobra.Command {
	var full bool
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check every signature scheme present; exit 0 only when all verify",
		Long: "Checks every signature scheme present. When a v2 or v3 signature verifies over the whole content, the v1 " +
			"entry digests are not recomputed by inflating every entry: any changed byte already fails v2/v3. The v1 " +
			"signature, .SF and MANIFEST.MF are still checked. --full recomputes every v1 entry digest too, as apksigner does.",
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&full, "full", false, "also recompute every v1 entry digest (slower; catches v1 digests that were wrong when signed)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		kind, err := artifactKind(args[0])
		if err != nil {
			return err
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
		return c.unsupportedIPA()
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
	for _, f := range []string{"in", "out", "version", "build-number"} {
		_ = cmd.MarkFlagRequired(f)
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return c.resign(cmd.Context(), o) }
	return cmd
}

func (c *CLI) resign(ctx context.Context, o resignFlags) error {
	kind, err := artifactKind(o.in)
	if err != nil {
		return err
	}
	if kind == "ipa" {
		return c.unsupportedIPA()
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
		return c.print(rep, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "wrote\t%s (%s)\nversionCode\t%d\nversionName\t%s\nmanifests\t%s\nsigner\t%s\n",
				o.out, humanBytes(rep.Size), code, o.version, strings.Join(rep.Changed, ", "), rep.Signer)
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

func (c *CLI) unsupportedIPA() error {
	return fmt.Errorf("IPA files are not handled by this build yet")
}
