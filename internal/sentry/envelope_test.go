package sentry

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(tb, err)
	return b
}

func TestParseEnvelopeGrammar(t *testing.T) {
	t.Parallel()
	const hdr = `{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}`
	tests := []struct {
		name  string
		in    string
		types []string
		sizes []int64
	}{
		{"header only, no newline", hdr, nil, nil},
		{"header only, newline", hdr + "\n", nil, nil},
		{"empty header object", "{}\n", nil, nil},
		{"two empty attachments", hdr + "\n" + `{"type":"attachment","length":0}` + "\n\n" + `{"type":"attachment","length":0}` + "\n\n", []string{"attachment", "attachment"}, []int64{0, 0}},
		{"two empty attachments, last newline omitted", hdr + "\n" + `{"type":"attachment","length":0}` + "\n\n" + `{"type":"attachment","length":0}` + "\n", []string{"attachment", "attachment"}, []int64{0, 0}},
		{"implicit length, newline", hdr + "\n" + `{"type":"attachment"}` + "\nhelloworld\n", []string{"attachment"}, []int64{10}},
		{"implicit length, EOF", hdr + "\n" + `{"type":"attachment"}` + "\nhelloworld", []string{"attachment"}, []int64{10}},
		{"implicit length, header at EOF", hdr + "\n" + `{"type":"attachment"}`, []string{"attachment"}, []int64{0}},
		{"explicit length with newline inside", hdr + "\n" + `{"type":"event","length":5}` + "\n{\n}\n \n", []string{"event"}, []int64{5}},
		{"explicit length at EOF", hdr + "\n" + `{"type":"session","length":2}` + "\n{}", []string{"session"}, []int64{2}},
		{"blank line between items tolerated", hdr + "\n" + `{"type":"a"}` + "\nx\n\n" + `{"type":"b"}` + "\ny\n", []string{"a", "b"}, []int64{1, 1}},
		{"implicit payload keeps CR", hdr + "\n" + `{"type":"attachment"}` + "\nab\r\n", []string{"attachment"}, []int64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, err := ParseEnvelope(strings.NewReader(tt.in), Limits{})
			require.NoError(t, err)
			var types []string
			var sizes []int64
			for i, it := range env.Items {
				require.Equal(t, i, it.Index)
				types = append(types, it.Type)
				sizes = append(sizes, it.Size)
			}
			require.Equal(t, tt.types, types)
			require.Equal(t, tt.sizes, sizes)
			require.Equal(t, int64(len(tt.in)), env.Bytes)
		})
	}
}

func TestParseEnvelopeTestdata(t *testing.T) {
	t.Parallel()
	env, err := ParseEnvelope(bytes.NewReader(readTestdata(t, "attachment.envelope")), Limits{})
	require.NoError(t, err)
	require.Equal(t, "9ec79c33ec9942ab8353589fcb2e04dc", env.Header.EventID)
	require.Equal(t, "https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42", env.Header.DSN)
	require.Len(t, env.Items, 3)
	require.Equal(t, Item{Index: 0, Offset: 111, Type: "attachment", Length: 10, ContentType: "text/plain", Filename: "hello.txt", Size: 10}, env.Items[0])
	require.Nil(t, env.Items[0].Payload, "skipped payloads are not kept")
	require.JSONEq(t, `{"message":"hello world","level":"error","tags":{"flow":"login","outcome":"success"}}`, string(env.Items[1].Payload))
	require.Equal(t, "client_report", env.Items[2].Type)

	env, err = ParseEnvelope(bytes.NewReader(readTestdata(t, "session.envelope")), Limits{})
	require.NoError(t, err)
	require.Equal(t, SDKInfo{Name: "sentry.cocoa", Version: "8.36.0"}, env.Header.SDK)
	require.Equal(t, "2024-05-01T10:00:05.12Z", env.Header.SentAt.Format("2006-01-02T15:04:05.999Z07:00"))
	require.Equal(t, int64(-1), env.Items[0].Length)
}

