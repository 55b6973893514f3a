package runbook

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks a YAML node tree by hand, so every problem is reported at
// the line of the key or value that causes it, and keeps going after the
// first problem so one lint run shows every finding.
type decoder struct {
	file     string
	findings []Finding
}

func (d *decoder) add(n *yaml.Node, rule int, key, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.findings = append(d.findings, Finding{File: d.file, Line: line, Column: col, Rule: rule, Key: key, Message: fmt.Sprintf(format, args...)})
}

// fields maps each allowed key of a mapping to its handler.
type fields map[string]func(key string, v *yaml.Node)

// mapping decodes a mapping node with known keys; unknown keys are rule 1.
func (d *decoder) mapping(n *yaml.Node, path string, fs fields) map[string]*yaml.Node {
	seen := map[string]*yaml.Node{}
	if n == nil {
		return seen
	}
	if n.Kind != yaml.MappingNode {
		d.add(n, 1, path, "%s must be a mapping of keys to values, not %s", orRoot(path), describe(n))
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if _, dup := seen[k.Value]; dup {
			d.add(k, 1, key, "%s is given twice; keep one", key)
			continue
		}
		seen[k.Value] = k
		h, ok := fs[k.Value]
		if !ok {
			d.add(k, 1, key, "unknown key %q%s; allowed keys here: %s", k.Value, suggestion(k.Value, keysOf(fs)), strings.Join(keysOf(fs), ", "))
			continue
		}
		h(key, v)
	}
	return seen
}

func orRoot(path string) string {
	if path == "" {
		return "the front matter"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func keysOf(fs fields) []string {
	ks := make([]string, 0, len(fs))
	for k := range fs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "empty"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (d *decoder) str(key string, v *yaml.Node, dst *string) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		d.add(v, 1, key, "%s must be text, not %s", key, describe(v))
		return
	}
	*dst = v.Value
}

func (d *decoder) strList(key string, v *yaml.Node, dst *[]string) {
	if v.Kind != yaml.SequenceNode {
		d.add(v, 1, key, "%s must be a list such as [a, b], not %s", key, describe(v))
		return
	}
	for i, item := range v.Content {
		var s string
		d.str(fmt.Sprintf("%s[%d]", key, i), item, &s)
		if s != "" {
			*dst = append(*dst, s)
		}
	}
}

func (d *decoder) list(key string, v *yaml.Node, each func(i int, item *yaml.Node)) {
	if v.Kind != yaml.SequenceNode {
		d.add(v, 1, key, "%s must be a list, not %s", key, describe(v))
		return
	}
	for i, item := range v.Content {
		each(i, item)
	}
}

func (d *decoder) integer(key string, v *yaml.Node, min int, dst *int) {
	n, err := strconv.Atoi(v.Value)
	if v.Kind != yaml.ScalarNode || err != nil || n < min {
		d.add(v, 1, key, "%s must be a whole number of at least %d, not %s", key, min, describe(v))
		return
	}
	*dst = n
}

func (d *decoder) boolean(key string, v *yaml.Node, dst **bool) {
	switch v.Value {
	case "true", "false":
		b := v.Value == "true"
		*dst = &b
	default:
		d.add(v, 1, key, "%s must be true or false, not %s", key, describe(v))
	}
}

func (d *decoder) duration(key string, v *yaml.Node, dst *time.Duration) {
	dur, err := ParseDuration(v.Value)
	if v.Kind != yaml.ScalarNode || err != nil || dur <= 0 {
		d.add(v, 1, key, "%s must be a positive duration such as 90s, 5m, 2h or 2d, not %s", key, describe(v))
		return
	}
	*dst = dur
}

// ParseDuration reads Go durations plus whole days ("2d"), as runbooks
// write them.
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad day count in %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// suggestion proposes the closest allowed key for a typo.
func suggestion(got string, allowed []string) string {
	best, bestD := "", 3
	for _, a := range allowed {
		if d := editDistance(got, a); d < bestD {
			best, bestD = a, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
