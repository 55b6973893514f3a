package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultFile is the config file Load reads from the working directory when
// Sources.Path is empty. It may be absent.
const DefaultFile = "ripcord.yaml"

// Limits on what Load reads, so that a wrong path cannot make it read a huge
// file and a broken file cannot make it print a huge error.
const (
	maxFileBytes         = 1 << 20  // config file
	maxValueFileBytes    = 64 << 10 // file named by a *_file key
	maxErrors            = 100      // problems reported by one Load
	maxAliasIndirections = 100      // YAML alias chain followed
)

// Sources says where Load reads configuration from. The zero value reads
// only the defaults and ./ripcord.yaml if it exists.
type Sources struct {
	// Path is the YAML config file. Empty means DefaultFile in Dir, which
	// may be absent.
	Path string
	// Explicit is true when the user gave Path (e.g. --config), which makes
	// a missing file an error.
	Explicit bool
	// Dir is where DefaultFile is looked for when Path is empty; empty means
	// the working directory.
	Dir string
	// Environ holds the environment as os.Environ returns it.
	Environ []string
	// Flags maps option keys (see Keys) to the values given on the command
	// line. The CLI passes only the flags the user set.
	Flags map[string]string
}

// Load builds the configuration from the defaults, the YAML file, the
// environment and the flags, in increasing precedence, then checks the rules
// between options. On failure it returns every problem found, each an
// *Error, joined with errors.Join: those from the file in line order, then
// the environment's and the flags' in table order.
func Load(src Sources) (*Config, error) {
	l := newLoader()
	l.loadFile(src)
	l.loadEnv(src.Environ)
	l.loadFlags(src.Flags)
	if len(l.errs) == 0 {
		l.errs = append(l.errs, l.cfg.crossCheck()...)
	}
	if len(l.errs) > 0 {
		return nil, l.joined()
	}
	return l.cfg, nil
}

// loader carries one Load's state.
type loader struct {
	cfg     *Config
	opts    []option
	keys    []string          // every accepted key, in table order
	targets map[string]target // by accepted key
	errs    []*Error
}

// target is what an accepted key sets.
type target struct {
	opt *option
	// viaFile marks a FileKey: the value names a file holding the option's value.
	viaFile bool
}

// assignment records which key set an option within one source, to catch
// the same option set twice there.
type assignment struct {
	key string
	at  origin
}

func newLoader() *loader {
	l := &loader{cfg: Default(), opts: table(), targets: make(map[string]target)}
	for i := range l.opts {
		o := &l.opts[i]
		l.keys = append(l.keys, o.Key)
		l.targets[o.Key] = target{opt: o}
		if o.FileKey != "" {
			l.keys = append(l.keys, o.FileKey)
			l.targets[o.FileKey] = target{opt: o, viaFile: true}
		}
	}
	return l
}

// fail records a problem.
func (l *loader) fail(e *Error) { l.errs = append(l.errs, e) }

