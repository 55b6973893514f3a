package sentry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Sentinels every parse error matches, so the HTTP layer maps them to a
// status with errors.Is alone.
var (
	// ErrFormat marks input that cannot be parsed; Relay answers 400.
	ErrFormat = errors.New("sentry: malformed envelope")
	// ErrTooLarge marks input over a Limits value; Relay answers 413.
	ErrTooLarge = errors.New("sentry: envelope too large")
)

// Item types Ripcord reads. Every other type is skipped, as the envelope
// spec requires of unknown types.
const (
	ItemEvent       = "event"       // ItemEvent is an error event; one per envelope.
	ItemSession     = "session"     // ItemSession is one session's full state.
	ItemSessions    = "sessions"    // ItemSessions is a pre-aggregated batch of sessions.
	ItemTransaction = "transaction" // ItemTransaction is skipped but shares the event count, as in Relay.
)

// Default limits. Sources: develop.sentry.dev Envelopes "Size Limits" and
// relay-config Limits::default; Ripcord-only values say so.
const (
	// DefaultMaxEnvelopeBytes caps the decompressed envelope. The docs say
	// 100MB "for a full envelope after decompression" (Relay's config now
	// defaults to 200 MiB; Ripcord keeps the documented figure).
	DefaultMaxEnvelopeBytes = 100 << 20
	// DefaultMaxCompressedBytes is the documented cap of a compressed
	// request body (20MB; Relay max_api_payload_size 20 MiB). The HTTP layer
	// applies it with http.MaxBytesReader before DecodeBody.
	DefaultMaxCompressedBytes = 20 << 20
	// DefaultMaxEventBytes is Relay's max_event_size (1 MiB).
	DefaultMaxEventBytes = 1 << 20
	// DefaultMaxEvents is Relay's count for event-like items (event,
	// transaction): one per envelope.
	DefaultMaxEvents = 1
	// DefaultMaxSessionBytes is Relay's max_sessions_size (10 MiB), shared by
	// all session and sessions items of an envelope.
	DefaultMaxSessionBytes = 10 << 20
	// DefaultMaxSessions is Relay's max_session_count: 100 session and
	// sessions items together per envelope.
	DefaultMaxSessions = 100
	// DefaultMaxAggregateBuckets is the documented cap of buckets in one
	// sessions item (100).
	DefaultMaxAggregateBuckets = 100
	// DefaultMaxItems caps items of any type. Ripcord's own bound: Relay has
	// per-type counts only, and 1,000 is far above any SDK's batch.
	DefaultMaxItems = 1000
	// DefaultMaxHeaderBytes caps one header line. Ripcord's own bound: real
	// headers are under 2 KiB (the largest carries a trace context).
	DefaultMaxHeaderBytes = 64 << 10
)

// Limits caps what ParseEnvelope and Decode accept; zero fields take the
// defaults above.
type Limits struct {
	MaxEnvelopeBytes    int64 // MaxEnvelopeBytes caps all bytes read. Default 100 MiB.
	MaxEventBytes       int64 // MaxEventBytes caps one event payload. Default 1 MiB.
	MaxEvents           int   // MaxEvents caps event and transaction items. Default 1.
	MaxSessionBytes     int64 // MaxSessionBytes caps session+sessions payloads together. Default 10 MiB.
	MaxSessions         int   // MaxSessions caps session+sessions items together. Default 100.
	MaxAggregateBuckets int   // MaxAggregateBuckets caps buckets per sessions item (Decode drops the item). Default 100.
	MaxItems            int   // MaxItems caps items of all types. Default 1,000.
	MaxHeaderBytes      int   // MaxHeaderBytes caps one header line. Default 64 KiB.
}

