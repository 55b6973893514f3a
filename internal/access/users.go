package access

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// UserParams describes a user to create.
type UserParams struct {
	Email     string
	Name      string
	Role      ripcord.Role
	TeamRoles []string
	// Password may be empty: the user then signs in only through OIDC
	// until an admin sets one.
	Password string
}

func checkNewPassword(pw string) error {
	if len([]rune(pw)) < minPasswordLen {
		return ripcord.Errorf(ripcord.EINVALID, "the password is too short: use at least %d characters (a few unrelated words work well)", minPasswordLen)
	}
	if len(pw) > 1024 {
		return ripcord.Errorf(ripcord.EINVALID, "the password is longer than 1024 bytes; use a shorter one")
	}
	return nil
}

// UserCreate adds a user. Admin only (the CLI acts as a local admin on the
// database, so the first person can be added).
func (s *Service) UserCreate(ctx context.Context, p UserParams) (*ripcord.User, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleAdmin); err != nil {
		return nil, err
	}
	now := s.clock()
	u := &storage.User{User: ripcord.User{Email: p.Email, Name: p.Name, Role: p.Role, TeamRoles: p.TeamRoles,
		CreatedBy: ripcord.ActorFromContext(ctx).Name, CreatedAt: now, UpdatedAt: now}}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if p.Password != "" {
		if err := checkNewPassword(p.Password); err != nil {
			return nil, err
		}
		h, err := hashPassword(p.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
	}
	err := s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.UserCreate(ctx, u); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return ripcord.Errorf(ripcord.ECONFLICT, "a user with email %s already exists; `ripcord user list` shows the users", u.Email)
			}
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "user.create", "user/"+u.Email, nil,
			map[string]any{"email": u.Email, "role": u.Role, "team_roles": u.TeamRoles, "password": u.PasswordHash != ""}))
	})
	if err != nil {
		return nil, fmt.Errorf("create user %s: %w", u.Email, err)
	}
	return &u.User, nil
}

// UserList lists users (never their password hashes). Admin only.
func (s *Service) UserList(ctx context.Context) ([]*ripcord.User, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleAdmin); err != nil {
		return nil, err
	}
	us, err := s.store.UserList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]*ripcord.User, len(us))
	for i, u := range us {
		out[i] = &u.User
	}
	return out, nil
}

// UserGet returns a user by email. Admins may read anyone; others only
// themselves.
func (s *Service) UserGet(ctx context.Context, email string) (*ripcord.User, error) {
	u, err := s.userForChange(ctx, email, true)
	if err != nil {
		return nil, err
	}
	return &u.User, nil
}

// userForChange authorises and loads the user named by email: admins may
// act on anyone, others (when self is allowed) only on themselves.
func (s *Service) userForChange(ctx context.Context, email string, self bool) (*storage.User, error) {
	norm, err := ripcord.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	actor := ripcord.ActorFromContext(ctx)
	if !(self && actor.Name == "user:"+norm) {
		if err := ripcord.Authorize(ctx, ripcord.RoleAdmin); err != nil {
			return nil, err
		}
	}
	u, err := s.store.UserGetByEmail(ctx, norm)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no user with email %s; `ripcord user list` shows the users", norm)
	}
	if err != nil {
		return nil, fmt.Errorf("read user %s: %w", norm, err)
	}
	return u, nil
}

// update applies change to a user and records it with its audit entry.
func (s *Service) update(ctx context.Context, email, action string, self bool, change func(u *storage.User) (before, after map[string]any, err error)) (*ripcord.User, error) {
	u, err := s.userForChange(ctx, email, self)
	if err != nil {
		return nil, err
	}
	before, after, err := change(u)
	if err != nil {
		return nil, err
	}
	u.UpdatedAt = s.clock()
	err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.UserUpdate(ctx, u); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, u.UpdatedAt, action, "user/"+u.Email, before, after))
	})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", action, u.Email, err)
	}
	return &u.User, nil
}

// UserSetTeamRoles replaces a user's team roles. Admin only: team roles
// decide who may approve gate items.
func (s *Service) UserSetTeamRoles(ctx context.Context, email string, roles []string) (*ripcord.User, error) {
	return s.update(ctx, email, "user.team_roles", false, func(u *storage.User) (map[string]any, map[string]any, error) {
		norm, err := ripcord.NormalizeTeamRoles(roles)
		if err != nil {
			return nil, nil, err
		}
		before := map[string]any{"team_roles": slices.Clone(u.TeamRoles)}
		u.TeamRoles = norm
		return before, map[string]any{"team_roles": norm}, nil
	})
}

