package credentials_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/credentials/credtest"
	"github.com/ripcordhq/ripcord/internal/secretbox"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

const bundleID = "com.acme.shop"

type testBundle struct {
	ctx  context.Context // acting as admin "token:admin"
	svc  *credentials.Service
	db   *sqlite.DB
	key  []byte
	logs *bytes.Buffer
	set  *credtest.Set
}

// sets are made once: RSA key generation is slow, and every test only reads them.
var sharedSet = func() func(t *testing.T) *credtest.Set {
	var mu sync.Mutex
	var set *credtest.Set
	return func(t *testing.T) *credtest.Set {
		mu.Lock()
		defer mu.Unlock()
		if set == nil {
			set = credtest.NewSet(t, bundleID)
		}
		return set
	}
}()

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		now := time.Now()
		for _, a := range []*ripcord.App{
			{Name: "shop", IOSBundleID: bundleID, AndroidPackage: bundleID, CreatedAt: now, UpdatedAt: now},
			{Name: "droid", AndroidPackage: "com.acme.droid", CreatedAt: now, UpdatedAt: now},
		} {
			if err := tx.AppCreate(ctx, a); err != nil {
				return err
			}
		}
		return nil
	}))
	tb := &testBundle{
		ctx: ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:admin", Role: ripcord.RoleAdmin}),
		db:  db, key: newKey(t), logs: &bytes.Buffer{}, set: sharedSet(t),
	}
	tb.svc = tb.service(t, tb.key)
	return tb
}

