package credentials

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/signingkey"
)

// The kinds of credential an app can hold. A profile's kind carries the
// bundle id it signs: "ios_profile:com.acme.shop", one per app and
// extension.
const (
	KindASCAPIKey          = "asc_api_key"          // App Store Connect API key: .p8, key id, issuer id
	KindPlayServiceAccount = "play_service_account" // Google service-account key file (JSON)
	KindAndroidKeystore    = "android_keystore"     // upload key: keystore + passwords + alias, or key + certificate PEM
	KindIOSIdentity        = "ios_identity"         // distribution identity: .p12 + password
	KindIOSProfile         = "ios_profile"          // App Store provisioning profile, per bundle id
)

// Kinds lists the kinds in display order, profiles by their prefix.
func Kinds() []string {
	return []string{KindASCAPIKey, KindPlayServiceAccount, KindAndroidKeystore, KindIOSIdentity, KindIOSProfile + ":<bundle id>"}
}

// Material is a credential's secret content, in the clear. Only the fields
// of its kind are set. It is returned by Service.Open to the services that
// sign and upload, and never leaves the process: it prints, logs and
// encodes as "<redacted>".
type Material struct {
	// asc_api_key
	ASCKey      []byte // the AuthKey_<id>.p8 file
	ASCKeyID    string // not secret, kept with the key for convenience
	ASCIssuerID string // not secret
	// play_service_account
	ServiceAccount []byte // the JSON key file
	// android_keystore: a keystore...
	Keystore         []byte // JKS or PKCS#12
	KeystorePassword string
	KeyAlias         string // empty takes the keystore's only key
	KeyPassword      string // empty means the keystore password
	// ... or a key and its certificate chain (PEM or DER).
	Key, Cert []byte
	// ios_identity
	Identity         []byte // .p12
	IdentityPassword string
	// ios_profile:<bundle id>
	Profile []byte // .mobileprovision
}

// sealedMaterial is Material's stored form (JSON, then sealed). Material
// converts to it field for field; the tags live here so Material itself
// cannot be encoded by accident.
type sealedMaterial struct {
	ASCKey           []byte `json:"asc_key,omitempty"`
	ASCKeyID         string `json:"asc_key_id,omitempty"`
	ASCIssuerID      string `json:"asc_issuer_id,omitempty"`
	ServiceAccount   []byte `json:"service_account,omitempty"`
	Keystore         []byte `json:"keystore,omitempty"`
	KeystorePassword string `json:"keystore_password,omitempty"`
	KeyAlias         string `json:"key_alias,omitempty"`
	KeyPassword      string `json:"key_password,omitempty"`
	Key              []byte `json:"key,omitempty"`
	Cert             []byte `json:"cert,omitempty"`
	Identity         []byte `json:"identity,omitempty"`
	IdentityPassword string `json:"identity_password,omitempty"`
	Profile          []byte `json:"profile,omitempty"`
}

const redacted = "<redacted>"

// String hides the secret.
func (Material) String() string { return "credentials.Material{" + redacted + "}" }

// GoString hides the secret from %#v.
func (m Material) GoString() string { return m.String() }

// LogValue hides the secret from slog.
func (Material) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON refuses: material is never encoded, so it cannot reach an
// API response or an audit entry.
func (Material) MarshalJSON() ([]byte, error) {
	return nil, errors.New("credentials: material is secret and is never encoded")
}

// SigningKey opens the Android upload key or the iOS distribution identity.
func (m *Material) SigningKey() (*signingkey.Key, error) {
	switch {
	case len(m.Keystore) > 0:
		return signingkey.LoadKeystore(m.Keystore, m.KeystorePassword, m.KeyAlias, m.KeyPassword)
	case len(m.Key) > 0:
		return signingkey.LoadKeyPair(m.Key, m.Cert)
	case len(m.Identity) > 0:
		return ipa.LoadIdentity(m.Identity, m.IdentityPassword)
	}
	return nil, errors.New("credentials: the material holds no signing key")
}

// fields names the Material fields that are set, by their API names, so a
// request mixing kinds is refused by name.
func (m *Material) fields() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(len(m.ASCKey) > 0, "asc_key")
	add(m.ASCKeyID != "", "asc_key_id")
	add(m.ASCIssuerID != "", "asc_issuer_id")
	add(len(m.ServiceAccount) > 0, "service_account")
	add(len(m.Keystore) > 0, "keystore")
	add(m.KeystorePassword != "", "keystore_password")
	add(m.KeyAlias != "", "key_alias")
	add(m.KeyPassword != "", "key_password")
	add(len(m.Key) > 0, "key")
	add(len(m.Cert) > 0, "cert")
	add(len(m.Identity) > 0, "identity")
	add(m.IdentityPassword != "", "identity_password")
	add(len(m.Profile) > 0, "profile")
	return out
}

