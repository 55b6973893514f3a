package access_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/storage"
)

func TestUserCreateAndPasswordLogin(t *testing.T) {
	tb := setup(t)
	u, err := tb.svc.UserCreate(tb.ctx, access.UserParams{Email: " Ana@Example.com", Name: "Ana", Role: ripcord.RoleReleaseManager,
		TeamRoles: []string{"release-owner", "QA-lead", "qa-lead"}, Password: "correct horse battery"})
	require.NoError(t, err)
	require.Equal(t, "ana@example.com", u.Email)
	require.Equal(t, []string{"qa-lead", "release-owner"}, u.TeamRoles)

	a, err := tb.svc.PasswordLogin(tb.ctx, "ANA@example.com", "correct horse battery")
	require.NoError(t, err)
	require.Equal(t, ripcord.Actor{Name: "user:ana@example.com", Role: ripcord.RoleReleaseManager, TeamRoles: []string{"qa-lead", "release-owner"}}, a)

	// Wrong password, unknown user and a user without a password get one
	// and the same answer.
	_, err = tb.svc.UserCreate(tb.ctx, access.UserParams{Email: "oidc@example.com", Role: ripcord.RoleViewer})
	require.NoError(t, err)
	var msgs []string
	for _, c := range [][2]string{{"ana@example.com", "wrong password!!"}, {"nobody@example.com", "correct horse battery"}, {"oidc@example.com", ""}, {"not an email", "x"}} {
		_, err := tb.svc.PasswordLogin(tb.ctx, c[0], c[1])
		requireCode(t, ripcord.EUNAUTHORIZED, err)
		msgs = append(msgs, err.Error())
	}
	for _, m := range msgs[1:] {
		require.Equal(t, msgs[0], m)
	}

	// A disabled user cannot sign in, even with the right password.
	_, err = tb.svc.UserSetDisabled(tb.ctx, "ana@example.com", true)
	require.NoError(t, err)
	_, err = tb.svc.PasswordLogin(tb.ctx, "ana@example.com", "correct horse battery")
	requireCode(t, ripcord.EUNAUTHORIZED, err)
}

func TestUserCreateRefusals(t *testing.T) {
	tb := setup(t)
	_, err := tb.svc.UserCreate(tb.ctx, access.UserParams{Email: "ana@example.com", Role: ripcord.RoleViewer})
	require.NoError(t, err)
	tests := []struct {
		name string
		p    access.UserParams
		code string
		msg  string
	}{
		{"taken email", access.UserParams{Email: "ANA@example.com", Role: ripcord.RoleViewer}, ripcord.ECONFLICT, "already exists"},
		{"bad email", access.UserParams{Email: "Ana <ana@example.com>", Role: ripcord.RoleViewer}, ripcord.EINVALID, "not a valid address"},
		{"bad role", access.UserParams{Email: "b@example.com", Role: "root"}, ripcord.EINVALID, "role \"root\" is not known"},
		{"bad team role", access.UserParams{Email: "b@example.com", Role: ripcord.RoleViewer, TeamRoles: []string{"qa lead"}}, ripcord.EINVALID, "team role \"qa lead\""},
		{"short password", access.UserParams{Email: "b@example.com", Role: ripcord.RoleViewer, Password: "short"}, ripcord.EINVALID, "at least 12 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tb.svc.UserCreate(tb.ctx, tt.p)
			requireCode(t, tt.code, err)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
	// Only admins manage users.
	_, err = tb.svc.UserCreate(as(ripcord.RoleReleaseManager), access.UserParams{Email: "c@example.com", Role: ripcord.RoleViewer})
	requireCode(t, ripcord.EFORBIDDEN, err)
	_, err = tb.svc.UserSetTeamRoles(as(ripcord.RoleReleaseManager), "ana@example.com", []string{"qa-lead"})
	requireCode(t, ripcord.EFORBIDDEN, err)
}

func TestUserBoundToken(t *testing.T) {
	tb := setup(t)
	_, err := tb.svc.UserCreate(tb.ctx, access.UserParams{Email: "ana@example.com", Role: ripcord.RoleEngineer, TeamRoles: []string{"qa-lead"}})
	require.NoError(t, err)
	// The token asks for more than the user holds: it gets the user's role.
	secret, tok, err := tb.svc.TokenCreateForUser(tb.ctx, "ana-laptop", ripcord.RoleAdmin, "ana@example.com")
	require.NoError(t, err)
	require.NotZero(t, tok.UserID)
	a, err := tb.svc.Authenticate(tb.ctx, secret)
	require.NoError(t, err)
	require.Equal(t, ripcord.Actor{Name: "user:ana@example.com", Role: ripcord.RoleEngineer, TeamRoles: []string{"qa-lead"}}, a)

	// Team role changes apply to the token at once.
	_, err = tb.svc.UserSetTeamRoles(tb.ctx, "ana@example.com", []string{"release-owner"})
	require.NoError(t, err)
	a, err = tb.svc.Authenticate(tb.ctx, secret)
	require.NoError(t, err)
	require.True(t, a.HasTeamRole("release-owner"))
	require.False(t, a.HasTeamRole("qa-lead"))

	// Disabling the user stops the token.
	_, err = tb.svc.UserSetDisabled(tb.ctx, "ana@example.com", true)
	require.NoError(t, err)
	_, err = tb.svc.Authenticate(tb.ctx, secret)
	requireCode(t, ripcord.EUNAUTHORIZED, err)

	_, _, err = tb.svc.TokenCreateForUser(tb.ctx, "ghost", ripcord.RoleViewer, "ghost@example.com")
	requireCode(t, ripcord.ENOTFOUND, err)
}

func TestUserSetPasswordSelfOnly(t *testing.T) {
	tb := setup(t)
	for _, e := range []string{"ana@example.com", "bo@example.com"} {
		_, err := tb.svc.UserCreate(tb.ctx, access.UserParams{Email: e, Role: ripcord.RoleViewer, Password: "first password 1"})
		require.NoError(t, err)
	}
	ana, err := tb.svc.PasswordLogin(tb.ctx, "ana@example.com", "first password 1")
	require.NoError(t, err)
	actx := ripcord.NewContextWithActor(tb.ctx, ana)
	_, err = tb.svc.UserSetPassword(actx, "ana@example.com", "second password 2")
	require.NoError(t, err)
	_, err = tb.svc.PasswordLogin(tb.ctx, "ana@example.com", "first password 1")
	requireCode(t, ripcord.EUNAUTHORIZED, err)
	_, err = tb.svc.PasswordLogin(tb.ctx, "ana@example.com", "second password 2")
	require.NoError(t, err)
	// A viewer cannot change someone else's password.
	_, err = tb.svc.UserSetPassword(actx, "bo@example.com", "taken over 12345")
	requireCode(t, ripcord.EFORBIDDEN, err)

	// The audit log records that the password changed, never the hash.
	entries, err := tb.db.AuditList(tb.ctx, storage.AuditListParams{})
	require.NoError(t, err)
	var seen bool
	for _, e := range entries {
		require.NotContains(t, e.After+e.Before, "argon2id")
		seen = seen || (e.Action == "user.password" && strings.Contains(e.Actor, "ana@example.com"))
	}
	require.True(t, seen, "the password change is audited as the user")
}
