package runbook

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Gate is an app's go/no-go template (.ripcord/gate.yaml): every item must
// pass before a production rollout, with no override.
type Gate struct {
	APIVersion string
	Kind       string
	App        string
	Items      []GateItem
}

// GateItem is one go/no-go item: automatic (Check) or manual (Who plus a
// description, checked by one of Who with evidence).
type GateItem struct {
	ID          string
	Check       string   // automatic check name; "" for a manual item
	Roles       []string // approvals: one approval from a holder of each team role
	Who         []string // manual items: who may check it
	Description string
	Line        int
}

// Automatic gate checks Ripcord knows how to evaluate.
var gateChecks = map[string]bool{
	"rollback_build_ready": true, "touched_flows_rehearsed": true, "health_baseline_available": true,
	"data_rollback_plan": true, "approvals": true,
}

// ParseGate reads and lints a gate file.
func ParseGate(name string, data []byte) (*Gate, []Finding) {
	d := &decoder{file: name}
	g := &Gate{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return g, []Finding{{File: name, Line: 1, Rule: 1, Message: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return g, []Finding{{File: name, Line: 1, Rule: 1, Message: "the gate file is empty"}}
	}
	root := doc.Content[0]
	seen := d.mapping(root, "", fields{
		"apiVersion": func(k string, v *yaml.Node) { d.str(k, v, &g.APIVersion) },
		"kind":       func(k string, v *yaml.Node) { d.str(k, v, &g.Kind) },
		"app":        func(k string, v *yaml.Node) { d.str(k, v, &g.App) },
		"items": func(k string, v *yaml.Node) {
			d.list(k, v, func(i int, n *yaml.Node) {
				g.Items = append(g.Items, decodeGateItem(d, fmt.Sprintf("%s[%d]", k, i), n))
			})
		},
	})
	for _, req := range []string{"apiVersion", "kind", "app", "items"} {
		if _, ok := seen[req]; !ok {
			d.add(root, 1, req, "%s is required in a gate file", req)
		}
	}
	if g.APIVersion != "" && g.APIVersion != APIVersion {
		d.add(root, 1, "apiVersion", "apiVersion %q is not supported; use %s", g.APIVersion, APIVersion)
	}
	if g.Kind != "" && g.Kind != "Gate" {
		d.add(root, 1, "kind", "kind %q is not Gate", g.Kind)
	}
	ids := map[string]bool{}
	for _, it := range g.Items {
		if ids[it.ID] {
			d.findings = append(d.findings, Finding{File: name, Line: it.Line, Rule: 11, Key: "items.id", Message: fmt.Sprintf("item id %s is used twice", it.ID)})
		}
		ids[it.ID] = true
	}
	return g, d.findings
}

func decodeGateItem(d *decoder, key string, n *yaml.Node) GateItem {
	it := GateItem{Line: n.Line}
	seen := d.mapping(n, key, fields{
		"id":          func(k string, v *yaml.Node) { d.str(k, v, &it.ID) },
		"check":       func(k string, v *yaml.Node) { d.str(k, v, &it.Check) },
		"roles":       func(k string, v *yaml.Node) { d.strList(k, v, &it.Roles) },
		"who":         func(k string, v *yaml.Node) { d.strList(k, v, &it.Who) },
		"description": func(k string, v *yaml.Node) { d.str(k, v, &it.Description) },
	})
	if _, ok := seen["id"]; !ok {
		d.add(n, 1, key+".id", "gate item %s needs an id", key)
	}
	switch {
	case it.Check != "":
		if !gateChecks[it.Check] {
			d.add(n, 1, key+".check", "check %q is not known; use one of approvals, data_rollback_plan, health_baseline_available, rollback_build_ready, touched_flows_rehearsed", it.Check)
		}
		if it.Check == "approvals" && len(it.Roles) == 0 {
			d.add(n, 1, key+".roles", "an approvals item must list the team roles whose approval it needs (roles: [...])")
		}
		if len(it.Who) > 0 {
			d.add(n, 1, key+".who", "item %s is automatic (check); who belongs to manual items only", it.ID)
		}
	default:
		if len(it.Who) == 0 || strings.TrimSpace(it.Description) == "" {
			d.add(n, 1, key, "item %s is manual: give who (the team roles that may check it) and a description of what they check", it.ID)
		}
	}
	for _, w := range append(append([]string{}, it.Who...), it.Roles...) {
		if !roleRe.MatchString(w) {
			d.add(n, 1, key, "%q is not a team role (lowercase-with-dashes) or an @handle", w)
		}
	}
	return it
}