// UserSetRole changes a user's access role. Admin only.
func (s *Service) UserSetRole(ctx context.Context, email string, role ripcord.Role) (*ripcord.User, error) {
	return s.update(ctx, email, "user.role", false, func(u *storage.User) (map[string]any, map[string]any, error) {
		if _, err := ripcord.ParseRole(string(role)); err != nil {
			return nil, nil, err
		}
		before := map[string]any{"role": u.Role}
		u.Role = role
		return before, map[string]any{"role": role}, nil
	})
}

// UserSetDisabled disables or re-enables a user: a disabled user can
// neither sign in nor use their tokens. Admin only.
func (s *Service) UserSetDisabled(ctx context.Context, email string, disabled bool) (*ripcord.User, error) {
	return s.update(ctx, email, "user.disabled", false, func(u *storage.User) (map[string]any, map[string]any, error) {
		before := map[string]any{"disabled": u.Disabled}
		u.Disabled = disabled
		return before, map[string]any{"disabled": disabled}, nil
	})
}

// UserSetPassword sets a user's password; users may set their own.
func (s *Service) UserSetPassword(ctx context.Context, email, password string) (*ripcord.User, error) {
	return s.update(ctx, email, "user.password", true, func(u *storage.User) (map[string]any, map[string]any, error) {
		if err := checkNewPassword(password); err != nil {
			return nil, nil, err
		}
		h, err := hashPassword(password)
		if err != nil {
			return nil, nil, err
		}
		had := u.PasswordHash != ""
		u.PasswordHash = h
		return map[string]any{"password": had}, map[string]any{"password": true}, nil
	})
}

// PasswordLogin checks an email and password and returns the user's
// actor. Unknown users, wrong passwords, users without a password and
// disabled users get the same answer in about the same time, so the reply
// reveals nothing.
func (s *Service) PasswordLogin(ctx context.Context, email, password string) (ripcord.Actor, error) {
	unauth := ripcord.Errorf(ripcord.EUNAUTHORIZED, "the email or password is not right")
	norm, err := ripcord.NormalizeEmail(email)
	if err != nil {
		return ripcord.Actor{}, unauth
	}
	u, err := s.store.UserGetByEmail(ctx, norm)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return ripcord.Actor{}, fmt.Errorf("sign in: %w", err)
	}
	if u == nil || u.PasswordHash == "" {
		s.dummyOnce.Do(func() { s.dummyHash, _ = hashPassword("ripcord: no such user") })
		checkPassword(s.dummyHash, password)
		return ripcord.Actor{}, unauth
	}
	if !checkPassword(u.PasswordHash, password) || u.Disabled {
		return ripcord.Actor{}, unauth
	}
	return UserActor(&u.User, u.Role), nil
}

// UserActor is the identity a user acts as, with at most role.
func UserActor(u *ripcord.User, role ripcord.Role) ripcord.Actor {
	return ripcord.Actor{Name: u.ActorName(), Role: ripcord.LowerRole(role, u.Role), TeamRoles: slices.Clone(u.TeamRoles)}
}

// ActorForUser returns the actor of an enabled user by email, for sign-in
// paths that prove the identity elsewhere (OIDC). Disabled and unknown
// users are refused alike.
func (s *Service) ActorForUser(ctx context.Context, email string) (ripcord.Actor, error) {
	unauth := ripcord.Errorf(ripcord.EUNAUTHORIZED, "no enabled Ripcord user has this email; an admin adds people with `ripcord user create`")
	norm, err := ripcord.NormalizeEmail(email)
	if err != nil {
		return ripcord.Actor{}, unauth
	}
	u, err := s.store.UserGetByEmail(ctx, norm)
	if errors.Is(err, storage.ErrNotFound) {
		return ripcord.Actor{}, unauth
	}
	if err != nil {
		return ripcord.Actor{}, fmt.Errorf("sign in: %w", err)
	}
	if u.Disabled {
		return ripcord.Actor{}, unauth
	}
	return UserActor(&u.User, u.Role), nil
}