func TestParseEnvelopeErrors(t *testing.T) {
	t.Parallel()
	const hdr = "{}\n"
	tests := []struct {
		name    string
		in      string
		lim     Limits
		want    error
		wantMsg string
		item    int
	}{
		{"empty body", "", Limits{}, ErrFormat, "missing envelope header", -1},
		{"header not JSON", "nope\n", Limits{}, ErrFormat, "invalid envelope header", -1},
		{"header is an array", "[]\n", Limits{}, ErrFormat, "invalid envelope header", -1},
		{"bad sent_at", `{"sent_at":"yesterday"}` + "\n", Limits{}, ErrFormat, "invalid sent_at", -1},
		{"bad event_id", `{"event_id":"xyz"}` + "\n", Limits{}, ErrFormat, "invalid event_id", -1},
		{"bad dsn", `{"dsn":"not a dsn"}` + "\n", Limits{}, ErrFormat, "invalid dsn", -1},
		{"item header not JSON", hdr + "{\n", Limits{}, ErrFormat, "invalid item header", 0},
		{"item without type", hdr + `{"length":1}` + "\nx\n", Limits{}, ErrFormat, "without type", 0},
		{"negative length", hdr + `{"type":"event","length":-1}` + "\n", Limits{}, ErrFormat, "invalid item length", 0},
		{"float length", hdr + `{"type":"event","length":1.5}` + "\n", Limits{}, ErrFormat, "invalid item length", 0},
		{"length overflows", hdr + `{"type":"attachment","length":99999999999999999999}` + "\n", Limits{}, ErrFormat, "invalid item length", 0},
		{"truncated payload", hdr + `{"type":"event","length":10}` + "\nabc", Limits{}, ErrFormat, "payload truncated", 0},
		{"truncated skipped payload", hdr + `{"type":"attachment","length":10}` + "\nabc", Limits{}, ErrFormat, "payload truncated", 0},
		{"declared length at EOF", hdr + `{"type":"attachment","length":3}`, Limits{}, ErrFormat, "payload truncated", 0},
		{"garbage after payload", hdr + `{"type":"event","length":2}` + "\n{}x\n", Limits{}, ErrFormat, "missing newline", 0},
		{"header line too long", strings.Repeat(" ", 100) + "{}\n", Limits{MaxHeaderBytes: 50}, ErrFormat, "header line longer", -1},
		{"envelope too large", hdr + `{"type":"attachment"}` + "\n" + strings.Repeat("a", 100), Limits{MaxEnvelopeBytes: 64}, ErrTooLarge, "MaxEnvelopeBytes", -1},
		{"skipped item too large", hdr + `{"type":"attachment","length":100}` + "\n" + strings.Repeat("a", 100), Limits{MaxEnvelopeBytes: 64}, ErrTooLarge, "MaxEnvelopeBytes", -1},
		{"event declared too large", hdr + `{"type":"event","length":11}` + "\n", Limits{MaxEventBytes: 10}, ErrTooLarge, "MaxEventBytes", 0},
		{"event implicit too large", hdr + `{"type":"event"}` + "\n" + strings.Repeat("a", 11) + "\n", Limits{MaxEventBytes: 10}, ErrTooLarge, "MaxEventBytes", 0},
		{"two events", hdr + `{"type":"event"}` + "\n{}\n" + `{"type":"event"}` + "\n{}\n", Limits{}, ErrTooLarge, "MaxEvents", 1},
		{"event and transaction", hdr + `{"type":"event"}` + "\n{}\n" + `{"type":"transaction"}` + "\n{}\n", Limits{}, ErrTooLarge, "MaxEvents", 1},
		{"too many sessions", hdr + strings.Repeat(`{"type":"session"}`+"\n{}\n", 3), Limits{MaxSessions: 2}, ErrTooLarge, "MaxSessions", 2},
		{"session bytes shared", hdr + `{"type":"session"}` + "\n12345\n" + `{"type":"sessions","length":6}` + "\n123456\n", Limits{MaxSessionBytes: 10}, ErrTooLarge, "MaxSessionBytes", 1},
		{"too many items", hdr + strings.Repeat(`{"type":"a"}`+"\nx\n", 3), Limits{MaxItems: 2}, ErrTooLarge, "MaxItems", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseEnvelope(strings.NewReader(tt.in), tt.lim)
			require.ErrorIs(t, err, tt.want)
			require.Contains(t, err.Error(), tt.wantMsg)
			var fe *FormatError
			var le *LimitError
			switch {
			case errors.As(err, &fe):
				require.Equal(t, tt.item, fe.Item)
				require.NotErrorIs(t, err, ErrTooLarge)
			case errors.As(err, &le):
				require.Equal(t, tt.item, le.Item)
				require.NotErrorIs(t, err, ErrFormat)
			default:
				t.Fatalf("untyped error %v", err)
			}
		})
	}
}

