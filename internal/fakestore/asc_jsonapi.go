package fakestore

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// ref is a JSON:API resource identifier.
type ref struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// ascDoc is a JSON:API request document with one resource.
type ascDoc struct {
	Data *struct {
		Type          string                     `json:"type"`
		ID            string                     `json:"id"`
		Attributes    json.RawMessage            `json:"attributes"`
		Relationships map[string]json.RawMessage `json:"relationships"`
	} `json:"data"`
}

// decodeDoc parses a request document of type typ into attrs (may be nil).
func decodeDoc(body []byte, typ string, attrs any) (*ascDoc, error) {
	var d ascDoc
	if err := json.Unmarshal(body, &d); err != nil || d.Data == nil {
		return nil, &ascError{Status: 400, Code: "ENTITY_UNPARSABLE", Title: "The request entity is not parsable.",
			Detail: "The request body could not be parsed as a JSON:API document with a 'data' member."}
	}
	if d.Data.Type != typ {
		return nil, &ascError{Status: 409, Code: "ENTITY_ERROR.TYPE.INVALID", Title: "The provided resource type is not valid.",
			Detail: "The resource type '" + d.Data.Type + "' is not valid for this endpoint; expected '" + typ + "'.", Pointer: "/data/type"}
	}
	if attrs != nil && len(d.Data.Attributes) > 0 {
		if err := json.Unmarshal(d.Data.Attributes, attrs); err != nil {
			return nil, &ascError{Status: 409, Code: "ENTITY_ERROR.ATTRIBUTE.TYPE", Title: "An attribute in the provided entity has the wrong type",
				Detail: "An attribute has the wrong type: " + err.Error(), Pointer: "/data/attributes"}
		}
	}
	return &d, nil
}

// rel returns the to-one relationship name of d, checking its type; a
// missing one is Apple's ENTITY_ERROR.RELATIONSHIP.REQUIRED when required.
func (d *ascDoc) rel(name, typ string, required bool) (string, error) {
	raw, ok := d.Data.Relationships[name]
	var r struct {
		Data *ref `json:"data"`
	}
	if ok {
		if err := json.Unmarshal(raw, &r); err != nil {
			return "", ascInvalidRel(name, "The relationship '"+name+"' is not a valid resource identifier.")
		}
	}
	if r.Data == nil {
		if required {
			return "", &ascError{Status: 409, Code: "ENTITY_ERROR.RELATIONSHIP.REQUIRED", Title: "The provided entity is missing a required relationship",
				Detail: "You must provide a value for the relationship '" + name + "' with this request", Pointer: "/data/relationships/" + name}
		}
		return "", nil
	}
	if r.Data.Type != typ {
		return "", ascInvalidRel(name, "The relationship '"+name+"' must reference a resource of type '"+typ+"'.")
	}
	return r.Data.ID, nil
}

func ascInvalidRel(name, detail string) *ascError {
	return &ascError{Status: 409, Code: "ENTITY_ERROR.RELATIONSHIP.INVALID", Title: "The provided entity includes a relationship with an invalid value",
		Detail: detail, Pointer: "/data/relationships/" + name}
}

func ascStateInvalid(detail string) *ascError {
	return &ascError{Status: 409, Code: "STATE_ERROR.ENTITY_STATE_INVALID", Title: "The request cannot be fulfilled because of the state of another resource.", Detail: detail}
}

// resource builds a JSON:API resource object with links.self.
func (s *Server) resource(typ, id string, attrs map[string]any, rels map[string]any) map[string]any {
	m := map[string]any{"type": typ, "id": id, "links": map[string]string{"self": s.cfg.BaseURL + "/v1/" + typ + "/" + id}}
	if attrs != nil {
		m["attributes"] = attrs
	}
	if len(rels) > 0 {
		m["relationships"] = rels
	}
	return m
}

// toOne is a to-one relationship object with its data; callers omit a
// relationship that has no target.
func toOne(typ, id string) map[string]any {
	return map[string]any{"data": ref{Type: typ, ID: id}}
}

// single wraps one resource in a document.
func (s *Server) single(r *http.Request, res map[string]any) map[string]any {
	return map[string]any{"data": res, "links": map[string]string{"self": s.cfg.BaseURL + r.URL.RequestURI()}}
}

// collection pages res and wraps the page in a document.
func (s *Server) collection(r *http.Request, res []map[string]any, included []map[string]any) (int, any, error) {
	from, to, links, meta, err := s.ascPage(r, len(res))
	if err != nil {
		return 0, nil, err
	}
	doc := map[string]any{"data": append([]map[string]any{}, res[from:to]...), "links": links, "meta": meta}
	if included != nil {
		doc["included"] = included
	}
	return 200, doc, nil
}

// filterValues returns the comma-separated values of filter[name], or nil.
func filterValues(r *http.Request, name string) []string {
	v := r.URL.Query().Get("filter[" + name + "]")
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// matches reports whether want is empty or contains v.
func matches(want []string, v string) bool { return want == nil || slices.Contains(want, v) }

func includes(r *http.Request, name string) bool {
	return slices.Contains(strings.Split(r.URL.Query().Get("include"), ","), name)
}

// sortedByID returns m's values ordered by numeric id (creation order).
func sortedByID[V any](m map[string]V, id func(V) string) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b V) int {
		x, y := id(a), id(b)
		if len(x) != len(y) {
			return len(x) - len(y)
		}
		return strings.Compare(x, y)
	})
	return out
}
