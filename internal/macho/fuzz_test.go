package macho

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add(tinyDylib())
	f.Add([]byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1d, 0, 0, 0, 16, 0, 0, 0, 48, 0, 0, 0, 12, 0, 0, 0, 0xfa, 0xde, 0x0c, 0xc0, 0, 0, 0, 12, 0, 0, 0, 0})
	f.Add([]byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 1, 1, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 32, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(bytes.NewReader(b), int64(len(b)), Limits{})
		if err != nil {
			return
		}
		for _, s := range file.Slices {
			_ = s.Arch()
		}
		_, _ = VerifyFile(b, VerifyInputs{}, Limits{})
	})
}

func FuzzParseSignature(f *testing.F) {
	f.Add(EmptyRequirements())
	f.Add(BuildSuperBlob([]Blob{{Slot: SlotRequirements, Data: EmptyRequirements()}}))
	cds, _ := BuildCodeDirectories(make([]byte, 5000), []CodeDirectoryParams{{Ident: "a", HashType: HashSHA256, PageSizeLog2: 12, CodeLimit: 5000, Special: [8][]byte{1: {1}}}})
	f.Add(BuildSuperBlob([]Blob{{Slot: 0, Data: cds[0]}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSignature(b, Limits{})
		if err != nil {
			return
		}
		for _, cd := range s.CodeDirectories {
			_ = cd.CDHash()
		}
		_, _ = ParseCMS(s.CMS())
	})
}

func FuzzParseCMS(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x24, 0x80, 0x04, 0x02, 'a', 'b', 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0x30, 0x03, 0x06, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCMS(b)
		if err != nil {
			return
		}
		_ = c.Attribute(OIDCDHashes)
		_, _ = c.Verify([]byte("x"))
	})
}

// FuzzSignSlice signs arbitrary input ad hoc: it must fail cleanly or
// produce a slice that verifies.
func FuzzSignSlice(f *testing.F) {
	f.Add(tinyDylib())
	signed, _ := SignSlice(context.Background(), tinyDylib(), SignParams{Ident: "seed"})
	f.Add(signed)
	f.Add([]byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1d, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := SignSlice(t.Context(), b, SignParams{Ident: "fuzz"})
		if err != nil {
			return
		}
		if _, err := VerifyFile(out, VerifyInputs{}, Limits{}); err != nil {
			t.Fatalf("signed output does not verify: %v", err)
		}
	})
}

// tinyDylib is a minimal arm64 MH_DYLIB: __TEXT with one section and an
// empty __LINKEDIT, small enough to fuzz.
func tinyDylib() []byte {
	const textSize, linkSize = 0x2000, 0x20
	b := make([]byte, textSize+linkSize)
	le := binary.LittleEndian
	le.PutUint32(b, Magic64)
	le.PutUint32(b[4:], CPUARM64)
	le.PutUint32(b[12:], TypeDylib)
	le.PutUint32(b[16:], 2)
	le.PutUint32(b[20:], 72+80+72)
	c := b[32:]
	le.PutUint32(c, LoadSegment64)
	le.PutUint32(c[4:], 72+80)
	copy(c[8:], "__TEXT")
	le.PutUint64(c[32:], textSize)
	le.PutUint64(c[48:], textSize)
	le.PutUint32(c[64:], 1)
	s := c[72:]
	copy(s, "__text")
	copy(s[16:], "__TEXT")
	le.PutUint64(s[32:], 0x100)
	le.PutUint32(s[48:], 0x1000)
	c = b[32+72+80:]
	le.PutUint32(c, LoadSegment64)
	le.PutUint32(c[4:], 72)
	copy(c[8:], "__LINKEDIT")
	le.PutUint64(c[24:], textSize)
	le.PutUint64(c[32:], linkSize)
	le.PutUint64(c[40:], textSize)
	le.PutUint64(c[48:], linkSize)
	return b
}
