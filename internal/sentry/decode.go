package sentry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Session statuses after Decode's normalization.
const (
	StatusOK        = "ok"        // StatusOK is a live session, or one that ended without a final update.
	StatusExited    = "exited"    // StatusExited is a clean end.
	StatusCrashed   = "crashed"   // StatusCrashed is a crash; Decode forces Errors >= 1.
	StatusAbnormal  = "abnormal"  // StatusAbnormal is an unknown fate (force-kill, power loss, ANR watchdog).
	StatusUnhandled = "unhandled" // StatusUnhandled is an unhandled error that did not kill the process (sentry-java 8.x); errored, not crashed.
)

// Relay's time rules for sessions (relay-server processing/sessions and
// relay-config defaults): drift over 55 minutes between sent_at and receipt
// is corrected; updates more than 5 days old or 60 s in the future are
// dropped.
const (
	minClockDrift = 55 * time.Minute
	maxSessionAge = 5 * 24 * time.Hour
	maxFuture     = 60 * time.Second
)

// SessionUpdate is one session item: the whole current state of a session.
type SessionUpdate struct {
	SID  string // SID is the session id, canonical lowercase UUID; "" if the SDK omitted it (then it cannot be deduplicated, as in Sentry, which invents a random one).
	DID  string // DID is the distinct (device or user) id; may be "".
	Seq  int64  // Seq orders updates of one session; (SID, Seq) identifies a retry.
	Init bool   // Init marks the first update: count the session once, without dedupe.
	// SeqDerived says the SDK sent no seq and Seq was derived: from the
	// update's timestamp in ms (Relay uses the receive time; the timestamp
	// makes an SDK retry of the same update carry the same Seq, so retries
	// dedupe), or 0 when Init is set.
	SeqDerived        bool
	Status            string    // Status is one of the Status constants; "errored" is normalized to exited with Errors >= 1.
	Errors            int64     // Errors is the running error count; > 0 (or a non-ok/exited status) makes the session errored.
	Started           time.Time // Started is when the session began (drift-corrected).
	Timestamp         time.Time // Timestamp is when this update was made (drift-corrected; never before Started).
	Duration          *float64  // Duration is the session length in seconds, if sent.
	Release           string    // Release is attrs.release, required and valid.
	Environment       string    // Environment is attrs.environment, "" if absent or invalid.
	AbnormalMechanism string    // AbnormalMechanism is e.g. "anr_foreground" for an ANR, "" if none.
}

// Errored reports whether the session counts as errored in Sentry's sense:
// errors > 0 or any status other than ok/exited (SessionStatus::is_error).
// Crash-free rates subtract crashed from it; the errored rate does not.
func (s SessionUpdate) Errored() bool {
	return s.Errors > 0 || (s.Status != StatusOK && s.Status != StatusExited)
}

// Terminal reports whether no further updates should follow.
func (s SessionUpdate) Terminal() bool { return s.Status != StatusOK }

// SessionAggregate is one sessions item: pre-aggregated counts of ended
// sessions by start minute and distinct id.
type SessionAggregate struct {
	Release     string            // Release is attrs.release.
	Environment string            // Environment is attrs.environment, "" if absent or invalid.
	Buckets     []AggregateBucket // Buckets are the valid groups; invalid ones are in Result.Dropped.
}

// AggregateBucket counts the sessions of one start minute and distinct id.
// Their sum is the number of sessions; Errored excludes crashed and abnormal.
type AggregateBucket struct {
	Started   time.Time // Started is the minute the sessions began (drift-corrected).
	DID       string    // DID is the distinct id of the group, or "".
	Exited    int64     // Exited counts clean sessions without errors.
	Errored   int64     // Errored counts exited sessions with errors.
	Abnormal  int64     // Abnormal counts sessions of unknown fate.
	Crashed   int64     // Crashed counts crashed sessions.
	Unhandled int64     // Unhandled counts sessions with an unhandled, non-fatal error.
}

// Total is the number of sessions in the bucket.
func (b AggregateBucket) Total() int64 {
	return b.Exited + b.Errored + b.Abnormal + b.Crashed + b.Unhandled
}

