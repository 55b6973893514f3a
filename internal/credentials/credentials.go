// Package credentials keeps each app's store credentials (App Store Connect
// API key, Play service account) and signing material (Android upload key,
// iOS distribution identity and provisioning profiles) on the server.
//
// Material is parsed and checked when it is stored (a wrong password, a key
// that does not match its certificate, an expired certificate or profile
// are refused with what to do), sealed with the server's secret key
// (internal/secretbox, bound to its app and kind) and stored with
// non-secret facts only: key ids, certificate digests, expiry. Listings
// show those facts and never the secret; Open, for the services that sign
// and upload, decrypts and audits every use.
//
// It is a package of its own rather than part of catalog because it holds
// the only decryption key in the process: keeping it narrow keeps the code
// that can see secrets small and reviewable.
package credentials

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/secretbox"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// ExpiryWarning is how long before expiry a credential is reported as
// expiring: long enough to renew a certificate and regenerate profiles.
const ExpiryWarning = 30 * 24 * time.Hour

// NoKeyHelp says how to configure the secret key; every refusal for want
// of one ends with it.
const NoKeyHelp = "set secret_key to 32 random bytes in base64 (environment RIPCORD_SECRET_KEY, or a file named by RIPCORD_SECRET_KEY_FILE or --secret-key-file; generate one with `openssl rand -base64 32`) and restart the server"

// Config holds the service's dependencies.
type Config struct {
	Store storage.Store // required
	// SecretKey seals and opens the material: 32 bytes, or nil when the
	// server has none (then nothing can be stored or opened). Default nil.
	SecretKey []byte
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs (never material). Default slog.Default().
	Logger *slog.Logger
}

// Service stores, lists, deletes and opens credentials.
type Service struct {
	store  storage.Store
	box    *secretbox.Box // nil without a secret key
	now    func() time.Time
	logger *slog.Logger
}

// New builds the service. It fails only on a secret key of the wrong size.
func New(cfg Config) (*Service, error) {
	s := &Service{store: cfg.Store, now: cfg.Now, logger: cmp.Or(cfg.Logger, slog.Default())}
	if s.now == nil {
		s.now = time.Now
	}
	if len(cfg.SecretKey) > 0 {
		box, err := secretbox.New(cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("credentials: secret key: %w", err)
		}
		s.box = box
	}
	return s, nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Credential is a stored credential as anyone may see it: what it is and
// the non-secret facts about it, never the material.
type Credential struct {
	App       string
	Kind      string            // e.g. "asc_api_key", "ios_profile:com.acme.shop"
	Metadata  map[string]string // key id, issuer, client email, certificate digest, subject and expiry, profile name, team...
	ExpiresAt time.Time         // zero when the material does not expire
	CreatedBy string            // who stored this version
	UpdatedAt time.Time
}

// Expiry states of a credential, as listings and the daily check report them.
const (
	ExpiryNone     = ""         // does not expire
	ExpiryOK       = "ok"       // more than ExpiryWarning left
	ExpiryExpiring = "expiring" // within ExpiryWarning
	ExpiryExpired  = "expired"
)

// DaysLeft is the number of whole days until expiry at now, negative once
// expired (-1 on the first day after). Meaningless without an expiry.
func (c *Credential) DaysLeft(now time.Time) int {
	return DaysLeft(c.ExpiresAt, now)
}

// DaysLeft is the number of whole days from now until expires, rounded
// down; negative once expired.
func DaysLeft(expires, now time.Time) int {
	return int(math.Floor(expires.Sub(now).Hours() / 24))
}

// Expiry classifies the credential at now.
func (c *Credential) Expiry(now time.Time) string {
	switch {
	case c.ExpiresAt.IsZero():
		return ExpiryNone
	case !now.Before(c.ExpiresAt):
		return ExpiryExpired
	case c.ExpiresAt.Sub(now) <= ExpiryWarning:
		return ExpiryExpiring
	}
	return ExpiryOK
}

func toCredential(app string, c *storage.Credential) (*Credential, error) {
	md := map[string]string{}
	if err := json.Unmarshal([]byte(c.Metadata), &md); err != nil {
		return nil, fmt.Errorf("credential %s of app %s: metadata: %w", c.Kind, app, err)
	}
	return &Credential{App: app, Kind: c.Kind, Metadata: md, ExpiresAt: c.ExpiresAt, CreatedBy: c.CreatedBy, UpdatedAt: c.UpdatedAt}, nil
}

// summary is what the audit log records of a credential: kind, metadata
// and expiry, never material.
func (c *Credential) summary() map[string]any {
	out := map[string]any{"kind": c.Kind, "metadata": c.Metadata}
	if !c.ExpiresAt.IsZero() {
		out["expires_at"] = c.ExpiresAt.Format(time.RFC3339)
	}
	return out
}

func target(app, kind string) string { return "app/" + app + "/credentials/" + kind }

// associatedData binds a sealed value to its row: moved to another app or
// kind, it no longer opens.
func associatedData(appID int64, kind string) []byte {
	return []byte("ripcord credential v1\x00" + strconv.FormatInt(appID, 10) + "\x00" + kind)
}

func (s *Service) noKey(action string) error {
	return ripcord.Errorf(ripcord.EUNAVAILABLE, "cannot %s: the server has no secret key to encrypt credentials with; %s", action, NoKeyHelp)
}

func (s *Service) app(ctx context.Context, q storage.Queries, name string) (*ripcord.App, error) {
	a, err := q.AppGetByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %q does not exist; `ripcord app list` shows the apps", name)
	}
	return a, err
}

