package speccheck_test

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/fakestore/discovery"
	"github.com/ripcordhq/ripcord/internal/fakestore/speccheck"
)

// recordingTB keeps the errors a check reports instead of failing the test,
// so the test can assert that a bad exchange is caught.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

func TestCheckGoogleRejectsBadExchanges(t *testing.T) {
	t.Parallel()
	doc, err := discovery.Load(filepath.Join(speccheck.SpecsDir(t), "androidpublisher-v3.json"))
	require.NoError(t, err)
	docs := []*discovery.Doc{doc}
	const track = "/androidpublisher/v3/applications/com.x/edits/7/tracks/production"
	const upload = "/upload/androidpublisher/v3/applications/com.x/edits/7/bundles"
	chunkQuery := url.Values{"uploadType": {"resumable"}, "upload_id": {"abc"}}
	tests := []struct {
		name string
		ex   speccheck.Exchange
		want []string // substrings of the errors; none means the exchange is valid
	}{
		{"ValidTrackUpdate", speccheck.Exchange{Method: "PUT", Path: track, ReqHeader: jsonHeader(),
			ReqBody: []byte(`{"track":"production","releases":[{"status":"completed","versionCodes":["101"]}]}`),
			Status:  200, RespBody: []byte(`{"track":"production","releases":[]}`)}, nil},
		{"UndeclaredRequestProperty", speccheck.Exchange{Method: "PUT", Path: track, ReqHeader: jsonHeader(),
			ReqBody: []byte(`{"track":"production","rolloutPercent":5}`), Status: 200, RespBody: []byte(`{"track":"production"}`)},
			[]string{`undeclared property "rolloutPercent"`}},
		{"UndeclaredQueryParameter", speccheck.Exchange{Method: "GET", Path: track, Query: url.Values{"verbose": {"1"}}, Status: 200, RespBody: []byte(`{}`)},
			[]string{`undeclared query parameter "verbose"`}},
		{"ErrorWithoutEnvelope", speccheck.Exchange{Method: "GET", Path: track, Status: 500, RespBody: []byte(`oops`)},
			[]string{"not Google's error envelope"}},
		{"UnknownMethod", speccheck.Exchange{Method: "GET", Path: "/androidpublisher/v3/nothing", Status: 200},
			[]string{"matches no method"}},
		{"ResumableStartWithoutSessionURI", speccheck.Exchange{Method: "POST", Path: upload, Query: url.Values{"uploadType": {"resumable"}}, Status: 200, RespHeader: http.Header{}},
			[]string{"without a session URI"}},
		{"ValidIncompleteChunk", speccheck.Exchange{Method: "POST", Path: upload, Query: chunkQuery, Status: 200,
			RespHeader: http.Header{"X-Http-Status-Code-Override": {"308"}, "Range": {"bytes=0-99"}}}, nil},
		{"IncompleteChunkBadRange", speccheck.Exchange{Method: "PUT", Path: upload, Query: chunkQuery, Status: 308,
			RespHeader: http.Header{"Range": {"0-99"}}, RespBody: []byte(`{}`)},
			[]string{`Range "0-99" is not bytes=0-N`, "resume-incomplete answer has a body"}},
		{"FinalChunkWrongResource", speccheck.Exchange{Method: "PUT", Path: upload, Query: chunkQuery, Status: 200, RespHeader: http.Header{},
			RespBody: []byte(`{"versionCode":101,"apkUrl":"x"}`)},
			[]string{`undeclared property "apkUrl"`}},
		{"ChunkOnAPathWithoutMedia", speccheck.Exchange{Method: "PUT", Path: track, Query: chunkQuery, Status: 200},
			[]string{"no media method's upload path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recordingTB{TB: t}
			speccheck.CheckGoogle(rec, docs, []speccheck.Exchange{tt.ex})
			if len(tt.want) == 0 {
				require.Empty(t, rec.all())
				return
			}
			for _, w := range tt.want {
				require.Contains(t, rec.all(), w)
			}
		})
	}
}

func TestCheckASCRejectsBadExchanges(t *testing.T) {
	t.Parallel()
	spec := speccheck.LoadASC(t, speccheck.SpecsDir(t))
	const self = `"links":{"self":"https://api.appstoreconnect.apple.com/v1/appStoreVersions/1"}`
	tests := []struct {
		name string
		ex   speccheck.Exchange
		want []string
	}{
		{"ValidVersion", speccheck.Exchange{Method: "GET", Path: "/v1/appStoreVersions/1", Status: 200, RespHeader: jsonHeader(),
			RespBody: []byte(`{"data":{"type":"appStoreVersions","id":"1"},` + self + `}`)}, nil},
		{"ResponseMissingRequiredID", speccheck.Exchange{Method: "GET", Path: "/v1/appStoreVersions/1", Status: 200, RespHeader: jsonHeader(),
			RespBody: []byte(`{"data":{"type":"appStoreVersions"},` + self + `}`)},
			[]string{`property "id" is missing`}},
		{"RequestMissingRequiredRelationship", speccheck.Exchange{Method: "POST", Path: "/v1/appStoreVersions", ReqHeader: jsonHeader(),
			ReqBody: []byte(`{"data":{"type":"appStoreVersions","attributes":{"platform":"IOS","versionString":"1.1"}}}`),
			Status:  201, RespHeader: jsonHeader(), RespBody: []byte(`{"data":{"type":"appStoreVersions","id":"1"},` + self + `}`)},
			[]string{`property "relationships" is missing`}},
		{"UndeclaredServerErrorBody", speccheck.Exchange{Method: "GET", Path: "/v1/appStoreVersions/1", Status: 503, RespHeader: jsonHeader(),
			RespBody: []byte(`{"message":"down"}`)},
			[]string{"is not an ErrorResponse"}},
		{"BuildUploadMissingPlatform", speccheck.Exchange{Method: "GET", Path: "/v1/buildUploads/9", Status: 200, RespHeader: jsonHeader(),
			RespBody: []byte(`{"data":{"type":"buildUploads","id":"9","attributes":{"cfBundleShortVersionString":"1.1","cfBundleVersion":"2","state":{"state":"COMPLETE"}}},"links":{"self":"x"}}`)},
			[]string{"buildUpload lacks attributes.platform"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recordingTB{TB: t}
			spec.Check(rec, []speccheck.Exchange{tt.ex})
			if len(tt.want) == 0 {
				require.Empty(t, rec.all())
				return
			}
			for _, w := range tt.want {
				require.Contains(t, rec.all(), w)
			}
		})
	}
}