func (tb *testBundle) service(t *testing.T, key []byte) *credentials.Service {
	t.Helper()
	svc, err := credentials.New(credentials.Config{Store: tb.db, SecretKey: key, Logger: slog.New(slog.NewTextHandler(tb.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	return svc
}

func as(role ripcord.Role) context.Context {
	return ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "token:" + string(role), Role: role})
}

// materials is one valid material per kind.
func (tb *testBundle) materials() map[string]credentials.Material {
	s := tb.set
	return map[string]credentials.Material{
		credentials.KindASCAPIKey:          {ASCKey: s.ASCKey, ASCKeyID: credtest.ASCKeyID, ASCIssuerID: credtest.ASCIssuerID},
		credentials.KindPlayServiceAccount: {ServiceAccount: s.ServiceAccount},
		credentials.KindAndroidKeystore:    {Keystore: s.JKS, KeystorePassword: credtest.StorePass, KeyAlias: credtest.KeyAlias, KeyPassword: credtest.KeyPass},
		credentials.KindIOSIdentity:        {Identity: s.P12, IdentityPassword: credtest.P12Pass},
		credentials.KindIOSProfile:         {Profile: s.Profile},
	}
}

func (tb *testBundle) putAll(t *testing.T) {
	t.Helper()
	for _, kind := range []string{credentials.KindASCAPIKey, credentials.KindPlayServiceAccount, credentials.KindAndroidKeystore, credentials.KindIOSIdentity, credentials.KindIOSProfile} {
		_, err := tb.svc.Put(tb.ctx, "shop", kind, tb.materials()[kind])
		require.NoError(t, err, kind)
	}
}

func (tb *testBundle) audit(t *testing.T) []ripcord.AuditEntry {
	t.Helper()
	es, err := tb.db.AuditList(context.Background(), storage.AuditListParams{})
	require.NoError(t, err)
	return es
}

// requireNoSecret fails when any of the set's secrets appears in text.
func requireNoSecret(t *testing.T, set *credtest.Set, where, text string) {
	t.Helper()
	for _, s := range set.Secrets() {
		require.False(t, strings.Contains(text, string(s)), "%s contains a secret (%.12q...)", where, s)
	}
}

func TestPutListOpen(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.putAll(t)

	list, err := tb.svc.List(as(ripcord.RoleViewer), "shop")
	require.NoError(t, err)
	kinds := map[string]*credentials.Credential{}
	for _, c := range list {
		kinds[c.Kind] = c
		require.Equal(t, "token:admin", c.CreatedBy)
	}
	require.Len(t, kinds, 5)
	asc := kinds["asc_api_key"]
	require.Equal(t, credtest.ASCKeyID, asc.Metadata["key_id"])
	require.Equal(t, credtest.ASCIssuerID, asc.Metadata["issuer_id"])
	require.True(t, asc.ExpiresAt.IsZero(), "API keys do not expire")
	require.Equal(t, credtest.PlayEmail, kinds["play_service_account"].Metadata["client_email"])
	ks := kinds["android_keystore"]
	require.Equal(t, "jks", ks.Metadata["format"])
	require.Equal(t, tb.set.Upload.SHA256(), ks.Metadata["cert_sha256"])
	require.True(t, ks.ExpiresAt.IsZero(), "Android ignores certificate expiry, so it is not tracked")
	id := kinds["ios_identity"]
	require.Equal(t, tb.set.Identity.SHA256(), id.Metadata["cert_sha256"])
	require.Equal(t, credtest.TeamID, id.Metadata["team_id"])
	require.WithinDuration(t, tb.set.Identity.Cert.NotAfter, id.ExpiresAt, time.Second)
	require.Equal(t, credentials.ExpiryOK, id.Expiry(time.Now()))
	prof := kinds["ios_profile:"+bundleID]
	require.NotNil(t, prof, "a profile's kind carries its bundle id, taken from the profile")
	require.Equal(t, "Shop App Store", prof.Metadata["profile_name"])
	require.InDelta(t, 199, prof.DaysLeft(time.Now()), 1)

	m, err := tb.svc.Open(as(ripcord.RoleViewer), "shop", credentials.KindAndroidKeystore)
	require.NoError(t, err)
	require.Equal(t, tb.set.JKS, m.Keystore)
	require.Equal(t, credtest.StorePass, m.KeystorePassword)
	key, err := m.SigningKey()
	require.NoError(t, err)
	require.Equal(t, tb.set.Upload.SHA256(), key.CertSHA256())
	m, err = tb.svc.Open(tb.ctx, "shop", "ios_profile:"+bundleID)
	require.NoError(t, err)
	require.Equal(t, tb.set.Profile, m.Profile)

	es := tb.audit(t)
	var acts []string
	for _, e := range es {
		acts = append(acts, e.Action+" "+e.Target)
		requireNoSecret(t, tb.set, "audit entry "+e.Action, e.Before+e.After)
	}
	require.Equal(t, []string{
		"credentials.put app/shop/credentials/asc_api_key",
		"credentials.put app/shop/credentials/play_service_account",
		"credentials.put app/shop/credentials/android_keystore",
		"credentials.put app/shop/credentials/ios_identity",
		"credentials.put app/shop/credentials/ios_profile:" + bundleID,
		"credentials.use app/shop/credentials/android_keystore",
		"credentials.use app/shop/credentials/ios_profile:" + bundleID,
	}, acts)
	require.Equal(t, "token:viewer", es[5].Actor, "every use names who used it")
	require.Nil(t, ripcord.VerifyAuditChain(0, "", es))
	requireNoSecret(t, tb.set, "logs", tb.logs.String())

	// Nothing secret is stored in the clear either.
	rows, err := tb.db.CredentialList(context.Background(), 0)
	require.NoError(t, err)
	for _, r := range rows {
		requireNoSecret(t, tb.set, "stored row "+r.Kind, string(r.Ciphertext)+r.Metadata)
	}
}

func TestPutReplacesAndAuditsBefore(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	m := tb.materials()[credentials.KindAndroidKeystore]
	_, err := tb.svc.Put(tb.ctx, "shop", credentials.KindAndroidKeystore, m)
	require.NoError(t, err)
	pem := credentials.Material{Key: tb.set.Upload.KeyPEM(), Cert: tb.set.Upload.CertPEM()}
	c, err := tb.svc.Put(tb.ctx, "shop", credentials.KindAndroidKeystore, pem)
	require.NoError(t, err)
	require.Equal(t, "pem", c.Metadata["format"])
	es := tb.audit(t)
	require.Len(t, es, 2)
	require.Contains(t, es[1].Before, `"format":"jks"`)
	require.Contains(t, es[1].After, `"format":"pem"`)
	got, err := tb.svc.Open(tb.ctx, "shop", credentials.KindAndroidKeystore)
	require.NoError(t, err)
	require.Empty(t, got.Keystore, "the second put replaced the first")
	require.Equal(t, pem.Key, got.Key)
}

func TestPutRefusals(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	s := tb.set
	other := credtest.NewCert(t, "Other", time.Now().Add(365*24*time.Hour))
	expired := credtest.NewCert(t, "Apple Distribution: Old", time.Now().Add(-24*time.Hour))
	tests := []struct {
		name, app, kind string
		m               credentials.Material
		code, msg       string
	}{
		{"ErrUnknownKind", "shop", "gcp_key", credentials.Material{}, ripcord.EINVALID, `kind "gcp_key" is not known`},
		{"ErrFieldOfOtherKind", "shop", "play_service_account", credentials.Material{ServiceAccount: s.ServiceAccount, Profile: s.Profile}, ripcord.EINVALID, "field profile does not belong"},
		{"ErrNoSuchApp", "nope", "play_service_account", credentials.Material{ServiceAccount: s.ServiceAccount}, ripcord.ENOTFOUND, `app "nope" does not exist`},
		{"ErrAppNotOnIOS", "droid", "ios_identity", credentials.Material{Identity: s.P12, IdentityPassword: credtest.P12Pass}, ripcord.EINVALID, "not on ios"},
		{"ErrASCKeyID", "shop", "asc_api_key", credentials.Material{ASCKey: s.ASCKey, ASCKeyID: "short", ASCIssuerID: credtest.ASCIssuerID}, ripcord.EINVALID, "key id \"short\" is not valid"},
		{"ErrASCNotP8", "shop", "asc_api_key", credentials.Material{ASCKey: s.Upload.KeyPEM(), ASCKeyID: credtest.ASCKeyID, ASCIssuerID: credtest.ASCIssuerID}, ripcord.EINVALID, "not an EC P-256 key"},
		{"ErrPlayNotJSON", "shop", "play_service_account", credentials.Material{ServiceAccount: []byte("nope")}, ripcord.EINVALID, "not a JSON key file"},
		{"ErrPlayWrongType", "shop", "play_service_account", credentials.Material{ServiceAccount: []byte(`{"type":"authorized_user"}`)}, ripcord.EINVALID, `type "authorized_user"`},
		{"ErrKeystoreWrongPassword", "shop", "android_keystore", credentials.Material{Keystore: s.JKS, KeystorePassword: "wrong"}, ripcord.EINVALID, "password is wrong"},
		{"ErrKeystoreWrongKeyPassword", "shop", "android_keystore", credentials.Material{Keystore: s.JKS, KeystorePassword: credtest.StorePass, KeyAlias: credtest.KeyAlias, KeyPassword: "wrong"}, ripcord.EINVALID, "password is wrong"},
		{"ErrKeystoreNoPassword", "shop", "android_keystore", credentials.Material{Keystore: s.PKCS12}, ripcord.EINVALID, "needs its password"},
		{"ErrKeystoreAlias", "shop", "android_keystore", credentials.Material{Keystore: s.JKS, KeystorePassword: credtest.StorePass, KeyAlias: "nope", KeyPassword: credtest.KeyPass}, ripcord.EINVALID, "alias"},
		{"ErrKeyCertMismatch", "shop", "android_keystore", credentials.Material{Key: s.Upload.KeyPEM(), Cert: other.CertPEM()}, ripcord.EINVALID, "does not match the certificate"},
		{"ErrKeyWithoutCert", "shop", "android_keystore", credentials.Material{Key: s.Upload.KeyPEM()}, ripcord.EINVALID, "needs a keystore"},
		{"ErrIdentityWrongPassword", "shop", "ios_identity", credentials.Material{Identity: s.P12, IdentityPassword: "wrong"}, ripcord.EINVALID, "password is wrong"},
		{"ErrIdentityExpired", "shop", "ios_identity", credentials.Material{Identity: expired.PKCS12(t, "pw"), IdentityPassword: "pw"}, ripcord.EINVALID, "expired on"},
		{"ErrProfileExpired", "shop", "ios_profile", credentials.Material{Profile: credtest.Profile(t, "Old", credtest.TeamID+"."+bundleID, s.Identity.Cert, time.Now().Add(-time.Hour))}, ripcord.EINVALID, `profile "Old" expired on`},
		{"ErrProfileOtherApp", "shop", "ios_profile", credentials.Material{Profile: credtest.Profile(t, "Other", credtest.TeamID+".com.other.app", s.Identity.Cert, time.Now().Add(time.Hour*48))}, ripcord.EINVALID, "is not app \"shop\"'s"},
		{"ErrProfileWrongBundle", "shop", "ios_profile:" + bundleID + ".share", credentials.Material{Profile: s.Profile}, ripcord.EINVALID, "not " + bundleID + ".share"},
		{"ErrProfileNotCMS", "shop", "ios_profile", credentials.Material{Profile: []byte("plain")}, ripcord.EINVALID, "cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tb.svc.Put(tb.ctx, tt.app, tt.kind, tt.m)
			require.Error(t, err)
			require.Equal(t, tt.code, ripcord.ErrorCode(err), "%v", err)
			require.Contains(t, ripcord.ErrorMessage(err), tt.msg)
			requireNoSecret(t, tb.set, "error message", err.Error())
		})
	}
}

// TestProfileMustListIdentity refuses a profile that the stored identity
// could not sign with.
func TestProfileMustListIdentity(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := tb.svc.Put(tb.ctx, "shop", credentials.KindIOSIdentity, tb.materials()[credentials.KindIOSIdentity])
	require.NoError(t, err)
	other := credtest.NewCert(t, "Other", time.Now().Add(365*24*time.Hour))
	_, err = tb.svc.Put(tb.ctx, "shop", "ios_profile", credentials.Material{Profile: credtest.Profile(t, "Other cert", credtest.TeamID+"."+bundleID, other.Cert, time.Now().Add(48*time.Hour))})
	require.ErrorContains(t, err, "does not list the stored iOS identity's certificate")
	// An extension's profile under the app's bundle id, from a wildcard App ID.
	c, err := tb.svc.Put(tb.ctx, "shop", "ios_profile:"+bundleID+".share", credentials.Material{Profile: credtest.Profile(t, "Wild", credtest.TeamID+".*", tb.set.Identity.Cert, time.Now().Add(48*time.Hour))})
	require.NoError(t, err)
	require.Equal(t, "ios_profile:"+bundleID+".share", c.Kind)
	require.Equal(t, credentials.ExpiryExpiring, c.Expiry(time.Now()))
}

func TestRoles(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	m := tb.materials()[credentials.KindPlayServiceAccount]
	_, err := tb.svc.Put(as(ripcord.RoleReleaseManager), "shop", credentials.KindPlayServiceAccount, m)
	require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err))
	_, err = tb.svc.Put(tb.ctx, "shop", credentials.KindPlayServiceAccount, m)
	require.NoError(t, err)
	_, err = tb.svc.Delete(as(ripcord.RoleReleaseManager), "shop", credentials.KindPlayServiceAccount)
	require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err))
	_, err = tb.svc.List(context.Background(), "shop")
	require.Equal(t, ripcord.EUNAUTHORIZED, ripcord.ErrorCode(err))
	_, err = tb.svc.Open(context.Background(), "shop", credentials.KindPlayServiceAccount)
	require.Equal(t, ripcord.EUNAUTHORIZED, ripcord.ErrorCode(err), "an anonymous use could not be audited")
}

