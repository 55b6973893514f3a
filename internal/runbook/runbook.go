// Package runbook is the model of Ripcord's runbook files (format
// ripcord/v1, see shared/docs/runbook-format.md): Markdown with YAML front
// matter kept in the app's repository at .ripcord/runbooks/<id>.md. It parses
// them and lints them against the format's rules, reporting every finding at
// its file and line with how to fix it. It does no I/O: callers hand it bytes.
package runbook

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"
)

// APIVersion is the only format version this package reads.
const APIVersion = "ripcord/v1"

// Runbook is a parsed runbook file.
type Runbook struct {
	APIVersion string
	Kind       string
	ID         string
	Title      string
	App        string
	Flow       string
	Owners     []string
	Covers     Covers
	Triggers   []Trigger
	Steps      []Step
	Rollback   []RollbackLevel
	Comms      []Comm
	// Body is the Markdown below the front matter, for people.
	Body string
	// ContentHash is the hex SHA-256 of the whole file: rehearsals are bound
	// to it, so any edit makes them stale.
	ContentHash string

	keys map[string]*yaml.Node // top-level key nodes, to place findings
}

// at returns the node of a top-level key, for findings about it.
func (rb *Runbook) at(key string) *yaml.Node { return rb.keys[key] }

// Covers says which code and flags the runbook's flow depends on; a release
// touching them touches the flow.
type Covers struct {
	Paths []string
	Flags []string
}

// Trigger is an exact monitoring condition, evaluated by the health engine.
type Trigger struct {
	ID          string
	Signal      string
	Flow        string
	Op          string
	Threshold   Threshold
	Window      time.Duration
	Consecutive int
	MinVolume   int
	Severity    string
	Line        int // where the trigger starts in the file
}

// Threshold is a trigger's limit: a rate (written as a percentage) or a
// number in the signal's own unit.
type Threshold struct {
	Value   float64 // a fraction for rates (5% is 0.05)
	Percent bool
	Set     bool
}

// String writes the threshold as it was written.
func (t Threshold) String() string {
	if t.Percent {
		return strconv.FormatFloat(t.Value*100, 'f', -1, 64) + "%"
	}
	return strconv.FormatFloat(t.Value, 'f', -1, 64)
}

// Step is one numbered, time-boxed step of the response.
type Step struct {
	N         int
	Timebox   time.Duration
	Role      string
	Do        string
	Expect    string
	Otherwise string
	Line      int
}

// RollbackLevel is one way back: flag, deploy, migration or data.
type RollbackLevel struct {
	Level        string
	Flag         string
	Provider     string
	Action       string
	Target       string
	Migration    string
	Reversible   *bool
	ForwardFix   string
	Strategy     string
	PITR         *PITR
	AcceptedRisk *AcceptedRisk
	Who          []string
	Budget       time.Duration
	Verify       string
	Line         int
}

// PITR names the point-in-time recovery a data rollback relies on.
type PITR struct {
	Database string
	RPO      time.Duration
}

// AcceptedRisk is a signed statement that data cannot be rolled back.
type AcceptedRisk struct {
	Statement string
	SignedBy  string
	Date      string
}

// Comm is a communication template sent when an incident lasts long enough.
type Comm struct {
	ID       string
	After    time.Duration
	Audience string
	Channel  string
	Template string
	Line     int
}

// Finding is one lint problem, at a file and line, with the rule it breaks
// (numbered as in the format's documentation) and how to fix it.
type Finding struct {
	File    string
	Line    int
	Column  int
	Rule    int
	Key     string
	Message string
}

// String formats the finding as file:line:col: message (rule N).
func (f Finding) String() string {
	loc := f.File
	if f.Line > 0 {
		loc += ":" + strconv.Itoa(f.Line)
		if f.Column > 0 {
			loc += ":" + strconv.Itoa(f.Column)
		}
	}
	return fmt.Sprintf("%s: %s (rule %d)", loc, f.Message, f.Rule)
}

// Signals are the built-in trigger signals; others are named custom signals.
var rateSignals = map[string]bool{"crash_free_sessions": true, "crash_free_users": true, "anr_rate": true, "flow_error_rate": true}

