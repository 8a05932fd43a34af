package secrets

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync/atomic"
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
//
// The keyed state of each version (the key's inner and outer pads,
// absorbed) is prepared once and cloned per hash, instead of padding the
// key on every call.
type Hasher struct {
	keys     KeyProvider
	prepared atomic.Pointer[map[int]preparedKey] // copied on write
}

// preparedKey is a version's key and its prepared HMAC state.
type preparedKey struct {
	key    []byte
	cloner hash.Cloner
}

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
	return NewProviderHasher(NewStaticProvider(Keys{Hash: SingleVersion(key)})), nil
}

// NewProviderHasher returns a Hasher over the hmac keys of p.
func NewProviderHasher(p KeyProvider) *Hasher { return &Hasher{keys: p} }

// mac returns the HMAC of the secret under version v's key, from the
// prepared state when there is one for that key.
func (h *Hasher) mac(v int, key []byte, s ClientSecret) []byte {
	var m hash.Hash
	if p, ok := h.preparedFor(v, key); ok {
		if c, err := p.Clone(); err == nil {
			m = c
		}
	}
	if m == nil {
		m = hmac.New(sha256.New, key)
	}
	m.Write([]byte(s.s))
	return m.Sum(make([]byte, 0, sha256.Size))
}

// preparedFor returns the prepared state of version v, preparing it when
// absent or when the version's key is not the one it was prepared from.
func (h *Hasher) preparedFor(v int, key []byte) (hash.Cloner, bool) {
	cur := h.prepared.Load()
	if cur != nil {
		if p, ok := (*cur)[v]; ok && bytes.Equal(p.key, key) {
			return p.cloner, true
		}
	}
	m := hmac.New(sha256.New, key)
	m.Reset() // saves the pads' absorbed state for every clone
	c, ok := m.(hash.Cloner)
	if !ok {
		return nil, false
	}
	if _, err := c.Clone(); err != nil {
		return nil, false
	}
	next := map[int]preparedKey{}
	if cur != nil {
		for k, p := range *cur {
			next[k] = p
		}
	}
	next[v] = preparedKey{key: bytes.Clone(key), cloner: c}
	h.prepared.CompareAndSwap(cur, &next) // a lost race only costs a rebuild later
	return c, true
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
	return SecretHash{Version: v, Sum: h.mac(v, key, s)}, nil
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
		out = append(out, SecretHash{Version: v.Version, Sum: h.mac(v.Version, v.Key, s)})
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
	return hmac.Equal(h.mac(v, key, s), want.Sum), nil
}