// joined returns the problems as one error, capped at maxErrors.
func (l *loader) joined() error {
	errs := make([]error, 0, min(len(l.errs), maxErrors)+1)
	for i, e := range l.errs {
		if i == maxErrors {
			errs = append(errs, &Error{Msg: fmt.Sprintf("%d more problems not shown", len(l.errs)-maxErrors)})
			break
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// apply parses value for key's option and stores it, recording its origin.
// baseDir resolves a relative path given to a *_file key.
func (l *loader) apply(key, value string, at origin, baseDir string, assigned map[string]assignment) {
	t := l.targets[key]
	if prev, ok := assigned[t.opt.Key]; ok {
		if prev.key == key {
			l.fail(at.error(key, fmt.Sprintf("set twice (first at %s); keep only one", prev.at.short())))
		} else {
			l.fail(at.error(key, fmt.Sprintf("conflicts with %s; set only one of them", describeOther(prev))))
		}
		return
	}
	assigned[t.opt.Key] = assignment{key: key, at: at}

	value = strings.TrimSpace(value)
	from := ""
	if t.viaFile {
		if value == "" {
			l.fail(at.error(key, "is empty; give the path of a file holding the value"))
			return
		}
		path := value
		if baseDir != "" && !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, path)
		}
		content, err := readValueFile(path)
		if err != nil {
			l.fail(at.error(key, err.Error()))
			return
		}
		value, from = content, path
	}
	if err := t.opt.set(l.cfg, value); err != nil {
		msg := err.Error()
		if t.viaFile {
			msg = fmt.Sprintf("value read from %s: %s", quote(from), msg)
		}
		l.fail(at.error(key, msg))
		return
	}
	l.cfg.origins[t.opt.Key] = at
}

// describeOther names an earlier assignment inside a conflict message.
func describeOther(a assignment) string {
	if a.at.file != "" {
		return fmt.Sprintf("%s at line %d", a.key, a.at.line)
	}
	return a.at.short()
}

// readValueFile returns the trimmed content of a file named by a *_file key.
func readValueFile(path string) (string, error) {
	b, err := readLimited(path, maxValueFileBytes)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %s", quote(path), describeFSError(err))
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("file %s is empty; it must hold the value", quote(path))
	}
	return v, nil
}

// readLimited reads a whole file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("it is larger than %s", formatSize(limit))
	}
	return b, nil
}

// describeFSError drops the path an *fs.PathError repeats, since the
// message already names the file.
func describeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// loadFile applies the YAML config file, if there is one.
func (l *loader) loadFile(src Sources) {
	path := src.Path
	if path == "" {
		path = filepath.Join(src.Dir, DefaultFile)
	}
	data, err := readLimited(path, maxFileBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if src.Path != "" && src.Explicit {
			l.fail(&Error{File: path, Msg: "config file does not exist; check the path"})
		}
		return
	case err != nil:
		l.fail(&Error{File: path, Msg: "cannot read config file: " + describeFSError(err)})
		return
	}
	start := len(l.errs)
	l.loadYAML(path, data)
	sort.SliceStable(l.errs[start:], func(i, j int) bool {
		return l.errs[start+i].Line < l.errs[start+j].Line
	})
}

// lineError is a YAML problem found before the keys are looked at.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return e.msg }

// parseYAML returns the root mapping of data, nil for an empty document, or
// a *lineError. yaml.v3 is not ours, so a panic in it becomes an error
// rather than taking the server down.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &lineError{msg: fmt.Sprintf("invalid YAML: the parser failed: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(err)
	default:
		return nil, &lineError{line: next.Line, msg: "found a second YAML document; put all settings in one"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root = resolveAlias(doc.Content[0])
	switch {
	case root.Kind == yaml.MappingNode:
		return root, nil
	case isNull(root):
		return nil, nil
	}
	return nil, &lineError{line: root.Line, msg: fmt.Sprintf(
		"the top level must be a mapping of keys to values, e.g. \"addr: 127.0.0.1:8080\"; found %s", describeNode(root))}
}

// syntaxError turns a yaml.v3 error ("yaml: line 3: msg") into a *lineError.
func syntaxError(err error) *lineError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, text, ok := strings.Cut(rest, ": ")
		if n, convErr := strconv.Atoi(num); ok && convErr == nil && n > 0 {
			return &lineError{line: n, msg: "invalid YAML: " + text}
		}
	}
	// yaml.v3 leaves the line out of syntax errors when its 0-based mark is
	// on the first line; its anchor and end-of-stream errors carry no
	// position at all.
	if strings.Contains(msg, "anchor") || strings.HasPrefix(msg, "attempted to go past") {
		return &lineError{msg: "invalid YAML: " + msg}
	}
	return &lineError{line: 1, msg: "invalid YAML: " + msg}
}

// resolveAlias follows YAML aliases (*name) to the node they stand for.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; i < maxAliasIndirections && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty value ("key:" or "key: ~").
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describeNode names what a node is, for "expected X, found Y" messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "the value " + quote(n.Value)
	}
	return "an alias"
}

