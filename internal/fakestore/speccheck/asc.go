package speccheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// ASCSpec is the loaded App Store Connect OpenAPI document (3.7) and the
// 4.2 path index for calls added later. Loading takes about 20 s: load it
// once per test binary with ASCOnce.
type ASCSpec struct {
	doc     *openapi3.T
	router  routers.Router
	paths42 map[string]bool
	// mu serialises validation: kin-openapi caches inside the document.
	mu sync.Mutex
}

// ASCOnce loads the App Store Connect specs once and shares them between
// the tests of one binary (declare one in the test package).
type ASCOnce struct {
	once sync.Once
	spec *ASCSpec
	err  error
}

// Get returns the loaded specs, skipping the test when ../shared/specs is
// absent and failing it when they do not load.
func (o *ASCOnce) Get(tb testing.TB) *ASCSpec {
	tb.Helper()
	dir := SpecsDir(tb)
	o.once.Do(func() { o.spec, o.err = LoadASCFile(dir) })
	if o.err != nil {
		tb.Fatalf("%v", o.err)
	}
	return o.spec
}

// LoadASC loads the App Store Connect specs from dir (see SpecsDir).
func LoadASC(tb testing.TB, dir string) *ASCSpec {
	tb.Helper()
	s, err := LoadASCFile(dir)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return s
}

// LoadASCFile loads the App Store Connect specs from dir.
func LoadASCFile(dir string) (*ASCSpec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join(dir, "app-store-connect-openapi.json"))
	if err != nil {
		return nil, fmt.Errorf("load App Store Connect OpenAPI document: %w", err)
	}
	router, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation(), openapi3.DisableSchemaPatternValidation())
	if err != nil {
		return nil, fmt.Errorf("build OpenAPI router: %w", err)
	}
	f, err := os.Open(filepath.Join(dir, "app-store-connect-4.2-paths.txt"))
	if err != nil {
		return nil, fmt.Errorf("open 4.2 path index: %w", err)
	}
	defer f.Close()
	paths := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			paths[line] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read 4.2 path index: %w", err)
	}
	return &ASCSpec{doc: doc, router: router, paths42: paths}, nil
}

// Check validates every exchange: request and response against the 3.7
// document with kin-openapi, or, for calls the 3.7 document lacks, the path
// against the 4.2 index and the bodies against the shapes in the reference
// notes (store-apis.md A3). Answers the 3.7 document does not declare for
// an operation (429, 5xx: it lists none) must be Apple's ErrorResponse.
// Requests outside /v1 and /v2 (presigned upload parts) are counted as
// "upload part". It returns the operation ids (or "4.2 METHOD path") seen.
func (s *ASCSpec) Check(tb testing.TB, ex []Exchange) map[string]int {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]int{}
	ctx := context.Background()
	for _, e := range ex {
		if !strings.HasPrefix(e.Path, "/v1/") && !strings.HasPrefix(e.Path, "/v2/") {
			seen["upload part"]++
			continue
		}
		u := &url.URL{Scheme: "https", Host: "api.appstoreconnect.apple.com", Path: e.Path, RawQuery: url.Values(e.Query).Encode()}
		req, _ := http.NewRequest(e.Method, u.String(), bytes.NewReader(e.ReqBody))
		req.Header = e.ReqHeader.Clone()
		route, params, err := s.router.FindRoute(req)
		if err != nil {
			if key := e.Method + " " + templated(e.Path, s.paths42, e.Method); s.paths42[key] {
				seen["4.2 "+key]++
				for _, err := range checkNotes42(key, e) {
					tb.Errorf("spec: %s %s (4.2, reference notes): %v", e.Method, e.Path, err)
				}
				continue
			}
			tb.Errorf("spec: %s %s is in neither the 3.7 document nor the 4.2 index: %v", e.Method, e.Path, err)
			continue
		}
		seen[route.Operation.OperationID]++
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			tb.Errorf("spec: request %s %s: %v", e.Method, e.Path, err)
		}
		if route.Operation.Responses.Value(strconv.Itoa(e.Status)) == nil && (e.Status == http.StatusTooManyRequests || e.Status >= 500) {
			if err := s.checkErrorResponse(e.RespBody); err != nil {
				tb.Errorf("spec: %d %s %s (undeclared status) is not an ErrorResponse: %v", e.Status, e.Method, e.Path, err)
			}
			continue
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: e.Status, Header: e.RespHeader,
			Body: io.NopCloser(bytes.NewReader(e.RespBody)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			tb.Errorf("spec: response %d %s %s: %v", e.Status, e.Method, e.Path, err)
		}
	}
	return seen
}

func (s *ASCSpec) checkErrorResponse(body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	ref := s.doc.Components.Schemas["ErrorResponse"]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("the document has no ErrorResponse schema")
	}
	if err := ref.Value.VisitJSON(v); err != nil {
		return err
	}
	if m, ok := v.(map[string]any); !ok || m["errors"] == nil {
		return fmt.Errorf("no errors[] member")
	}
	return nil
}

// templated finds the 4.2 index entry whose template matches path.
func templated(path string, index map[string]bool, method string) string {
	parts := strings.Split(path, "/")
	for k := range index {
		m, p, ok := strings.Cut(k, " ")
		if !ok || m != method {
			continue
		}
		tp := strings.Split(p, "/")
		if len(tp) != len(parts) {
			continue
		}
		match := true
		for i := range tp {
			if !strings.HasPrefix(tp[i], "{") && tp[i] != parts[i] {
				match = false
				break
			}
		}
		if match {
			return p
		}
	}
	return path
}
