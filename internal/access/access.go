// Package access decides who is calling: it issues and revokes API tokens,
// stores only their hashes, and turns a presented secret into an Actor with
// a role. It also verifies the audit log's hash chain.
package access

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Service manages tokens and users.
type Service struct {
	store storage.Store
	now   func() time.Time
	// dummyHash is checked against when a sign-in names an unknown email,
	// so it takes as long as one with a wrong password; made on first use.
	dummyOnce sync.Once
	dummyHash string
}

// New builds the service; now defaults to time.Now.
func New(store storage.Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// touchEvery limits last-used writes to one per token per minute, so
// authentication does not turn every read into a database write.
const touchEvery = time.Minute

var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// TokenCreate issues a service token (CI, scripts) and returns its secret,
// which is never shown again. Admin only (the CLI acts as a local admin when
// it works directly on the database, so the first token can be made).
func (s *Service) TokenCreate(ctx context.Context, name string, role ripcord.Role) (string, *ripcord.Token, error) {
	return s.TokenCreateForUser(ctx, name, role, "")
}

// TokenCreateForUser issues a token bound to the user with email (none when
// email is empty): it acts as that person, with at most the lower of role
// and the user's role, so approvals made with it carry their name and team
// roles. Admin only.
func (s *Service) TokenCreateForUser(ctx context.Context, name string, role ripcord.Role, email string) (string, *ripcord.Token, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleAdmin); err != nil {
		return "", nil, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, fmt.Errorf("create token: random: %w", err)
	}
	secret := ripcord.TokenSecretPrefix + strings.ToLower(secretEncoding.EncodeToString(raw[:]))
	t := &ripcord.Token{Name: name, Role: role, Prefix: secret[:len(ripcord.TokenSecretPrefix)+6], Hash: ripcord.HashTokenSecret(secret),
		CreatedBy: ripcord.ActorFromContext(ctx).Name, CreatedAt: s.clock()}
	if err := t.Validate(); err != nil {
		return "", nil, err
	}
	after := map[string]any{"name": name, "role": role, "prefix": t.Prefix}
	if email != "" {
		u, err := s.userForChange(ctx, email, false)
		if err != nil {
			return "", nil, err
		}
		if u.Disabled {
			return "", nil, ripcord.Errorf(ripcord.ECONFLICT, "user %s is disabled; enable them before giving them a token", u.Email)
		}
		t.UserID = u.ID
		after["user"] = u.Email
	}
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.TokenCreate(ctx, t); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return ripcord.Errorf(ripcord.ECONFLICT, "a token named %q already exists (names stay taken after revocation); choose another name", name)
			}
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, t.CreatedAt, "token.create", "token/"+name, nil, after))
	})
	if err != nil {
		return "", nil, fmt.Errorf("create token %s: %w", name, err)
	}
	return secret, t, nil
}

// TokenList lists tokens (never their secrets). Admin only.
func (s *Service) TokenList(ctx context.Context) ([]*ripcord.Token, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleAdmin); err != nil {
		return nil, err
	}
	return s.store.TokenList(ctx)
}

// TokenRevoke revokes a token by name; it stops authenticating at once.
// Revoking a revoked token is a no-op. Admin only.
func (s *Service) TokenRevoke(ctx context.Context, name string) (*ripcord.Token, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleAdmin); err != nil {
		return nil, err
	}
	var out *ripcord.Token
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		t, err := tx.TokenGetByName(ctx, name)
		if errors.Is(err, storage.ErrNotFound) {
			return ripcord.Errorf(ripcord.ENOTFOUND, "no token named %q; `ripcord token list` shows the tokens", name)
		}
		if err != nil {
			return err
		}
		out = t
		if t.Revoked() {
			return nil
		}
		now := s.clock()
		if err := tx.TokenRevoke(ctx, t.ID, now); err != nil {
			return err
		}
		t.RevokedAt = now
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "token.revoke", "token/"+name,
			map[string]any{"revoked": false}, map[string]any{"revoked": true}))
	})
	if err != nil {
		return nil, fmt.Errorf("revoke token %s: %w", name, err)
	}
	return out, nil
}

// Authenticate turns a presented token secret into an Actor. Unknown and
// revoked tokens get the same answer, so the reply reveals nothing.
func (s *Service) Authenticate(ctx context.Context, secret string) (ripcord.Actor, error) {
	unauth := ripcord.Errorf(ripcord.EUNAUTHORIZED, "the token is not valid or was revoked; create one with `ripcord token create`")
	if !strings.HasPrefix(secret, ripcord.TokenSecretPrefix) {
		return ripcord.Actor{}, unauth
	}
	t, err := s.store.TokenGetByHash(ctx, ripcord.HashTokenSecret(secret))
	if errors.Is(err, storage.ErrNotFound) {
		return ripcord.Actor{}, unauth
	}
	if err != nil {
		return ripcord.Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	if t.Revoked() {
		return ripcord.Actor{}, unauth
	}
	if now := s.clock(); now.Sub(t.LastUsedAt) > touchEvery {
		// Best effort: a failed touch must not fail the request.
		_ = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.TokenTouch(ctx, t.ID, now) })
	}
	if t.UserID != 0 {
		u, err := s.store.UserGetByID(ctx, t.UserID)
		if errors.Is(err, storage.ErrNotFound) {
			return ripcord.Actor{}, unauth
		} else if err != nil {
			return ripcord.Actor{}, fmt.Errorf("authenticate: %w", err)
		}
		if u.Disabled {
			return ripcord.Actor{}, unauth
		}
		return UserActor(&u.User, t.Role), nil
	}
	return ripcord.Actor{Name: "token:" + t.Name, Role: t.Role}, nil
}

// AuditReport is the outcome of verifying the audit chain.
type AuditReport struct {
	Entries int64               // entries verified; with a Break, those before it
	Break   *ripcord.AuditBreak // nil when the chain holds
}

// AuditVerify recomputes the whole chain, page by page, and checks that its
// last entry is the one the head row names (so deleting the newest entries is
// caught too). Viewers may run it.
func (s *Service) AuditVerify(ctx context.Context) (*AuditReport, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	headSeq, headHash, err := s.store.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	var rep AuditReport
	var prevSeq int64
	var prevHash string
	for {
		page, err := s.store.AuditList(ctx, storage.AuditListParams{AfterSeq: prevSeq, Limit: 1000})
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		if br := ripcord.VerifyAuditChain(prevSeq, prevHash, page); br != nil {
			rep.Break = br
			rep.Entries += br.Seq - 1 - prevSeq // those in this page before the break held
			return &rep, nil
		}
		rep.Entries += int64(len(page))
		last := page[len(page)-1]
		prevSeq, prevHash = last.Seq, last.Hash
	}
	switch {
	case prevSeq < headSeq:
		rep.Break = &ripcord.AuditBreak{Seq: prevSeq + 1, Reason: fmt.Sprintf("entries %d to %d are missing (the log ends at %d)", prevSeq+1, headSeq, prevSeq)}
	case prevSeq > headSeq || prevHash != headHash:
		rep.Break = &ripcord.AuditBreak{Seq: prevSeq, Reason: "the newest entry is not the one the log's head records"}
	}
	return &rep, nil
}
