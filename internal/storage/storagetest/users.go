package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

func testUsers(t *testing.T, h Harness) {
	s := migrated(t, h)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 9, 0, 0, 123000, time.UTC)
	u := &storage.User{User: ripcord.User{Email: "ana@example.com", Name: "Ana", Role: ripcord.RoleReleaseManager,
		TeamRoles: []string{"qa-lead", "release-owner"}, CreatedBy: "local:root", CreatedAt: now, UpdatedAt: now}, PasswordHash: "$argon2id$x"}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.UserCreate(ctx, u) })
	require.NotZero(t, u.ID)

	got, err := s.UserGetByEmail(ctx, "ana@example.com")
	require.NoError(t, err)
	require.Equal(t, u, got)
	byID, err := s.UserGetByID(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, u, byID)

	// The email is unique.
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		dup := *u
		return tx.UserCreate(ctx, &dup)
	})
	require.ErrorIs(t, err, storage.ErrConflict)

	// An update changes everything but identity and creation.
	u.Name, u.Role, u.TeamRoles, u.PasswordHash, u.Disabled, u.UpdatedAt = "Ana B", ripcord.RoleViewer, nil, "", true, now.Add(time.Hour)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.UserUpdate(ctx, u) })
	got, err = s.UserGetByEmail(ctx, "ana@example.com")
	require.NoError(t, err)
	u.TeamRoles = []string{} // stored as an empty list
	require.Equal(t, u, got)

	_, err = s.UserGetByEmail(ctx, "nobody@example.com")
	require.ErrorIs(t, err, storage.ErrNotFound)
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.UserUpdate(ctx, &storage.User{User: ripcord.User{ID: 9999, Email: "x@example.com", Role: ripcord.RoleViewer}})
	})
	require.ErrorIs(t, err, storage.ErrNotFound)

	// A token bound to the user keeps the binding; a service token has none.
	tok := &ripcord.Token{Name: "ana", Role: ripcord.RoleAdmin, Prefix: "rcd_abcdef", Hash: sha(1), CreatedBy: "local:root", CreatedAt: now, UserID: u.ID}
	svc := &ripcord.Token{Name: "ci", Role: ripcord.RoleEngineer, Prefix: "rcd_ghijkl", Hash: sha(2), CreatedBy: "local:root", CreatedAt: now}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.TokenCreate(ctx, tok); err != nil {
			return err
		}
		return tx.TokenCreate(ctx, svc)
	})
	gotTok, err := s.TokenGetByName(ctx, "ana")
	require.NoError(t, err)
	require.Equal(t, u.ID, gotTok.UserID)
	gotSvc, err := s.TokenGetByName(ctx, "ci")
	require.NoError(t, err)
	require.Zero(t, gotSvc.UserID)

	list, err := s.UserList(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
}