// kindFields are the fields each kind may carry.
var kindFields = map[string][]string{
	KindASCAPIKey:          {"asc_key", "asc_key_id", "asc_issuer_id"},
	KindPlayServiceAccount: {"service_account"},
	KindAndroidKeystore:    {"keystore", "keystore_password", "key_alias", "key_password", "key", "cert"},
	KindIOSIdentity:        {"identity", "identity_password"},
	KindIOSProfile:         {"profile"},
}

// validated is what checking material yields: the canonical kind, the
// non-secret facts and the expiry.
type validated struct {
	kind     string
	metadata map[string]string
	expires  time.Time // zero: does not expire
}

var (
	ascKeyIDRe    = regexp.MustCompile(`^[A-Z0-9]{10}$`)
	ascIssuerIDRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	bundleIDRe    = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
)

func invalid(format string, args ...any) error {
	return ripcord.Errorf(ripcord.EINVALID, format, args...)
}

// parseKind splits "ios_profile:com.acme.shop" into its base kind and
// bundle id; other kinds have no suffix.
func parseKind(kind string) (base, bundleID string, err error) {
	base, bundleID, hasSuffix := strings.Cut(kind, ":")
	if _, ok := kindFields[base]; !ok || (hasSuffix && base != KindIOSProfile) {
		return "", "", invalid("credential kind %q is not known; use one of %s", kind, strings.Join(Kinds(), ", "))
	}
	if hasSuffix && !bundleIDRe.MatchString(bundleID) {
		return "", "", invalid("credential kind %q names bundle id %q, which is not valid; use ios_profile:<bundle id> such as ios_profile:com.acme.shop", kind, bundleID)
	}
	return base, bundleID, nil
}

// validate parses and checks material of kind for app at time now, so a
// wrong password, a mismatched key or an expired certificate is reported
// when it is stored, not when a rollback needs it.
func validate(app *ripcord.App, kind string, m *Material, now time.Time) (*validated, error) {
	base, bundleID, err := parseKind(kind)
	if err != nil {
		return nil, err
	}
	allowed := map[string]bool{}
	for _, f := range kindFields[base] {
		allowed[f] = true
	}
	for _, f := range m.fields() {
		if !allowed[f] {
			return nil, invalid("field %s does not belong to a %s credential; it takes %s", f, base, strings.Join(kindFields[base], ", "))
		}
	}
	platform := ripcord.Android
	if base == KindASCAPIKey || base == KindIOSIdentity || base == KindIOSProfile {
		platform = ripcord.IOS
	}
	if !app.Has(platform) {
		return nil, invalid("app %q is not on %s, so it has no use for a %s credential; register its %s identifier first", app.Name, platform, base, platform.StoreName())
	}
	switch base {
	case KindASCAPIKey:
		return validateASC(m)
	case KindPlayServiceAccount:
		return validatePlay(m)
	case KindAndroidKeystore:
		return validateKeystore(m)
	case KindIOSIdentity:
		return validateIdentity(m, now)
	default:
		return validateProfile(app, bundleID, m, now)
	}
}

func validateASC(m *Material) (*validated, error) {
	switch {
	case len(m.ASCKey) == 0:
		return nil, invalid("an App Store Connect API key needs the .p8 file (asc_key, --asc-key)")
	case !ascKeyIDRe.MatchString(m.ASCKeyID):
		return nil, invalid("App Store Connect key id %q is not valid: it is 10 uppercase letters and digits, shown next to the key in App Store Connect, Users and Access, Integrations (asc_key_id, --asc-key-id)", m.ASCKeyID)
	case !ascIssuerIDRe.MatchString(m.ASCIssuerID):
		return nil, invalid("App Store Connect issuer id %q is not valid: it is a UUID shown above the keys in App Store Connect, Users and Access, Integrations (asc_issuer_id, --asc-issuer-id)", m.ASCIssuerID)
	}
	const hint = "use the AuthKey_<key id>.p8 file downloaded from App Store Connect"
	b, _ := pem.Decode(m.ASCKey)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, invalid("the App Store Connect key is not a PEM \"PRIVATE KEY\" (.p8) file; %s", hint)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, invalid("the App Store Connect key cannot be read as PKCS#8; %s", hint)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, invalid("the App Store Connect key is not an EC P-256 key (App Store Connect signs with ES256); %s", hint)
	}
	return &validated{kind: KindASCAPIKey, metadata: map[string]string{
		"key_id": m.ASCKeyID, "issuer_id": strings.ToLower(m.ASCIssuerID), "public_key_sha256": publicKeyDigest(ec.Public()),
	}}, nil
}

