package sentry

import (
	"encoding/json"
	"slices"
	"strings"
)

// Session items are most of what a busy fleet sends, and encoding/json
// spends ~10 µs on each (reflection, RawMessage copies): more than a
// 2-core server can afford at 200,000 updates per second. scanSession
// reads the shape SDKs actually send — one flat object of strings,
// numbers, booleans and nulls, plus a flat attrs object of strings —
// straight into a rawSession. Anything else (escapes, non-ASCII, nested
// values, duplicate or case-variant keys, any syntax doubt) makes it give
// up, and the caller falls back to encoding/json, so the fast path never
// has to reproduce an edge case: FuzzScanSession checks that whenever it
// answers, it answers exactly as encoding/json does.

// sessionKeys are the fields rawSession reads, for the case-variant check
// (encoding/json matches keys case-insensitively).
var sessionKeys = []string{"sid", "did", "seq", "init", "timestamp", "started", "duration", "status", "errors", "attrs", "abnormal_mechanism"}

// sessionKeyIndex is slices.Index(sessionKeys, key) without converting key
// to a string (a switch on string(key) does not allocate).
func sessionKeyIndex(key []byte) int {
	switch string(key) {
	case "sid":
		return 0
	case "did":
		return 1
	case "seq":
		return 2
	case "init":
		return 3
	case "timestamp":
		return 4
	case "started":
		return 5
	case "duration":
		return 6
	case "status":
		return 7
	case "errors":
		return 8
	case "attrs":
		return 9
	case "abnormal_mechanism":
		return 10
	}
	return -1
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string without escapes or non-ASCII bytes.
func (s *scanner) str() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// number reads a JSON number, strictly by the grammar.
func (s *scanner) number() ([]byte, bool) {
	start := s.i
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		for s.i++; isDigit(s.peek()); s.i++ {
		}
	default:
		return nil, false
	}
	if s.peek() == '.' {
		s.i++
		if !isDigit(s.peek()) {
			return nil, false
		}
		for ; isDigit(s.peek()); s.i++ {
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !isDigit(s.peek()) {
			return nil, false
		}
		for ; isDigit(s.peek()); s.i++ {
		}
	}
	return s.b[start:s.i], true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// scalar reads a string, number, true, false or null and returns its raw
// bytes (quotes included for strings) and its kind: '"', '0', 't', 'f', 'n'.
func (s *scanner) scalar() ([]byte, byte, bool) {
	start := s.i
	switch c := s.peek(); {
	case c == '"':
		if _, ok := s.str(); ok {
			return s.b[start:s.i], '"', true
		}
	case c == '-' || isDigit(c):
		if _, ok := s.number(); ok {
			return s.b[start:s.i], '0', true
		}
	case c == 't':
		if s.literal("true") {
			return s.b[start:s.i], 't', true
		}
	case c == 'f':
		if s.literal("false") {
			return s.b[start:s.i], 'f', true
		}
	case c == 'n':
		if s.literal("null") {
			return s.b[start:s.i], 'n', true
		}
	}
	return nil, 0, false
}

// object calls field for each key and positions the scanner on its value;
// field reads the value (or returns false to give up).
func (s *scanner) object(field func(key []byte) bool) bool {
	s.ws()
	if s.peek() != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !field(key) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func strPtr(raw []byte, kind byte) (*string, bool) {
	switch kind {
	case 'n':
		return nil, true
	case '"':
		v := string(raw[1 : len(raw)-1])
		return &v, true
	}
	return nil, false
}

// strPtrIn is strPtr for a value inside whole, the payload already
// converted to a string once: the result shares its bytes instead of
// allocating a copy per field.
func strPtrIn(whole string, payload, raw []byte, kind byte) (*string, bool) {
	if kind != '"' {
		return strPtr(raw, kind)
	}
	off := cap(payload) - cap(raw) // raw is a subslice of payload
	v := whole[off+1 : off+len(raw)-1]
	return &v, true
}

// scanSession fills raw from payload, or reports false when payload is not
// of the plain shape it reads (then decode with encoding/json).
func scanSession(payload []byte, raw *rawSession) bool {
	s := &scanner{b: payload}
	whole := string(payload)
	var seen uint32 // bit i: sessionKeys[i] was read; encoding/json keeps the last duplicate, not worth copying
	ok := s.object(func(key []byte) bool {
		if i := sessionKeyIndex(key); i >= 0 {
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
		}
		if string(key) == "attrs" {
			return scanAttrs(s, raw, whole, payload)
		}
		v, kind, ok := s.scalar()
		if !ok {
			return false
		}
		switch string(key) {
		case "sid":
			raw.SID, ok = strPtrIn(whole, payload, v, kind)
		case "did":
			raw.DID, ok = strPtrIn(whole, payload, v, kind)
		case "status":
			raw.Status, ok = strPtrIn(whole, payload, v, kind)
		case "abnormal_mechanism":
			raw.AbnormalMechanism, ok = strPtrIn(whole, payload, v, kind)
		case "seq":
			raw.Seq = json.RawMessage(v)
		case "timestamp":
			raw.Timestamp = json.RawMessage(v)
		case "started":
			raw.Started = json.RawMessage(v)
		case "errors":
			raw.Errors = json.RawMessage(v)
		case "init":
			switch kind {
			case 't', 'f':
				b := kind == 't'
				raw.Init = &b
			case 'n':
				raw.Init = nil
			default:
				return false
			}
		case "duration":
			switch kind {
			case '0':
				var f float64
				if json.Unmarshal(v, &f) != nil {
					return false
				}
				raw.Duration = &f
			case 'n':
				raw.Duration = nil
			default:
				return false
			}
		default:
			for _, known := range sessionKeys {
				if strings.EqualFold(string(key), known) {
					return false // encoding/json would fill that field
				}
			}
		}
		return ok
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

func scanAttrs(s *scanner, raw *rawSession, whole string, payload []byte) bool {
	if s.peek() == 'n' {
		if !s.literal("null") {
			return false
		}
		raw.Attrs = nil
		return true
	}
	a := &rawAttrs{}
	var seen [2]bool
	if !s.object(func(key []byte) bool {
		v, kind, ok := s.scalar()
		if !ok {
			return false
		}
		switch string(key) {
		case "release":
			if seen[0] {
				return false
			}
			seen[0] = true
			a.Release, ok = strPtrIn(whole, payload, v, kind)
		case "environment":
			if seen[1] {
				return false
			}
			seen[1] = true
			a.Environment, ok = strPtrIn(whole, payload, v, kind)
		default:
			if strings.EqualFold(string(key), "release") || strings.EqualFold(string(key), "environment") {
				return false
			}
		}
		return ok
	}) {
		return false
	}
	raw.Attrs = a
	return true
}

// itemHeaderKeys are rawItemHeader's fields.
var itemHeaderKeys = []string{"type", "length", "content_type", "filename"}

// scanItemHeader is scanSession for item headers: plain shapes only, else
// false (decode with encoding/json).
func scanItemHeader(line []byte, raw *rawItemHeader) bool {
	s := &scanner{b: line}
	var seen uint32
	ok := s.object(func(key []byte) bool {
		i := slices.Index(itemHeaderKeys, string(key))
		if i < 0 {
			for _, known := range itemHeaderKeys {
				if strings.EqualFold(string(key), known) {
					return false
				}
			}
		} else {
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
		}
		v, kind, ok := s.scalar()
		if !ok {
			return false
		}
		switch i {
		case 0:
			raw.Type, ok = strPtr(v, kind)
		case 1:
			raw.Length = json.RawMessage(v)
		case 2:
			raw.ContentType, ok = strPtr(v, kind)
		case 3:
			raw.Filename, ok = strPtr(v, kind)
		}
		return ok
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}
