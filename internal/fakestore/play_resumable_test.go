package fakestore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2/google"

	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/fakestore/androidpkg"
)

// session drives the resumable protocol by hand, as a client would.
type session struct {
	t     *testing.T
	token string
	uri   string
}

func (b *testBundle) token(t *testing.T) string {
	t.Helper()
	jc, err := google.JWTConfigFromJSON(b.fake.Credentials().PlayServiceAccountJSON, fakestore.ScopeAndroidPublisher)
	require.NoError(t, err)
	tok, err := jc.TokenSource(context.Background()).Token()
	require.NoError(t, err)
	return tok.AccessToken
}

func (b *testBundle) startSession(t *testing.T, edit string) *session {
	t.Helper()
	s := &session{t: t, token: b.token(t)}
	u := b.url + "/upload/androidpublisher/v3/applications/" + pkg + "/edits/" + edit + "/bundles?uploadType=resumable"
	resp := s.do(http.MethodPost, u, nil, map[string]string{"X-Upload-Content-Type": "application/octet-stream"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	s.uri = resp.Header.Get("Location")
	loc, err := url.Parse(s.uri)
	require.NoError(t, err)
	require.NotEmpty(t, loc.Query().Get("upload_id"), "the session URI carries upload_id")
	return s
}

func (s *session) do(method, u string, body []byte, headers map[string]string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), method, u, bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Bearer "+s.token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

// put sends one chunk (or a status query when data is nil) with Content-Range cr.
func (s *session) put(cr string, data []byte, headers ...string) (int, http.Header, string) {
	s.t.Helper()
	h := map[string]string{"Content-Range": cr}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	resp := s.do(http.MethodPut, s.uri, data, h)
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestResumableUploadProtocol(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{100}})
	file, err := androidpkg.BuildPaddedAAB(androidpkg.Manifest{Package: pkg, VersionCode: 101}, 3000)
	require.NoError(t, err)
	n := len(file)
	total := fmt.Sprintf("/%d", n)
	e := b.edit(t)
	s := b.startSession(t, e)

	status, h, _ := s.put("bytes */"+fmt.Sprint(n), nil)
	require.Equal(t, http.StatusPermanentRedirect, status, "nothing received yet")
	require.Empty(t, h.Get("Range"))

	status, h, _ = s.put("bytes 0-999/*", file[:1000])
	require.Equal(t, http.StatusPermanentRedirect, status)
	require.Equal(t, "bytes=0-999", h.Get("Range"))

	status, _, body := s.put("bytes 1500-1999/*", file[1500:2000])
	require.Equal(t, http.StatusBadRequest, status, "a gap is refused")
	require.Contains(t, body, "resume from byte 1000")

	status, _, _ = s.put("bytes 0-99/*", file[:99])
	require.Equal(t, http.StatusBadRequest, status, "the body must match the range")

	// A retried chunk overlapping what the session has: only the new bytes count.
	status, h, _ = s.put("bytes 500-1499/*", file[500:1500], "X-GUploader-No-308", "yes")
	require.Equal(t, http.StatusOK, status, "the Go client's 308 stand-in")
	require.Equal(t, "308", h.Get("X-HTTP-Status-Code-Override"))
	require.Equal(t, "bytes=0-1499", h.Get("Range"))

	status, h, _ = s.put("bytes */*", nil)
	require.Equal(t, http.StatusPermanentRedirect, status, "progress query")
	require.Equal(t, "bytes=0-1499", h.Get("Range"))

	// The upload's bytes are in a file in the state dir, not in state.json.
	st, err := os.ReadFile(filepath.Join(b.dir, "state.json"))
	require.NoError(t, err)
	require.Less(t, len(st), 64<<10)
	require.NotContains(t, string(st), "UEsDB", "no base64 zip in the state")
	parts, err := os.ReadDir(filepath.Join(b.dir, "uploads"))
	require.NoError(t, err)
	require.Len(t, parts, 1)

	status, _, body = s.put(fmt.Sprintf("bytes 1500-%d", n-1)+total, file[1500:])
	require.Equal(t, http.StatusOK, status, body)
	var bundle struct {
		VersionCode int64  `json:"versionCode"`
		Sha256      string `json:"sha256"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &bundle))
	require.EqualValues(t, 101, bundle.VersionCode)

	// Once complete, a query or a repeated last chunk gets the same answer.
	status, _, again := s.put("bytes */"+fmt.Sprint(n), nil)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, body, again)
	status, _, again = s.put(fmt.Sprintf("bytes 1500-%d", n-1)+total, file[1500:])
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, body, again)
	require.Equal(t, 1, b.fake.CountEvents("androidpublisher.edits.bundles.upload"))
	parts, err = os.ReadDir(filepath.Join(b.dir, "uploads"))
	require.NoError(t, err)
	require.Empty(t, parts, "the session's file is gone")

	list, err := b.svc.Edits.Bundles.List(pkg, e).Context(t.Context()).Do()
	require.NoError(t, err)
	require.Len(t, list.Bundles, 1)
	require.Equal(t, bundle.Sha256, list.Bundles[0].Sha256)
}

func TestResumableUploadRefusals(t *testing.T) {
	t.Parallel()
	t.Run("SessionExpires", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{100}})
		s := b.startSession(t, b.edit(t))
		status, _, _ := s.put("bytes 0-9/*", make([]byte, 10))
		require.Equal(t, http.StatusPermanentRedirect, status)
		require.NoError(t, b.fake.Advance(t.Context(), 7*24*time.Hour))
		status, _, body := s.put("bytes 10-19/*", make([]byte, 10))
		require.Equal(t, http.StatusGone, status)
		require.Contains(t, body, "The upload session has expired")
		parts, err := os.ReadDir(filepath.Join(b.dir, "uploads"))
		require.NoError(t, err)
		require.Empty(t, parts, "an expired session's bytes are dropped")
	})
	t.Run("UnknownSession", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{100}})
		s := b.startSession(t, b.edit(t))
		s.uri += "x"
		status, _, _ := s.put("bytes */*", nil)
		require.Equal(t, http.StatusNotFound, status)
	})
	t.Run("WrongPackageFailsTheSession", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fakestore.PlayAppSpec{PackageName: pkg, ExistingVersionCodes: []int64{100}})
		s := b.startSession(t, b.edit(t))
		file, err := androidpkg.BuildAAB(androidpkg.Manifest{Package: "com.other", VersionCode: 200})
		require.NoError(t, err)
		status, _, body := s.put(fmt.Sprintf("bytes 0-%d/%d", len(file)-1, len(file)), file)
		require.Equal(t, http.StatusForbidden, status)
		require.Contains(t, body, "APK has the wrong package name")
		status, _, _ = s.put("bytes */*", nil)
		require.Equal(t, http.StatusForbidden, status, "the session keeps its final answer")
	})
}
