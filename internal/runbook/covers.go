package runbook

import (
	"path"
	"slices"
	"strings"
)

// Touches reports whether a release changing paths and flags touches what
// c covers, and names the first path or flag that does (for evidence).
func (c Covers) Touches(paths, flags []string) (bool, string) {
	for _, p := range paths {
		for _, g := range c.Paths {
			if MatchGlob(g, p) {
				return true, "path " + p + " matches " + g
			}
		}
	}
	for _, f := range flags {
		if slices.Contains(c.Flags, f) {
			return true, "flag " + f
		}
	}
	return false, ""
}

// MatchGlob matches a slash-separated path against a covers glob: `*`, `?`
// and `[...]` work within one segment as in path.Match, and a `**` segment
// matches any number of segments (none included). A malformed glob matches
// nothing.
func MatchGlob(glob, name string) bool {
	name = strings.TrimPrefix(strings.ReplaceAll(name, "\\", "/"), "./")
	return matchSegments(strings.Split(strings.TrimPrefix(glob, "./"), "/"), strings.Split(name, "/"))
}

func matchSegments(glob, name []string) bool {
	for len(glob) > 0 {
		if glob[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchSegments(glob[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(glob[0], name[0]); err != nil || !ok {
			return false
		}
		glob, name = glob[1:], name[1:]
	}
	return len(name) == 0
}
