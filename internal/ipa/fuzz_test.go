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