func validatePlay(m *Material) (*validated, error) {
	const hint = "download a JSON key for the service account in Google Cloud, IAM, Service accounts, Keys"
	if len(m.ServiceAccount) == 0 {
		return nil, invalid("a Play service account needs its JSON key file (service_account, --play-service-account)")
	}
	var sa struct {
		Type         string `json:"type"`
		ProjectID    string `json:"project_id"`
		PrivateKeyID string `json:"private_key_id"`
		PrivateKey   string `json:"private_key"`
		ClientEmail  string `json:"client_email"`
		TokenURI     string `json:"token_uri"`
	}
	if err := json.Unmarshal(m.ServiceAccount, &sa); err != nil {
		return nil, invalid("the Play service account is not a JSON key file; %s", hint)
	}
	switch {
	case sa.Type != "service_account":
		return nil, invalid("the Play credential's JSON has type %q, not service_account (an OAuth client or user credential will not do); %s", sa.Type, hint)
	case sa.ClientEmail == "":
		return nil, invalid("the Play service account's JSON has no client_email; %s", hint)
	}
	b, _ := pem.Decode([]byte(sa.PrivateKey))
	if b == nil {
		return nil, invalid("the Play service account's private_key is not PEM; %s", hint)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, invalid("the Play service account's private_key cannot be read as PKCS#8; %s", hint)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, invalid("the Play service account's private_key is not an RSA key; %s", hint)
	}
	md := map[string]string{"client_email": sa.ClientEmail, "public_key_sha256": publicKeyDigest(rk.Public())}
	if sa.ProjectID != "" {
		md["project_id"] = sa.ProjectID
	}
	if sa.PrivateKeyID != "" {
		md["private_key_id"] = sa.PrivateKeyID
	}
	return &validated{kind: KindPlayServiceAccount, metadata: md}, nil
}

// validateKeystore opens the upload key. Its certificate's expiry is
// recorded but neither refused nor tracked: Android and Play verify APK
// signatures whatever the certificate's validity dates, so an upload key
// keeps working after its certificate "expires".
func validateKeystore(m *Material) (*validated, error) {
	var key *signingkey.Key
	var err error
	format := "pem"
	switch {
	case len(m.Keystore) > 0:
		if len(m.Key) > 0 || len(m.Cert) > 0 {
			return nil, invalid("give either a keystore or a key and certificate, not both")
		}
		if m.KeystorePassword == "" {
			return nil, invalid("the keystore needs its password (keystore_password, --keystore-pass env:NAME)")
		}
		format = "pkcs12"
		if len(m.Keystore) >= 4 && string(m.Keystore[:4]) == "\xfe\xed\xfe\xed" {
			format = "jks"
		}
		key, err = signingkey.LoadKeystore(m.Keystore, m.KeystorePassword, m.KeyAlias, m.KeyPassword)
	case len(m.Key) > 0 && len(m.Cert) > 0:
		if m.KeystorePassword != "" || m.KeyAlias != "" || m.KeyPassword != "" {
			return nil, invalid("passwords and an alias go with a keystore, not with a key and certificate")
		}
		key, err = signingkey.LoadKeyPair(m.Key, m.Cert)
	default:
		return nil, invalid("an Android signing key needs a keystore (keystore, --keystore) or a key and its certificate (key and cert, --key and --cert)")
	}
	if err != nil {
		return nil, keyError("the Android signing key", err)
	}
	cert := key.Cert()
	md := map[string]string{
		"format": format, "cert_sha256": key.CertSHA256(), "cert_subject": cert.Subject.String(),
		"cert_not_after": cert.NotAfter.UTC().Format(time.RFC3339), "key_algorithm": cert.PublicKeyAlgorithm.String(),
	}
	if m.KeyAlias != "" {
		md["key_alias"] = m.KeyAlias
	}
	return &validated{kind: KindAndroidKeystore, metadata: md}, nil
}