func TestParseEnvelopeExactlyAtLimit(t *testing.T) {
	t.Parallel()
	in := "{}\n" + `{"type":"attachment"}` + "\nabc\n"
	_, err := ParseEnvelope(strings.NewReader(in), Limits{MaxEnvelopeBytes: int64(len(in))})
	require.NoError(t, err)
	_, err = ParseEnvelope(strings.NewReader(in), Limits{MaxEnvelopeBytes: int64(len(in) - 1)})
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestParseEnvelopeReaderErrorIsWrapped(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := ParseEnvelope(io.MultiReader(strings.NewReader("{}\n{\"type\":\"a\"}\nab"), iotestErr{boom}), Limits{})
	require.ErrorIs(t, err, boom)
	require.NotErrorIs(t, err, ErrFormat)
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

func TestDecodeBody(t *testing.T) {
	t.Parallel()
	plain := readTestdata(t, "session.envelope")
	var gz, zl, raw bytes.Buffer
	gw := gzip.NewWriter(&gz)
	_, _ = gw.Write(plain)
	require.NoError(t, gw.Close())
	zw := zlib.NewWriter(&zl)
	_, _ = zw.Write(plain)
	require.NoError(t, zw.Close())
	fw, _ := flate.NewWriter(&raw, flate.BestSpeed)
	_, _ = fw.Write(plain)
	require.NoError(t, fw.Close())

	tests := []struct {
		name, enc string
		body      []byte
	}{
		{"identity", "", plain},
		{"identity named", "identity", plain},
		{"gzip", "gzip", gz.Bytes()},
		{"x-gzip upper", " X-GZIP ", gz.Bytes()},
		{"gzip testdata", "gzip", readTestdata(t, "session.envelope.gz")},
		{"deflate zlib", "deflate", zl.Bytes()},
		{"deflate raw", "deflate", raw.Bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := DecodeBody(bytes.NewReader(tt.body), tt.enc, 0)
			require.NoError(t, err)
			env, err := ParseEnvelope(r, Limits{})
			require.NoError(t, err)
			require.Len(t, env.Items, 1)
			require.Equal(t, ItemSession, env.Items[0].Type)
		})
	}
}

func TestDecodeBodyErrors(t *testing.T) {
	t.Parallel()
	var bomb bytes.Buffer
	gw := gzip.NewWriter(&bomb)
	_, _ = gw.Write(bytes.Repeat([]byte{'a'}, 10<<20))
	require.NoError(t, gw.Close())
	require.Less(t, bomb.Len(), 64<<10, "a real bomb: tiny on the wire")

	t.Run("bomb", func(t *testing.T) {
		t.Parallel()
		r, err := DecodeBody(bytes.NewReader(bomb.Bytes()), "gzip", 1<<20)
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, r)
		require.ErrorIs(t, err, ErrTooLarge)
		require.Equal(t, int64(1<<20), n)
	})
	t.Run("bomb through ParseEnvelope", func(t *testing.T) {
		t.Parallel()
		var b bytes.Buffer
		gw := gzip.NewWriter(&b)
		_, _ = gw.Write([]byte("{}\n{\"type\":\"attachment\"}\n"))
		_, _ = gw.Write(bytes.Repeat([]byte{'a'}, 4<<20))
		require.NoError(t, gw.Close())
		r, err := DecodeBody(&b, "gzip", 1<<20)
		require.NoError(t, err)
		_, err = ParseEnvelope(r, Limits{})
		require.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("exactly at limit", func(t *testing.T) {
		t.Parallel()
		r, err := DecodeBody(bytes.NewReader(bomb.Bytes()), "gzip", 10<<20)
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, r)
		require.NoError(t, err)
		require.Equal(t, int64(10<<20), n)
	})
	t.Run("identity over limit", func(t *testing.T) {
		t.Parallel()
		r, err := DecodeBody(strings.NewReader("0123456789"), "", 5)
		require.NoError(t, err)
		_, err = io.ReadAll(r)
		require.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("not gzip", func(t *testing.T) {
		t.Parallel()
		_, err := DecodeBody(strings.NewReader("plain text"), "gzip", 0)
		require.ErrorIs(t, err, ErrFormat)
	})
	t.Run("truncated gzip", func(t *testing.T) {
		t.Parallel()
		r, err := DecodeBody(bytes.NewReader(bomb.Bytes()[:bomb.Len()/2]), "gzip", 0)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, r)
		require.ErrorIs(t, err, ErrFormat)
	})
	t.Run("corrupt deflate", func(t *testing.T) {
		t.Parallel()
		r, err := DecodeBody(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}), "deflate", 0)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, r)
		require.ErrorIs(t, err, ErrFormat)
	})
	for _, enc := range []string{"br", "zstd", "compress"} {
		t.Run("unsupported "+enc, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeBody(strings.NewReader(""), enc, 0)
			require.ErrorIs(t, err, ErrUnsupportedEncoding)
		})
	}
}

func TestWriteEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, WriteEnvelope(&b, map[string]any{"sent_at": "2024-05-01T10:00:00Z"},
		OutItem{Type: ItemSession, Payload: []byte(`{"a":1}`), ImplicitSize: true},
		OutItem{Type: "attachment", Payload: []byte("line1\nline2")},
	))
	env, err := ParseEnvelope(&b, Limits{})
	require.NoError(t, err)
	require.Len(t, env.Items, 2)
	require.Equal(t, `{"a":1}`, string(env.Items[0].Payload))
	require.Equal(t, int64(11), env.Items[1].Length)

	err = WriteEnvelope(io.Discard, map[string]any{}, OutItem{Type: "x", Payload: []byte("a\nb"), ImplicitSize: true})
	require.ErrorContains(t, err, "implicit size")
}