var (
	roleRe     = regexp.MustCompile(`^(@[A-Za-z0-9][A-Za-z0-9_.-]*|[a-z][a-z0-9-]*)$`)
	ownerRe    = regexp.MustCompile(`^(@[A-Za-z0-9][A-Za-z0-9_.-]*|team:[a-z][a-z0-9-]*)$`)
	idRe       = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	signalRe   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	thresholdR = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?%?$`)
	severityRe = regexp.MustCompile(`^sev[1-4]$`)
	// yaml.v3 errors read "yaml: line N: message"; N counts from the front
	// matter's first line.
	yamlLineRe   = regexp.MustCompile(`line (\d+)`)
	yamlPrefixRe = regexp.MustCompile(`^yaml: (line \d+: )?`)
)

// maxFileBytes bounds what Parse reads; runbooks are short documents.
const maxFileBytes = 1 << 20

// Parse reads a runbook file and lints it. name is the file's path (used
// for rule 11 and in findings). It returns the runbook as far as it could be
// read, and every finding; the runbook is usable only when there are none.
func Parse(name string, data []byte) (*Runbook, []Finding) {
	d := &decoder{file: name}
	sum := sha256.Sum256(data)
	rb := &Runbook{ContentHash: hex.EncodeToString(sum[:])}
	if len(data) > maxFileBytes {
		d.add(nil, 1, "", "the file is larger than 1 MiB; keep runbooks short and link to long material")
		return rb, d.findings
	}
	front, body, offset, ok := splitFrontMatter(data)
	if !ok {
		d.findings = append(d.findings, Finding{File: name, Line: 1, Rule: 1, Message: "no YAML front matter: start the file with a line '---', the runbook's keys, and another '---'"})
		return rb, d.findings
	}
	rb.Body = string(body)
	var doc yaml.Node
	if err := yaml.Unmarshal(front, &doc); err != nil {
		line := 1
		var m []string
		if m = yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		msg := yamlPrefixRe.ReplaceAllString(err.Error(), "")
		d.findings = append(d.findings, Finding{File: name, Line: line + offset, Rule: 1, Message: "the front matter is not valid YAML: " + msg})
		return rb, d.findings
	}
	if len(doc.Content) == 0 {
		d.findings = append(d.findings, Finding{File: name, Line: 1 + offset, Rule: 1, Message: "the front matter is empty"})
		return rb, d.findings
	}
	shiftLines(doc.Content[0], offset)
	rb.decode(d, doc.Content[0])
	rb.lint(d, name)
	slices.SortStableFunc(d.findings, func(a, b Finding) int { return cmp.Compare(a.Line, b.Line) })
	return rb, d.findings
}

// splitFrontMatter separates "---\nYAML\n---\nbody". offset is the number of
// lines before the YAML, to turn YAML line numbers into file line numbers.
func splitFrontMatter(data []byte) (front, body []byte, offset int, ok bool) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	first, rest, found := bytes.Cut(data, []byte("\n"))
	if !found || strings.TrimSpace(string(first)) != "---" {
		return nil, nil, 0, false
	}
	var fm bytes.Buffer
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if strings.TrimRight(string(line), " \r\t") == "---" {
			return fm.Bytes(), rest, 1, true
		}
		fm.Write(line)
		fm.WriteByte('\n')
	}
	return nil, nil, 0, false
}

func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// decode reads the front matter into rb, recording type and key errors.
func (rb *Runbook) decode(d *decoder, root *yaml.Node) {
	seen := d.mapping(root, "", fields{
		"apiVersion": func(k string, v *yaml.Node) { d.str(k, v, &rb.APIVersion) },
		"kind":       func(k string, v *yaml.Node) { d.str(k, v, &rb.Kind) },
		"id":         func(k string, v *yaml.Node) { d.str(k, v, &rb.ID) },
		"title":      func(k string, v *yaml.Node) { d.str(k, v, &rb.Title) },
		"app":        func(k string, v *yaml.Node) { d.str(k, v, &rb.App) },
		"flow":       func(k string, v *yaml.Node) { d.str(k, v, &rb.Flow) },
		"owners":     func(k string, v *yaml.Node) { d.strList(k, v, &rb.Owners) },
		"covers": func(k string, v *yaml.Node) {
			d.mapping(v, k, fields{
				"paths": func(k string, v *yaml.Node) { d.strList(k, v, &rb.Covers.Paths) },
				"flags": func(k string, v *yaml.Node) { d.strList(k, v, &rb.Covers.Flags) },
			})
		},
		"triggers": func(k string, v *yaml.Node) {
			d.list(k, v, func(i int, item *yaml.Node) {
				rb.Triggers = append(rb.Triggers, decodeTrigger(d, fmt.Sprintf("%s[%d]", k, i), item))
			})
		},
		"steps": func(k string, v *yaml.Node) {
			d.list(k, v, func(i int, item *yaml.Node) { rb.Steps = append(rb.Steps, decodeStep(d, i, item)) })
		},
		"rollback": func(k string, v *yaml.Node) {
			d.list(k, v, func(i int, item *yaml.Node) {
				rb.Rollback = append(rb.Rollback, decodeLevel(d, i, item))
			})
		},
		"comms": func(k string, v *yaml.Node) {
			d.list(k, v, func(i int, item *yaml.Node) {
				rb.Comms = append(rb.Comms, decodeComm(d, fmt.Sprintf("%s[%d]", k, i), item))
			})
		},
		"confirmed": func(k string, v *yaml.Node) {
			d.add(v, 10, k, "remove confirmed: the confirmed rollback time is recorded by Ripcord from rehearsals (`ripcord rehearsal start`), never written in the file")
		},
	})
	rb.keys = seen
	for _, req := range []string{"apiVersion", "kind", "id", "title", "app", "flow", "owners", "triggers", "steps", "rollback", "comms"} {
		if _, ok := seen[req]; !ok {
			rule := map[string]int{"triggers": 2, "steps": 3, "rollback": 5, "comms": 9}[req]
			if rule == 0 {
				rule = 1
			}
			d.add(root, rule, req, "%s is required; see the ripcord/v1 runbook format", req)
		}
	}
}

func decodeTrigger(d *decoder, key string, n *yaml.Node) Trigger {
	t := Trigger{Line: n.Line}
	seen := d.mapping(n, key, fields{
		"id":     func(k string, v *yaml.Node) { d.str(k, v, &t.ID) },
		"signal": func(k string, v *yaml.Node) { d.str(k, v, &t.Signal) },
		"flow":   func(k string, v *yaml.Node) { d.str(k, v, &t.Flow) },
		"op": func(k string, v *yaml.Node) {
			d.str(k, v, &t.Op)
			switch t.Op {
			case ">", ">=", "<", "<=", "":
			default:
				d.add(v, 1, k, "%s %q is not an operator; use >, >=, < or <=", k, t.Op)
			}
		},
		"threshold": func(k string, v *yaml.Node) {
			if v.Kind != yaml.ScalarNode || !thresholdR.MatchString(v.Value) {
				d.add(v, 1, k, "%s must be a number or a percentage such as 5%% or 99.5%%, not %s", k, describe(v))
				return
			}
			s, pct := strings.CutSuffix(v.Value, "%")
			f, _ := strconv.ParseFloat(s, 64)
			if pct {
				f /= 100
			}
			t.Threshold = Threshold{Value: f, Percent: pct, Set: true}
		},
		"window":      func(k string, v *yaml.Node) { d.duration(k, v, &t.Window) },
		"consecutive": func(k string, v *yaml.Node) { d.integer(k, v, 1, &t.Consecutive) },
		"min_volume":  func(k string, v *yaml.Node) { d.integer(k, v, 0, &t.MinVolume) },
		"severity": func(k string, v *yaml.Node) {
			d.str(k, v, &t.Severity)
			if t.Severity != "" && !severityRe.MatchString(t.Severity) {
				d.add(v, 1, k, "%s %q is not a severity; use sev1, sev2, sev3 or sev4", k, t.Severity)
			}
		},
	})
	var missing []string
	for _, req := range []string{"signal", "op", "threshold", "window", "consecutive"} {
		if _, ok := seen[req]; !ok {
			missing = append(missing, req)
		}
	}
	if len(missing) > 0 {
		d.add(n, 2, key, "trigger is vague: name the signal, operator, threshold, window and consecutive windows (missing %s), e.g. flow_error_rate > 5%% over 1m for 5 consecutive windows", strings.Join(missing, ", "))
	}
	for _, req := range []string{"id", "min_volume", "severity"} {
		if _, ok := seen[req]; !ok {
			d.add(n, 1, key+"."+req, "%s.%s is required", key, req)
		}
	}
	if t.Signal != "" && !signalRe.MatchString(t.Signal) {
		d.add(n, 1, key+".signal", "signal %q is not a signal name; use crash_free_sessions, crash_free_users, anr_rate, flow_error_rate or a custom name in snake_case", t.Signal)
	}
	if rateSignals[t.Signal] && t.Threshold.Set && !t.Threshold.Percent {
		d.add(n, 1, key+".threshold", "%s is a rate: write its threshold as a percentage, e.g. %s%%", t.Signal, t.Threshold)
	}
	if t.Signal == "flow_error_rate" && t.Flow == "" {
		d.add(n, 2, key+".flow", "flow_error_rate is measured per flow: name the flow (flow: <name>)")
	}
	return t
}

func decodeStep(d *decoder, i int, n *yaml.Node) Step {
	key := fmt.Sprintf("steps[%d]", i)
	s := Step{Line: n.Line}
	seen := d.mapping(n, key, fields{
		"n":         func(k string, v *yaml.Node) { d.integer(k, v, 1, &s.N) },
		"timebox":   func(k string, v *yaml.Node) { d.duration(k, v, &s.Timebox) },
		"role":      func(k string, v *yaml.Node) { d.str(k, v, &s.Role) },
		"do":        func(k string, v *yaml.Node) { d.str(k, v, &s.Do) },
		"expect":    func(k string, v *yaml.Node) { d.str(k, v, &s.Expect) },
		"otherwise": func(k string, v *yaml.Node) { d.str(k, v, &s.Otherwise) },
	})
	for _, req := range []string{"n", "timebox", "role", "do"} {
		if _, ok := seen[req]; !ok {
			d.add(n, 3, key+"."+req, "step %d has no %s: every step needs n, timebox, role and do", i+1, req)
		}
	}
	if s.Role != "" && !roleRe.MatchString(s.Role) {
		d.add(n, 1, key+".role", "role %q is not a team role (lowercase-with-dashes) or an @handle", s.Role)
	}
	if _, hasExpect := seen["expect"]; hasExpect {
		if _, hasOtherwise := seen["otherwise"]; !hasOtherwise {
			d.add(n, 4, key+".otherwise", "step %d says what to expect but not what to do otherwise: add otherwise (e.g. \"go to step 4\")", s.N)
		}
	}
	return s
}

func decodeLevel(d *decoder, i int, n *yaml.Node) RollbackLevel {
	key := fmt.Sprintf("rollback[%d]", i)
	l := RollbackLevel{Line: n.Line}
	seen := d.mapping(n, key, fields{
		"level":       func(k string, v *yaml.Node) { d.str(k, v, &l.Level) },
		"flag":        func(k string, v *yaml.Node) { d.str(k, v, &l.Flag) },
		"provider":    func(k string, v *yaml.Node) { d.str(k, v, &l.Provider) },
		"action":      func(k string, v *yaml.Node) { d.str(k, v, &l.Action) },
		"target":      func(k string, v *yaml.Node) { d.str(k, v, &l.Target) },
		"migration":   func(k string, v *yaml.Node) { d.str(k, v, &l.Migration) },
		"reversible":  func(k string, v *yaml.Node) { d.boolean(k, v, &l.Reversible) },
		"forward_fix": func(k string, v *yaml.Node) { d.str(k, v, &l.ForwardFix) },
		"strategy":    func(k string, v *yaml.Node) { d.str(k, v, &l.Strategy) },
		"pitr": func(k string, v *yaml.Node) {
			p := &PITR{}
			s := d.mapping(v, k, fields{
				"database": func(k string, v *yaml.Node) { d.str(k, v, &p.Database) },
				"rpo":      func(k string, v *yaml.Node) { d.duration(k, v, &p.RPO) },
			})
			if _, ok := s["database"]; !ok {
				d.add(v, 8, k+".database", "pitr needs the database it restores")
			}
			l.PITR = p
		},
		"accepted_risk": func(k string, v *yaml.Node) {
			a := &AcceptedRisk{}
			d.mapping(v, k, fields{
				"statement": func(k string, v *yaml.Node) { d.str(k, v, &a.Statement) },
				"signed_by": func(k string, v *yaml.Node) { d.str(k, v, &a.SignedBy) },
				"date":      func(k string, v *yaml.Node) { d.str(k, v, &a.Date) },
			})
			l.AcceptedRisk = a
		},
		"who":    func(k string, v *yaml.Node) { d.strList(k, v, &l.Who) },
		"budget": func(k string, v *yaml.Node) { d.duration(k, v, &l.Budget) },
		"verify": func(k string, v *yaml.Node) { d.str(k, v, &l.Verify) },
	})
	for _, req := range []string{"level", "who", "budget", "verify"} {
		if _, ok := seen[req]; !ok {
			d.add(n, 5, key+"."+req, "rollback level %d (%s) has no %s: every level needs level, who, budget and verify", i+1, cmp.Or(l.Level, "no level"), req)
		}
	}
	for _, w := range l.Who {
		if !roleRe.MatchString(w) {
			d.add(n, 1, key+".who", "who %q is not a team role (lowercase-with-dashes) or an @handle", w)
		}
	}
	switch l.Level {
	case "":
	case "flag":
		if l.Flag == "" {
			d.add(n, 6, key+".flag", "a flag level must name the flag it flips (flag: <name>)")
		}
		switch l.Provider {
		case "ripcord", "launchdarkly", "unleash", "flagd":
		case "":
			d.add(n, 6, key+".provider", "a flag level must name its provider: ripcord, launchdarkly, unleash or flagd")
		default:
			d.add(n, 1, key+".provider", "provider %q is not known; use ripcord, launchdarkly, unleash or flagd", l.Provider)
		}
	case "deploy":
		if l.Target == "" {
			d.add(n, 5, key+".target", "a deploy level must name its target (mobile-binary for the prepared rollback build, or a deploy target)")
		}
	case "migration":
		if l.Migration == "" {
			d.add(n, 5, key+".migration", "a migration level must name the migration id")
		}
		if l.Reversible == nil {
			d.add(n, 7, key+".reversible", "a migration level must say whether it is reversible (reversible: true or false)")
		} else if !*l.Reversible && strings.TrimSpace(l.ForwardFix) == "" {
			d.add(n, 7, key+".forward_fix", "migration %s is irreversible: describe the forward fix (forward_fix: ...)", l.Migration)
		}
	case "data":
		switch l.Strategy {
		case "pitr":
			if l.PITR == nil {
				d.add(n, 8, key+".pitr", "strategy pitr needs pitr: {database: ..., rpo: ...}")
			}
		case "accepted-risk":
			a := l.AcceptedRisk
			if a == nil || a.Statement == "" || a.SignedBy == "" || a.Date == "" {
				d.add(n, 8, key+".accepted_risk", "an accepted risk must be signed: accepted_risk: {statement, signed_by, date}")
			} else if _, err := time.Parse(time.DateOnly, a.Date); err != nil {
				d.add(n, 8, key+".accepted_risk.date", "accepted_risk.date %q is not a date; write YYYY-MM-DD", a.Date)
			}
		default:
			d.add(n, 8, key+".strategy", "a data level must be point-in-time recovery (strategy: pitr) or a signed accepted risk (strategy: accepted-risk)")
		}
	default:
		d.add(n, 1, key+".level", "level %q is not known; use flag, deploy, migration or data", l.Level)
	}
	return l
}

func decodeComm(d *decoder, key string, n *yaml.Node) Comm {
	c := Comm{Line: n.Line}
	seen := d.mapping(n, key, fields{
		"id":       func(k string, v *yaml.Node) { d.str(k, v, &c.ID) },
		"after":    func(k string, v *yaml.Node) { d.duration(k, v, &c.After) },
		"audience": func(k string, v *yaml.Node) { d.str(k, v, &c.Audience) },
		"channel":  func(k string, v *yaml.Node) { d.str(k, v, &c.Channel) },
		"template": func(k string, v *yaml.Node) {
			d.str(k, v, &c.Template)
			if _, err := template.New(k).Parse(c.Template); err != nil {
				d.add(v, 1, k, "template does not parse as a Go text/template: %v", err)
			}
		},
	})
	for _, req := range []string{"id", "after", "audience", "channel", "template"} {
		if _, ok := seen[req]; !ok {
			d.add(n, 9, key+"."+req, "comms %s has no %s", key, req)
		}
	}
	return c
}

// lint applies the rules that span keys.
func (rb *Runbook) lint(d *decoder, name string) {
	if rb.APIVersion != "" && rb.APIVersion != APIVersion {
		d.add(rb.at("apiVersion"), 1, "apiVersion", "apiVersion %q is not supported; use %s", rb.APIVersion, APIVersion)
	}
	if rb.Kind != "" && rb.Kind != "Runbook" {
		d.add(rb.at("kind"), 1, "kind", "kind %q is not Runbook", rb.Kind)
	}
	if rb.ID != "" {
		if !idRe.MatchString(rb.ID) {
			d.add(rb.at("id"), 11, "id", "id %q must be lowercase letters, digits, dashes and underscores", rb.ID)
		}
		if base := strings.TrimSuffix(path.Base(strings.ReplaceAll(name, "\\", "/")), ".md"); base != rb.ID {
			d.add(rb.at("id"), 11, "id", "id %q does not match the file name %s.md: rename the file or the id", rb.ID, base)
		}
	}
	for _, o := range rb.Owners {
		if !ownerRe.MatchString(o) {
			d.add(rb.at("owners"), 1, "owners", "owner %q is not an @handle or a team:name", o)
		}
	}
	if len(rb.Owners) == 0 && rb.Title != "" {
		d.add(rb.at("owners"), 1, "owners", "owners needs at least one @handle or team:name")
	}
	for i, s := range rb.Steps {
		if s.N != 0 && s.N != i+1 {
			d.findings = append(d.findings, Finding{File: d.file, Line: s.Line, Rule: 3, Key: fmt.Sprintf("steps[%d].n", i),
				Message: fmt.Sprintf("steps must be numbered 1 to %d in order without gaps; this is step %d but numbered %d", len(rb.Steps), i+1, s.N)})
		}
	}
	early := false
	for _, c := range rb.Comms {
		if c.After > 0 && c.After <= 15*time.Minute {
			early = true
		}
	}
	if len(rb.Comms) > 0 && !early {
		d.add(rb.at("comms"), 9, "comms", "no comms template fires at or before 15 minutes: add one with after: 15m or less")
	}
	ids := map[string]bool{}
	for _, t := range rb.Triggers {
		if t.ID != "" && ids[t.ID] {
			d.findings = append(d.findings, Finding{File: d.file, Line: t.Line, Rule: 1, Key: "triggers.id", Message: fmt.Sprintf("trigger id %s is used twice", t.ID)})
		}
		ids[t.ID] = true
	}
	for i := range d.findings {
		if d.findings[i].Line == 0 {
			d.findings[i].Line = 2 // the front matter's first line
		}
	}
}

// LintSet applies rules that span files of one app: ids must be unique.
func LintSet(rbs map[string]*Runbook) []Finding {
	byID := map[string]string{}
	var out []Finding
	for _, name := range slices.Sorted(maps.Keys(rbs)) {
		rb := rbs[name]
		if rb.ID == "" {
			continue
		}
		if other, ok := byID[rb.App+"/"+rb.ID]; ok {
			out = append(out, Finding{File: name, Line: 2, Rule: 11, Key: "id", Message: fmt.Sprintf("id %q is also used by %s; ids are unique per app", rb.ID, other)})
			continue
		}
		byID[rb.App+"/"+rb.ID] = name
	}
	return out
}
