package ipa_test

import (
	"testing"
	"time"

	"github.com/ripcordhq/ripcord/internal/ipa"
	"github.com/ripcordhq/ripcord/internal/ipa/ipatest"
)

func FuzzParseProfile(f *testing.F) {
	p := ipatest.NewPKI(f)
	f.Add(p.Profile(f, ipatest.ProfileSpec{Name: "n", Team: "T", AppID: "T.*", Expires: time.Unix(2e9, 0)}))
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		prof, err := ipa.ParseProfile(b)
		if err != nil {
			return
		}
		_ = prof.Covers("com.example")
		_ = ipa.CheckEntitlements(prof.Entitlements, prof.Entitlements)
	})
}
