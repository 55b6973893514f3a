package gate

import "github.com/ripcordhq/ripcord"

// actorTeamRoles returns the team roles the actor holds: a user's (or a
// token bound to a user) tags; none for service tokens and local actors.
func actorTeamRoles(a ripcord.Actor) []string { return a.TeamRoles }