// Put checks material of kind for app and stores it sealed, replacing the
// app's credential of that kind. A profile's kind may be given as plain
// "ios_profile": the bundle id is then taken from the profile. Admin only;
// audited as "credentials.put" with the metadata.
func (s *Service) Put(ctx context.Context, appName, kind string, m Material) (*Credential, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleAdmin); err != nil {
		return nil, err
	}
	if s.box == nil {
		return nil, s.noKey("store credentials")
	}
	app, err := s.app(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	v, err := validate(app, kind, &m, now)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(v.kind, KindIOSProfile+":") {
		if err := s.checkProfileIdentity(ctx, app, &m); err != nil {
			return nil, err
		}
	}
	plain, err := json.Marshal(sealedMaterial(m))
	if err != nil {
		return nil, fmt.Errorf("put credential %s of app %s: encode: %w", v.kind, app.Name, err)
	}
	sealed, err := s.box.Seal(plain, associatedData(app.ID, v.kind))
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("put credential %s of app %s: %w", v.kind, app.Name, err)
	}
	md, err := json.Marshal(v.metadata)
	if err != nil {
		return nil, fmt.Errorf("put credential %s of app %s: metadata: %w", v.kind, app.Name, err)
	}
	row := &storage.Credential{AppID: app.ID, Kind: v.kind, Ciphertext: sealed, Metadata: string(md), ExpiresAt: v.expires,
		CreatedBy: ripcord.ActorFromContext(ctx).Name, UpdatedAt: now}
	out, err := toCredential(app.Name, row)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		var before any
		switch old, err := tx.CredentialGet(ctx, app.ID, v.kind); {
		case err == nil:
			prev, err := toCredential(app.Name, old)
			if err != nil {
				return err
			}
			before = prev.summary()
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
		if err := tx.CredentialPut(ctx, row); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "credentials.put", target(app.Name, v.kind), before, out.summary()))
	})
	if err != nil {
		return nil, fmt.Errorf("put credential %s of app %s: %w", v.kind, app.Name, err)
	}
	s.logger.InfoContext(ctx, "credential stored", slog.String("app", app.Name), slog.String("kind", v.kind), slog.String("actor", out.CreatedBy))
	return out, nil
}

// checkProfileIdentity refuses a profile that does not list the stored
// distribution identity's certificate: a build signed with that identity
// and this profile would be rejected by the store. It reads the
// identity's metadata, so nothing is decrypted.
func (s *Service) checkProfileIdentity(ctx context.Context, app *ripcord.App, m *Material) error {
	id, err := s.store.CredentialGet(ctx, app.ID, KindIOSIdentity)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	c, err := toCredential(app.Name, id)
	if err != nil {
		return err
	}
	if digest := c.Metadata["cert_sha256"]; digest != "" && !profileListsCert(m.Profile, digest) {
		return invalid("the provisioning profile does not list the stored iOS identity's certificate %q (SHA-256 %s); regenerate the profile with that certificate, or store the identity the profile was made for first",
			c.Metadata["cert_subject"], digest)
	}
	return nil
}

// List returns an app's credentials, metadata only. Viewers may list: the
// facts shown (key ids, certificate digests, expiry) are not secrets.
func (s *Service) List(ctx context.Context, appName string) ([]*Credential, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, s.store, appName)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.CredentialList(ctx, app.ID)
	if err != nil {
		return nil, fmt.Errorf("list credentials of app %s: %w", app.Name, err)
	}
	out := make([]*Credential, 0, len(rows))
	for i := range rows {
		c, err := toCredential(app.Name, &rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Delete removes an app's credential of kind. Admin only; audited as
// "credentials.delete". It needs no secret key.
func (s *Service) Delete(ctx context.Context, appName, kind string) (*Credential, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleAdmin); err != nil {
		return nil, err
	}
	if _, _, err := parseKind(kind); err != nil {
		return nil, err
	}
	now := s.clock()
	var gone *Credential
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		app, err := s.app(ctx, tx, appName)
		if err != nil {
			return err
		}
		row, err := tx.CredentialGet(ctx, app.ID, kind)
		if errors.Is(err, storage.ErrNotFound) {
			return ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no %s credential; `ripcord app credentials %s --list` shows what it has", app.Name, kind, app.Name)
		} else if err != nil {
			return err
		}
		if gone, err = toCredential(app.Name, row); err != nil {
			return err
		}
		if err := tx.CredentialDelete(ctx, app.ID, kind); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "credentials.delete", target(app.Name, kind), gone.summary(), nil))
	})
	if err != nil {
		return nil, fmt.Errorf("delete credential %s of app %s: %w", kind, appName, err)
	}
	return gone, nil
}

