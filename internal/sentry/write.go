package sentry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// OutItem is an item to write; the fleet simulator and tests build
// envelopes with it the way SDKs do.
type OutItem struct {
	Type         string // Type is the item type.
	Payload      []byte // Payload is written as is.
	ImplicitSize bool   // ImplicitSize omits "length", as SDKs do for sessions; Payload must then have no newline.
}

// WriteEnvelope writes header (any JSON-marshalable value, e.g. a map with
// sent_at and dsn) and items in the envelope format, with a trailing newline.
func WriteEnvelope(w io.Writer, header any, items ...OutItem) error {
	var buf bytes.Buffer
	h, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("sentry: encode envelope header: %w", err)
	}
	buf.Write(h)
	buf.WriteByte('\n')
	for i, it := range items {
		buf.WriteString(`{"type":`)
		t, _ := json.Marshal(it.Type)
		buf.Write(t)
		if it.ImplicitSize {
			if bytes.IndexByte(it.Payload, '\n') >= 0 {
				return fmt.Errorf("sentry: item %d (%s): implicit size needs a payload without newlines", i, it.Type)
			}
		} else {
			buf.WriteString(`,"length":`)
			buf.WriteString(strconv.Itoa(len(it.Payload)))
		}
		buf.WriteString("}\n")
		buf.Write(it.Payload)
		buf.WriteByte('\n')
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("sentry: write envelope: %w", err)
	}
	return nil
}
