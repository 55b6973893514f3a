package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// credentialsOptions are the flags of `ripcord app credentials`. Files are
// read here and sent base64 in JSON; passwords only come from env: or
// file: (readSecret), never from the command line.
type credentialsOptions struct {
	list      bool
	deleteKnd string
	ascKey    string
	ascKeyID  string
	ascIssuer string
	play      string
	keystore  string
	storePass string
	keyAlias  string
	keyPass   string
	key, cert string
	identity  string
	idPass    string
	profile   string
	bundleID  string
}

// kind says which credential the flags describe, refusing flags of two
// kinds, or of none.
func (o *credentialsOptions) kind() (string, error) {
	groups := []struct {
		kind string
		set  bool
		flag string
	}{
		{"asc_api_key", o.ascKey != "" || o.ascKeyID != "" || o.ascIssuer != "", "--asc-key"},
		{"play_service_account", o.play != "", "--play-service-account"},
		{"android_keystore", o.keystore != "" || o.storePass != "" || o.keyAlias != "" || o.keyPass != "" || o.key != "" || o.cert != "", "--keystore or --key"},
		{"ios_identity", o.identity != "" || o.idPass != "", "--identity"},
		{"ios_profile", o.profile != "" || o.bundleID != "", "--profile"},
	}
	var kinds, modes []string
	for _, g := range groups {
		if g.set {
			kinds = append(kinds, g.kind)
			modes = append(modes, g.flag)
		}
	}
	if o.list {
		modes = append(modes, "--list")
	}
	if o.deleteKnd != "" {
		modes = append(modes, "--delete")
	}
	switch {
	case len(modes) == 0:
		return "", usagef("say what to do: --list, --delete KIND, or the files of one credential (--asc-key, --play-service-account, --keystore, --key/--cert, --identity or --profile)")
	case len(modes) > 1:
		return "", usagef("give one credential, --list or --delete per call, not %s", strings.Join(modes, " and "))
	case len(kinds) == 0:
		return "", nil
	}
	return kinds[0], nil
}

// request reads the files and secrets of a credential of kind.
func (c *CLI) credentialRequest(o *credentialsOptions, kind string) (httpapi.CredentialPutRequest, string, error) {
	var req httpapi.CredentialPutRequest
	read := func(flag, path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		return b, nil
	}
	var err error
	switch kind {
	case "asc_api_key":
		if o.ascKey == "" || o.ascKeyID == "" || o.ascIssuer == "" {
			return req, "", usagef("an App Store Connect key needs --asc-key FILE.p8, --asc-key-id ID and --asc-issuer-id ID")
		}
		req.ASCKeyID, req.ASCIssuerID = o.ascKeyID, o.ascIssuer
		req.ASCKey, err = read("--asc-key", o.ascKey)
	case "play_service_account":
		req.ServiceAccount, err = read("--play-service-account", o.play)
	case "android_keystore":
		switch {
		case o.keystore != "" && (o.key != "" || o.cert != ""):
			return req, "", usagef("give --keystore or --key and --cert, not both")
		case o.keystore != "":
			if o.storePass == "" {
				return req, "", usagef("--keystore needs --keystore-pass env:NAME or file:PATH")
			}
			if req.Keystore, err = read("--keystore", o.keystore); err != nil {
				return req, "", err
			}
			if req.KeystorePassword, err = c.readSecret("--keystore-pass", o.storePass); err != nil {
				return req, "", err
			}
			req.KeyAlias = o.keyAlias
			req.KeyPassword, err = c.readSecret("--key-pass", o.keyPass)
		case o.key != "" && o.cert != "":
			if o.storePass != "" || o.keyAlias != "" || o.keyPass != "" {
				return req, "", usagef("--keystore-pass, --key-alias and --key-pass go with --keystore, not with --key and --cert")
			}
			if req.Key, err = read("--key", o.key); err != nil {
				return req, "", err
			}
			req.Cert, err = read("--cert", o.cert)
		default:
			return req, "", usagef("an Android signing key needs --keystore FILE --keystore-pass env:NAME, or --key FILE --cert FILE")
		}
	case "ios_identity":
		if o.identity == "" || o.idPass == "" {
			return req, "", usagef("an iOS identity needs --identity FILE.p12 and --identity-pass env:NAME or file:PATH")
		}
		if req.Identity, err = read("--identity", o.identity); err != nil {
			return req, "", err
		}
		req.IdentityPassword, err = c.readSecret("--identity-pass", o.idPass)
	case "ios_profile":
		if o.profile == "" {
			return req, "", usagef("--bundle-id goes with --profile FILE.mobileprovision")
		}
		if o.bundleID != "" {
			kind += ":" + o.bundleID
		}
		req.Profile, err = read("--profile", o.profile)
	}
	return req, kind, err
}

