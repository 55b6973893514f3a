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
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ripcordhq/ripcord/internal/fakestore/discovery"
)

// Exchange is one recorded request and its response.
type Exchange struct {
	Method     string
	Path       string
	Query      url.Values
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
		if _, chunk := e.Query["upload_id"]; chunk {
			if id := checkResumableChunk(tb, docs, e); id != "" {
				seen[id+" (resumable chunk)"]++
			}
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
		if e.Query.Get("uploadType") == "resumable" && e.Status >= 200 && e.Status < 300 {
			checkResumableStart(tb, m, e)
			continue
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

// checkResumableStart checks the answer that opens a resumable upload
// session: a media method, an empty body, and the session URI (carrying
// upload_id) in Location.
func checkResumableStart(tb testing.TB, m *discovery.Method, e Exchange) {
	tb.Helper()
	if m.MediaUpload == nil {
		tb.Errorf("spec: %s %s: uploadType=resumable on %s, which takes no media", e.Method, e.Path, m.ID)
		return
	}
	loc, err := url.Parse(e.RespHeader.Get("Location"))
	if err != nil || e.RespHeader.Get("Location") == "" || loc.Query().Get("upload_id") == "" {
		tb.Errorf("spec: %s %s: resumable upload start answered %d without a session URI (Location with upload_id)", e.Method, e.Path, e.Status)
	}
	if len(bytes.TrimSpace(e.RespBody)) > 0 {
		tb.Errorf("spec: %s %s: resumable upload start has a body: %s", e.Method, e.Path, e.RespBody)
	}
}

var rangeRE = regexp.MustCompile(`^bytes=0-[0-9]+$`)

// checkResumableChunk checks a request to a resumable session URI (Google's
// resumable upload protocol, which the Discovery documents reference but do
// not describe): the path must be a media method's, the query only
// uploadType=resumable and upload_id, an incomplete answer (308, or 200 with
// X-HTTP-Status-Code-Override: 308) bodiless with a well-formed Range, the
// final answer the method's response schema, and errors Google's envelope.
// It returns the method id, or "" when the path matches none.
func checkResumableChunk(tb testing.TB, docs []*discovery.Doc, e Exchange) string {
	tb.Helper()
	var m *discovery.Method
	var doc *discovery.Doc
	for _, d := range docs {
		if m = d.Match(http.MethodPost, e.Path); m != nil {
			doc = d
			break
		}
	}
	if m == nil || m.MediaUpload == nil {
		tb.Errorf("spec: %s %s: upload_id on a path that is no media method's upload path", e.Method, e.Path)
		return ""
	}
	if e.Method != http.MethodPost && e.Method != http.MethodPut {
		tb.Errorf("spec: %s %s: resumable chunks are sent with PUT or POST", e.Method, e.Path)
	}
	if e.Query.Get("uploadType") != "resumable" {
		tb.Errorf("spec: %s %s: session URI without uploadType=resumable", e.Method, e.Path)
	}
	rest := url.Values{}
	for k, v := range e.Query {
		if k != "upload_id" && k != "uploadType" {
			rest[k] = v
		}
	}
	for _, err := range doc.CheckQuery(m, rest) {
		tb.Errorf("spec: request %s %s: %v", e.Method, e.Path, err)
	}
	incomplete := e.Status == http.StatusPermanentRedirect || (e.Status == http.StatusOK && e.RespHeader.Get("X-HTTP-Status-Code-Override") == "308")
	switch {
	case incomplete:
		if r := e.RespHeader.Get("Range"); r != "" && !rangeRE.MatchString(r) {
			tb.Errorf("spec: %s %s: Range %q is not bytes=0-N", e.Method, e.Path, r)
		}
		if len(bytes.TrimSpace(e.RespBody)) > 0 {
			tb.Errorf("spec: %s %s: resume-incomplete answer has a body: %s", e.Method, e.Path, e.RespBody)
		}
	case e.Status >= 200 && e.Status < 300:
		if m.Response == nil || len(e.RespBody) == 0 {
			tb.Errorf("spec: %s %s: final chunk answered %d without the %s resource", e.Method, e.Path, e.Status, m.ID)
			break
		}
		for _, err := range doc.Validate(m.Response.Ref, e.RespBody) {
			tb.Errorf("spec: response %s %s: %v", e.Method, e.Path, err)
		}
	case e.Status >= 400:
		checkGoogleError(tb, e)
	}
	return m.ID
}
