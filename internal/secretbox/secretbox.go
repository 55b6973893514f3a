// Package secretbox encrypts small secrets at rest (store credentials,
// signing keys and their passwords) with AES-256-GCM.
//
// A sealed value is
//
//	version (1 byte) | key id (1 byte) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//
// The nonce is random per seal; with at most a few thousand seals per key
// the chance of a repeat is negligible. The key id is derived from the key
// itself, so a value sealed under another key is recognised as such before
// any decryption is tried, and several keys can be held at once when the
// key rotates (the first seals, all open). The version and key id bytes are
// authenticated together with the caller's associated data, which binds a
// ciphertext to the row it was written for: moved to another row it no
// longer opens.
//
// Threat model: someone who reads the database (a backup, a replica, a
// leaked dump) learns nothing of the secrets and cannot swap them between
// rows unnoticed. Someone who holds the key as well can read everything;
// keep it out of the database and its backups.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

const (
	version1   = 1
	headerSize = 2
	nonceSize  = 12
	overhead   = headerSize + nonceSize + 16
)

// Sentinels callers match to tell the operator what to fix.
var (
	// ErrUnknownKey is returned by Open for a value sealed under a key the
	// box does not hold: the configured key is not the one used before.
	ErrUnknownKey = errors.New("secretbox: sealed with a different key")
	// ErrOpen is returned by Open when authentication fails: the value was
	// changed, truncated, or belongs to another row (associated data).
	ErrOpen = errors.New("secretbox: cannot open: the value was tampered with or belongs elsewhere")
	// ErrFormat is returned by Open for a value too short or of an unknown
	// version to have been written by Seal.
	ErrFormat = errors.New("secretbox: not a sealed value")
)

// Box seals with its current key and opens with any key it holds.
type Box struct {
	current byte
	aeads   map[byte]cipher.AEAD
}

// New builds a box that seals with current and opens values sealed with
// current or any of previous (keys being rotated out). Every key must be
// KeySize bytes, and no two may share a key id (a 1-in-256 chance for two
// random keys; generate another).
func New(current []byte, previous ...[]byte) (*Box, error) {
	b := &Box{aeads: map[byte]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secretbox: key %d is %d bytes; use %d random bytes (openssl rand -base64 32)", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %d: %w", i, err)
		}
		id := KeyID(k)
		if _, dup := b.aeads[id]; dup {
			return nil, fmt.Errorf("secretbox: key %d has the same key id %d as an earlier key; generate another key", i, id)
		}
		b.aeads[id] = aead
		if i == 0 {
			b.current = id
		}
	}
	return b, nil
}

// KeyID is the one-byte identifier of key written in front of everything
// it seals: the first byte of an HMAC of a fixed label under the key, so it
// reveals nothing about the key.
func KeyID(key []byte) byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ripcord secretbox key id v1"))
	return m.Sum(nil)[0]
}

// CurrentKeyID is the key id Seal writes.
func (b *Box) CurrentKeyID() byte { return b.current }

// Seal encrypts plaintext under the current key, authenticating
// associatedData (which is not stored: Open needs the same bytes).
func (b *Box) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, headerSize+nonceSize, overhead+len(plaintext))
	out[0], out[1] = version1, b.current
	if _, err := rand.Read(out[headerSize:]); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	nonce := out[headerSize : headerSize+nonceSize]
	return b.aeads[b.current].Seal(out, nonce, plaintext, additional(out[:headerSize], associatedData)), nil
}

// Open decrypts a value Seal returned for the same associatedData. It
// returns ErrFormat, ErrUnknownKey or ErrOpen, and never a partial
// plaintext.
func (b *Box) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < overhead || sealed[0] != version1 {
		return nil, ErrFormat
	}
	id := sealed[1]
	aead, ok := b.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w (key id %d; the configured key has id %d)", ErrUnknownKey, id, b.current)
	}
	nonce := sealed[headerSize : headerSize+nonceSize]
	pt, err := aead.Open(nil, nonce, sealed[headerSize+nonceSize:], additional(sealed[:headerSize], associatedData))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// SealedKeyID returns the key id a sealed value was written with.
func SealedKeyID(sealed []byte) (byte, error) {
	if len(sealed) < overhead || sealed[0] != version1 {
		return 0, ErrFormat
	}
	return sealed[1], nil
}

// additional authenticates the header with the caller's data, so neither
// the version nor the key id can be edited.
func additional(header, ad []byte) []byte {
	out := make([]byte, 0, len(header)+len(ad))
	return append(append(out, header...), ad...)
}