// Open decrypts an app's credential of kind for the services that sign and
// upload, and audits the use ("credentials.use") in the same transaction
// as the read. It is never reachable from the API. The context must name
// the actor (a job acts as e.g. "job:prepare_rollback") so every use is
// attributable; ENOTFOUND when the app has no such credential.
func (s *Service) Open(ctx context.Context, appName, kind string) (*Material, error) {
	actor := ripcord.ActorFromContext(ctx)
	if actor.Name == "" {
		return nil, ripcord.Errorf(ripcord.EUNAUTHORIZED, "opening a credential needs a named actor in the context, for the audit log")
	}
	if s.box == nil {
		return nil, s.noKey("open credentials")
	}
	now := s.clock()
	var m Material
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		app, err := s.app(ctx, tx, appName)
		if err != nil {
			return err
		}
		row, err := tx.CredentialGet(ctx, app.ID, kind)
		if errors.Is(err, storage.ErrNotFound) {
			return ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no %s credential; an admin stores one with `ripcord app credentials %s ...`", app.Name, kind, app.Name)
		} else if err != nil {
			return err
		}
		plain, err := s.box.Open(row.Ciphertext, associatedData(app.ID, kind))
		if err != nil {
			return openError(app.Name, kind, err)
		}
		var sm sealedMaterial
		err = json.Unmarshal(plain, &sm)
		clear(plain)
		if err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		m = Material(sm)
		c, err := toCredential(app.Name, row)
		if err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "credentials.use", target(app.Name, kind), nil, c.summary()))
	})
	if err != nil {
		return nil, fmt.Errorf("open credential %s of app %s: %w", kind, appName, err)
	}
	return &m, nil
}

// openError says why a stored credential does not open and what to do.
func openError(app, kind string, err error) error {
	if errors.Is(err, secretbox.ErrUnknownKey) {
		return fmt.Errorf("the configured secret key cannot decrypt credential %s of app %s: it was stored with another key (%w); set secret_key to the key the credentials were stored with", kind, app, err)
	}
	return fmt.Errorf("credential %s of app %s does not decrypt (%w): the row was altered or the key is wrong; store the credential again", kind, app, err)
}

// CheckKey verifies at start-up that the configured secret key opens every
// stored credential, so a missing or wrong key stops the server with a
// clear message instead of failing the first rollback. Nothing is audited:
// it checks the key, it does not use the material.
func (s *Service) CheckKey(ctx context.Context) error {
	rows, err := s.store.CredentialList(ctx, 0)
	if err != nil {
		return fmt.Errorf("check secret key: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	names, err := s.appNames(ctx)
	if err != nil {
		return fmt.Errorf("check secret key: %w", err)
	}
	if s.box == nil {
		var list []string
		for _, r := range rows {
			list = append(list, names[r.AppID]+"/"+r.Kind)
		}
		return fmt.Errorf("the database holds %d encrypted credentials (%s) but no secret key is configured to decrypt them; %s (with the key they were stored with)",
			len(rows), strings.Join(list, ", "), strings.TrimSuffix(NoKeyHelp, " and restart the server"))
	}
	for _, r := range rows {
		plain, err := s.box.Open(r.Ciphertext, associatedData(r.AppID, r.Kind))
		if err != nil {
			return openError(names[r.AppID], r.Kind, err)
		}
		clear(plain)
	}
	return nil
}

func (s *Service) appNames(ctx context.Context) (map[int64]string, error) {
	apps, err := s.store.AppList(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int64]string{}
	for _, a := range apps {
		out[a.ID] = a.Name
	}
	return out, nil
}

// Expiring lists every app's credentials that expire, soonest first, for
// the daily expiry check. Metadata only; nothing is decrypted.
func Expiring(ctx context.Context, store storage.Queries) ([]*Credential, error) {
	rows, err := store.CredentialList(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	apps, err := store.AppList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	names := map[int64]string{}
	for _, a := range apps {
		names[a.ID] = a.Name
	}
	var out []*Credential
	for i := range rows {
		if rows[i].ExpiresAt.IsZero() {
			continue
		}
		c, err := toCredential(names[rows[i].AppID], &rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ExpiresAt.Before(out[j].ExpiresAt) })
	return out, nil
}