func TestDelete(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := tb.svc.Put(tb.ctx, "shop", credentials.KindPlayServiceAccount, tb.materials()[credentials.KindPlayServiceAccount])
	require.NoError(t, err)
	gone, err := tb.svc.Delete(tb.ctx, "shop", credentials.KindPlayServiceAccount)
	require.NoError(t, err)
	require.Equal(t, credtest.PlayEmail, gone.Metadata["client_email"])
	_, err = tb.svc.Delete(tb.ctx, "shop", credentials.KindPlayServiceAccount)
	require.Equal(t, ripcord.ENOTFOUND, ripcord.ErrorCode(err))
	_, err = tb.svc.Open(tb.ctx, "shop", credentials.KindPlayServiceAccount)
	require.Equal(t, ripcord.ENOTFOUND, ripcord.ErrorCode(err))
	es := tb.audit(t)
	require.Equal(t, "credentials.delete", es[len(es)-1].Action)
	require.Contains(t, es[len(es)-1].Before, credtest.PlayEmail)
}

func TestNoSecretKey(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	keyless := tb.service(t, nil)
	_, err := keyless.Put(tb.ctx, "shop", credentials.KindPlayServiceAccount, tb.materials()[credentials.KindPlayServiceAccount])
	require.Equal(t, ripcord.EUNAVAILABLE, ripcord.ErrorCode(err))
	require.Contains(t, ripcord.ErrorMessage(err), "RIPCORD_SECRET_KEY")
	require.NoError(t, keyless.CheckKey(context.Background()), "without credentials no key is needed")

	_, err = tb.svc.Put(tb.ctx, "shop", credentials.KindPlayServiceAccount, tb.materials()[credentials.KindPlayServiceAccount])
	require.NoError(t, err)
	err = keyless.CheckKey(context.Background())
	require.ErrorContains(t, err, "holds 1 encrypted credentials (shop/play_service_account) but no secret key is configured")
	require.ErrorContains(t, err, "RIPCORD_SECRET_KEY_FILE")
	list, err := keyless.List(tb.ctx, "shop")
	require.NoError(t, err, "listing needs no key")
	require.Len(t, list, 1)
}