// WithDefaults returns l with every zero or negative field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxEnvelopeBytes <= 0 {
		l.MaxEnvelopeBytes = DefaultMaxEnvelopeBytes
	}
	if l.MaxEventBytes <= 0 {
		l.MaxEventBytes = DefaultMaxEventBytes
	}
	if l.MaxEvents <= 0 {
		l.MaxEvents = DefaultMaxEvents
	}
	if l.MaxSessionBytes <= 0 {
		l.MaxSessionBytes = DefaultMaxSessionBytes
	}
	if l.MaxSessions <= 0 {
		l.MaxSessions = DefaultMaxSessions
	}
	if l.MaxAggregateBuckets <= 0 {
		l.MaxAggregateBuckets = DefaultMaxAggregateBuckets
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultMaxItems
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}

// FormatError says where and why an envelope cannot be parsed (answer 400).
type FormatError struct {
	Offset int64  // Offset is the byte offset in the decompressed envelope.
	Item   int    // Item is the item index, or -1 for the envelope header.
	Msg    string // Msg says what is wrong.
	Val    any    // Val is the offending value, if any.
}

// Error prints the message, the value, the item and the offset.
func (e *FormatError) Error() string {
	s := "sentry: " + e.Msg
	if e.Val != nil {
		s += fmt.Sprintf(" %q", truncate(fmt.Sprint(e.Val), 64))
	}
	if e.Item >= 0 {
		s += fmt.Sprintf(" in item %d", e.Item)
	}
	return s + fmt.Sprintf(" at byte %d", e.Offset)
}

// Is makes errors.Is(err, ErrFormat) true.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// LimitError says which limit an envelope exceeds (answer 413).
type LimitError struct {
	Offset int64  // Offset is the byte offset where the limit was crossed.
	Item   int    // Item is the item index, or -1 for the whole envelope.
	Type   string // Type is the item type, if the limit is per type.
	Limit  string // Limit names the Limits field.
	Max    int64  // Max is the limit's value.
}

