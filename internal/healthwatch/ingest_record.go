package healthwatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// bucketKey names one row of health_counts.
type bucketKey struct {
	appID    int64
	platform ripcord.Platform
	version  string
	metric   string
	bucket   int64 // unix seconds of the minute
}

// sessionEffect is a session's state after an update.
type sessionEffect struct {
	key sessionKey
	st  sessionState
}

// effects are what one ingest call changed, after dedupe: the log record
// of the pipeline. Replaying effects never dedupes again — it restores
// states (monotone merges) and adds counts — so a replay reproduces the
// original run exactly.
type effects struct {
	at       time.Time
	counts   map[bucketKey]health.Counts
	sessions []sessionEffect
	devices  []storage.SentryDeviceParams // the device's state after the sighting
	events   []eventKey
}

func (e *effects) add(k bucketKey, bad, total int64) {
	if e.counts == nil {
		e.counts = map[bucketKey]health.Counts{}
	}
	c := e.counts[k]
	c.Bad += bad
	c.Total += total
	e.counts[k] = c
}

func (e *effects) empty() bool {
	return len(e.counts) == 0 && len(e.sessions) == 0 && len(e.devices) == 0 && len(e.events) == 0
}

// recordFormat is the first byte of every record; a reader refuses others.
const recordFormat = 1

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encode appends the record form of e to b.
func (e *effects) encode(b []byte) []byte {
	b = append(b, recordFormat)
	b = binary.AppendVarint(b, e.at.UnixMilli())
	b = binary.AppendUvarint(b, uint64(len(e.counts)))
	for k, c := range e.counts {
		b = binary.AppendUvarint(b, uint64(k.appID))
		b = appendString(b, string(k.platform))
		b = appendString(b, k.version)
		b = appendString(b, k.metric)
		b = binary.AppendVarint(b, k.bucket)
		b = binary.AppendUvarint(b, uint64(c.Bad))
		b = binary.AppendUvarint(b, uint64(c.Total))
	}
	b = binary.AppendUvarint(b, uint64(len(e.sessions)))
	for _, s := range e.sessions {
		b = binary.AppendUvarint(b, uint64(s.key.project))
		b = append(b, s.key.sid[:]...)
		b = binary.AppendVarint(b, s.st.seq)
		b = binary.AppendVarint(b, s.st.started)
		b = append(b, byte(s.st.flags), boolByte(s.st.ended))
	}
	b = binary.AppendUvarint(b, uint64(len(e.devices)))
	for _, d := range e.devices {
		b = binary.AppendUvarint(b, uint64(d.ProjectID))
		b = appendString(b, d.Version)
		b = appendString(b, d.DID)
		b = append(b, boolByte(d.Crashed))
	}
	b = binary.AppendUvarint(b, uint64(len(e.events)))
	for _, ev := range e.events {
		b = binary.AppendUvarint(b, uint64(ev.project))
		b = appendString(b, ev.id)
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// recordReader decodes a record; the first problem sticks in err.
type recordReader struct {
	b   []byte
	err error
}

var errShortRecord = errors.New("record ends early")

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShortRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShortRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(len(r.b)) < n {
		r.err = errShortRecord
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *recordReader) str() string { return string(r.bytes(r.uvarint())) }

func (r *recordReader) byte1() byte {
	b := r.bytes(1)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// count reads a list length, refusing one longer than the bytes left
// could hold (a corrupt length must not allocate gigabytes).
func (r *recordReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("list of %d entries in %d bytes", n, len(r.b))
		return 0
	}
	return int(n)
}

// decodeEffects parses a record written by encode.
func decodeEffects(b []byte) (*effects, error) {
	if len(b) == 0 || b[0] != recordFormat {
		return nil, fmt.Errorf("record format %v is not %d", b[:min(1, len(b))], recordFormat)
	}
	r := &recordReader{b: b[1:]}
	e := &effects{at: time.UnixMilli(r.varint()).UTC()}
	if n := r.count(); n > 0 {
		e.counts = make(map[bucketKey]health.Counts, n)
		for range n {
			k := bucketKey{appID: int64(r.uvarint()), platform: ripcord.Platform(r.str()), version: r.str(), metric: r.str(), bucket: r.varint()}
			c := health.Counts{Bad: int64(r.uvarint()), Total: int64(r.uvarint())}
			e.counts[k] = c
		}
	}
	for range r.count() {
		var s sessionEffect
		s.key.project = int64(r.uvarint())
		copy(s.key.sid[:], r.bytes(16))
		s.st.seq, s.st.started = r.varint(), r.varint()
		s.st.flags, s.st.ended = storage.SessionFlags(r.byte1()), r.byte1() == 1
		e.sessions = append(e.sessions, s)
	}
	for range r.count() {
		d := storage.SentryDeviceParams{ProjectID: int64(r.uvarint()), Version: r.str(), DID: r.str()}
		d.Crashed = r.byte1() == 1
		e.devices = append(e.devices, d)
	}
	for range r.count() {
		e.events = append(e.events, eventKey{project: int64(r.uvarint()), id: r.str()})
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the record", len(r.b))
	}
	return e, nil
}
