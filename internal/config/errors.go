package config

import (
	"strconv"
	"strings"
)

// Error is one configuration problem, located precisely enough for the user
// to find and fix it. Load and Validate return one or more of them joined
// with errors.Join; use errors.As to inspect the first.
//
// At most one of File, Env and Flag is set; none is set for a value that
// came from the defaults or a Config built by hand.
type Error struct {
	// File is the YAML file the problem is in.
	File string
	// Line is the 1-based line in File, or 0 when unknown.
	Line int
	// Env is the environment variable holding the bad value.
	Env string
	// Flag is the command-line flag holding the bad value, without dashes.
	Flag string
	// Key is the option key concerned, e.g. "log.level" or "secret_key_file";
	// empty for problems not tied to one known key, such as syntax errors.
	Key string
	// Msg says what is wrong and what is allowed instead.
	Msg string
}

// Error formats the problem as "file:line: key: msg", "ENV: msg",
// "--flag: msg" or "key: msg".
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		b.WriteString(e.File + ":" + strconv.Itoa(e.Line) + ": ")
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Env != "":
		b.WriteString(e.Env + ": ")
	case e.Flag != "":
		b.WriteString("--" + e.Flag + ": ")
	}
	if e.Key != "" && e.Env == "" && e.Flag == "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// origin is where a value came from; the zero value means the default.
type origin struct {
	file string
	line int
	env  string
	flag string
}

// String describes the origin for Setting.Source.
func (o origin) String() string {
	switch {
	case o.file != "":
		return "file " + o.file + ":" + strconv.Itoa(o.line)
	case o.env != "":
		return "env " + o.env
	case o.flag != "":
		return "flag --" + o.flag
	}
	return "default"
}

// short names the origin inside a message about the same source, e.g.
// "line 3" within a file.
func (o origin) short() string {
	switch {
	case o.file != "":
		return "line " + strconv.Itoa(o.line)
	case o.env != "":
		return o.env
	case o.flag != "":
		return "--" + o.flag
	}
	return "default"
}

// error builds an *Error about key located at o.
func (o origin) error(key, msg string) *Error {
	return &Error{File: o.file, Line: o.line, Env: o.env, Flag: o.flag, Key: key, Msg: msg}
}

// maxSuggestLen bounds the keys suggest compares, keeping it cheap.
const maxSuggestLen = 64

// suggest returns the candidate closest to name by edit distance, or "" if
// none is close enough to be a likely typo.
func suggest(name string, candidates []string) string {
	if len(name) > maxSuggestLen {
		return ""
	}
	best, bestDist := "", 3
	for _, c := range candidates {
		d := editDistance(name, c)
		if d < bestDist && 2*d < len(name) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