// keyError turns a signingkey failure into a message saying what to fix;
// signingkey's messages name aliases and certificates, never secrets.
func keyError(what string, err error) error {
	switch {
	case errors.Is(err, signingkey.ErrWrongPassword):
		return invalid("%s cannot be opened: the password is wrong; check the password you passed (and the key password, if it differs from the keystore's)", what)
	case errors.Is(err, signingkey.ErrMismatch):
		return invalid("%s: the private key does not match the certificate; pass the certificate issued for this key (%v)", what, err)
	case errors.Is(err, signingkey.ErrNotFound):
		return invalid("%s: %v; pass the alias of the key entry", what, err)
	}
	return invalid("%s cannot be read: %v", what, err)
}

func validateIdentity(m *Material, now time.Time) (*validated, error) {
	if len(m.Identity) == 0 {
		return nil, invalid("an iOS identity needs its .p12 file (identity, --identity)")
	}
	key, err := ipa.LoadIdentity(m.Identity, m.IdentityPassword)
	if err != nil {
		return nil, keyError("the iOS identity", err)
	}
	cert := key.Cert()
	switch {
	case now.After(cert.NotAfter):
		return nil, invalid("the iOS identity's certificate %q expired on %s; create a new Apple Distribution certificate in the developer portal, export it with its key as .p12 and store that",
			cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(cert.NotBefore):
		return nil, invalid("the iOS identity's certificate %q is not valid before %s; check the clock, or wait", cert.Subject.CommonName, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	md := map[string]string{
		"cert_sha256": key.CertSHA256(), "cert_subject": cert.Subject.CommonName,
		"cert_not_after": cert.NotAfter.UTC().Format(time.RFC3339),
	}
	if len(cert.Subject.OrganizationalUnit) > 0 {
		md["team_id"] = cert.Subject.OrganizationalUnit[0]
	}
	return &validated{kind: KindIOSIdentity, metadata: md, expires: cert.NotAfter.UTC()}, nil
}

// validateProfile checks an App Store profile for one of the app's bundle
// ids: the app's own, or an extension's below it. Without a bundle id in
// the kind, it is the profile's explicit App ID, or the app's for a
// wildcard profile.
func validateProfile(app *ripcord.App, bundleID string, m *Material, now time.Time) (*validated, error) {
	if len(m.Profile) == 0 {
		return nil, invalid("an iOS provisioning profile needs the .mobileprovision file (profile, --profile)")
	}
	p, err := ipa.ParseProfile(m.Profile)
	if err != nil {
		return nil, invalid("the provisioning profile cannot be read (%v); download the App Store distribution profile from the developer portal", err)
	}
	_, pattern, _ := strings.Cut(p.AppID(), ".")
	if bundleID == "" {
		bundleID = app.IOSBundleID
		if pattern != "" && !strings.Contains(pattern, "*") {
			bundleID = pattern
		}
	}
	switch {
	case bundleID != app.IOSBundleID && !strings.HasPrefix(bundleID, app.IOSBundleID+"."):
		return nil, invalid("bundle id %s is not app %q's (%s) nor one of its extensions' (%s.*)", bundleID, app.Name, app.IOSBundleID, app.IOSBundleID)
	case !p.Covers(bundleID):
		return nil, invalid("provisioning profile %q is for App ID %s, not %s; download the profile made for that bundle id", p.Name, p.AppID(), bundleID)
	case now.After(p.Expires):
		return nil, invalid("provisioning profile %q expired on %s; regenerate it in the developer portal and store the new one", p.Name, p.Expires.UTC().Format(time.DateOnly))
	case p.Devices > 0:
		return nil, invalid("provisioning profile %q lists %d devices, so it is a development or ad hoc profile; the App Store needs an App Store distribution profile", p.Name, p.Devices)
	}
	return &validated{kind: KindIOSProfile + ":" + bundleID, metadata: map[string]string{
		"profile_name": p.Name, "profile_uuid": p.UUID, "team_id": p.TeamID, "app_id": p.AppID(), "bundle_id": bundleID,
		"expires": p.Expires.UTC().Format(time.RFC3339), "certificates": fmt.Sprint(len(p.Certificates)),
	}, expires: p.Expires.UTC()}, nil
}

// profileListsCert reports whether the profile lists a certificate with the
// given hex SHA-256.
func profileListsCert(profile []byte, certSHA256 string) bool {
	p, err := ipa.ParseProfile(profile)
	if err != nil {
		return false
	}
	for _, c := range p.Certificates {
		if signingkey.CertDigest(c.Raw) == certSHA256 {
			return true
		}
	}
	return false
}

// publicKeyDigest is the hex SHA-256 of a public key's PKIX encoding: a
// non-secret fingerprint to tell two keys apart in listings.
func publicKeyDigest(pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	d := sha256.Sum256(der)
	return hex.EncodeToString(d[:])
}
