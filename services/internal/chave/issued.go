package chave

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"time"
)

// The longest lifetimes of what the auth service issues. The auth service
// refuses configurations beyond them, and the registry refuses to be told
// of issued tokens that would outlive them, so that nobody can write
// century-long revocation entries.
const (
	// MaxAccessTokenLifetime bounds every access token.
	MaxAccessTokenLifetime = 24 * time.Hour
	// MaxRefreshFamilyLifetime bounds a refresh-token family, however
	// often its tokens are refreshed.
	MaxRefreshFamilyLifetime = 366 * 24 * time.Hour
	// MaxClockSkew is the most that verifiers tolerate between their
	// clocks and the issuer's (verify.MaxLeeway): expiries the registry
	// is told may run this far past the lifetimes above.
	MaxClockSkew = 5 * time.Minute
)

// Issued-token ids: what the auth service generates, and all the registry
// accepts.
const (
	// TokenIDLen is the length of an access token's jti: 26 characters of
	// the base32 alphabet (NewTokenID; earlier releases used crypto/rand's
	// Text, of the same form).
	TokenIDLen = 26
	// FamilyIDBytes is the size of a refresh-token family id, which is
	// written as unpadded base64url (22 characters).
	FamilyIDBytes = 16
)

// An access token's jti is bound to its client: 10 random bytes and the
// first 6 bytes of SHA-256 over the client id and them, 16 bytes written
// in unpadded base32 (TokenIDLen characters). No key is involved: whoever
// holds a jti can tell which client it was issued to, and nobody can make
// another client's jti pass for their own, so the registry refuses to
// revoke a jti for a client it was not issued to without knowing the
// token.
const (
	tokenIDRandomBytes = 10
	tokenIDTagBytes    = 6
)

var tokenIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTokenID returns a new jti for an access token of clientID.
func NewTokenID(clientID string) string {
	b := make([]byte, tokenIDRandomBytes, tokenIDRandomBytes+tokenIDTagBytes)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return tokenIDEncoding.EncodeToString(append(b, tokenIDTag(clientID, b)...))
}

// TokenIDIssuedTo reports whether id is a jti NewTokenID made for clientID.
func TokenIDIssuedTo(id, clientID string) bool {
	if !ValidTokenID(id) {
		return false
	}
	b, err := tokenIDEncoding.DecodeString(id)
	if err != nil || len(b) != tokenIDRandomBytes+tokenIDTagBytes || tokenIDEncoding.EncodeToString(b) != id {
		return false
	}
	return bytes.Equal(b[tokenIDRandomBytes:], tokenIDTag(clientID, b[:tokenIDRandomBytes]))
}

func tokenIDTag(clientID string, random []byte) []byte {
	h := sha256.New()
	h.Write([]byte("chave jti\x00"))
	h.Write([]byte(clientID))
	h.Write([]byte{0})
	h.Write(random)
	return h.Sum(nil)[:tokenIDTagBytes]
}

// ValidTokenID reports whether id has the form of an access token's jti.
func ValidTokenID(id string) bool {
	if len(id) != TokenIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// ValidFamilyID reports whether id has the form of a refresh-token family
// id: FamilyIDBytes as unpadded base64url, in its one canonical spelling.
func ValidFamilyID(id string) bool {
	enc := base64.RawURLEncoding.Strict()
	if len(id) != enc.EncodedLen(FamilyIDBytes) {
		return false
	}
	b, err := enc.DecodeString(id)
	return err == nil && len(b) == FamilyIDBytes
}
