package appstore_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUploadPartsStoredAsFiles checks that the fake keeps App Store Connect
// upload parts as files in the state dir, never base64 in state.json, and
// deletes them with their upload.
func TestUploadPartsStoredAsFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	appID := iosApp(t, b)
	status, out := b.raw(t, http.MethodPost, "/v1/buildUploads", map[string]any{"data": map[string]any{"type": "buildUploads",
		"attributes":    map[string]any{"cfBundleShortVersionString": "1.1", "cfBundleVersion": "2", "platform": "IOS"},
		"relationships": map[string]any{"app": rel("apps", appID)}}})
	require.Equal(t, 201, status, out)
	var up struct {
		Data struct{ ID string } `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &up))
	file := ipa(t, 20<<10)
	status, out = b.raw(t, http.MethodPost, "/v1/buildUploadFiles", map[string]any{"data": map[string]any{"type": "buildUploadFiles",
		"attributes":    map[string]any{"assetType": "ASSET", "fileName": "App.ipa", "fileSize": len(file), "uti": "com.apple.ipa"},
		"relationships": map[string]any{"buildUpload": rel("buildUploads", up.Data.ID)}}})
	require.Equal(t, 201, status, out)
	var f struct {
		Data struct {
			Attributes struct {
				Ops []struct {
					URL    string `json:"url"`
					Offset int64  `json:"offset"`
					Length int64  `json:"length"`
				} `json:"uploadOperations"`
			} `json:"attributes"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &f))
	require.Len(t, f.Data.Attributes.Ops, 3)
	for _, op := range f.Data.Attributes.Ops[:2] {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, op.URL, bytes.NewReader(file[op.Offset:op.Offset+op.Length]))
		require.NoError(t, err)
		resp, err := b.rec.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	st, err := os.ReadFile(filepath.Join(b.dir, "state.json"))
	require.NoError(t, err)
	require.NotContains(t, string(st), base64.StdEncoding.EncodeToString(file[:48]), "no part bytes in state.json")
	require.Less(t, len(st), 64<<10)
	parts, err := os.ReadDir(filepath.Join(b.dir, "uploads"))
	require.NoError(t, err)
	require.Len(t, parts, 2, "one file per received part")

	status, out = b.raw(t, http.MethodDelete, "/v1/buildUploads/"+up.Data.ID, nil)
	require.Equal(t, http.StatusNoContent, status, out)
	parts, err = os.ReadDir(filepath.Join(b.dir, "uploads"))
	require.NoError(t, err)
	require.Empty(t, parts, "deleting the upload deletes its parts")
}
