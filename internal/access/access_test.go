package access_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

type testBundle struct {
	ctx context.Context // acting as admin "token:ci"
	svc *access.Service
	db  *sqlite.DB
}

// setup opens a migrated SQLite database in a temporary directory and builds
// the service on it.
func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)
	return &testBundle{
		ctx: ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:ci", Role: ripcord.RoleAdmin}),
		svc: access.New(db, nil),
		db:  db,
	}
}

func as(role ripcord.Role) context.Context {
	return ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "token:" + string(role), Role: role})
}

func (tb *testBundle) create(t *testing.T, name string, role ripcord.Role) string {
	t.Helper()
	secret, _, err := tb.svc.TokenCreate(tb.ctx, name, role)
	require.NoError(t, err)
	return secret
}

func (tb *testBundle) exec(t *testing.T, query string) {
	t.Helper()
	_, err := tb.db.SQL().ExecContext(context.Background(), query)
	require.NoError(t, err)
}

func requireCode(t *testing.T, code string, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, ripcord.ErrorCode(err), "error: %v", err)
}

func TestTokenCreate(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		secret, tok, err := tb.svc.TokenCreate(tb.ctx, "deploy", ripcord.RoleEngineer)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(secret, ripcord.TokenSecretPrefix), secret)
		require.GreaterOrEqual(t, len(secret), len("rcd_")+50, "256 random bits")
		require.Equal(t, strings.ToLower(secret), secret)
		require.NotZero(t, tok.ID)
		require.Equal(t, "deploy", tok.Name)
		require.Equal(t, ripcord.RoleEngineer, tok.Role)
		require.Equal(t, "token:ci", tok.CreatedBy)
		require.Equal(t, ripcord.HashTokenSecret(secret), tok.Hash)
		require.Equal(t, secret[:10], tok.Prefix, "the prefix helps recognise the token")
		require.Less(t, len(tok.Prefix), len(secret)/4, "the prefix gives away little of the secret")
		require.False(t, tok.Revoked())

		secret2, _, err := tb.svc.TokenCreate(tb.ctx, "deploy2", ripcord.RoleEngineer)
		require.NoError(t, err)
		require.NotEqual(t, secret, secret2)

		list, err := tb.svc.TokenList(tb.ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, tok, list[0])
		for _, l := range list {
			require.NotContains(t, fmt.Sprintf("%+v", *l), secret, "only the hash is stored")
			require.NotContains(t, fmt.Sprintf("%+v", *l), secret2, "only the hash is stored")
		}

		// Nothing in the database holds the secret: not the token row, not
		// the audit log.
		for _, table := range []string{"api_tokens", "audit_log"} {
			rows, err := tb.db.SQL().QueryContext(context.Background(), "SELECT * FROM "+table)
			require.NoError(t, err)
			cols, err := rows.Columns()
			require.NoError(t, err)
			n := 0
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				require.NoError(t, rows.Scan(ptrs...))
				row := fmt.Sprint(vals...)
				require.NotContains(t, row, secret, "table %s", table)
				require.NotContains(t, row, secret[len("rcd_"):], "table %s", table)
				n++
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
			require.Equal(t, 2, n, "table %s", table)
		}

		es, err := tb.db.AuditList(context.Background(), storage.AuditListParams{})
		require.NoError(t, err)
		require.Equal(t, "token.create", es[0].Action)
		require.Equal(t, "token/deploy", es[0].Target)
		require.Equal(t, "token:ci", es[0].Actor)
	})

	t.Run("ErrNotAdmin", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		for _, role := range []ripcord.Role{ripcord.RoleViewer, ripcord.RoleEngineer, ripcord.RoleReleaseManager} {
			_, _, err := tb.svc.TokenCreate(as(role), "mine", ripcord.RoleAdmin)
			requireCode(t, ripcord.EFORBIDDEN, err)
			require.Contains(t, ripcord.ErrorMessage(err), "needs the admin role")
			_, err = tb.svc.TokenList(as(role))
			requireCode(t, ripcord.EFORBIDDEN, err)
			_, err = tb.svc.TokenRevoke(as(role), "mine")
			requireCode(t, ripcord.EFORBIDDEN, err)
		}
		_, _, err := tb.svc.TokenCreate(context.Background(), "mine", ripcord.RoleAdmin)
		requireCode(t, ripcord.EUNAUTHORIZED, err)

		list, err := tb.svc.TokenList(tb.ctx)
		require.NoError(t, err)
		require.Empty(t, list, "no token was made")
	})

	t.Run("ErrDuplicateName", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		secret := tb.create(t, "deploy", ripcord.RoleEngineer)
		_, _, err := tb.svc.TokenCreate(tb.ctx, "deploy", ripcord.RoleAdmin)
		requireCode(t, ripcord.ECONFLICT, err)
		require.Contains(t, ripcord.ErrorMessage(err), `a token named "deploy" already exists`)

		list, err := tb.svc.TokenList(tb.ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, ripcord.RoleEngineer, list[0].Role, "the first token is untouched")
		a, err := tb.svc.Authenticate(context.Background(), secret)
		require.NoError(t, err)
		require.Equal(t, ripcord.RoleEngineer, a.Role)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		for _, tc := range []struct {
			name string
			role ripcord.Role
		}{{"", ripcord.RoleViewer}, {" x", ripcord.RoleViewer}, {strings.Repeat("n", 101), ripcord.RoleViewer}, {"ci", "root"}, {"ci", ""}} {
			_, _, err := tb.svc.TokenCreate(tb.ctx, tc.name, tc.role)
			requireCode(t, ripcord.EINVALID, err)
		}
		list, err := tb.svc.TokenList(tb.ctx)
		require.NoError(t, err)
		require.Empty(t, list)
	})
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		secrets := map[ripcord.Role]string{}
		for _, role := range []ripcord.Role{ripcord.RoleViewer, ripcord.RoleEngineer, ripcord.RoleReleaseManager, ripcord.RoleAdmin} {
			secrets[role] = tb.create(t, "t-"+string(role), role)
		}
		for role, secret := range secrets {
			a, err := tb.svc.Authenticate(context.Background(), secret)
			require.NoError(t, err)
			require.Equal(t, ripcord.Actor{Name: "token:t-" + string(role), Role: role}, a)
		}
		list, err := tb.svc.TokenList(tb.ctx)
		require.NoError(t, err)
		for _, tok := range list {
			require.False(t, tok.LastUsedAt.IsZero(), "%s: use is recorded", tok.Name)
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		secret := tb.create(t, "deploy", ripcord.RoleAdmin)
		revoked := tb.create(t, "old", ripcord.RoleAdmin)
		_, err := tb.svc.TokenRevoke(tb.ctx, "old")
		require.NoError(t, err)

		other := "a"
		if strings.HasSuffix(secret, "a") {
			other = "b"
		}
		flipped := secret[:len(secret)-1] + other
		cases := map[string]string{
			"Empty":        "",
			"Garbage":      "hunter2",
			"PrefixOnly":   "rcd_",
			"WrongSecret":  flipped,
			"Truncated":    secret[:len(secret)-1],
			"Extended":     secret + "a",
			"Uppercased":   strings.ToUpper(secret),
			"HashAsSecret": ripcord.HashTokenSecret(secret),
			"Revoked":      revoked,
			"NoPrefix":     strings.TrimPrefix(secret, "rcd_"),
		}
		var messages []string
		for name, s := range cases {
			a, err := tb.svc.Authenticate(context.Background(), s)
			requireCode(t, ripcord.EUNAUTHORIZED, err)
			require.Equal(t, ripcord.Actor{}, a, name)
			messages = append(messages, ripcord.ErrorMessage(err))
		}
		for _, m := range messages {
			require.Equal(t, messages[0], m, "every refusal reads the same, so the reply reveals nothing")
		}

		// The valid one still works.
		_, err = tb.svc.Authenticate(context.Background(), secret)
		require.NoError(t, err)
	})
}