func TestWrongSecretKey(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := tb.svc.Put(tb.ctx, "shop", credentials.KindPlayServiceAccount, tb.materials()[credentials.KindPlayServiceAccount])
	require.NoError(t, err)
	require.NoError(t, tb.svc.CheckKey(context.Background()))
	other := newKey(t)
	for secretbox.KeyID(other) == secretbox.KeyID(tb.key) {
		other = newKey(t)
	}
	wrong := tb.service(t, other)
	err = wrong.CheckKey(context.Background())
	require.ErrorIs(t, err, secretbox.ErrUnknownKey)
	require.ErrorContains(t, err, "cannot decrypt credential play_service_account of app shop")
	_, err = wrong.Open(tb.ctx, "shop", credentials.KindPlayServiceAccount)
	require.ErrorIs(t, err, secretbox.ErrUnknownKey)
}

// TestSwappedCiphertext moves one row's ciphertext into another's: the
// associated data binds it to its row, so it does not open there.
func TestSwappedCiphertext(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.putAll(t)
	_, err := tb.db.SQL().ExecContext(context.Background(), `UPDATE app_credentials SET ciphertext =
		(SELECT ciphertext FROM app_credentials WHERE kind = 'ios_identity') WHERE kind = 'android_keystore'`)
	require.NoError(t, err)
	_, err = tb.svc.Open(tb.ctx, "shop", credentials.KindAndroidKeystore)
	require.ErrorIs(t, err, secretbox.ErrOpen)
	require.ErrorContains(t, tb.svc.CheckKey(context.Background()), "android_keystore of app shop does not decrypt")
	_, err = tb.svc.Open(tb.ctx, "shop", credentials.KindIOSIdentity)
	require.NoError(t, err, "the original row still opens")
}

