package gate

import (
	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/runbook"
)

type runbookItem = runbook.GateItem

// actorTeamRoles returns the team roles the actor holds.
func actorTeamRoles(a ripcord.Actor) []string { return nil }
