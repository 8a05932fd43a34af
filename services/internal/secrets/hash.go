package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
)

// MinKeyLen is the shortest hashing or encryption key accepted.
const MinKeyLen = 32

// Hasher computes keyed hashes (HMAC-SHA-256) of client secrets. A secret
// with 256 random bits needs no slow password hash; the server key means a
// stolen database alone cannot even confirm a guess.
//
// The keyed state (the key's inner and outer pads, absorbed) is prepared
// once and cloned per hash, instead of padding the key on every call.
type Hasher struct {
	key      []byte
	prepared hash.Cloner // nil: hmac.New on every call
}

// NewHasher returns a Hasher with a key of at least MinKeyLen bytes.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("secrets: hashing key shorter than 32 bytes")
	}
	h := &Hasher{key: append([]byte(nil), key...)}
	m := hmac.New(sha256.New, h.key)
	m.Reset() // saves the pads' absorbed state for every clone
	if c, ok := m.(hash.Cloner); ok {
		if _, err := c.Clone(); err == nil {
			h.prepared = c
		}
	}
	return h, nil
}

// Hash returns the keyed hash of the secret.
func (h *Hasher) Hash(s ClientSecret) []byte {
	var m hash.Hash
	if h.prepared != nil {
		if c, err := h.prepared.Clone(); err == nil {
			m = c
		}
	}
	if m == nil {
		m = hmac.New(sha256.New, h.key)
	}
	m.Write([]byte(s.s))
	return m.Sum(make([]byte, 0, sha256.Size))
}

// Verify reports, in constant time, whether the secret hashes to want.
func (h *Hasher) Verify(s ClientSecret, want []byte) bool {
	return hmac.Equal(h.Hash(s), want)
}
