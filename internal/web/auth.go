package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
)

// loginView is the sign-in page's body.
type loginView struct {
	Next      string
	Why       string
	Email     string
	LoginCSRF string
	OIDC      bool
	Error     string
}

// safeNext keeps a post-sign-in redirect on this site's dashboard, so the
// sign-in page cannot be used to bounce people elsewhere.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request, _ *session) {
	h.showLogin(w, r, http.StatusOK, loginView{Next: safeNext(r.URL.Query().Get("next")), Why: r.URL.Query().Get("why")})
}

// showLogin renders the sign-in form with a fresh login CSRF token.
func (h *handler) showLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	tok, err := randomToken()
	if err != nil {
		h.renderError(w, r, nil, err)
		return
	}
	h.setCookie(w, r, loginCookie, tok, time.Hour) // the form lives for an hour
	v.LoginCSRF, v.OIDC = tok, h.oidc != nil
	h.render(w, r, nil, status, "login", "Sign in", v)
}

// loginSubmit checks the form's token against the login cookie, then the
// password. A failure says only that the pair is wrong.
func (h *handler) loginSubmit(w http.ResponseWriter, r *http.Request, _ *session) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	v := loginView{Next: safeNext(r.PostFormValue("next")), Email: email}
	c, err := r.Cookie(loginCookie)
	if err != nil || !tokenEqual(r.PostFormValue("login_csrf"), c.Value) {
		v.Error = "This sign-in form expired or did not come from Ripcord. Enter your email and password again."
		h.showLogin(w, r, http.StatusForbidden, v)
		return
	}
	if email == "" || r.PostFormValue("password") == "" {
		v.Error = "Enter your email and your password."
		h.showLogin(w, r, http.StatusBadRequest, v)
		return
	}
	actor, err := h.accounts.PasswordLogin(r.Context(), email, r.PostFormValue("password"))
	if err != nil {
		switch ripcord.ErrorCode(err) {
		case ripcord.EUNAUTHORIZED, ripcord.ENOTFOUND, ripcord.EFORBIDDEN, ripcord.EINVALID:
			v.Error = "That email and password do not match an active account. Check both and try again, or ask an administrator."
			h.showLogin(w, r, http.StatusUnauthorized, v)
		default:
			h.renderError(w, r, nil, err)
		}
		return
	}
	if err := h.signIn(w, r, "password", actor); err != nil {
		h.renderError(w, r, nil, err)
		return
	}
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

// logout ends the session everywhere (it is deleted from the database) and
// clears the cookie.
func (h *handler) logout(w http.ResponseWriter, r *http.Request, s *session) {
	h.endSession(r.Context(), s.row, "session.sign_out")
	h.setCookie(w, r, sessionCookie, "", 0)
	http.Redirect(w, r, "/ui/login?"+urlValues("why", "You signed out."), http.StatusSeeOther)
}