// Error names the limit, its value and where it was crossed.
func (e *LimitError) Error() string {
	s := fmt.Sprintf("sentry: %s over %d", e.Limit, e.Max)
	if e.Item >= 0 {
		s += fmt.Sprintf(" in item %d (%s)", e.Item, e.Type)
	}
	return s + fmt.Sprintf(" at byte %d", e.Offset)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

// Envelope is a parsed envelope: its header and its items, with payloads
// kept only for the item types Decode reads.
type Envelope struct {
	Header EnvelopeHeader // Header is the first line.
	Items  []Item         // Items are in wire order.
	Bytes  int64          // Bytes is the decompressed size read.

	lim Limits // lim carries MaxAggregateBuckets to Decode.
}

// EnvelopeHeader holds the envelope header fields Ripcord uses; unknown
// fields are ignored (Ripcord does not forward envelopes).
type EnvelopeHeader struct {
	EventID string    // EventID is the event's id when the envelope carries one.
	DSN     string    // DSN authenticates the envelope by itself; checked by ParseDSN.
	SentAt  time.Time // SentAt is the SDK's send time, for clock drift correction; zero if absent.
	SDK     SDKInfo   // SDK names the sender.
}

// SDKInfo names the SDK that sent an envelope, for logs and per-SDK quirks.
type SDKInfo struct {
	Name    string `json:"name"`    // Name is e.g. "sentry.cocoa".
	Version string `json:"version"` // Version is the SDK's version.
}

// Item is one envelope item.
type Item struct {
	Index       int    // Index is the item's position, from 0.
	Offset      int64  // Offset is the byte offset of its header line.
	Type        string // Type is the item header's type.
	Length      int64  // Length is the declared length, or -1 when implicit.
	ContentType string // ContentType is the item header's content_type.
	Filename    string // Filename is the item header's filename.
	Size        int64  // Size is the payload's size in bytes.
	Payload     []byte // Payload is kept for event, session and sessions items only.
}

// retained reports whether ParseEnvelope keeps the payload of an item type.
func retained(typ string) bool {
	return typ == ItemEvent || typ == ItemSession || typ == ItemSessions
}

// ParseEnvelope reads one envelope from r, which must already be
// decompressed (see DecodeBody). Errors match ErrFormat (400) or ErrTooLarge
// (413); errors from r are returned wrapped, so a caller's
// *http.MaxBytesError stays visible to errors.As.
func ParseEnvelope(r io.Reader, lim Limits) (*Envelope, error) {
	lim = lim.WithDefaults()
	p := &parser{
		// One byte over the cap lets us tell "exactly at the limit" from "over".
		br:  bufio.NewReaderSize(io.LimitReader(r, lim.MaxEnvelopeBytes+1), lim.MaxHeaderBytes+1),
		lim: lim,
	}
	env, err := p.parse()
	if err != nil {
		return nil, err
	}
	return env, nil
}

type parser struct {
	br  *bufio.Reader
	off int64
	lim Limits

	events, sessions int
	sessionBytes     int64
}

// consumed advances the offset and enforces the envelope cap.
func (p *parser) consumed(n int, item int) error {
	p.off += int64(n)
	if p.off > p.lim.MaxEnvelopeBytes {
		return &LimitError{Offset: p.lim.MaxEnvelopeBytes, Item: -1, Limit: "MaxEnvelopeBytes", Max: p.lim.MaxEnvelopeBytes}
	}
	return nil
}

func (p *parser) readErr(err error) error {
	return fmt.Errorf("sentry: read envelope at byte %d: %w", p.off, err)
}

// headerLine reads one header line without its newline. eof reports that
// the input ended (possibly after a partial, returned line).
func (p *parser) headerLine(item int) (line []byte, eof bool, err error) {
	start := p.off
	b, err := p.br.ReadSlice('\n')
	if cerr := p.consumed(len(b), item); cerr != nil {
		return nil, false, cerr
	}
	switch {
	case err == nil:
		return b[:len(b)-1], false, nil
	case errors.Is(err, io.EOF):
		return b, true, nil
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, false, &FormatError{Offset: start, Item: item, Msg: fmt.Sprintf("header line longer than %d bytes", p.lim.MaxHeaderBytes)}
	default:
		return nil, false, p.readErr(err)
	}
}

type rawEnvelopeHeader struct {
	EventID *string         `json:"event_id"`
	DSN     *string         `json:"dsn"`
	SentAt  *string         `json:"sent_at"`
	SDK     json.RawMessage `json:"sdk"`
}

type rawItemHeader struct {
	Type        *string         `json:"type"`
	Length      json.RawMessage `json:"length"`
	ContentType *string         `json:"content_type"`
	Filename    *string         `json:"filename"`
}

func (p *parser) parse() (*Envelope, error) {
	line, eof, err := p.headerLine(-1)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, &FormatError{Offset: 0, Item: -1, Msg: "missing envelope header"}
	}
	env := &Envelope{}
	if err := parseEnvelopeHeader(line, &env.Header); err != nil {
		return nil, err
	}
	for !eof {
		start := p.off
		line, eof, err = p.headerLine(len(env.Items))
		if err != nil {
			return nil, err
		}
		// Leniency: Relay's JSON stream skips whitespace between items, so a
		// blank line (e.g. a doubled trailing newline) is not an error.
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		idx := len(env.Items)
		if idx >= p.lim.MaxItems {
			return nil, &LimitError{Offset: start, Item: idx, Limit: "MaxItems", Max: int64(p.lim.MaxItems)}
		}
		it, err := p.item(idx, start, line, eof)
		if err != nil {
			return nil, err
		}
		env.Items = append(env.Items, it.Item)
		eof = it.eof
	}
	env.Bytes = p.off
	env.lim = p.lim
	return env, nil
}

