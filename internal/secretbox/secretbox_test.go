package secretbox_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/secretbox"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, secretbox.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// otherKey returns a key whose id differs from k's, so tests of "another
// key" do not depend on a 1-in-256 collision.
func otherKey(t *testing.T, k []byte) []byte {
	t.Helper()
	for {
		o := newKey(t)
		if secretbox.KeyID(o) != secretbox.KeyID(k) {
			return o
		}
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	box, err := secretbox.New(key)
	require.NoError(t, err)
	secret := []byte("-----BEGIN PRIVATE KEY----- very secret")
	ad := []byte("app 1 asc_api_key")

	sealed, err := box.Seal(secret, ad)
	require.NoError(t, err)
	require.False(t, bytes.Contains(sealed, secret), "the plaintext must not appear in the sealed value")
	id, err := secretbox.SealedKeyID(sealed)
	require.NoError(t, err)
	require.Equal(t, secretbox.KeyID(key), id)
	require.Equal(t, box.CurrentKeyID(), id)

	again, err := box.Seal(secret, ad)
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "every seal uses a fresh nonce")

	got, err := box.Open(sealed, ad)
	require.NoError(t, err)
	require.Equal(t, secret, got)
}

func TestOpenFailures(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	box, err := secretbox.New(key)
	require.NoError(t, err)
	ad := []byte("app 1 android_keystore")
	sealed, err := box.Seal([]byte("storepass"), ad)
	require.NoError(t, err)

	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		sealed []byte
		ad     []byte
		is     error
	}{
		{"ErrTamperedCiphertext", flip(len(sealed) - 20), ad, secretbox.ErrOpen},
		{"ErrTamperedTag", flip(len(sealed) - 1), ad, secretbox.ErrOpen},
		{"ErrTamperedNonce", flip(3), ad, secretbox.ErrOpen},
		{"ErrWrongAssociatedData", sealed, []byte("app 2 android_keystore"), secretbox.ErrOpen},
		{"ErrNoAssociatedData", sealed, nil, secretbox.ErrOpen},
		{"ErrTruncated", sealed[:len(sealed)-1], ad, secretbox.ErrOpen},
		{"ErrTooShort", sealed[:10], ad, secretbox.ErrFormat},
		{"ErrUnknownVersion", flip(0), ad, secretbox.ErrFormat},
		{"ErrEditedKeyID", flip(1), ad, secretbox.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pt, err := box.Open(tt.sealed, tt.ad)
			require.ErrorIs(t, err, tt.is)
			require.Nil(t, pt)
		})
	}
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	box, err := secretbox.New(key)
	require.NoError(t, err)
	sealed, err := box.Seal([]byte("secret"), []byte("ad"))
	require.NoError(t, err)

	other, err := secretbox.New(otherKey(t, key))
	require.NoError(t, err)
	_, err = other.Open(sealed, []byte("ad"))
	require.ErrorIs(t, err, secretbox.ErrUnknownKey)
}

// TestRotation shows a box holding the previous key opens old values and
// seals new ones under its current key.
func TestRotation(t *testing.T) {
	t.Parallel()
	oldKey := newKey(t)
	newK := otherKey(t, oldKey)
	oldBox, err := secretbox.New(oldKey)
	require.NoError(t, err)
	sealed, err := oldBox.Seal([]byte("secret"), []byte("ad"))
	require.NoError(t, err)

	rotated, err := secretbox.New(newK, oldKey)
	require.NoError(t, err)
	got, err := rotated.Open(sealed, []byte("ad"))
	require.NoError(t, err)
	require.Equal(t, []byte("secret"), got)
	resealed, err := rotated.Seal(got, []byte("ad"))
	require.NoError(t, err)
	id, err := secretbox.SealedKeyID(resealed)
	require.NoError(t, err)
	require.Equal(t, secretbox.KeyID(newK), id)
	_, err = oldBox.Open(resealed, []byte("ad"))
	require.ErrorIs(t, err, secretbox.ErrUnknownKey)
}

func TestNewRejectsBadKeys(t *testing.T) {
	t.Parallel()
	_, err := secretbox.New(make([]byte, 16))
	require.ErrorContains(t, err, "16 bytes")
	_, err = secretbox.New(nil)
	require.Error(t, err)
	k := newKey(t)
	_, err = secretbox.New(k, k)
	require.ErrorContains(t, err, "same key id")
}