// Event is the part of an error event release health needs.
type Event struct {
	EventID     string            // EventID is the payload's event_id, else the envelope's; lowercase hex.
	Level       string            // Level is fatal|error|warning|info|debug; "error" when absent (SDK default).
	Release     string            // Release is "" if absent or invalid.
	Environment string            // Environment is "" if absent or invalid.
	Platform    string            // Platform is e.g. "cocoa", "java".
	Tags        map[string]string // Tags come from an object or a list of [key, value] pairs.
	Timestamp   time.Time         // Timestamp is when the event happened (drift-corrected); receipt time if absent.
	Unhandled   bool              // Unhandled is set when an exception mechanism says handled=false.
}

// Crash reports whether the event counts as a crash: Ripcord's rule is a
// fatal level (issue 8); native crash reports are sent with level fatal.
func (e Event) Crash() bool { return e.Level == "fatal" }

// ItemError reports an item (or one bucket of it) that Decode dropped.
type ItemError struct {
	Index  int    // Index is the item's index in the envelope.
	Type   string // Type is the item type.
	Bucket int    // Bucket is the aggregate bucket index, or -1 for the whole item.
	Reason string // Reason says why.
}

// Error prints the item, bucket and reason.
func (e ItemError) Error() string {
	if e.Bucket >= 0 {
		return fmt.Sprintf("sentry: item %d (%s) bucket %d dropped: %s", e.Index, e.Type, e.Bucket, e.Reason)
	}
	return fmt.Sprintf("sentry: item %d (%s) dropped: %s", e.Index, e.Type, e.Reason)
}

// SkippedItem records an item of a type Ripcord does not read.
type SkippedItem struct {
	Index int    // Index is the item's index in the envelope.
	Type  string // Type is e.g. "attachment", "transaction", "client_report".
	Size  int64  // Size is the payload size, discarded unread.
}

// Result is what Decode found, item by item.
type Result struct {
	Sessions   []SessionUpdate    // Sessions are the valid session items.
	Aggregates []SessionAggregate // Aggregates are the valid sessions items.
	Events     []Event            // Events are the valid event items.
	Dropped    []ItemError        // Dropped are invalid items or buckets, counted not fatal.
	Skipped    []SkippedItem      // Skipped are items of types Ripcord ignores.
}

// Decode decodes every item without a receive time: timestamps are not
// drift-corrected nor checked against a time window, and a session update
// with neither seq nor timestamp is dropped. Ingest should call DecodeAt.
func (e *Envelope) Decode() Result { return e.DecodeAt(time.Time{}) }

// DecodeAt decodes every item as Relay would on receipt at received: shifts
// timestamps by the client's clock drift when sent_at differs from received
// by 55 minutes or more, defaults missing timestamps to received, and drops
// session updates and buckets older than 5 days or more than 60 s in the
// future. One bad item never fails the others.
func (e *Envelope) DecodeAt(received time.Time) Result {
	d := decoder{received: received.UTC(), envEventID: e.Header.EventID, lim: e.lim.WithDefaults()}
	if !received.IsZero() && !e.Header.SentAt.IsZero() {
		drift := d.received.Sub(e.Header.SentAt)
		if drift >= minClockDrift || drift <= -minClockDrift {
			d.drift = drift
		}
	}
	var res Result
	sessions := 0
	for _, it := range e.Items {
		if it.Type == ItemSession {
			sessions++
		}
	}
	if sessions > 0 {
		res.Sessions = make([]SessionUpdate, 0, sessions) // one allocation, not a growing slice of large structs
	}
	for _, it := range e.Items {
		switch it.Type {
		case ItemSession:
			s, err := d.session(it.Payload)
			if err != nil {
				res.Dropped = append(res.Dropped, ItemError{Index: it.Index, Type: it.Type, Bucket: -1, Reason: err.Error()})
				continue
			}
			res.Sessions = append(res.Sessions, s)
		case ItemSessions:
			a, drops, err := d.aggregate(it.Payload)
			if err != nil {
				res.Dropped = append(res.Dropped, ItemError{Index: it.Index, Type: it.Type, Bucket: -1, Reason: err.Error()})
				continue
			}
			for _, dr := range drops {
				dr.Index, dr.Type = it.Index, it.Type
				res.Dropped = append(res.Dropped, dr)
			}
			res.Aggregates = append(res.Aggregates, a)
		case ItemEvent:
			ev, err := d.event(it.Payload)
			if err != nil {
				res.Dropped = append(res.Dropped, ItemError{Index: it.Index, Type: it.Type, Bucket: -1, Reason: err.Error()})
				continue
			}
			res.Events = append(res.Events, ev)
		default:
			res.Skipped = append(res.Skipped, SkippedItem{Index: it.Index, Type: it.Type, Size: it.Size})
		}
	}
	return res
}

