package secrets

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinKeyLen is the shortest hashing or encryption key accepted.
const MinKeyLen = 32

// Hasher computes keyed hashes (HMAC-SHA-256) of client secrets. A secret
// with 256 random bits needs no slow password hash; the server key means a
// stolen database alone cannot even confirm a guess.
//
// The key has versions (KindHMAC of its KeyProvider): a secret is hashed
// under the active version, and the hash is stored with its version, so a
// hash made under an older version still verifies until that version is
// retired.
type Hasher struct{ keys KeyProvider }

// SecretHash is a secret's keyed hash and the key version that made it.
type SecretHash struct {
	Version int
	Sum     []byte
}

// NewHasher returns a Hasher with one key (version 1) of at least
// MinKeyLen bytes.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("secrets: hashing key shorter than 32 bytes")
	}
	return &Hasher{keys: NewStaticProvider(Keys{Hash: SingleVersion(key)})}, nil
}

// NewProviderHasher returns a Hasher over the hmac keys of p.
func NewProviderHasher(p KeyProvider) *Hasher { return &Hasher{keys: p} }

func mac(key []byte, s ClientSecret) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s.s))
	return m.Sum(nil)
}

// Hash returns the keyed hash of the secret under the active version.
func (h *Hasher) Hash(ctx context.Context, s ClientSecret) (SecretHash, error) {
	r, err := keysOf(ctx, h.keys, KindHMAC)
	if err != nil {
		return SecretHash{}, fmt.Errorf("hash secret: %w", err)
	}
	v, key := r.ActiveKey()
	if key == nil {
		return SecretHash{}, fmt.Errorf("hash secret: %w: no active hmac key", ErrUnknownKeyVersion)
	}
	return SecretHash{Version: v, Sum: mac(key, s)}, nil
}

// Candidates returns the secret's hash under every version the ring holds,
// the active one first: what a lookup by hash (a leak report) tries.
func (h *Hasher) Candidates(ctx context.Context, s ClientSecret) ([]SecretHash, error) {
	r, err := keysOf(ctx, h.keys, KindHMAC)
	if err != nil {
		return nil, fmt.Errorf("hash secret: %w", err)
	}
	var out []SecretHash
	for _, v := range r.Usable() {
		out = append(out, SecretHash{Version: v.Version, Sum: mac(v.Key, s)})
	}
	return out, nil
}

// ActiveVersion returns the version Hash uses now.
func (h *Hasher) ActiveVersion(ctx context.Context) (int, error) {
	r, err := keysOf(ctx, h.keys, KindHMAC)
	return r.Active, err
}

// Verify reports, in constant time, whether the secret hashes to want
// under key version (0 is read as 1: hashes stored before versions). A
// version the ring does not hold fails with ErrUnknownKeyVersion.
func (h *Hasher) Verify(ctx context.Context, s ClientSecret, want SecretHash) (bool, error) {
	v := want.Version
	if v == 0 {
		v = 1
	}
	key, err := keyOf(ctx, h.keys, KindHMAC, v)
	if err != nil {
		return false, err
	}
	return hmac.Equal(mac(key, s), want.Sum), nil
}