func TestTokenRevoke(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tb := setup(t)
	tb.svc = access.New(tb.db, func() time.Time { return now })
	secret := tb.create(t, "deploy", ripcord.RoleEngineer)
	_, err := tb.svc.Authenticate(context.Background(), secret)
	require.NoError(t, err)

	tok, err := tb.svc.TokenRevoke(tb.ctx, "deploy")
	require.NoError(t, err)
	require.True(t, tok.Revoked())
	require.Equal(t, now, tok.RevokedAt)
	_, err = tb.svc.Authenticate(context.Background(), secret)
	requireCode(t, ripcord.EUNAUTHORIZED, err)

	// Revoking again is a no-op: same time, no second audit entry.
	now = now.Add(time.Hour)
	again, err := tb.svc.TokenRevoke(tb.ctx, "deploy")
	require.NoError(t, err)
	require.Equal(t, tok.RevokedAt, again.RevokedAt)
	list, err := tb.svc.TokenList(tb.ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, tok.RevokedAt, list[0].RevokedAt)

	es, err := tb.db.AuditList(context.Background(), storage.AuditListParams{})
	require.NoError(t, err)
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"token.create", "token.revoke"}, actions)
	require.Equal(t, "token/deploy", es[1].Target)

	_, err = tb.svc.TokenRevoke(tb.ctx, "nope")
	requireCode(t, ripcord.ENOTFOUND, err)
}

