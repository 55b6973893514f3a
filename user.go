package ripcord

import (
	"net/mail"
	"slices"
	"strings"
	"time"
)

// User is a person who signs in to the dashboard or acts through a token
// bound to them. Role is what they may do (the same ladder as tokens);
// TeamRoles are tags naming the decisions they hold — "qa-lead",
// "release-owner" — which gate items require for their approvals.
type User struct {
	ID        int64
	Email     string // lower case; the identity in the audit log ("user:<email>")
	Name      string
	Role      Role
	TeamRoles []string // sorted, unique
	Disabled  bool     // a disabled user can neither sign in nor use their tokens
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ActorName is how the user appears in the audit log and in approvals.
func (u *User) ActorName() string { return "user:" + u.Email }

// HasTeamRole reports whether the user holds a team role.
func (u *User) HasTeamRole(r string) bool { return slices.Contains(u.TeamRoles, r) }

// NormalizeEmail trims and lower-cases an address and checks it is one bare
// address, so "Ana@Example.com " and "ana@example.com" are one user.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 {
		return "", Errorf(EINVALID, "email %q is not a valid address; give one bare address such as ana@example.com", s)
	}
	return s, nil
}

// NormalizeTeamRoles checks team role tags (lower-case letters, digits and
// dashes, 1 to 40 characters) and returns them sorted without repeats, so
// they compare and store the same however they were typed.
func NormalizeTeamRoles(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, r := range in {
		r = strings.ToLower(strings.TrimSpace(r))
		if !validTeamRole(r) {
			return nil, Errorf(EINVALID, "team role %q is not valid: use 1 to 40 lower-case letters, digits and dashes, such as qa-lead", r)
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func validTeamRole(r string) bool {
	if r == "" || len(r) > 40 || r[0] == '-' || r[len(r)-1] == '-' {
		return false
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks the user's email, name, role and team roles, normalising
// the email and team roles in place.
func (u *User) Validate() error {
	email, err := NormalizeEmail(u.Email)
	if err != nil {
		return err
	}
	u.Email = email
	if len(u.Name) > 200 || strings.TrimSpace(u.Name) != u.Name {
		return Errorf(EINVALID, "name %q is not valid: use at most 200 characters without leading or trailing spaces", u.Name)
	}
	if _, err := ParseRole(string(u.Role)); err != nil {
		return err
	}
	if u.TeamRoles, err = NormalizeTeamRoles(u.TeamRoles); err != nil {
		return err
	}
	return nil
}

// LowerRole returns the less trusted of two roles: a token bound to a user
// never grants more than the user holds.
func LowerRole(a, b Role) Role {
	if roleRank[a] <= roleRank[b] {
		return a
	}
	return b
}
