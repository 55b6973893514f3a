package ripcord

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Role is what a person or machine may do. Roles are ordered: each includes
// everything the ones below it may do.
type Role string

// The roles, from least to most trusted.
const (
	RoleViewer         Role = "viewer"          // reads everything
	RoleEngineer       Role = "engineer"        // also uploads builds and pushes runbooks
	RoleReleaseManager Role = "release-manager" // also creates releases, runs rollouts, rolls back
	RoleAdmin          Role = "admin"           // also manages users, tokens, apps and credentials
)

var roleRank = map[Role]int{RoleViewer: 1, RoleEngineer: 2, RoleReleaseManager: 3, RoleAdmin: 4}

// ParseRole turns user input into a Role, naming the allowed values.
func ParseRole(s string) (Role, error) {
	if _, ok := roleRank[Role(s)]; ok {
		return Role(s), nil
	}
	return "", Errorf(EINVALID, "role %q is not known; use viewer, engineer, release-manager or admin", s)
}

// Allows reports whether r includes the rights of need. An unknown role on
// either side allows nothing, so a mistyped requirement fails closed.
func (r Role) Allows(need Role) bool {
	return roleRank[r] > 0 && roleRank[need] > 0 && roleRank[r] >= roleRank[need]
}

// Token is an API token. Only a hash of its secret is stored; the secret is
// shown once, at creation.
type Token struct {
	ID         int64
	Name       string
	Role       Role
	Prefix     string // first characters of the secret, to recognise it in lists
	Hash       string // hex SHA-256 of the secret
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used
	RevokedAt  time.Time // zero while valid
	// UserID binds the token to a person: it then acts as that user (their
	// name in the audit log, the lower of the two roles, their team
	// roles). 0 for a service token such as CI's.
	UserID int64
}

// TokenSecretPrefix starts every token secret, so secret scanners and people
// recognise a leaked Ripcord token.
const TokenSecretPrefix = "rcd_"

// Revoked reports whether the token no longer authenticates.
func (t *Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Validate checks the token's name and role.
func (t *Token) Validate() error {
	if t.Name == "" || len(t.Name) > 100 || strings.TrimSpace(t.Name) != t.Name {
		return Errorf(EINVALID, "token name %q is not valid: use 1 to 100 characters without leading or trailing spaces", t.Name)
	}
	if _, err := ParseRole(string(t.Role)); err != nil {
		return err
	}
	return nil
}

// HashTokenSecret returns the stored form of a token secret. A fast hash is
// right here: secrets are 256 random bits, so there is nothing to brute-force.
func HashTokenSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