func TestMaterialNeverPrints(t *testing.T) {
	t.Parallel()
	m := credentials.Material{KeystorePassword: "hunter2", Keystore: []byte("bytes")}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", slog.Any("m", m), slog.Any("p", &m))
	for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%v %+v %#v", m, m, m), fmt.Sprint(&m), logs.String()} {
		require.NotContains(t, s, "hunter2")
		require.Contains(t, s, "redacted")
	}
	_, err := m.MarshalJSON()
	require.Error(t, err)
}

func TestExpiring(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.putAll(t)
	list, err := credentials.Expiring(context.Background(), tb.db)
	require.NoError(t, err)
	require.Len(t, list, 2, "the identity and the profile expire; keys do not")
	require.Equal(t, "ios_profile:"+bundleID, list[0].Kind, "soonest first")
	require.Equal(t, "shop", list[0].App)
	require.Equal(t, credentials.KindIOSIdentity, list[1].Kind)
	now := time.Now()
	require.Equal(t, credentials.ExpiryExpiring, list[0].Expiry(now.Add(180*24*time.Hour)))
	require.Equal(t, credentials.ExpiryExpired, list[0].Expiry(now.Add(201*24*time.Hour)))
	require.Equal(t, -1, credentials.DaysLeft(now, now.Add(time.Hour)))
	require.Equal(t, 0, credentials.DaysLeft(now.Add(time.Hour), now))
}
