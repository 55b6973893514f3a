package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// SessionStore keeps sessions in the database, so every instance sees a
// sign-out at once. storage.Store satisfies it.
type SessionStore interface {
	WebSessionGet(ctx context.Context, idHash string) (*storage.WebSession, error)
	InTx(ctx context.Context, fn func(ctx context.Context, tx storage.Tx) error) error
}

// Cookie names. The session cookie carries the random session id; the
// login cookie carries the sign-in form's CSRF token before any session
// exists (a login CSRF would sign a victim into the attacker's account).
const (
	sessionCookie = "ripcord_session"
	loginCookie   = "ripcord_login"
)

// session is a signed-in request's session.
type session struct {
	id    string // the secret in the cookie
	row   *storage.WebSession
	actor ripcord.Actor
}

// csrf is the session's synchronizer token: an HMAC of a fixed label keyed
// by the session id. It is bound to the session, needs no storage, and
// cannot be computed without the cookie, which other sites cannot read.
func (s *session) csrf() string { return csrfFor(s.id) }

func csrfFor(id string) string {
	m := hmac.New(sha256.New, []byte(id))
	m.Write([]byte("ripcord web csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// tokenEqual compares secrets in constant time.
func tokenEqual(a, b string) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// secure says whether cookies get the Secure flag: when the request came
// over TLS, directly or through a proxy that says so, or when the
// configured public URL is https. Over plain http on localhost (ripcord
// demo) the flag would make browsers drop the cookie, so it is left off.
func (h *handler) secure(r *http.Request) bool {
	return h.forceSecure || r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func (h *handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.secure(r)}
	if maxAge > 0 {
		c.MaxAge = int(maxAge.Seconds())
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// signIn creates a session for actor, audited as a sign-in in the same
// transaction, and sets its cookie.
func (h *handler) signIn(w http.ResponseWriter, r *http.Request, method string, actor ripcord.Actor) error {
	teams, email := teamRolesOf(actor), emailOf(actor)
	id, err := randomToken()
	if err != nil {
		return err
	}
	now := h.clock()
	ws := &storage.WebSession{IDHash: hashID(id), UserEmail: email, Actor: actor.Name, Role: actor.Role, TeamRoles: teams,
		Method: method, CreatedAt: now, ExpiresAt: now.Add(h.ttl)}
	ctx := ripcord.NewContextWithActor(r.Context(), actor)
	err = h.sessions.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		// Expired sessions go as new ones come, so the table stays small
		// without a sweeper.
		if _, err := tx.WebSessionDeleteExpired(ctx, now); err != nil {
			return err
		}
		if err := tx.WebSessionCreate(ctx, ws); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "session.sign_in", "user/"+email, nil,
			map[string]any{"method": method, "role": string(actor.Role), "expires_at": ws.ExpiresAt}))
	})
	if err != nil {
		return fmt.Errorf("record the sign-in of %s: %w", email, err)
	}
	h.setCookie(w, r, sessionCookie, id, h.ttl)
	h.setCookie(w, r, loginCookie, "", 0)
	return nil
}

// errNoSession means the request carries no live session; why says what
// to tell the person on the sign-in page.
type errNoSession struct{ why string }

func (e errNoSession) Error() string { return e.why }

// session reads the request's session. An expired one is deleted.
func (h *handler) session(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errNoSession{"Sign in to continue."}
	}
	ws, err := h.sessions.WebSessionGet(r.Context(), hashID(c.Value))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errNoSession{"Your session has ended. Sign in again."}
	} else if err != nil {
		return nil, err
	}
	if !h.clock().Before(ws.ExpiresAt) {
		h.endSession(r.Context(), ws, "session.expire")
		return nil, errNoSession{"Your session expired. Sign in again."}
	}
	// The account decides, not the session: a disabled user is signed out
	// now, and a changed role or team role applies to the next request.
	actor, err := h.accounts.ActorForUser(r.Context(), ws.UserEmail)
	switch code := ripcord.ErrorCode(err); {
	case err == nil:
	case code == ripcord.EUNAUTHORIZED || code == ripcord.ENOTFOUND:
		h.endSession(r.Context(), ws, "session.revoke")
		return nil, errNoSession{"Your account is no longer active. Ask an administrator."}
	default:
		return nil, err
	}
	return &session{id: c.Value, row: ws, actor: actor}, nil
}

// endSession deletes a session with its audit entry; a session already
// gone is fine (another tab signed out first).
func (h *handler) endSession(ctx context.Context, ws *storage.WebSession, action string) {
	ctx = ripcord.NewContextWithActor(ctx, sessionActor(ws))
	err := h.sessions.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.WebSessionDelete(ctx, ws.IDHash); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, h.clock(), action, "user/"+ws.UserEmail, map[string]any{"method": ws.Method}, nil))
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.logger.WarnContext(ctx, "end web session", slog.String("actor", ws.Actor), slog.String("error", err.Error()))
	}
}

// checkCSRF compares the form's or header's token with the session's.
func checkCSRF(r *http.Request, s *session) error {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	if !tokenEqual(got, s.csrf()) {
		return ripcord.Errorf(ripcord.EFORBIDDEN, "this form is stale or did not come from Ripcord (its security token does not match your session); reload the page and try again")
	}
	return nil
}