// loadYAML applies the settings in a config file's content.
func (l *loader) loadYAML(file string, data []byte) {
	root, err := parseYAML(data)
	if err != nil {
		var le *lineError
		if errors.As(err, &le) {
			l.fail(&Error{File: file, Line: le.line, Msg: le.msg})
		}
		return
	}
	if root != nil {
		l.walk(file, root, "", make(map[string]assignment))
	}
}

// walk applies the keys of mapping m, whose own key path is prefix ("" for
// the top level, "log." inside log:). Keys may be nested or dotted.
func (l *loader) walk(file string, m *yaml.Node, prefix string, assigned map[string]assignment) {
	firstLine := make(map[string]int)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], resolveAlias(m.Content[i+1])
		at := origin{file: file, line: k.Line}
		switch {
		case k.Kind != yaml.ScalarNode:
			l.fail(at.error("", fmt.Sprintf("a key must be a plain name, not %s", describeNode(k))))
			continue
		case k.ShortTag() == "!!merge":
			l.fail(at.error("", "merge keys (<<) are not supported; write the keys out"))
			continue
		}
		path := prefix + k.Value
		if first, dup := firstLine[k.Value]; dup {
			l.fail(at.error(path, fmt.Sprintf("set twice (first at line %d); keep only one", first)))
			continue
		}
		firstLine[k.Value] = k.Line

		if _, ok := l.targets[path]; ok {
			switch {
			case isNull(v):
				l.apply(path, "", at, filepath.Dir(file), assigned)
			case v.Kind == yaml.ScalarNode:
				l.apply(path, v.Value, at, filepath.Dir(file), assigned)
			default:
				l.fail(at.error(path, fmt.Sprintf("expected a single value, found %s", describeNode(v))))
			}
			continue
		}
		if sub := l.keysUnder(path + "."); len(sub) > 0 {
			switch {
			case v.Kind == yaml.MappingNode:
				l.walk(file, v, path+".", assigned)
			case isNull(v):
				// An empty section sets nothing.
			default:
				l.fail(at.error(path, fmt.Sprintf("expected a mapping of %s, found %s",
					strings.Join(sub, ", "), describeNode(v))))
			}
			continue
		}
		l.fail(at.error("", l.unknownKey(path, prefix)))
	}
}

// keysUnder returns the accepted keys starting with prefix, in table order.
func (l *loader) keysUnder(prefix string) []string {
	var out []string
	for _, k := range l.keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// unknownKey explains an unknown key path found in a mapping at prefix.
func (l *loader) unknownKey(path, prefix string) string {
	candidates := slices.Clone(l.keys)
	for _, k := range l.keys {
		for i := range len(k) {
			if k[i] == '.' && !slices.Contains(candidates, k[:i]) {
				candidates = append(candidates, k[:i])
			}
		}
	}
	msg := "unknown key " + quote(path)
	if s := suggest(path, candidates); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + "; allowed keys: " + strings.Join(l.keysUnder(prefix), ", ")
}

// loadEnv applies the RIPCORD_* variables that name options. Others with the
// prefix belong to other tools and are ignored, as are empty values.
func (l *loader) loadEnv(environ []string) {
	vars := make(map[string]string)
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, envPrefix) {
			vars[name] = val // the last of duplicates wins, as in os/exec
		}
	}
	assigned := make(map[string]assignment)
	for _, key := range l.keys {
		name := envName(key)
		if v, ok := vars[name]; ok && strings.TrimSpace(v) != "" {
			l.apply(key, v, origin{env: name}, "", assigned)
		}
	}
}

// loadFlags applies the command-line values, keyed by option key.
func (l *loader) loadFlags(flags map[string]string) {
	assigned := make(map[string]assignment)
	for _, key := range l.keys {
		if v, ok := flags[key]; ok {
			l.apply(key, v, origin{flag: flagName(key)}, "", assigned)
		}
	}
	var unknown []string
	for k := range flags {
		if _, ok := l.targets[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		l.fail(&Error{Flag: flagName(k), Msg: fmt.Sprintf("unknown option %s; allowed keys: %s",
			quote(k), strings.Join(l.keys, ", "))})
	}
}