func TestAuditVerify(t *testing.T) {
	t.Parallel()

	// withEntries returns a bundle whose log holds n entries.
	withEntries := func(t *testing.T, n int) *testBundle {
		t.Helper()
		tb := setup(t)
		for i := range n {
			tb.create(t, fmt.Sprintf("t%d", i), ripcord.RoleViewer)
		}
		return tb
	}

	t.Run("OKEmpty", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		rep, err := tb.svc.AuditVerify(as(ripcord.RoleViewer))
		require.NoError(t, err)
		require.Equal(t, &access.AuditReport{}, rep)
	})

	t.Run("OKIntact", func(t *testing.T) {
		t.Parallel()
		tb := withEntries(t, 3)
		rep, err := tb.svc.AuditVerify(as(ripcord.RoleViewer))
		require.NoError(t, err)
		require.Nil(t, rep.Break)
		require.Equal(t, int64(3), rep.Entries)
	})

	t.Run("OKManyPages", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		const n = 2503
		require.NoError(t, tb.db.InTx(tb.ctx, func(ctx context.Context, tx storage.Tx) error {
			for i := range n {
				e := ripcord.NewAuditEntry(ctx, time.Now(), "test.append", fmt.Sprintf("t/%d", i), nil, i)
				if err := tx.AuditAppend(ctx, e); err != nil {
					return err
				}
			}
			return nil
		}))
		rep, err := tb.svc.AuditVerify(tb.ctx)
		require.NoError(t, err)
		require.Nil(t, rep.Break)
		require.Equal(t, int64(n), rep.Entries)

		// A change in a later page is found at its entry.
		tb.exec(t, "UPDATE audit_log SET after_state='666' WHERE seq=2001")
		rep, err = tb.svc.AuditVerify(tb.ctx)
		require.NoError(t, err)
		require.NotNil(t, rep.Break)
		require.Equal(t, int64(2001), rep.Break.Seq)
		require.Equal(t, int64(2000), rep.Entries, "entries before the break were checked")
	})

	t.Run("ErrTamperedRow", func(t *testing.T) {
		t.Parallel()
		tb := withEntries(t, 3)
		tb.exec(t, "UPDATE audit_log SET actor='x' WHERE seq=2")
		rep, err := tb.svc.AuditVerify(tb.ctx)
		require.NoError(t, err)
		require.NotNil(t, rep.Break)
		require.Equal(t, int64(2), rep.Break.Seq)
		require.Contains(t, rep.Break.Reason, "changed after it was written")
	})

	t.Run("ErrDeletedMiddleRow", func(t *testing.T) {
		t.Parallel()
		tb := withEntries(t, 3)
		tb.exec(t, "DELETE FROM audit_log WHERE seq=2")
		rep, err := tb.svc.AuditVerify(tb.ctx)
		require.NoError(t, err)
		require.NotNil(t, rep.Break)
		require.Equal(t, int64(2), rep.Break.Seq)
		require.Contains(t, rep.Break.Reason, "missing")
	})

	t.Run("ErrDeletedNewestRow", func(t *testing.T) {
		t.Parallel()
		tb := withEntries(t, 3)
		tb.exec(t, "DELETE FROM audit_log WHERE seq=3")
		rep, err := tb.svc.AuditVerify(tb.ctx)
		require.NoError(t, err)
		require.NotNil(t, rep.Break, "the head row remembers the newest entry")
		require.Equal(t, int64(3), rep.Break.Seq)
		require.Contains(t, rep.Break.Reason, "entries 3 to 3 are missing")
	})

	t.Run("ErrDeletedNewestRows", func(t *testing.T) {
		t.Parallel()
		tb := withEntries(t, 4)
		tb.exec(t, "DELETE FROM audit_log WHERE seq >= 2")
		rep, err := tb.svc.AuditVerify(tb.ctx)
		require.NoError(t, err)
		require.NotNil(t, rep.Break)
		require.Equal(t, int64(2), rep.Break.Seq)
		require.Contains(t, rep.Break.Reason, "entries 2 to 4 are missing (the log ends at 1)")
	})

	t.Run("ErrReplacedNewestRow", func(t *testing.T) {
		t.Parallel()
		// A forger who rewrites the newest entry with a correct hash still
		// disagrees with the head row.
		tb := withEntries(t, 3)
		es, err := tb.db.AuditList(context.Background(), storage.AuditListParams{})
		require.NoError(t, err)
		forged := es[2]
		forged.Actor = "token:someone-else"
		forged.Hash = forged.ComputeHash()
		_, err = tb.db.SQL().ExecContext(context.Background(), "UPDATE audit_log SET actor=?, hash=? WHERE seq=3", forged.Actor, forged.Hash)
		require.NoError(t, err)

		rep, err := tb.svc.AuditVerify(tb.ctx)
		require.NoError(t, err)
		require.NotNil(t, rep.Break)
		require.Equal(t, int64(3), rep.Break.Seq)
		require.Contains(t, rep.Break.Reason, "not the one the log's head records")
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		_, err := tb.svc.AuditVerify(context.Background())
		requireCode(t, ripcord.EUNAUTHORIZED, err)
	})
}
