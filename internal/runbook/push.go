package runbook

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// LintPush applies the rules that need the whole pushed directory and the
// app it is pushed to: every runbook and the gate name that app; a trigger's
// flow is a flow one of the app's runbooks declares; a flag level's flag is
// one the app's runbooks list under covers.flags (the flags Ripcord knows
// for the app until flag providers are connected). rbs maps file names to
// parsed runbooks that lint clean on their own.
func LintPush(app string, rbs map[string]*Runbook, gateName string, gate *Gate) []Finding {
	var out []Finding
	flows, flags := map[string]bool{}, map[string]bool{}
	for _, rb := range rbs {
		flows[rb.Flow] = true
		for _, f := range rb.Covers.Flags {
			flags[f] = true
		}
	}
	known := func(m map[string]bool) string { return strings.Join(slices.Sorted(maps.Keys(m)), ", ") }
	for _, name := range slices.Sorted(maps.Keys(rbs)) {
		rb := rbs[name]
		if rb.App != app {
			out = append(out, Finding{File: name, Line: lineOf(rb, "app"), Rule: 1, Key: "app",
				Message: fmt.Sprintf("app %q is not %s, the app this push is for: fix app or push with --app %s", rb.App, app, rb.App)})
		}
		for i, t := range rb.Triggers {
			if t.Flow != "" && !flows[t.Flow] {
				out = append(out, Finding{File: name, Line: t.Line, Rule: 2, Key: fmt.Sprintf("triggers[%d].flow", i),
					Message: fmt.Sprintf("trigger %s watches flow %q, which no runbook of %s declares (flows: %s): fix the name or add its runbook", t.ID, t.Flow, app, known(flows))})
			}
		}
		for i, l := range rb.Rollback {
			if l.Level == "flag" && l.Flag != "" && !flags[l.Flag] {
				out = append(out, Finding{File: name, Line: l.Line, Rule: 6, Key: fmt.Sprintf("rollback[%d].flag", i),
					Message: fmt.Sprintf("flag %q is not a flag of %s (flags listed under covers.flags: %s): fix the name or list the flag under covers.flags", l.Flag, app, cmpOr(known(flags), "none"))})
			}
		}
	}
	if gate != nil && gate.App != "" && gate.App != app {
		out = append(out, Finding{File: gateName, Line: 1, Rule: 1, Key: "app",
			Message: fmt.Sprintf("app %q is not %s, the app this push is for", gate.App, app)})
	}
	return out
}

func lineOf(rb *Runbook, key string) int {
	if n := rb.at(key); n != nil {
		return n.Line
	}
	return 2
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// LintRolesHeld is the push-time rule for team roles: every team role a
// runbook or the gate names (step roles, rollback who, gate roles and who;
// @handles are people, not roles) must be held by someone in Ripcord, or
// nobody could act on it. held reports whether anyone holds a role.
func LintRolesHeld(rbs map[string]*Runbook, gateName string, gate *Gate, held func(role string) bool) []Finding {
	var out []Finding
	check := func(file string, line int, key, role string) {
		if strings.HasPrefix(role, "@") || held(role) {
			return
		}
		out = append(out, Finding{File: file, Line: line, Rule: 1, Key: key,
			Message: fmt.Sprintf("team role %s is held by nobody in Ripcord: an admin gives it with `ripcord user set-team-roles EMAIL %s ...`, or name a role someone holds", role, role)})
	}
	for _, name := range slices.Sorted(maps.Keys(rbs)) {
		rb := rbs[name]
		for i, s := range rb.Steps {
			check(name, s.Line, fmt.Sprintf("steps[%d].role", i), s.Role)
		}
		for i, l := range rb.Rollback {
			for _, w := range l.Who {
				check(name, l.Line, fmt.Sprintf("rollback[%d].who", i), w)
			}
		}
	}
	if gate != nil {
		for i, it := range gate.Items {
			for _, r := range append(append([]string{}, it.Roles...), it.Who...) {
				check(gateName, it.Line, fmt.Sprintf("items[%d]", i), r)
			}
		}
	}
	return out
}