type decoder struct {
	received   time.Time
	drift      time.Duration
	envEventID string
	lim        Limits
}

// correct applies the clock drift correction.
func (d decoder) correct(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(d.drift)
}

// inWindow applies Relay's session time window when a receive time is known.
func (d decoder) inWindow(t time.Time, what string) error {
	if d.received.IsZero() {
		return nil
	}
	if d.received.Sub(t) > maxSessionAge {
		return fmt.Errorf("%s more than 5 days old", what)
	}
	if t.Sub(d.received) > maxFuture {
		return fmt.Errorf("%s more than 60 s in the future", what)
	}
	return nil
}

type rawAttrs struct {
	Release     *string `json:"release"`
	Environment *string `json:"environment"`
}

type rawSession struct {
	SID               *string         `json:"sid"`
	DID               *string         `json:"did"`
	Seq               json.RawMessage `json:"seq"`
	Init              *bool           `json:"init"`
	Timestamp         json.RawMessage `json:"timestamp"`
	Started           json.RawMessage `json:"started"`
	Duration          *float64        `json:"duration"`
	Status            *string         `json:"status"`
	Errors            json.RawMessage `json:"errors"`
	Attrs             *rawAttrs       `json:"attrs"`
	AbnormalMechanism *string         `json:"abnormal_mechanism"`
}

func strictUnmarshal(payload []byte, v any) error {
	if len(bytes.TrimSpace(payload)) == 0 {
		return errors.New("empty payload")
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return errors.New("invalid JSON: " + jsonReason(err))
	}
	return nil
}

func (d decoder) attrs(a *rawAttrs) (release, env string, err error) {
	if a == nil || a.Release == nil {
		return "", "", errors.New("attrs.release is required")
	}
	release = strings.TrimSpace(*a.Release)
	if !validRelease(release) {
		return "", "", errors.New("attrs.release is not a valid release name")
	}
	// Relay drops an invalid environment and keeps the session.
	if a.Environment != nil && validEnvironment(*a.Environment) {
		env = *a.Environment
	}
	return release, env, nil
}

