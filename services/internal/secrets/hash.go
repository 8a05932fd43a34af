package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
)

// MinKeyLen is the shortest hashing or encryption key accepted.
const MinKeyLen = 32

// Hasher computes keyed hashes (HMAC-SHA-256) of client secrets. A secret
// with 256 random bits needs no slow password hash; the server key means a
// stolen database alone cannot even confirm a guess.
type Hasher struct{ key []byte }

// NewHasher returns a Hasher with a key of at least MinKeyLen bytes.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("secrets: hashing key shorter than 32 bytes")
	}
	return &Hasher{key: append([]byte(nil), key...)}, nil
}

// Hash returns the keyed hash of the secret.
func (h *Hasher) Hash(s ClientSecret) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(s.s))
	return m.Sum(nil)
}

// Verify reports, in constant time, whether the secret hashes to want.
func (h *Hasher) Verify(s ClientSecret, want []byte) bool {
	return hmac.Equal(h.Hash(s), want)
}