func parseEnvelopeHeader(line []byte, h *EnvelopeHeader) error {
	var raw rawEnvelopeHeader
	if err := json.Unmarshal(line, &raw); err != nil {
		return &FormatError{Offset: 0, Item: -1, Msg: "invalid envelope header: " + jsonReason(err)}
	}
	if raw.EventID != nil {
		id, ok := normalizeUUID(*raw.EventID)
		if !ok {
			return &FormatError{Offset: 0, Item: -1, Msg: "invalid event_id", Val: *raw.EventID}
		}
		h.EventID = id
	}
	if raw.DSN != nil {
		if _, err := ParseDSN(*raw.DSN); err != nil {
			return &FormatError{Offset: 0, Item: -1, Msg: "invalid dsn header"}
		}
		h.DSN = *raw.DSN
	}
	if raw.SentAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *raw.SentAt)
		if err != nil {
			return &FormatError{Offset: 0, Item: -1, Msg: "invalid sent_at", Val: *raw.SentAt}
		}
		h.SentAt = t.UTC()
	}
	// sdk is informational: a malformed one is ignored rather than refused.
	if len(raw.SDK) > 0 {
		_ = json.Unmarshal(raw.SDK, &h.SDK)
	}
	return nil
}

// parsedItem carries whether the item ended the input.
type parsedItem struct {
	Item
	eof bool
}

func (p *parser) item(idx int, start int64, line []byte, headerEOF bool) (parsedItem, error) {
	var raw rawItemHeader
	if !scanItemHeader(line, &raw) { // the fast path for plain headers (fastsession.go)
		raw = rawItemHeader{}
		if err := json.Unmarshal(line, &raw); err != nil {
			return parsedItem{}, &FormatError{Offset: start, Item: idx, Msg: "invalid item header: " + jsonReason(err)}
		}
	}
	if raw.Type == nil || *raw.Type == "" {
		return parsedItem{}, &FormatError{Offset: start, Item: idx, Msg: "item header without type"}
	}
	it := parsedItem{Item: Item{Index: idx, Offset: start, Type: *raw.Type, Length: -1}}
	if raw.ContentType != nil {
		it.ContentType = *raw.ContentType
	}
	if raw.Filename != nil {
		it.Filename = *raw.Filename
	}
	if len(raw.Length) > 0 && string(raw.Length) != "null" {
		n, err := strconv.ParseInt(string(raw.Length), 10, 64)
		if err != nil || n < 0 {
			return parsedItem{}, &FormatError{Offset: start, Item: idx, Msg: "invalid item length", Val: string(raw.Length)}
		}
		it.Length = n
	}

	// Per-type counts and caps, checked before anything is allocated.
	capBytes := int64(-1) // -1: payload discarded, only the envelope cap applies
	switch it.Type {
	case ItemEvent, ItemTransaction:
		p.events++
		if p.events > p.lim.MaxEvents {
			return parsedItem{}, &LimitError{Offset: start, Item: idx, Type: it.Type, Limit: "MaxEvents", Max: int64(p.lim.MaxEvents)}
		}
		if it.Type == ItemEvent {
			capBytes = p.lim.MaxEventBytes
		}
	case ItemSession, ItemSessions:
		p.sessions++
		if p.sessions > p.lim.MaxSessions {
			return parsedItem{}, &LimitError{Offset: start, Item: idx, Type: it.Type, Limit: "MaxSessions", Max: int64(p.lim.MaxSessions)}
		}
		capBytes = p.lim.MaxSessionBytes - p.sessionBytes
	}
	limitName := "MaxEventBytes"
	if it.Type != ItemEvent {
		limitName = "MaxSessionBytes"
	}
	if capBytes >= 0 && it.Length > capBytes {
		return parsedItem{}, &LimitError{Offset: start, Item: idx, Type: it.Type, Limit: limitName, Max: limitMax(p.lim, limitName)}
	}

	if headerEOF {
		// Header at EOF: the payload is empty (Relay regression test
		// "implicit_length_empty_eof"); a declared length cannot be consumed.
		if it.Length > 0 {
			return parsedItem{}, &FormatError{Offset: p.off, Item: idx, Msg: "payload truncated", Val: it.Length}
		}
		if retained(it.Type) {
			it.Payload = []byte{}
		}
		it.eof = true
		return it, nil
	}

	var err error
	if it.Length >= 0 {
		err = p.explicitPayload(&it, capBytes)
	} else {
		err = p.implicitPayload(&it, capBytes, limitName)
	}
	if err != nil {
		return parsedItem{}, err
	}
	if it.Type == ItemSession || it.Type == ItemSessions {
		p.sessionBytes += it.Size
	}
	return it, nil
}

