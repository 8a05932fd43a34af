package chave

import (
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
	// TokenIDLen is the length of an access token's jti: crypto/rand's
	// Text, 26 characters of the base32 alphabet (130 bits).
	TokenIDLen = 26
	// FamilyIDBytes is the size of a refresh-token family id, which is
	// written as unpadded base64url (22 characters).
	FamilyIDBytes = 16
)

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
