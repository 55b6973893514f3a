// Package discovery loads Google API Discovery documents and checks HTTP
// exchanges against them: the method a request calls, its query parameters,
// and its request and response bodies against the document's schemas.
//
// It exists because the Google Go clients are generated from these documents
// and the fake store must answer exactly what they describe; no maintained Go
// library validates against Discovery schemas. Validation is strict: a
// property the schema does not declare is an error.
package discovery

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Schema is one Discovery JSON schema.
type Schema struct {
	ID                   string             `json:"id"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Ref                  string             `json:"$ref"`
	Properties           map[string]*Schema `json:"properties"`
	Items                *Schema            `json:"items"`
	AdditionalProperties *Schema            `json:"additionalProperties"`
	Enum                 []string           `json:"enum"`
}

// Parameter is one method parameter.
type Parameter struct {
	Type     string   `json:"type"`
	Location string   `json:"location"`
	Repeated bool     `json:"repeated"`
	Enum     []string `json:"enum"`
}

type ref struct {
	Ref string `json:"$ref"`
}

// Method is one API method.
type Method struct {
	ID          string                `json:"id"`
	Path        string                `json:"path"`
	FlatPath    string                `json:"flatPath"`
	HTTPMethod  string                `json:"httpMethod"`
	Parameters  map[string]*Parameter `json:"parameters"`
	Request     *ref                  `json:"request"`
	Response    *ref                  `json:"response"`
	MediaUpload *struct {
		Protocols struct {
			Simple *struct {
				Path string `json:"path"`
			} `json:"simple"`
			Resumable *struct {
				Path string `json:"path"`
			} `json:"resumable"`
		} `json:"protocols"`
	} `json:"mediaUpload"`

	patterns []*regexp.Regexp
	literal  int
}

type resource struct {
	Methods   map[string]*Method   `json:"methods"`
	Resources map[string]*resource `json:"resources"`
}

// Doc is a loaded Discovery document.
type Doc struct {
	Name        string                `json:"name"`
	Version     string                `json:"version"`
	ServicePath string                `json:"servicePath"`
	Schemas     map[string]*Schema    `json:"schemas"`
	Parameters  map[string]*Parameter `json:"parameters"`
	Resources   map[string]*resource  `json:"resources"`
	Methods     map[string]*Method    `json:"methods"`

	methods []*Method
}

// Load reads a Discovery document from path.
func Load(path string) (*Doc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var d Doc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("discovery: parse %s: %w", path, err)
	}
	var walk func(map[string]*Method, map[string]*resource)
	walk = func(ms map[string]*Method, rs map[string]*resource) {
		for _, m := range ms {
			d.methods = append(d.methods, m)
		}
		for _, r := range rs {
			walk(r.Methods, r.Resources)
		}
	}
	walk(d.Methods, d.Resources)
	for _, m := range d.methods {
		paths := []string{"/" + d.ServicePath + m.FlatPath}
		if m.FlatPath == "" {
			paths[0] = "/" + d.ServicePath + m.Path
		}
		if m.MediaUpload != nil && m.MediaUpload.Protocols.Simple != nil {
			paths = append(paths, m.MediaUpload.Protocols.Simple.Path)
		}
		if m.MediaUpload != nil && m.MediaUpload.Protocols.Resumable != nil {
			paths = append(paths, m.MediaUpload.Protocols.Resumable.Path)
		}
		for _, p := range paths {
			re, lit := compile(p)
			m.patterns = append(m.patterns, re)
			m.literal = max(m.literal, lit)
		}
	}
	// Prefer the most literal match, so ".../edits/{id}:commit" beats
	// ".../edits/{id}".
	sort.Slice(d.methods, func(i, j int) bool { return d.methods[i].literal > d.methods[j].literal })
	return &d, nil
}

var varRE = regexp.MustCompile(`\{\+?[^}]+\}`)

func compile(tmpl string) (*regexp.Regexp, int) {
	var b strings.Builder
	b.WriteString("^")
	last, lit := 0, 0
	for _, loc := range varRE.FindAllStringIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:loc[0]]))
		lit += loc[0] - last
		if strings.HasPrefix(tmpl[loc[0]:], "{+") {
			b.WriteString(`.+`)
		} else {
			b.WriteString(`[^/]+`)
		}
		last = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(tmpl[last:]))
	lit += len(tmpl) - last
	b.WriteString("$")
	return regexp.MustCompile(b.String()), lit
}

// Match returns the method an HTTP method and URL path (from the server root,
// e.g. "/androidpublisher/v3/applications/p/edits") call, or nil.
func (d *Doc) Match(httpMethod, path string) *Method {
	for _, m := range d.methods {
		if m.HTTPMethod != httpMethod {
			continue
		}
		for _, re := range m.patterns {
			if re.MatchString(path) {
				return m
			}
		}
	}
	return nil
}

// CheckQuery reports query parameters the method and the document's standard
// parameters do not declare, and values of the wrong type.
func (d *Doc) CheckQuery(m *Method, query map[string][]string) []error {
	var errs []error
	for name, vals := range query {
		p := m.Parameters[name]
		if p == nil {
			p = d.Parameters[name]
		}
		if p == nil && name == "uploadType" && m.MediaUpload != nil {
			continue
		}
		if p == nil {
			errs = append(errs, fmt.Errorf("%s: undeclared query parameter %q", m.ID, name))
			continue
		}
		for _, v := range vals {
			if err := checkScalar(p.Type, "", p.Enum, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: query %s: %w", m.ID, name, err))
			}
		}
	}
	return errs
}

func checkScalar(typ, format string, enum []string, v string) error {
	switch typ {
	case "boolean":
		if v != "true" && v != "false" {
			return fmt.Errorf("%q is not a boolean", v)
		}
	case "integer":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
	}
	if len(enum) > 0 && !contains(enum, v) {
		return fmt.Errorf("%q is not one of %v", v, enum)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Validate checks a JSON body against the named schema.
func (d *Doc) Validate(schema string, body []byte) []error {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []error{fmt.Errorf("%s: body is not JSON: %w", schema, err)}
	}
	var errs []error
	d.check(&Schema{Ref: schema}, v, schema, &errs, 0)
	return errs
}

func (d *Doc) check(s *Schema, v any, path string, errs *[]error, depth int) {
	if depth > 64 {
		*errs = append(*errs, fmt.Errorf("%s: nesting too deep", path))
		return
	}
	if s.Ref != "" {
		rs, ok := d.Schemas[s.Ref]
		if !ok {
			*errs = append(*errs, fmt.Errorf("%s: unknown schema %s", path, s.Ref))
			return
		}
		s = rs
	}
	fail := func(format string, a ...any) {
		*errs = append(*errs, fmt.Errorf("%s: "+format, append([]any{path}, a...)...))
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("want object, got %T", v)
			return
		}
		for k, val := range m {
			if ps, ok := s.Properties[k]; ok {
				d.check(ps, val, path+"."+k, errs, depth+1)
			} else if s.AdditionalProperties != nil {
				d.check(s.AdditionalProperties, val, path+"."+k, errs, depth+1)
			} else {
				fail("undeclared property %q", k)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("want array, got %T", v)
			return
		}
		for i, val := range a {
			d.check(s.Items, val, fmt.Sprintf("%s[%d]", path, i), errs, depth+1)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			fail("want string, got %T", v)
			return
		}
		switch s.Format {
		case "int64", "uint64":
			if _, err := strconv.ParseInt(str, 10, 64); err != nil {
				fail("%q is not a %s string", str, s.Format)
			}
		}
		if len(s.Enum) > 0 && !contains(s.Enum, str) {
			fail("%q is not one of %v", str, s.Enum)
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			fail("want integer, got %T", v)
			return
		}
		i, err := n.Int64()
		if err != nil {
			fail("%s is not an integer", n)
			return
		}
		if s.Format == "int32" && (i > math.MaxInt32 || i < math.MinInt32) {
			fail("%d overflows int32", i)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			fail("want number, got %T", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("want boolean, got %T", v)
		}
	case "any", "":
	default:
		fail("unsupported schema type %q", s.Type)
	}
}