func (d decoder) session(payload []byte) (SessionUpdate, error) {
	var raw rawSession
	if !scanSession(payload, &raw) { // the fast path for plain items (fastsession.go)
		raw = rawSession{}
		if err := strictUnmarshal(payload, &raw); err != nil {
			return SessionUpdate{}, err
		}
	}
	var s SessionUpdate
	var err error
	if s.Release, s.Environment, err = d.attrs(raw.Attrs); err != nil {
		return SessionUpdate{}, err
	}
	if raw.SID != nil && *raw.SID != "" {
		if canonicalUUID(*raw.SID) {
			s.SID = *raw.SID // already what the two steps below would make
		} else {
			sid, ok := normalizeUUID(*raw.SID)
			if !ok {
				return SessionUpdate{}, errors.New("sid is not a UUID")
			}
			s.SID = dashedUUID(sid)
		}
	}
	if raw.DID != nil {
		if len(*raw.DID) > 256 {
			return SessionUpdate{}, errors.New("did longer than 256 bytes")
		}
		s.DID = *raw.DID
	}
	s.Init = raw.Init != nil && *raw.Init

	if len(raw.Started) == 0 || string(raw.Started) == "null" {
		return SessionUpdate{}, errors.New("started is required")
	}
	if s.Started, err = parseTimestamp(raw.Started); err != nil {
		return SessionUpdate{}, fmt.Errorf("started: %w", err)
	}
	if len(raw.Timestamp) > 0 && string(raw.Timestamp) != "null" {
		if s.Timestamp, err = parseTimestamp(raw.Timestamp); err != nil {
			return SessionUpdate{}, fmt.Errorf("timestamp: %w", err)
		}
	}
	s.Started, s.Timestamp = d.correct(s.Started), d.correct(s.Timestamp)
	if s.Timestamp.IsZero() {
		s.Timestamp = d.received // Relay: timestamp defaults to the receive time
	}
	if !s.Timestamp.IsZero() && s.Timestamp.Before(s.Started) {
		s.Timestamp = s.Started // Relay "fixing session timestamp"
	}
	if err := d.inWindow(s.Timestamp, "timestamp"); err != nil {
		return SessionUpdate{}, err
	}
	if err := d.inWindow(s.Started, "started"); err != nil {
		return SessionUpdate{}, err
	}

	switch {
	case s.Init:
		// The docs: "a session with init set to true will automatically have
		// seq forced to 0", so a retried init dedupes whatever seq it carries.
		s.Seq, s.SeqDerived = 0, len(raw.Seq) == 0
	case len(raw.Seq) > 0 && string(raw.Seq) != "null":
		if s.Seq, err = parseCount(raw.Seq); err != nil {
			return SessionUpdate{}, fmt.Errorf("seq: %w", err)
		}
	case !s.Timestamp.IsZero():
		s.Seq, s.SeqDerived = s.Timestamp.UnixMilli(), true
	default:
		return SessionUpdate{}, errors.New("no seq and no timestamp: decode with a receive time")
	}

	if len(raw.Errors) > 0 && string(raw.Errors) != "null" {
		if s.Errors, err = parseCount(raw.Errors); err != nil {
			return SessionUpdate{}, fmt.Errorf("errors: %w", err)
		}
	}
	status := StatusOK
	if raw.Status != nil {
		status = *raw.Status
	}
	switch status {
	case StatusOK, StatusExited, StatusAbnormal, StatusUnhandled:
	case StatusCrashed:
		// The docs: "the crash itself is always an error as well ... Ingest
		// should force errors to 1 if not set or 0".
		s.Errors = max(s.Errors, 1)
	case "errored":
		// Relay still parses the legacy "errored" status: a terminal session
		// with errors. Ripcord keeps four statuses (issue 8: errored is
		// derived from errors > 0), so it becomes exited with errors >= 1 —
		// the same crash-free and errored counts.
		status, s.Errors = StatusExited, max(s.Errors, 1)
	default:
		return SessionUpdate{}, fmt.Errorf("unknown status %q", truncate(status, 32))
	}
	s.Status = status
	if raw.AbnormalMechanism != nil && *raw.AbnormalMechanism != "none" {
		s.AbnormalMechanism = truncate(*raw.AbnormalMechanism, 64)
	}
	if raw.Duration != nil && *raw.Duration >= 0 {
		dur := *raw.Duration
		s.Duration = &dur
	}
	return s, nil
}

type rawAggregates struct {
	Aggregates []json.RawMessage `json:"aggregates"`
	Attrs      *rawAttrs         `json:"attrs"`
}

type rawBucket struct {
	Started   json.RawMessage `json:"started"`
	DID       *string         `json:"did"`
	Exited    json.RawMessage `json:"exited"`
	Errored   json.RawMessage `json:"errored"`
	Abnormal  json.RawMessage `json:"abnormal"`
	Crashed   json.RawMessage `json:"crashed"`
	Unhandled json.RawMessage `json:"unhandled"`
}

