package web

import (
	"slices"
	"strings"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// teamRolesOf returns the actor's team roles, kept in the session.
func teamRolesOf(a ripcord.Actor) []string { return slices.Clone(a.TeamRoles) }

// sessionActor is the actor a session acts as, as recorded at sign-in.
func sessionActor(ws *storage.WebSession) ripcord.Actor {
	return ripcord.Actor{Name: ws.Actor, Role: ws.Role, TeamRoles: slices.Clone(ws.TeamRoles)}
}

// emailOf is the account email of a user's actor ("user:<email>").
func emailOf(a ripcord.Actor) string { return strings.TrimPrefix(a.Name, "user:") }
