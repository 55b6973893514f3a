package sentry

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseEnvelope checks that any body, plain or as a gzip stream, parses
// or fails with a classified error, and that Decode never panics and keeps
// its per-item accounting.
func FuzzParseEnvelope(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, filepath.Ext(n) == ".gz")
	}
	f.Add([]byte("{}\n{\"type\":\"session\",\"length\":3}\n{}}\n"), false)
	f.Add([]byte("{}\n{\"type\":\"sessions\"}\n{\"aggregates\":[{\"started\":1,\"exited\":1}],\"attrs\":{\"release\":\"a@1\"}}"), false)
	lim := Limits{MaxEnvelopeBytes: 1 << 20, MaxEventBytes: 64 << 10, MaxSessionBytes: 64 << 10}
	recv := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, gz bool) {
		enc := ""
		if gz {
			enc = "gzip"
		}
		r, err := DecodeBody(bytes.NewReader(data), enc, 1<<20)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("DecodeBody: unclassified error %v", err)
			}
			return
		}
		env, err := ParseEnvelope(r, lim)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		for i, it := range env.Items {
			if it.Index != i || it.Size < 0 || (it.Length >= 0 && it.Length != it.Size) {
				t.Fatalf("item %d inconsistent: %+v", i, it)
			}
		}
		for _, res := range []Result{env.Decode(), env.DecodeAt(recv)} {
			n := len(res.Sessions) + len(res.Aggregates) + len(res.Events) + len(res.Skipped)
			for _, d := range res.Dropped {
				if d.Bucket < 0 {
					n++
				}
			}
			if n != len(env.Items) {
				t.Fatalf("%d items accounted for, %d parsed", n, len(env.Items))
			}
			for _, s := range res.Sessions {
				if s.Status == StatusCrashed && s.Errors < 1 {
					t.Fatal("crashed session without errors")
				}
			}
		}
	})
}

// FuzzParseAuth checks that auth parsing never panics and only returns
// well-formed keys.
func FuzzParseAuth(f *testing.F) {
	f.Add("Sentry sentry_version=7, sentry_key=e12d836b15bb49d7bbf99e64295d995b, sentry_client=x/1", "")
	f.Add("", "sentry_key=abc&sentry_version=7")
	f.Add("sentry sentry_key==,=,", "sentry_key=%zz")
	f.Fuzz(func(t *testing.T, header, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery)
		key, err := ParseAuth(header, q)
		if err == nil && !validKey(key) {
			t.Fatalf("invalid key %q accepted", key)
		}
		if err != nil && !errors.Is(err, ErrAuthInvalid) && !errors.Is(err, ErrAuthMissing) {
			t.Fatalf("unclassified error %v", err)
		}
		if d, err := ParseDSN(header); err == nil {
			if again, err := ParseDSN(d.String()); err != nil || again != d {
				t.Fatalf("DSN %q does not round-trip: %v", header, err)
			}
		}
	})
}

// FuzzParseRelease checks that a parsed release puts its parts back together.
func FuzzParseRelease(f *testing.F) {
	for _, s := range []string{"com.acme.app@1.2.0+456", "1.0+1", "@scope/x@1", "pkg@", "a@b@c+d+e", "latest"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pkg, version, build, ok := ParseRelease(s)
		if !ok {
			return
		}
		if version == "" {
			t.Fatal("ok without version")
		}
		got := version
		if build != "" {
			got += "+" + build
		}
		if pkg != "" {
			got = pkg + "@" + got
		}
		if !validRelease(got) {
			t.Fatalf("%q reassembles to invalid %q", s, got)
		}
	})
}

// FuzzScanSession checks the fast session scanner against encoding/json:
// whenever the scanner answers, the fields it read equal what
// encoding/json reads from the same bytes.
func FuzzScanSession(f *testing.F) {
	f.Add([]byte(`{"sid":"7c8f8a3e-1f2b-4c3d-8e9f-0a1b2c3d4e5f","did":"dev-1","seq":0,"init":true,"started":"2024-05-01T10:00:00.000Z","timestamp":"2024-05-01T10:00:01Z","status":"ok","errors":0,"duration":1.5,"attrs":{"release":"a@1.0+1","environment":"production"}}`))
	f.Add([]byte(`{"SID":"x","attrs":null}`))
	f.Add([]byte(`{"sid":"a","sid":"b"}`))
	f.Add([]byte(`{"seq":1e3,"errors":-0,"started":1714557600.5,"attrs":{"release":"\u0061"}}`))
	f.Add([]byte(` { } `))
	f.Add([]byte(`{"x":[1,2],"init":null,"duration":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast rawSession
		if !scanSession(data, &fast) {
			return
		}
		var slow rawSession
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("scanner accepted what encoding/json refuses (%v): %q", err, data)
		}
		a, _ := json.Marshal(fast)
		b, _ := json.Marshal(slow)
		if string(a) != string(b) {
			t.Fatalf("scanner read %s, encoding/json %s, from %q", a, b, data)
		}
	})
}

// FuzzScanItemHeader checks the fast item header scanner against
// encoding/json, as FuzzScanSession does for sessions.
func FuzzScanItemHeader(f *testing.F) {
	f.Add([]byte(`{"type":"session"}`))
	f.Add([]byte(`{"type":"attachment","length":12,"content_type":"text/plain","filename":"a.txt"}`))
	f.Add([]byte(`{"Type":"event"}`))
	f.Add([]byte(`{"type":"event","type":"x","length":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast rawItemHeader
		if !scanItemHeader(data, &fast) {
			return
		}
		var slow rawItemHeader
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("scanner accepted what encoding/json refuses (%v): %q", err, data)
		}
		a, _ := json.Marshal(fast)
		b, _ := json.Marshal(slow)
		if string(a) != string(b) {
			t.Fatalf("scanner read %s, encoding/json %s, from %q", a, b, data)
		}
	})
}
