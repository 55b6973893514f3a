package ripcord_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

var allRoles = []ripcord.Role{ripcord.RoleViewer, ripcord.RoleEngineer, ripcord.RoleReleaseManager, ripcord.RoleAdmin}

func TestRoleAllows(t *testing.T) {
	t.Parallel()
	// allowed[have][need], roles in rank order.
	allowed := map[ripcord.Role]map[ripcord.Role]bool{
		ripcord.RoleViewer:         {ripcord.RoleViewer: true},
		ripcord.RoleEngineer:       {ripcord.RoleViewer: true, ripcord.RoleEngineer: true},
		ripcord.RoleReleaseManager: {ripcord.RoleViewer: true, ripcord.RoleEngineer: true, ripcord.RoleReleaseManager: true},
		ripcord.RoleAdmin:          {ripcord.RoleViewer: true, ripcord.RoleEngineer: true, ripcord.RoleReleaseManager: true, ripcord.RoleAdmin: true},
	}
	for _, have := range allRoles {
		for _, need := range allRoles {
			t.Run(string(have)+"_needs_"+string(need), func(t *testing.T) {
				t.Parallel()
				require.Equal(t, allowed[have][need], have.Allows(need))
			})
		}
	}

	t.Run("UnknownRoleAllowsNothing", func(t *testing.T) {
		t.Parallel()
		for _, have := range []ripcord.Role{"", "root", "Admin"} {
			for _, need := range allRoles {
				require.False(t, have.Allows(need), "%q must not have %q rights", have, need)
			}
		}
	})

	t.Run("UnknownNeedIsDenied", func(t *testing.T) {
		t.Parallel()
		// A mistyped or empty required role must fail closed, not let
		// everyone through.
		for _, have := range allRoles {
			for _, need := range []ripcord.Role{"", "release_manager", "superuser"} {
				require.False(t, have.Allows(need), "%q must not satisfy unknown role %q", have, need)
			}
		}
	})
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range allRoles {
		got, err := ripcord.ParseRole(string(r))
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	for _, s := range []string{"", "Admin", "root", "release_manager"} {
		_, err := ripcord.ParseRole(s)
		require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err), "role %q", s)
		require.Contains(t, ripcord.ErrorMessage(err), "use viewer, engineer, release-manager or admin")
	}
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	as := func(name string, role ripcord.Role) context.Context {
		return ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: name, Role: role})
	}

	t.Run("ErrNoActor", func(t *testing.T) {
		t.Parallel()
		for _, need := range allRoles {
			err := ripcord.Authorize(context.Background(), need)
			require.Equal(t, ripcord.EUNAUTHORIZED, ripcord.ErrorCode(err))
			require.Contains(t, ripcord.ErrorMessage(err), "Authorization: Bearer")
		}
	})

	t.Run("ErrActorWithoutName", func(t *testing.T) {
		t.Parallel()
		err := ripcord.Authorize(as("", ripcord.RoleAdmin), ripcord.RoleViewer)
		require.Equal(t, ripcord.EUNAUTHORIZED, ripcord.ErrorCode(err), "a role without an identity is not a login")
	})

	t.Run("ErrLowerRole", func(t *testing.T) {
		t.Parallel()
		err := ripcord.Authorize(as("token:ci", ripcord.RoleEngineer), ripcord.RoleReleaseManager)
		require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err))
		require.Equal(t, "this action needs the release-manager role; token:ci has engineer", ripcord.ErrorMessage(err))
		require.Equal(t, map[string]any{"required_role": "release-manager", "role": "engineer"}, ripcord.ErrorDetails(err))
	})

	t.Run("ErrNoRole", func(t *testing.T) {
		t.Parallel()
		err := ripcord.Authorize(as("user:ana@example.com", ""), ripcord.RoleViewer)
		require.Equal(t, ripcord.EFORBIDDEN, ripcord.ErrorCode(err))
		require.Contains(t, ripcord.ErrorMessage(err), "needs the viewer role")
	})

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		for i, have := range allRoles {
			for _, need := range allRoles[:i+1] {
				require.NoError(t, ripcord.Authorize(as("token:x", have), need), "%s doing %s work", have, need)
			}
		}
	})
}

func TestContextValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	require.Equal(t, ripcord.Actor{}, ripcord.ActorFromContext(ctx))
	require.Equal(t, "", ripcord.RequestIDFromContext(ctx))

	a := ripcord.Actor{Name: "token:ci", Role: ripcord.RoleEngineer}
	ctx = ripcord.NewContextWithRequestID(ripcord.NewContextWithActor(ctx, a), "req-1")
	require.Equal(t, a, ripcord.ActorFromContext(ctx))
	require.Equal(t, "req-1", ripcord.RequestIDFromContext(ctx))
}

func TestNewAuditEntry(t *testing.T) {
	t.Parallel()
	ctx := ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "token:ci", Role: ripcord.RoleAdmin})
	ctx = ripcord.NewContextWithRequestID(ctx, "req-9")
	at := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))

	e := ripcord.NewAuditEntry(ctx, at, "app.create", "app/shop", nil, map[string]any{"name": "shop"})
	require.Equal(t, &ripcord.AuditEntry{
		At: at.UTC(), Actor: "token:ci", Action: "app.create", Target: "app/shop",
		Before: "", After: `{"name":"shop"}`, RequestID: "req-9",
	}, e)
	require.Equal(t, time.UTC, e.At.Location())

	e = ripcord.NewAuditEntry(ctx, at, "x", "y", map[string]any{"f": func() {}}, nil)
	require.True(t, strings.HasPrefix(e.Before, "unrepresentable: "))
	require.Equal(t, "", e.After)
}

func TestTokenValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, (&ripcord.Token{Name: "ci", Role: ripcord.RoleEngineer}).Validate())
	require.NoError(t, (&ripcord.Token{Name: strings.Repeat("n", 100), Role: ripcord.RoleViewer}).Validate())
	for _, tok := range []ripcord.Token{
		{Name: "", Role: ripcord.RoleViewer},
		{Name: " ci", Role: ripcord.RoleViewer},
		{Name: "ci ", Role: ripcord.RoleViewer},
		{Name: strings.Repeat("n", 101), Role: ripcord.RoleViewer},
		{Name: "ci", Role: ""},
		{Name: "ci", Role: "root"},
	} {
		require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(tok.Validate()), "token %q role %q", tok.Name, tok.Role)
	}
}

func TestHashTokenSecret(t *testing.T) {
	t.Parallel()
	h := ripcord.HashTokenSecret("rcd_secret")
	require.Len(t, h, 64)
	require.NotContains(t, h, "secret")
	require.Equal(t, h, ripcord.HashTokenSecret("rcd_secret"))
	require.NotEqual(t, h, ripcord.HashTokenSecret("rcd_secreT"))
	// SHA-256 of "abc", so stored hashes stay comparable across versions.
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ripcord.HashTokenSecret("abc"))
}

func TestTokenRevoked(t *testing.T) {
	t.Parallel()
	tok := ripcord.Token{}
	require.False(t, tok.Revoked())
	tok.RevokedAt = time.Now()
	require.True(t, tok.Revoked())
}
