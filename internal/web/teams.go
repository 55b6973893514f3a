package web

import (
	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// teamRolesOf returns the actor's team roles, kept in the session.
func teamRolesOf(a ripcord.Actor) []string { return nil }

// sessionActor is the actor a session acts as.
func sessionActor(ws *storage.WebSession) ripcord.Actor {
	return ripcord.Actor{Name: ws.Actor, Role: ws.Role}
}
