package ipa

import (
	"testing"
	"time"

	"howett.net/plist"
)

func FuzzSetVersions(f *testing.F) {
	for _, format := range []int{plist.BinaryFormat, plist.XMLFormat} {
		b, _ := plist.Marshal(map[string]any{"CFBundleShortVersionString": "1.0", "CFBundleVersion": "1", "D": []byte{1}, "T": time.Unix(0, 0)}, format)
		f.Add(b)
	}
	f.Add([]byte("bplist00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := SetVersions(b, "1.2.3", "4")
		if err != nil {
			return
		}
		p, err := parsePlist(out)
		if err != nil {
			t.Fatalf("re-encoded plist does not parse: %v", err)
		}
		if p.str("CFBundleVersion") != "4" {
			t.Fatal("version not set")
		}
	})
}

func FuzzParseProfile(f *testing.F) {
	p := newPKI(f)
	f.Add(p.makeProfile(f, profileSpec{name: "n", team: "T", appID: "T.*", expires: time.Unix(2e9, 0)}))
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		prof, err := ParseProfile(b)
		if err != nil {
			return
		}
		_ = prof.Covers("com.example")
		_ = CheckEntitlements(prof.Entitlements, prof.Entitlements)
	})
}

func FuzzParseCodeResources(f *testing.F) {
	in := &resourceInput{
		files:    map[string]fileHash{"a": hashBytes([]byte("a")), "en.lproj/x": hashBytes(nil)},
		symlinks: map[string]string{"l": "a"},
		nested:   map[string]nestedSeal{"PlugIns/x.appex": {cdhash: make([]byte, 20), requirement: "r"}},
	}
	b, _ := buildCodeResources(in)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseCodeResources(b); err != nil {
			return
		}
		_ = checkCodeResources(b, in)
	})
}
