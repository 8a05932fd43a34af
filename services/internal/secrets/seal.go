package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sealed values: "v1:" + base64url(nonce ‖ ciphertext) is sealed under key
// version 1 (the only form before key versions), and "v2:" + N + ":" +
// base64url(nonce ‖ ciphertext) under key version N. Values sealed under
// version 1 keep the first form, which earlier releases read.
const (
	sealedPrefix          = "v1:"
	sealedVersionedPrefix = "v2:"
)

// Sealer encrypts secret values at rest with AES-256-GCM. The additional
// data binds a ciphertext to its place (e.g. token id and parameter name),
// so a ciphertext copied elsewhere fails to open.
//
// The key has versions (KindSeal of its KeyProvider): values are sealed
// under the active version and name it; a value sealed under another
// version the ring holds still opens.
type Sealer struct{ keys KeyProvider }

// NewSealer returns a Sealer with one 32-byte key (version 1).
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("secrets: encryption key must be 32 bytes")
	}
	return &Sealer{keys: NewStaticProvider(Keys{Encryption: SingleVersion(key)})}, nil
}

// NewProviderSealer returns a Sealer over the seal keys of p.
func NewProviderSealer(p KeyProvider) *Sealer { return &Sealer{keys: p} }

func aeadOf(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext bound to aad under the active version and
// returns printable ciphertext.
func (s *Sealer) Seal(ctx context.Context, plaintext, aad string) (string, error) {
	r, err := keysOf(ctx, s.keys, KindSeal)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	v, key := r.ActiveKey()
	if key == nil {
		return "", fmt.Errorf("seal: %w: no active seal key", ErrUnknownKeyVersion)
	}
	aead, err := aeadOf(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plaintext), []byte(aad)))
	if v == 1 {
		return sealedPrefix + out, nil
	}
	return sealedVersionedPrefix + strconv.Itoa(v) + ":" + out, nil
}

// SealedVersion returns the key version a sealed value names, or false if
// it is not a sealed value.
func SealedVersion(sealed string) (int, bool) {
	v, _, err := splitSealed(sealed)
	return v, err == nil
}

func splitSealed(sealed string) (int, string, error) {
	if raw, ok := strings.CutPrefix(sealed, sealedPrefix); ok {
		return 1, raw, nil
	}
	rest, ok := strings.CutPrefix(sealed, sealedVersionedPrefix)
	if !ok {
		return 0, "", errors.New("open: not a sealed value")
	}
	vs, raw, ok := strings.Cut(rest, ":")
	v, err := strconv.Atoi(vs)
	if !ok || err != nil || v < 2 || strconv.Itoa(v) != vs {
		return 0, "", errors.New("open: malformed key version")
	}
	return v, raw, nil
}

// Open decrypts what Seal returned for the same aad, under whichever
// version sealed it.
func (s *Sealer) Open(ctx context.Context, sealed, aad string) (string, error) {
	v, raw, err := splitSealed(sealed)
	if err != nil {
		return "", err
	}
	key, err := keyOf(ctx, s.keys, KindSeal, v)
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	aead, err := aeadOf(key)
	if err != nil {
		return "", err
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) < aead.NonceSize() {
		return "", errors.New("open: malformed sealed value")
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, b[:n], b[n:], []byte(aad))
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	return string(plain), nil
}

// ActiveVersion returns the version Seal uses now.
func (s *Sealer) ActiveVersion(ctx context.Context) (int, error) {
	r, err := keysOf(ctx, s.keys, KindSeal)
	return r.Active, err
}
