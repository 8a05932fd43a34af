// Package secrets generates, checks and protects credential secrets: client
// secrets with a recognisable prefix and checksum, their keyed hashes, and
// the encryption of secret token parameters at rest.
package secrets

import (
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/big"
	"strings"
)

// SecretPrefix starts every client secret, so that scanners can recognise a
// leaked one (as GitHub's ghp_ does).
const SecretPrefix = "chave_sk_"

// ClientIDPrefix starts every client id.
const ClientIDPrefix = "chave_ci_"

const (
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	secretBytes    = 32 // 256 bits of entropy
	secretBodyLen  = 43 // ceil(256 / log2(62))
	checksumLen    = 6  // ceil(32 / log2(62))
	clientIDBytes  = 16
	clientIDLen    = 22
	// SecretLen is the length of every client secret.
	SecretLen = len(SecretPrefix) + secretBodyLen + checksumLen
)

// ErrMalformed reports a string that is not a well-formed client secret.
var ErrMalformed = errors.New("malformed client secret")

// ClientSecret is a client secret. It prints redacted; Reveal returns it.
type ClientSecret struct{ s string }

// NewClientSecret returns a fresh secret: the prefix, 256 random bits in
// base62, and a CRC-32 checksum of what precedes it in base62.
func NewClientSecret() (ClientSecret, error) {
	body, err := randomBase62(secretBytes, secretBodyLen)
	if err != nil {
		return ClientSecret{}, fmt.Errorf("new client secret: %w", err)
	}
	s := SecretPrefix + body
	return ClientSecret{s: s + checksum(s)}, nil
}

// ParseClientSecret checks the prefix, length, alphabet and checksum. It
// rejects typos and foreign strings before any hashing.
func ParseClientSecret(s string) (ClientSecret, error) {
	if len(s) != SecretLen || !strings.HasPrefix(s, SecretPrefix) {
		return ClientSecret{}, ErrMalformed
	}
	for i := len(SecretPrefix); i < len(s); i++ {
		if strings.IndexByte(base62Alphabet, s[i]) < 0 {
			return ClientSecret{}, ErrMalformed
		}
	}
	split := len(s) - checksumLen
	if checksum(s[:split]) != s[split:] {
		return ClientSecret{}, ErrMalformed
	}
	return ClientSecret{s: s}, nil
}

// Reveal returns the secret itself: only for the one response that shows it.
func (c ClientSecret) Reveal() string { return c.s }

// String redacts the secret.
func (c ClientSecret) String() string { return SecretPrefix + "[REDACTED]" }

// LogValue redacts the secret in structured logs.
func (c ClientSecret) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString redacts the secret in %#v.
func (c ClientSecret) GoString() string { return c.String() }

// NewClientID returns a fresh public client id.
func NewClientID() (string, error) {
	body, err := randomBase62(clientIDBytes, clientIDLen)
	if err != nil {
		return "", fmt.Errorf("new client id: %w", err)
	}
	return ClientIDPrefix + body, nil
}

// IsClientID reports whether s has the shape of a client id: the prefix
// and 22 base62 characters.
func IsClientID(s string) bool {
	if len(s) != len(ClientIDPrefix)+clientIDLen || !strings.HasPrefix(s, ClientIDPrefix) {
		return false
	}
	for i := len(ClientIDPrefix); i < len(s); i++ {
		if strings.IndexByte(base62Alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// LoggableClientID is what a log may say of a client id a caller sent: the
// id itself when it has a client id's shape, and otherwise only its length.
// A client that swapped its id and secret sends the secret as its id.
func LoggableClientID(s string) string {
	if IsClientID(s) {
		return s
	}
	return fmt.Sprintf("[not a client id, %d bytes]", len(s))
}

func checksum(s string) string {
	return encodeBase62(new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(s)))), checksumLen)
}

func randomBase62(n, width int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return encodeBase62(new(big.Int).SetBytes(b), width), nil
}

// encodeBase62 writes v in base62, left-padded with zeros to width.
func encodeBase62(v *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		v.DivMod(v, base, mod)
		out[i] = base62Alphabet[mod.Int64()]
	}
	return string(out)
}
