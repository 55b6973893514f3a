package healthwatch

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/storage"
)

func sid(n int) [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	b[15] = 0x42
	return b
}

// TestEndedSessionsStayBoundedAndForgottenOnesAreNeverCountedTwice fills
// the table with far more ended sessions than it may keep: it keeps at
// most MaxEndedSessions, and a retry of an evicted session is refused
// (forgotten), not counted as new, while a new session is still counted.
func TestEndedSessionsStayBoundedAndForgottenOnesAreNeverCountedTwice(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	tbl := newSessionTable(now)
	const maxEnded = 1000
	for i := range 10 * maxEnded {
		started := now.Add(time.Duration(i) * time.Second).Unix()
		k := sessionKey{1, sid(i)}
		r, _, forgotten := tbl.apply(k, sessionState{seq: 0, started: started})
		require.True(t, r.New && !forgotten)
		r, _, _ = tbl.apply(k, sessionState{seq: 5, started: started, flags: storage.SessionCrashed, ended: true})
		require.Equal(t, storage.SessionCrashed, r.Added)
		tbl.rotate(now.Add(time.Duration(i)*time.Second), maxEnded, time.Hour)
		require.LessOrEqual(t, len(tbl.ended)+len(tbl.endedOld), maxEnded)
	}
	require.Empty(t, tbl.open)
	// The first session was evicted long ago: its retry is refused.
	_, _, forgotten := tbl.apply(sessionKey{1, sid(0)}, sessionState{seq: 5, started: now.Unix(), flags: storage.SessionCrashed, ended: true})
	require.True(t, forgotten, "a retry of an evicted session must not count again")
	// The last one is still known: its retry is a duplicate.
	last := 10*maxEnded - 1
	r, _, forgotten := tbl.apply(sessionKey{1, sid(last)}, sessionState{seq: 5, started: now.Add(time.Duration(last) * time.Second).Unix(), ended: true})
	require.True(t, r.Duplicate && !forgotten)
	// A session that started after the horizon is new.
	r, _, forgotten = tbl.apply(sessionKey{1, sid(1 << 40)}, sessionState{started: now.Add(24 * time.Hour).Unix()})
	require.True(t, r.New && !forgotten)
}

// TestOpenSessionsOverTheLimitAreEvictedOldestFirst checks the open
// sessions' bound and retention.
func TestOpenSessionsOverTheLimitAreEvictedOldestFirst(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	tbl := newSessionTable(now)
	for i := range 5000 {
		tbl.apply(sessionKey{1, sid(i)}, sessionState{started: now.Add(time.Duration(i) * time.Minute).Unix()})
	}
	n := tbl.expireOpen(now.Add(10*time.Minute).Unix(), 1000)
	require.LessOrEqual(t, len(tbl.open), 1000)
	require.Equal(t, 5000-len(tbl.open), n)
	_, ok := tbl.get(sessionKey{1, sid(4999)})
	require.True(t, ok, "the newest sessions stay")
	_, _, forgotten := tbl.apply(sessionKey{1, sid(0)}, sessionState{seq: 9, started: now.Unix(), ended: true})
	require.True(t, forgotten)
}

// TestStateMemoryPerMillion measures what the dedupe state costs: bytes
// per ended session and per device of a release's set (logged; the bound
// only catches a representation gone wrong).
func TestStateMemoryPerMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a few hundred MB")
	}
	const n = 1_000_000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	now := time.Now()
	before := heap()
	tbl := newSessionTable(now)
	for i := range n {
		tbl.put(sessionKey{1, sid(i)}, sessionState{seq: int64(i), started: now.Unix(), ended: true})
	}
	perSession := float64(heap()-before) / n
	runtime.KeepAlive(tbl)

	before = heap()
	h := newDIDHasher()
	set := deviceSet{}
	for i := range n {
		set[h.sum(fmt.Sprintf("device-%d", i))] = i%100 == 0
	}
	perDevice := float64(heap()-before) / n
	runtime.KeepAlive(set)
	t.Logf("dedupe state: %.0f bytes per ended session (%.0f MB per million), %.0f bytes per device of a release's set (%.0f MB per million devices)",
		perSession, perSession, perDevice, perDevice)
	require.Less(t, perSession, 200.0)
	require.Less(t, perDevice, 100.0)
}