func limitMax(l Limits, name string) int64 {
	if name == "MaxEventBytes" {
		return l.MaxEventBytes
	}
	return l.MaxSessionBytes
}

// explicitPayload reads exactly Length bytes, then a newline or EOF.
func (p *parser) explicitPayload(it *parsedItem, capBytes int64) error {
	n := it.Length
	if capBytes >= 0 {
		// n <= capBytes <= MaxSessionBytes or MaxEventBytes: a bounded allocation.
		buf := make([]byte, n)
		got, err := io.ReadFull(p.br, buf)
		if cerr := p.consumed(got, it.Index); cerr != nil {
			return cerr
		}
		if err != nil {
			return p.payloadErr(it, err)
		}
		it.Payload = buf
	} else {
		// Skipped type: stream to discard in chunks so the envelope cap is
		// checked as bytes arrive.
		var done int64
		for done < n {
			chunk := min(n-done, 1<<20)
			got, err := io.CopyN(io.Discard, p.br, chunk)
			done += got
			if cerr := p.consumed(int(got), it.Index); cerr != nil {
				return cerr
			}
			if err != nil {
				return p.payloadErr(it, err)
			}
		}
	}
	it.Size = n
	b, err := p.br.ReadByte()
	switch {
	case errors.Is(err, io.EOF):
		it.eof = true
		return nil
	case err != nil:
		return p.readErr(err)
	}
	if cerr := p.consumed(1, it.Index); cerr != nil {
		return cerr
	}
	if b != '\n' {
		return &FormatError{Offset: p.off - 1, Item: it.Index, Msg: "missing newline after payload", Val: string(rune(b))}
	}
	return nil
}

func (p *parser) payloadErr(it *parsedItem, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if p.off >= p.lim.MaxEnvelopeBytes {
			return &LimitError{Offset: p.off, Item: -1, Limit: "MaxEnvelopeBytes", Max: p.lim.MaxEnvelopeBytes}
		}
		return &FormatError{Offset: p.off, Item: it.Index, Msg: "payload truncated", Val: it.Length}
	}
	return p.readErr(err)
}

// implicitPayload reads up to the next newline or EOF.
func (p *parser) implicitPayload(it *parsedItem, capBytes int64, limitName string) error {
	var buf []byte
	for {
		frag, err := p.br.ReadSlice('\n')
		if cerr := p.consumed(len(frag), it.Index); cerr != nil {
			return cerr
		}
		body := frag
		if err == nil {
			body = frag[:len(frag)-1]
		}
		it.Size += int64(len(body))
		if capBytes >= 0 {
			if it.Size > capBytes {
				return &LimitError{Offset: it.Offset, Item: it.Index, Type: it.Type, Limit: limitName, Max: limitMax(p.lim, limitName)}
			}
			buf = append(buf, body...)
		}
		switch {
		case err == nil:
			it.Payload = payloadOrNil(it.Type, buf)
			return nil
		case errors.Is(err, io.EOF):
			it.Payload = payloadOrNil(it.Type, buf)
			it.eof = true
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return p.readErr(err)
		}
	}
}

func payloadOrNil(typ string, buf []byte) []byte {
	if !retained(typ) {
		return nil
	}
	if buf == nil {
		return []byte{}
	}
	return buf
}

// jsonReason keeps JSON errors short and free of echoed input.
func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("JSON syntax error at column %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong JSON type %s", te.Field, te.Value)
	}
	return "not a JSON object"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