func (d decoder) aggregate(payload []byte) (SessionAggregate, []ItemError, error) {
	var raw rawAggregates
	if err := strictUnmarshal(payload, &raw); err != nil {
		return SessionAggregate{}, nil, err
	}
	var a SessionAggregate
	var err error
	if a.Release, a.Environment, err = d.attrs(raw.Attrs); err != nil {
		return SessionAggregate{}, nil, err
	}
	if len(raw.Aggregates) > d.lim.MaxAggregateBuckets {
		// Whole item dropped rather than truncated: a partial batch would
		// skew rates without anyone noticing.
		return SessionAggregate{}, nil, fmt.Errorf("%d buckets, over the limit of %d", len(raw.Aggregates), d.lim.MaxAggregateBuckets)
	}
	var drops []ItemError
	a.Buckets = make([]AggregateBucket, 0, len(raw.Aggregates))
	for i, rb := range raw.Aggregates {
		b, err := d.bucket(rb)
		if err != nil {
			drops = append(drops, ItemError{Bucket: i, Reason: err.Error()})
			continue
		}
		a.Buckets = append(a.Buckets, b)
	}
	return a, drops, nil
}

func (d decoder) bucket(rb json.RawMessage) (AggregateBucket, error) {
	var raw rawBucket
	if err := strictUnmarshal(rb, &raw); err != nil {
		return AggregateBucket{}, err
	}
	var b AggregateBucket
	var err error
	if len(raw.Started) == 0 || string(raw.Started) == "null" {
		return AggregateBucket{}, errors.New("started is required")
	}
	if b.Started, err = parseTimestamp(raw.Started); err != nil {
		return AggregateBucket{}, fmt.Errorf("started: %w", err)
	}
	b.Started = d.correct(b.Started)
	if err := d.inWindow(b.Started, "started"); err != nil {
		return AggregateBucket{}, err
	}
	if raw.DID != nil {
		if len(*raw.DID) > 256 {
			return AggregateBucket{}, errors.New("did longer than 256 bytes")
		}
		b.DID = *raw.DID
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *int64
	}{
		{"exited", raw.Exited, &b.Exited},
		{"errored", raw.Errored, &b.Errored},
		{"abnormal", raw.Abnormal, &b.Abnormal},
		{"crashed", raw.Crashed, &b.Crashed},
		{"unhandled", raw.Unhandled, &b.Unhandled},
	} {
		if len(f.raw) == 0 || string(f.raw) == "null" {
			continue
		}
		// Relay reads these as u32; the cap keeps the sum far from overflow.
		n, err := parseCount(f.raw)
		if err != nil || n > math.MaxUint32 {
			return AggregateBucket{}, fmt.Errorf("%s is not a count", f.name)
		}
		*f.dst = n
	}
	return b, nil
}

type rawEvent struct {
	EventID   *string         `json:"event_id"`
	Level     *string         `json:"level"`
	Release   *string         `json:"release"`
	Env       *string         `json:"environment"`
	Platform  *string         `json:"platform"`
	Tags      json.RawMessage `json:"tags"`
	Timestamp json.RawMessage `json:"timestamp"`
	Exception json.RawMessage `json:"exception"`
}

type rawException struct {
	Values []struct {
		Mechanism *struct {
			Handled *bool `json:"handled"`
		} `json:"mechanism"`
	} `json:"values"`
}

