package apksig

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/apk/apkzip"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// TestDigestMatchesApksigner recomputes the content digest of APKs signed
// by apksigner and by us, and checks each signer's signature.
func TestDigestMatchesApksigner(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"apksigner-rsa.apk", "apksigner-ec.apk", "ripcord-rsa.apk"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := fixture(t, name)
			r := bytes.NewReader(b)
			a, err := apkzip.Read(r, int64(len(b)), apkzip.Limits{})
			require.NoError(t, err)
			blk, err := FindBlock(r, a.CDOffset, Limits{})
			require.NoError(t, err)
			require.NotNil(t, blk)
			require.Zero(t, blk.Size%4096)
			eocd := bytes.Clone(b[a.EOCDOffset:])
			binary.LittleEndian.PutUint32(eocd[16:], uint32(blk.Offset))
			d, err := DigestFile(context.Background(), r, Section{0, blk.Offset}, Section{a.CDOffset, a.CDSize}, eocd, []int{DigestSHA256})
			require.NoError(t, err)
			for _, id := range []uint32{IDv2, IDv3} {
				signers, err := ParseSigners(blk.Pair(id), id != IDv2)
				require.NoError(t, err)
				require.Len(t, signers, 1)
				alg, claimed, err := VerifySigner(signers[0])
				require.NoError(t, err)
				require.Equal(t, DigestSHA256, DigestKind(alg))
				require.Equal(t, claimed, d[DigestSHA256])
			}
			// The streaming writer computes the same digest.
			cw := NewChunkWriter(&bytes.Buffer{})
			_, err = cw.ReadFrom(bytes.NewReader(b[:blk.Offset]))
			require.NoError(t, err)
			chunks, err := cw.Close()
			require.NoError(t, err)
			require.Equal(t, d[DigestSHA256], ContentDigest(chunks, b[a.CDOffset:a.EOCDOffset], eocd))
		})
	}
}

func TestChunkWriterLarge(t *testing.T) {
	t.Parallel()
	data := make([]byte, 5*ChunkSize+12345)
	_, err := rand.Read(data)
	require.NoError(t, err)
	var sink bytes.Buffer
	cw := NewChunkWriter(&sink)
	// Mixed write sizes cross chunk boundaries.
	for p := data; len(p) > 0; {
		n := min(len(p), 777777)
		_, err := cw.Write(p[:n])
		require.NoError(t, err)
		p = p[n:]
	}
	chunks, err := cw.Close()
	require.NoError(t, err)
	require.Equal(t, data, sink.Bytes())
	require.Len(t, chunks, 6)
	for i, c := range chunks {
		end := min((i+1)*ChunkSize, len(data))
		require.Equal(t, chunkDigest(DigestSHA256, data[i*ChunkSize:end]), c)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	digest := bytes.Repeat([]byte{7}, 32)
	// Certificates are opaque bytes to the encoder; signatures are checked
	// with each signer's public key.
	for _, tt := range []struct {
		name string
		v3   bool
	}{{"v2", false}, {"v3", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			val, err := EncodeSigners([]SignerTemplate{{Key: rsaKey, Certs: [][]byte{{1}}, MinSDK: 24, MaxSDK: 0x7fffffff, Attrs: []Attr{{ID: AttrStrippingProtection, Value: []byte{3, 0, 0, 0}}}}, {Key: ecKey, Certs: [][]byte{{2}}}}, digest, tt.v3)
			require.NoError(t, err)
			signers, err := ParseSigners(val, tt.v3)
			require.NoError(t, err)
			require.Len(t, signers, 2)
			require.Equal(t, []Attr{{ID: AttrStrippingProtection, Value: []byte{3, 0, 0, 0}}}, signers[0].Attrs)
			require.Equal(t, uint32(AlgRSAPKCS1SHA256), signers[0].Signatures[0].Alg)
			require.Equal(t, uint32(AlgECDSASHA256), signers[1].Signatures[0].Alg)
			if tt.v3 {
				require.Equal(t, uint32(24), signers[0].MinSDK)
			}
			for _, s := range signers {
				require.NoError(t, verifySig(s.PublicKey, s.Signatures[0].Alg, s.SignedData, s.Signatures[0].Bytes))
				bad := bytes.Clone(s.SignedData)
				bad[len(bad)-1] ^= 1
				require.Error(t, verifySig(s.PublicKey, s.Signatures[0].Alg, bad, s.Signatures[0].Bytes))
			}
		})
	}
}

func TestFindBlockFailure(t *testing.T) {
	t.Parallel()
	good := fixture(t, "apksigner-rsa.apk")
	a, err := apkzip.Read(bytes.NewReader(good), int64(len(good)), apkzip.Limits{})
	require.NoError(t, err)
	blk, err := FindBlock(bytes.NewReader(good), a.CDOffset, Limits{})
	require.NoError(t, err)
	mut := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		lim  Limits
		msg  string
	}{
		{name: "SizeFieldsDiffer", in: mut(func(b []byte) { b[blk.Offset]++ }), msg: "size fields differ"},
		{name: "SizeTooLarge", in: good, lim: Limits{MaxBlock: 100}, msg: "out of range"},
		{name: "PairLength", in: mut(func(b []byte) { binary.LittleEndian.PutUint64(b[blk.Offset+8:], 1<<40) }), msg: "pair length out of range"},
		{name: "PairTooShort", in: mut(func(b []byte) { binary.LittleEndian.PutUint64(b[blk.Offset+8:], 2) }), msg: "pair length out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := FindBlock(bytes.NewReader(tt.in), a.CDOffset, tt.lim)
			require.ErrorIs(t, err, ErrFormat)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func FuzzSigningBlock(f *testing.F) {
	for _, name := range []string{"apksigner-rsa.apk", "apksigner-ec.apk", "ripcord-rsa.apk"} {
		b := fixture(f, name)
		a, err := apkzip.Read(bytes.NewReader(b), int64(len(b)), apkzip.Limits{})
		require.NoError(f, err)
		blk, err := FindBlock(bytes.NewReader(b), a.CDOffset, Limits{})
		require.NoError(f, err)
		f.Add(b[blk.Offset:a.CDOffset])
		f.Add(blk.Pair(IDv2))
		f.Add(blk.Pair(IDv3))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if blk, err := FindBlock(bytes.NewReader(b), int64(len(b)), Limits{MaxBlock: 1 << 20}); err == nil && blk != nil {
			for _, p := range blk.Pairs {
				if signers, err := ParseSigners(p.Value, p.ID != IDv2); err == nil {
					for _, s := range signers {
						_, _, _ = VerifySigner(s)
						for _, a := range s.Attrs {
							_, _ = ParseLineage(a.Value)
						}
					}
				}
			}
		}
		for _, v3 := range []bool{false, true} {
			if signers, err := ParseSigners(b, v3); err == nil {
				for _, s := range signers {
					_, _, _ = VerifySigner(s)
				}
			}
		}
		_, _ = ParseLineage(b)
		_, _, _ = parseManifest(b)
	})
}
