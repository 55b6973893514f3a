package healthwatch

import (
	"encoding/hex"
	"hash/maphash"
	"slices"
	"time"

	"github.com/ripcordhq/ripcord/internal/storage"
)

// The ingest pipeline's dedupe state lives in memory (see pipeline.go for
// how it survives restarts). Memory stays flat because every table is
// bounded:
//
//   - Open sessions (last status ok) are kept until they end, or until
//     SessionRetention after they started (Sentry updates a session for 5
//     days at most); more than MaxOpenSessions evicts the oldest. Their
//     number follows the fleet's concurrently running apps plus crashed
//     runs waiting for the next launch to report, not the traffic rate.
//   - Ended sessions only ever see retries of their last update, so they
//     are kept in two generations (current and previous) of at most
//     MaxEndedSessions/2 entries or EndedGrace/2 each; a rotation drops the
//     previous generation. 48 bytes of key and value per session, 117
//     with the map's overhead (measured, TestStateMemoryPerMillion), so the
//     default 1,000,000 entries cost at most ≈ 120 MB.
//   - Forgetting is never guessed at: the table remembers the latest
//     start time of any session it evicted (the horizon). An update for an
//     unknown session that started at or before the horizon may be a retry
//     of a forgotten one, so it is dropped with that reason instead of
//     being counted twice; an unknown session that started after it
//     cannot have been forgotten and is new.

// sessionKey identifies a session: a UUID within a Sentry project.
type sessionKey struct {
	project int64
	sid     [16]byte
}

// sessionState is what dedupe needs to know about a session.
type sessionState struct {
	seq     int64
	started int64 // unix seconds, drift-corrected
	flags   storage.SessionFlags
	ended   bool
}

// merge combines two states of one session; it is monotone (seq only
// grows, flags and ended are only ever set), so applying states in any
// order, or twice, gives the same result — what makes a fuzzy snapshot
// plus a replay exact.
func (s sessionState) merge(o sessionState) sessionState {
	s.seq = max(s.seq, o.seq)
	s.flags |= o.flags
	s.ended = s.ended || o.ended
	if s.started == 0 || (o.started != 0 && o.started < s.started) {
		s.started = o.started
	}
	return s
}

type sessionTable struct {
	open        map[sessionKey]sessionState
	ended       map[sessionKey]sessionState // current generation
	endedOld    map[sessionKey]sessionState // previous generation
	endedSince  time.Time                   // when the current generation began
	endedMax    int64                       // latest start in the current generation
	endedOldMax int64                       // latest start in the previous generation
	horizon     int64                       // latest start of any evicted session
	evicted     int64                       // sessions evicted, for metrics and logs
}

func newSessionTable(now time.Time) *sessionTable {
	return &sessionTable{open: map[sessionKey]sessionState{}, ended: map[sessionKey]sessionState{}, endedOld: map[sessionKey]sessionState{}, endedSince: now}
}

func (t *sessionTable) get(k sessionKey) (sessionState, bool) {
	if s, ok := t.open[k]; ok {
		return s, true
	}
	if s, ok := t.ended[k]; ok {
		return s, true
	}
	s, ok := t.endedOld[k]
	return s, ok
}

func (t *sessionTable) put(k sessionKey, s sessionState) {
	if !s.ended {
		t.open[k] = s
		return
	}
	delete(t.open, k)
	delete(t.endedOld, k)
	t.ended[k] = s
	t.endedMax = max(t.endedMax, s.started)
}

// apply deduplicates one update as storage.Tx.SentrySessionApply does and
// returns what it adds and the session's new state; forgotten is set when
// the session may have been evicted (nothing changes then).
func (t *sessionTable) apply(k sessionKey, upd sessionState) (res storage.SentrySessionResult, st sessionState, forgotten bool) {
	cur, ok := t.get(k)
	if !ok {
		if upd.started <= t.horizon {
			return res, st, true
		}
		t.put(k, upd)
		return storage.SentrySessionResult{New: true, Added: upd.flags}, upd, false
	}
	if upd.seq <= cur.seq {
		return storage.SentrySessionResult{Duplicate: true}, cur, false
	}
	st = cur.merge(upd)
	t.put(k, st)
	return storage.SentrySessionResult{Added: upd.flags &^ cur.flags}, st, false
}

// restore merges a logged or snapshotted state, whatever the horizon.
func (t *sessionTable) restore(k sessionKey, s sessionState) {
	if cur, ok := t.get(k); ok {
		s = cur.merge(s)
	}
	t.put(k, s)
}

