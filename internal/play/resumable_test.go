package play_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/fakestore/androidpkg"
	"github.com/ripcordhq/ripcord/internal/play"
)

// chunkOp is the fault operation of resumable-upload chunks.
const chunkOp = "androidpublisher.edits.bundles.upload.chunk"

// largeBundle returns an AAB of more than size bytes: over 16 MiB, Google's
// client uploads it with the resumable protocol in 16 MiB chunks.
func largeBundle(t *testing.T, code int64, size int) []byte {
	t.Helper()
	f, err := androidpkg.BuildPaddedAAB(androidpkg.Manifest{Package: pkg, VersionCode: code, VersionName: "1.0"}, size)
	require.NoError(t, err)
	return f
}

// chunks counts the requests sent to resumable session URIs.
func chunks(b *testBundle) int {
	n := 0
	for _, e := range b.rec.Exchanges() {
		if _, ok := e.Query["upload_id"]; ok {
			n++
		}
	}
	return n
}

// requireNoBlobs checks that no upload bytes are left in the state dir and
// that state.json stayed small.
func requireNoBlobs(t *testing.T, b *testBundle) {
	t.Helper()
	left, err := os.ReadDir(filepath.Join(b.dir, "uploads"))
	require.NoError(t, err)
	require.Empty(t, left, "finished sessions leave no bytes behind")
	st, err := os.Stat(filepath.Join(b.dir, "state.json"))
	require.NoError(t, err)
	require.Less(t, st.Size(), int64(256<<10), "upload bytes never go into state.json")
}

func TestLargeBundleUsesResumableUpload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	file := largeBundle(t, 101, 17<<20)
	code, err := b.client.Upload(ctx, play.UploadParams{Package: pkg, File: file, Track: play.TrackProduction, Status: play.StatusInProgress, UserFraction: 0.1})
	require.NoError(t, err)
	require.EqualValues(t, 101, code)
	require.Equal(t, 2, chunks(b), "16 MiB, then the rest")

	// The fake read the manifest from the assembled file and kept its hash:
	// uploading the same file again finds it instead of uploading twice.
	code, err = b.client.Upload(ctx, play.UploadParams{Package: pkg, File: file, Track: play.TrackProduction, Status: play.StatusInProgress, UserFraction: 0.1})
	require.NoError(t, err)
	require.EqualValues(t, 101, code)
	require.Equal(t, 2, chunks(b), "no second upload")
	require.Equal(t, 1, b.fake.CountEvents("androidpublisher.edits.bundles.upload"))
	requireNoBlobs(t, b)
	require.Zero(t, openEdits(t, b))
	checkSpecs(t, b)
}

func TestResumableUploadFaultMidway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault fakestore.Fault
	}{
		// Google's client retries the chunk on the same session.
		{"UnavailableMiddleChunk", fakestore.Fault{Op: chunkOp, Kind: fakestore.FaultStatus, Status: 503, After: 1, Count: 1}},
		// The fake stored the chunk but the answer was lost: a retry of the
		// chunk overlaps what the session has, or the connector starts over.
		{"LostMiddleChunkResponse", fakestore.Fault{Op: chunkOp, Kind: fakestore.FaultLostResponse, After: 1, Count: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			require.NoError(t, b.fake.AddFault(tt.fault))
			file := largeBundle(t, 101, 33<<20) // three chunks: 16, 16, 1 MiB
			code, err := b.client.Upload(ctx, play.UploadParams{Package: pkg, File: file, Track: play.TrackProduction, Status: play.StatusInProgress, UserFraction: 0.1})
			require.NoError(t, err)
			require.EqualValues(t, 101, code)
			f := b.fake.Faults()[0]
			require.Equal(t, 1, f.Hits, "the fault fired")
			require.Equal(t, 1, f.Passed, "on the second chunk")
			require.Greater(t, chunks(b), 3, "a chunk was sent again")

			tr, err := b.client.GetTrack(ctx, pkg, play.TrackProduction)
			require.NoError(t, err)
			require.Equal(t, play.StatusInProgress, tr.Find(101).Status)
			require.Equal(t, 0.1, tr.Find(101).UserFraction)
			require.Equal(t, 1, b.fake.CountEvents("androidpublisher.edits.bundles.upload"), "the bundle was accepted once")
			require.Equal(t, 1, b.fake.CountEvents("androidpublisher.edits.commit"), "one commit")
			require.Zero(t, openEdits(t, b))
			checkSpecs(t, b)
		})
	}
}

func TestLatencyAndTimeoutFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   fakestore.Fault
		timeout time.Duration // the client's per-call timeout
		retries int
	}{
		// A slow answer within the client's timeout is just slow.
		{"LatencyWithinTimeout", fakestore.Fault{Op: "androidpublisher.edits.tracks.update", Kind: fakestore.FaultLatency, Latency: fakestore.Duration(100 * time.Millisecond), Count: 1}, 5 * time.Second, 0},
		// A commit that never answers: the client gives up, the connector
		// runs the operation again, and the store ends the same, committed once.
		{"TimeoutOnCommit", fakestore.Fault{Op: "androidpublisher.edits.commit", Kind: fakestore.FaultTimeout, Count: 1}, 300 * time.Millisecond, 1},
		// A latency longer than the client waits behaves as a timeout: the
		// fake does not act for a client that went away.
		{"LatencyPastTimeout", fakestore.Fault{Op: "androidpublisher.edits.tracks.update", Kind: fakestore.FaultLatency, Latency: fakestore.Duration(10 * time.Second), Count: 1}, 300 * time.Millisecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			c := b.newClientTimeout(t, b.fake.Credentials().PlayServiceAccountJSON, tt.timeout)
			require.NoError(t, b.fake.AddFault(tt.fault))
			start := time.Now()
			_, err := c.Upload(ctx, play.UploadParams{Package: pkg, File: bundle(t, 101), Track: play.TrackProduction, Status: play.StatusInProgress, UserFraction: 0.1})
			require.NoError(t, err)
			if tt.fault.Kind == fakestore.FaultLatency && tt.retries == 0 {
				require.GreaterOrEqual(t, time.Since(start), time.Duration(tt.fault.Latency), "the answer was delayed")
			}
			require.NoError(t, c.Halt(ctx, pkg, play.TrackProduction, 101))

			tr, err := c.GetTrack(ctx, pkg, play.TrackProduction)
			require.NoError(t, err)
			require.Equal(t, play.StatusHalted, tr.Find(101).Status)
			require.Equal(t, 1, b.fake.Faults()[0].Hits, "the fault fired")
			require.Len(t, b.waits(), tt.retries)
			require.Equal(t, 2, b.fake.CountEvents("androidpublisher.edits.commit"), "one commit per action, none doubled")
			require.Equal(t, 1+tt.retries, b.fake.CountEvents("androidpublisher.edits.bundles.upload"), "once per attempt's edit")
			require.Zero(t, openEdits(t, b), "the timed-out attempt's edit was deleted")
		})
	}
}
