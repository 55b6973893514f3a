package speccheck

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// checkNotes42 checks an exchange of a call the 3.7 document lacks against
// the shapes the reference notes give (store-apis.md A3, from Apple's
// post-v1-builduploads page and the 4.3.1 schema slice): JSON:API
// documents of the right type, the required attributes and relationships,
// and Apple's error body on failures.
func checkNotes42(key string, e Exchange) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	method, path, _ := strings.Cut(key, " ")
	typ := resourceType(path)
	if len(e.ReqBody) > 0 {
		var d doc
		if err := json.Unmarshal(e.ReqBody, &d); err != nil || d.Data == nil {
			add("request is not a JSON:API document: %v", err)
		} else {
			if d.Data.Type != typ {
				add("request data.type %q, want %q", d.Data.Type, typ)
			}
			for _, a := range requiredRequest[key] {
				if !d.has(a) {
					add("request lacks %s", a)
				}
			}
			if method == "PATCH" && d.Data.ID == "" {
				add("request lacks data.id")
			}
			if alg := d.str("attributes.sourceFileChecksums.file.algorithm"); alg != "" && !slices.Contains([]string{"MD5", "SHA_256"}, alg) {
				add("checksum algorithm %q is not MD5 or SHA_256", alg)
			}
		}
	}
	switch {
	case e.Status >= 400:
		var env struct {
			Errors []map[string]any `json:"errors"`
		}
		if err := json.Unmarshal(e.RespBody, &env); err != nil || len(env.Errors) == 0 {
			add("%d answer has no errors[]", e.Status)
		}
		for _, m := range env.Errors {
			for _, f := range []string{"status", "code", "title", "detail"} {
				if _, ok := m[f].(string); !ok {
					add("error lacks %s", f)
				}
			}
		}
	case e.Status >= 200 && e.Status < 300 && len(e.RespBody) > 0:
		var raw struct {
			Data  json.RawMessage `json:"data"`
			Links map[string]any  `json:"links"`
		}
		if err := json.Unmarshal(e.RespBody, &raw); err != nil || raw.Links["self"] == nil {
			add("response is not a JSON:API document with links.self: %v", err)
			break
		}
		var items []resourceDoc
		if strings.HasPrefix(string(raw.Data), "[") {
			_ = json.Unmarshal(raw.Data, &items)
		} else {
			var one resourceDoc
			_ = json.Unmarshal(raw.Data, &one)
			items = []resourceDoc{one}
		}
		for _, it := range items {
			d := doc{Data: &it}
			if it.Type == "" || it.ID == "" {
				add("response resource lacks type or id")
			}
			switch it.Type {
			case "buildUploads":
				for _, a := range []string{"attributes.cfBundleShortVersionString", "attributes.cfBundleVersion", "attributes.platform", "attributes.state.state"} {
					if !d.has(a) {
						add("buildUpload lacks %s", a)
					}
				}
				if st := d.str("attributes.state.state"); st != "" && !slices.Contains([]string{"AWAITING_UPLOAD", "PROCESSING", "FAILED", "COMPLETE"}, st) {
					add("buildUpload state %q is not AWAITING_UPLOAD/PROCESSING/FAILED/COMPLETE", st)
				}
			case "buildUploadFiles":
				for _, a := range []string{"attributes.fileName", "attributes.fileSize", "attributes.uti", "attributes.assetType", "attributes.uploadOperations"} {
					if !d.has(a) {
						add("buildUploadFile lacks %s", a)
					}
				}
				var ops struct {
					Attributes struct {
						Ops []map[string]any `json:"uploadOperations"`
					} `json:"attributes"`
				}
				_ = json.Unmarshal(it.raw, &ops)
				for _, op := range ops.Attributes.Ops {
					for _, f := range []string{"method", "url", "length", "offset", "partNumber", "requestHeaders", "expiration"} {
						if op[f] == nil {
							add("uploadOperation lacks %s", f)
						}
					}
				}
			default:
				if it.Type != typ && !(method == "GET" && strings.HasSuffix(path, "/buildUploads")) {
					add("response data.type %q, want %q", it.Type, typ)
				}
			}
		}
	}
	return errs
}

// requiredRequest lists the members each 4.x write must carry (A3).
var requiredRequest = map[string][]string{
	"POST /v1/buildUploads":           {"attributes.cfBundleShortVersionString", "attributes.cfBundleVersion", "attributes.platform", "relationships.app.data.id"},
	"POST /v1/buildUploadFiles":       {"attributes.assetType", "attributes.fileName", "attributes.fileSize", "attributes.uti", "relationships.buildUpload.data.id"},
	"PATCH /v1/buildUploadFiles/{id}": {"attributes.uploaded", "attributes.sourceFileChecksums.file.hash", "attributes.sourceFileChecksums.file.algorithm"},
}

// resourceType is the JSON:API type a path serves: its last non-id segment.
func resourceType(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if !strings.HasPrefix(segs[i], "{") {
			return segs[i]
		}
	}
	return ""
}

type resourceDoc struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	raw  json.RawMessage
}

func (r *resourceDoc) UnmarshalJSON(b []byte) error {
	type plain struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	r.Type, r.ID, r.raw = p.Type, p.ID, append(json.RawMessage(nil), b...)
	return nil
}

type doc struct {
	Data *resourceDoc `json:"data"`
}

// lookup follows a dotted path into the resource object.
func (d doc) lookup(path string) (any, bool) {
	var v any
	if d.Data == nil || json.Unmarshal(d.Data.raw, &v) != nil {
		return nil, false
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok || v == nil {
			return nil, false
		}
	}
	return v, true
}

func (d doc) has(path string) bool { _, ok := d.lookup(path); return ok }

func (d doc) str(path string) string {
	v, _ := d.lookup(path)
	s, _ := v.(string)
	return s
}
