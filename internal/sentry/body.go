package sentry

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrUnsupportedEncoding marks a Content-Encoding DecodeBody cannot inflate
// (br, zstd, or anything unknown); answer 415. Relay also accepts br and
// zstd; Ripcord would need a third-party decoder for them, and no SDK
// defaults to either (they send gzip or nothing).
var ErrUnsupportedEncoding = errors.New("sentry: unsupported content encoding")

// DecodeBody returns a reader of r's decompressed bytes for the
// Content-Encoding header value ("", "identity", "gzip", "x-gzip",
// "deflate"). The reader fails with a *LimitError (ErrTooLarge) once more
// than maxDecompressed bytes would come out, so a zip bomb costs at most
// maxDecompressed bytes of work and no memory beyond a read buffer; corrupt
// compressed data fails with a *FormatError (ErrFormat). maxDecompressed <= 0
// means DefaultMaxEnvelopeBytes.
func DecodeBody(r io.Reader, contentEncoding string, maxDecompressed int64) (io.Reader, error) {
	if maxDecompressed <= 0 {
		maxDecompressed = DefaultMaxEnvelopeBytes
	}
	enc := strings.ToLower(strings.TrimSpace(contentEncoding))
	var inner io.Reader
	switch enc {
	case "", "identity":
		inner = r
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, corrupt(enc, err)
		}
		inner = zr
	case "deflate":
		// HTTP "deflate" is zlib-wrapped (RFC 1950, as Relay reads it), but
		// some clients send raw RFC 1951 data: tell them apart by the zlib
		// header check (CMF/FLG multiple of 31, method 8).
		br := bufio.NewReader(r)
		hdr, _ := br.Peek(2)
		if len(hdr) == 2 && hdr[0]&0x0f == 8 && (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, corrupt(enc, err)
			}
			inner = zr
		} else {
			inner = flate.NewReader(br)
		}
	default:
		return nil, fmt.Errorf("sentry: content encoding %q: send gzip, deflate or identity: %w", contentEncoding, ErrUnsupportedEncoding)
	}
	return &boundedReader{r: inner, left: maxDecompressed, max: maxDecompressed, enc: enc}, nil
}

func corrupt(enc string, err error) error {
	return &FormatError{Offset: 0, Item: -1, Msg: fmt.Sprintf("corrupt %s body (%v)", enc, err)}
}

// boundedReader stops inflation at max bytes and turns decompressor errors
// into FormatErrors, so every error from ParseEnvelope classifies as 400/413.
type boundedReader struct {
	r    io.Reader
	left int64
	max  int64
	enc  string
	out  int64
	err  error
}

// Read passes bytes through until max, then fails with the LimitError.
func (b *boundedReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		// Probe one byte: only an actual extra byte is over the limit.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			b.err = &LimitError{Offset: b.max, Item: -1, Limit: "decompressed body", Max: b.max}
			return 0, b.err
		}
		if err == nil {
			return 0, nil
		}
		return 0, b.wrap(err)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	b.out += int64(n)
	if err != nil {
		return n, b.wrap(err)
	}
	return n, nil
}

func (b *boundedReader) wrap(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	if b.enc == "" || b.enc == "identity" {
		return err
	}
	var ce flate.CorruptInputError
	if errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, gzip.ErrHeader) || errors.Is(err, zlib.ErrChecksum) || errors.Is(err, zlib.ErrHeader) ||
		errors.Is(err, zlib.ErrDictionary) {
		b.err = &FormatError{Offset: b.out, Item: -1, Msg: fmt.Sprintf("corrupt %s body (%v)", b.enc, err)}
		return b.err
	}
	return err
}
