package verify

import (
	"slices"
	"time"
)

// Claims are the claims of a chave access token (RFC 9068). The same type
// describes what the auth service signs and what Verify returns.
type Claims struct {
	// Issuer (iss) is the auth service's issuer URL.
	Issuer string
	// Subject (sub) is the client id of the credential the token was
	// issued to.
	Subject string
	// ClientID (client_id) is the client id, as RFC 9068 requires.
	ClientID string
	// Audience (aud) names the resource servers the token is meant for.
	Audience []string
	// IssuedAt (iat) and Expiry (exp) have a precision of one second.
	IssuedAt time.Time
	Expiry   time.Time
	// ID (jti) identifies the token; revocation lists refer to it.
	ID string
	// Scopes (scope, space-separated on the wire) are the context ids the
	// token reaches, in the token's order (chave signs them sorted).
	Scopes []string
	// TenantID (tenantid) is the tenant (company) the credential belongs
	// to. The claim name is the one TSS clients read.
	TenantID string
	// SessionID (sid) is the refresh-token family the token was issued
	// in; empty for a token issued without a refresh token. Optional:
	// Verify accepts tokens without it. Revoking the family revokes the
	// tokens that carry it, so a revocation check consults it along with ID.
	SessionID string
	// SecretVersion (sv) names the credential's secret the token was
	// issued under; rotating the secret revokes every token that carries
	// the old one (see package revocation). Optional: tokens of chave
	// releases before it carry none.
	SecretVersion string
	// KeyID is the kid of the key that signed the token, from its header:
	// Verify sets it, so that a revocation check can refuse every token of
	// a key withdrawn after a leak. Sign ignores it.
	KeyID string
}

// HasScope reports whether the token reaches the scope.
func (c Claims) HasScope(scope string) bool {
	return slices.Contains(c.Scopes, scope)
}