func (c *CLI) appCredentialsCmd() *cobra.Command {
	var o credentialsOptions
	cmd := &cobra.Command{
		Use:   "credentials APP",
		Short: "Store, list or delete an app's store credentials and signing material (admin; --list: viewer)",
		Long: `Store one credential of APP on the server, encrypted at rest with the server's secret key:

  --asc-key AuthKey_ID.p8 --asc-key-id ID --asc-issuer-id UUID   App Store Connect API key
  --play-service-account FILE.json                               Google Play service account
  --keystore FILE --keystore-pass env:X [--key-alias A --key-pass env:Y]
  --key FILE --cert FILE                                          Android upload key
  --identity FILE.p12 --identity-pass env:X                       iOS distribution identity
  --profile FILE.mobileprovision [--bundle-id ID]                 App Store provisioning profile

Passwords are taken only as env:NAME or file:PATH. The server checks the material
(passwords, key and certificate, expiry) before storing it and never shows it again.
--list shows what is stored, with expiry; --delete KIND removes one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := o.kind()
			if err != nil {
				return err
			}
			base := appPath(args[0]) + "/credentials"
			switch {
			case o.list:
				return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
					var l httpapi.List[httpapi.Credential]
					if err := cl.Do(ctx, "GET", base, nil, nil, &l); err != nil {
						return err
					}
					return c.printCredentials(l.Items, l)
				})
			case o.deleteKnd != "":
				return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
					if err := cl.Do(ctx, "DELETE", base+"/"+url.PathEscape(o.deleteKnd), nil, nil, nil); err != nil {
						return err
					}
					if !c.jsonOut {
						fmt.Fprintf(c.env.Stdout, "deleted %s of %s\n", o.deleteKnd, args[0])
					}
					return nil
				})
			}
			req, kind, err := c.credentialRequest(&o, kind)
			if err != nil {
				return err
			}
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var cr httpapi.Credential
				if err := cl.Do(ctx, "PUT", base+"/"+url.PathEscape(kind), nil, req, &cr); err != nil {
					return err
				}
				return c.printCredentials([]httpapi.Credential{cr}, cr)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.list, "list", false, "list the app's credentials (metadata and expiry only)")
	f.StringVar(&o.deleteKnd, "delete", "", "delete the credential of this kind, e.g. ios_profile:com.acme.shop")
	f.StringVar(&o.ascKey, "asc-key", "", "App Store Connect API key file (AuthKey_<id>.p8)")
	f.StringVar(&o.ascKeyID, "asc-key-id", "", "App Store Connect key id")
	f.StringVar(&o.ascIssuer, "asc-issuer-id", "", "App Store Connect issuer id")
	f.StringVar(&o.play, "play-service-account", "", "Google Play service-account JSON key file")
	f.StringVar(&o.keystore, "keystore", "", "Android upload keystore (JKS or PKCS#12)")
	f.StringVar(&o.storePass, "keystore-pass", "", "keystore password as env:NAME or file:PATH")
	f.StringVar(&o.keyAlias, "key-alias", "", "key alias in the keystore (default: its only key)")
	f.StringVar(&o.keyPass, "key-pass", "", "key password as env:NAME or file:PATH (default: the keystore password)")
	f.StringVar(&o.key, "key", "", "Android private key, PKCS#8 PEM or DER (with --cert)")
	f.StringVar(&o.cert, "cert", "", "certificate of --key, PEM or DER")
	f.StringVar(&o.identity, "identity", "", "iOS distribution identity (.p12)")
	f.StringVar(&o.idPass, "identity-pass", "", "identity password as env:NAME or file:PATH")
	f.StringVar(&o.profile, "profile", "", "App Store provisioning profile (.mobileprovision)")
	f.StringVar(&o.bundleID, "bundle-id", "", "bundle id the profile is for (default: the profile's App ID, or the app's for a wildcard)")
	return cmd
}

// credentialDetail lists the facts that tell credentials apart, in a
// stable order, for the table.
var credentialDetail = []string{"key_id", "issuer_id", "client_email", "format", "key_alias", "profile_name", "team_id", "cert_subject", "cert_sha256"}

func (c *CLI) printCredentials(cs []httpapi.Credential, v any) error {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Kind < cs[j].Kind })
	return c.print(v, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "KIND\tDETAILS\tEXPIRES\tDAYS LEFT\tSTORED BY\tUPDATED")
		for _, cr := range cs {
			var details []string
			for _, k := range credentialDetail {
				if val := cr.Metadata[k]; val != "" {
					if k == "cert_sha256" && len(val) > 16 {
						val = val[:16] + "…"
					}
					details = append(details, k+"="+val)
				}
			}
			expires, days := "-", "-"
			if cr.ExpiresAt != nil {
				expires = cr.ExpiresAt.Format(time.DateOnly)
			}
			if cr.DaysLeft != nil {
				days = fmt.Sprint(*cr.DaysLeft)
				if cr.Expiry != "ok" {
					days += " (" + cr.Expiry + ")"
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", cr.Kind, dash(strings.Join(details, " ")), expires, days, cr.CreatedBy, cr.UpdatedAt.Format(time.DateTime))
		}
	})
}