func (d decoder) event(payload []byte) (Event, error) {
	var raw rawEvent
	if err := strictUnmarshal(payload, &raw); err != nil {
		return Event{}, err
	}
	ev := Event{EventID: d.envEventID, Level: "error"}
	if raw.EventID != nil {
		id, ok := normalizeUUID(*raw.EventID)
		if !ok {
			return Event{}, errors.New("event_id is not a UUID")
		}
		ev.EventID = id
	}
	if raw.Level != nil {
		switch lvl := strings.ToLower(*raw.Level); lvl {
		case "fatal", "error", "warning", "info", "debug":
			ev.Level = lvl
		case "warn":
			ev.Level = "warning" // Relay accepts the "warn" alias
		case "critical":
			ev.Level = "fatal" // Relay maps Python's "critical" to fatal
		default:
			return Event{}, fmt.Errorf("unknown level %q", truncate(*raw.Level, 32))
		}
	}
	if raw.Release != nil && validRelease(strings.TrimSpace(*raw.Release)) {
		ev.Release = strings.TrimSpace(*raw.Release)
	}
	if raw.Env != nil && validEnvironment(*raw.Env) {
		ev.Environment = *raw.Env
	}
	if raw.Platform != nil {
		ev.Platform = truncate(*raw.Platform, 64)
	}
	// Malformed tags are ignored rather than dropping the event: the event
	// still counts as an error for its release.
	ev.Tags = parseTags(raw.Tags)
	if len(raw.Timestamp) > 0 && string(raw.Timestamp) != "null" {
		ts, err := parseTimestamp(raw.Timestamp)
		if err != nil {
			return Event{}, fmt.Errorf("timestamp: %w", err)
		}
		ev.Timestamp = d.correct(ts)
	} else {
		ev.Timestamp = d.received
	}
	if len(raw.Exception) > 0 {
		var ex rawException
		if json.Unmarshal(raw.Exception, &ex) == nil {
			for _, v := range ex.Values {
				if v.Mechanism != nil && v.Mechanism.Handled != nil && !*v.Mechanism.Handled {
					ev.Unhandled = true
				}
			}
		}
	}
	return ev, nil
}

// parseTags reads tags sent as {"k":"v"} or [["k","v"],...]; non-string
// scalar values are stringified, other entries ignored.
func parseTags(raw json.RawMessage) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	tags := map[string]string{}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		for k, v := range obj {
			if s, ok := scalarString(v); ok {
				tags[k] = s
			}
		}
	} else {
		var pairs []json.RawMessage
		if json.Unmarshal(raw, &pairs) != nil {
			return nil
		}
		for _, p := range pairs {
			var kv []json.RawMessage
			if json.Unmarshal(p, &kv) != nil || len(kv) != 2 {
				continue
			}
			k, ok1 := scalarString(kv[0])
			v, ok2 := scalarString(kv[1])
			if ok1 && ok2 {
				tags[k] = v
			}
		}
	}
	if len(tags) == 0 {
		return nil
	}
	return tags
}

func scalarString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b), true
	}
	return "", false
}

// maxUnixSeconds is 9999-12-31T23:59:59Z; larger values cannot be formatted.
const maxUnixSeconds = 253402300799

// parseTimestamp reads an RFC 3339 string (what SDKs send) or a number of
// Unix seconds (what events may carry).
func parseTimestamp(raw json.RawMessage) (time.Time, error) {
	var s string
	if plainString(raw) {
		s = string(raw[1 : len(raw)-1]) // what encoding/json would give, without its cost
	}
	if s != "" || json.Unmarshal(raw, &s) == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, errors.New("not an RFC 3339 time")
		}
		return t.UTC(), nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return time.Time{}, errors.New("not a time")
	}
	if math.IsNaN(f) || f < 0 || f > maxUnixSeconds {
		return time.Time{}, errors.New("time out of range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// parseCount reads a non-negative JSON integer that fits int64.
func parseCount(raw json.RawMessage) (int64, error) {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("not a non-negative integer")
	}
	return n, nil
}

// normalizeUUID accepts the two forms the envelope spec allows (32 hex, or
// 36 with dashes) and returns 32 lowercase hex characters.
func normalizeUUID(s string) (string, bool) {
	switch len(s) {
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", false
		}
		s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	case 32:
	default:
		return "", false
	}
	b := []byte(strings.ToLower(s))
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return string(b), true
}

// dashedUUID formats 32 hex characters as 8-4-4-4-12, the form SDKs send
// sids in, so logs match what developers see.
func dashedUUID(h string) string {
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// plainString reports whether raw is a JSON string without escapes,
// control or non-ASCII bytes: its contents are then exactly its bytes.
func plainString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			return false
		}
	}
	return true
}

// canonicalUUID reports whether s is already a lowercase 8-4-4-4-12 UUID,
// the form SDKs send and dashedUUID(normalizeUUID(s)) returns.
func canonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}