// rotate starts a new generation of ended sessions when the current one
// is full or old, dropping the previous one and raising the horizon.
func (t *sessionTable) rotate(now time.Time, maxEnded int, grace time.Duration) {
	if len(t.ended) < maxEnded/2 && now.Sub(t.endedSince) < grace/2 {
		return
	}
	if len(t.endedOld) > 0 {
		t.horizon = max(t.horizon, t.endedOldMax)
		t.evicted += int64(len(t.endedOld))
	}
	t.endedOld, t.endedOldMax = t.ended, t.endedMax
	t.ended, t.endedMax, t.endedSince = make(map[sessionKey]sessionState, len(t.endedOld)), 0, now
}

// expireOpen evicts open sessions that started before cutoff, and the
// oldest ones beyond maxOpen; it returns how many went.
func (t *sessionTable) expireOpen(cutoff int64, maxOpen int) int {
	if len(t.open) > maxOpen {
		// Find the start time that keeps maxOpen sessions: a histogram
		// over minutes is enough, and cheaper than sorting them all.
		hist := map[int64]int{}
		for _, s := range t.open {
			hist[s.started/60]++
		}
		minutes := make([]int64, 0, len(hist))
		for m := range hist {
			minutes = append(minutes, m)
		}
		sortInt64Desc(minutes)
		kept := 0
		for _, m := range minutes {
			if kept+hist[m] > maxOpen {
				cutoff = max(cutoff, (m+1)*60)
				break
			}
			kept += hist[m]
		}
	}
	n := 0
	for k, s := range t.open {
		if s.started < cutoff {
			delete(t.open, k)
			t.horizon = max(t.horizon, s.started)
			n++
		}
	}
	t.evicted += int64(n)
	return n
}

func sortInt64Desc(xs []int64) {
	slices.Sort(xs)
	slices.Reverse(xs)
}

// parseSID turns a canonical UUID (sentry.SessionUpdate.SID) into bytes.
func parseSID(sid string) ([16]byte, bool) {
	var out [16]byte
	if len(sid) != 36 {
		return out, false
	}
	var h [32]byte
	copy(h[:8], sid[:8])
	copy(h[8:12], sid[9:13])
	copy(h[12:16], sid[14:18])
	copy(h[16:20], sid[19:23])
	copy(h[20:], sid[24:])
	if _, err := hex.Decode(out[:], h[:]); err != nil {
		return out, false
	}
	return out, true
}

// deviceSetKey names one release's device set.
type deviceSetKey struct {
	project int64
	version string
}

// deviceSet is a release's exact device set: 128-bit keyed hashes of
// distinct ids (two maphash seeds, fixed for the process; the sets are
// rebuilt from the stored ids at start) mapped to whether the device
// crashed. A collision between two of n devices has probability about
// n²/2¹²⁹ — 10⁻²⁵ at ten million devices — so the set is exact in
// practice, at 38 bytes per device and release (key, flag and map
// overhead, measured) instead of the id's length: 38 MB per million
// devices on a release.
type deviceSet map[[16]byte]bool

type didHasher struct{ a, b maphash.Seed }

func newDIDHasher() didHasher { return didHasher{maphash.MakeSeed(), maphash.MakeSeed()} }

func (h didHasher) sum(did string) [16]byte {
	var out [16]byte
	x, y := maphash.String(h.a, did), maphash.String(h.b, did)
	for i := range 8 {
		out[i], out[8+i] = byte(x>>(8*i)), byte(y>>(8*i))
	}
	return out
}

// eventKey identifies a counted event.
type eventKey struct {
	project int64
	id      string
}

// eventTable remembers the events that arrived recently, in two
// generations like ended sessions. Older event ids live in the database
// (sentry_events), so an unknown event that may be older than memory is
// looked up there before it is counted (see pipeline.lookups).
type eventTable struct {
	cur, old    map[eventKey]struct{}
	curSince    time.Time
	memorySince time.Time // every event that arrived since is in cur or old
}

func newEventTable(now time.Time) *eventTable {
	return &eventTable{cur: map[eventKey]struct{}{}, old: map[eventKey]struct{}{}, curSince: now, memorySince: now}
}

func (t *eventTable) has(k eventKey) bool {
	if _, ok := t.cur[k]; ok {
		return true
	}
	_, ok := t.old[k]
	return ok
}

func (t *eventTable) add(k eventKey) { t.cur[k] = struct{}{} }

// rotate drops the old generation once the current one is full or old,
// but only when everything in it is in the database (flushedAt, the time
// of the last successful flush, is after the current generation began).
func (t *eventTable) rotate(now, flushedAt time.Time, maxEvents int, grace time.Duration) {
	if len(t.cur) < maxEvents/2 && now.Sub(t.curSince) < grace/2 {
		return
	}
	if !flushedAt.After(t.curSince) {
		return
	}
	t.memorySince = t.curSince
	t.old, t.cur, t.curSince = t.cur, make(map[eventKey]struct{}, len(t.cur)), now
}
