package chave

import "time"

// Reasons a refresh family was revoked.
const (
	FamilyRevokedByClient = "revoked" // RFC 7009 revocation
	FamilyRevokedOnReuse  = "reuse"   // a used refresh token came back
)

// RefreshFamily is the state of a refresh-token family: the chain of
// refresh tokens descended from one grant. Refresh tokens themselves are
// never stored; each carries its family and generation, and the family
// records how many have been used, so issuing one writes nothing.
type RefreshFamily struct {
	ID       string
	ClientID string
	// Generation counts the family's uses: the token of this generation is
	// the only one still good.
	Generation   int64
	CreateTime   time.Time // first use
	ExpireTime   time.Time // absolute; no token of the family outlives it
	RevokeTime   time.Time // zero: not revoked
	RevokeReason string    // FamilyRevokedByClient or FamilyRevokedOnReuse
}

// Revoked reports whether the family was revoked.
func (f RefreshFamily) Revoked() bool { return !f.RevokeTime.IsZero() }

// RevokedAccessToken records an access token revoked before it expired.
type RevokedAccessToken struct {
	ID         string // the jti
	ClientID   string
	ExpireTime time.Time // when it would have expired anyway
	RevokeTime time.Time
}
