// Package speccheck records the HTTP exchanges between a connector and the
// fake store and checks them against the stores' published specs in
// ../shared/specs (Google Discovery documents, the App Store Connect OpenAPI
// document and its 4.2 path index). It is for tests only.
package speccheck

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ripcordhq/ripcord/internal/fakestore/discovery"
)

// Exchange is one recorded request and its response.
type Exchange struct {
	Method     string
	Path       string
	Query      map[string][]string
	ReqHeader  http.Header
	ReqBody    []byte
	Status     int
	RespHeader http.Header
	RespBody   []byte
}

// Recorder is an http.RoundTripper that keeps every exchange.
type Recorder struct {
	// Base carries the requests; default http.DefaultTransport.
	Base http.RoundTripper

	mu sync.Mutex
	ex []Exchange
}

var _ http.RoundTripper = (*Recorder)(nil)

// RoundTrip records req and its response.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	r.mu.Lock()
	r.ex = append(r.ex, Exchange{Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), ReqHeader: req.Header.Clone(),
		ReqBody: body, Status: resp.StatusCode, RespHeader: resp.Header.Clone(), RespBody: rb})
	r.mu.Unlock()
	return resp, nil
}

// Exchanges returns the exchanges recorded so far.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.ex...)
}

// SpecsDir returns ../shared/specs beside the module root, or skips the test
// with a message when it is absent (it is present in CI).
func SpecsDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("skipping spec validation: no go.mod above the test directory")
		}
		dir = parent
	}
	specs := filepath.Join(dir, "..", "shared", "specs")
	if _, err := os.Stat(filepath.Join(specs, "androidpublisher-v3.json")); err != nil {
		tb.Skipf("skipping spec validation: %s is absent (it sits beside the repository in CI)", specs)
	}
	return specs
}

// CheckGoogle validates every exchange that is not a token fetch against the
// Discovery documents: the method must exist, query parameters must be
// declared, JSON bodies must match the request and response schemas, and
// error bodies must be Google's envelope. It returns the method ids seen.
func CheckGoogle(tb testing.TB, docs []*discovery.Doc, ex []Exchange) map[string]int {
	tb.Helper()
	seen := map[string]int{}
	for _, e := range ex {
		if e.Path == "/token" {
			continue
		}
		var m *discovery.Method
		var doc *discovery.Doc
		for _, d := range docs {
			if m = d.Match(e.Method, e.Path); m != nil {
				doc = d
				break
			}
		}
		if m == nil {
			tb.Errorf("spec: %s %s matches no method of the discovery documents", e.Method, e.Path)
			continue
		}
		seen[m.ID]++
		for _, err := range doc.CheckQuery(m, e.Query) {
			tb.Errorf("spec: request %s %s: %v", e.Method, e.Path, err)
		}
		if m.Request != nil && len(e.ReqBody) > 0 && isJSON(e.ReqHeader) {
			for _, err := range doc.Validate(m.Request.Ref, e.ReqBody) {
				tb.Errorf("spec: request %s %s: %v", e.Method, e.Path, err)
			}
		}
		switch {
		case e.Status >= 200 && e.Status < 300:
			if m.Response != nil && len(e.RespBody) > 0 {
				for _, err := range doc.Validate(m.Response.Ref, e.RespBody) {
					tb.Errorf("spec: response %s %s: %v", e.Method, e.Path, err)
				}
			}
		case e.Status >= 400:
			checkGoogleError(tb, e)
		}
	}
	return seen
}

func isJSON(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "application/json" || mt == ""
}

func checkGoogleError(tb testing.TB, e Exchange) {
	tb.Helper()
	var env struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal(e.RespBody, &env); err != nil || env.Error == nil || env.Error.Code != e.Status || env.Error.Message == "" || env.Error.Status == "" {
		tb.Errorf("spec: %s %s: %d answer is not Google's error envelope: %s", e.Method, e.Path, e.Status, strings.TrimSpace(string(e.RespBody)))
	}
}
