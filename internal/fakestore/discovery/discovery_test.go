package discovery_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/fakestore/discovery"
	"github.com/ripcordhq/ripcord/internal/fakestore/speccheck"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	doc, err := discovery.Load(filepath.Join(speccheck.SpecsDir(t), "androidpublisher-v3.json"))
	require.NoError(t, err)
	tests := []struct {
		name string
		body string
		errs int
	}{
		{"OK", `{"track":"production","releases":[{"status":"inProgress","userFraction":0.1,"versionCodes":["101"]}]}`, 0},
		{"UndeclaredProperty", `{"track":"production","rollout":1}`, 1},
		{"Int64AsNumber", `{"releases":[{"versionCodes":[101]}]}`, 1},
		{"WrongType", `{"track":7,"releases":{}}`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Len(t, doc.Validate("Track", []byte(tt.body)), tt.errs)
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	doc, err := discovery.Load(filepath.Join(speccheck.SpecsDir(t), "androidpublisher-v3.json"))
	require.NoError(t, err)
	tests := []struct {
		method, path, id string
	}{
		{"POST", "/androidpublisher/v3/applications/com.x/edits/7:commit", "androidpublisher.edits.commit"},
		{"GET", "/androidpublisher/v3/applications/com.x/edits/7", "androidpublisher.edits.get"},
		{"POST", "/upload/androidpublisher/v3/applications/com.x/edits/7/bundles", "androidpublisher.edits.bundles.upload"},
		{"PUT", "/androidpublisher/v3/applications/com.x/edits/7/tracks/wear:production", "androidpublisher.edits.tracks.update"},
	}
	for _, tt := range tests {
		m := doc.Match(tt.method, tt.path)
		require.NotNil(t, m, tt.path)
		require.Equal(t, tt.id, m.ID)
	}
	require.Nil(t, doc.Match("GET", "/androidpublisher/v3/nothing"))
}
