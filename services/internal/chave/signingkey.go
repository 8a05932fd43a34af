package chave

import "time"

// SigningKey is one key that signs access tokens, as the database keeps
// it: its lifecycle in plain columns and its private part sealed
// (AES-256-GCM under the key-encryption key, bound to the kid), so that a
// copy of the database alone signs nothing. Package signing seals and
// opens it; storage stores what it is given.
type SigningKey struct {
	ID        string // kid
	Algorithm string // ES256, EdDSA, RS256 or HS512
	Sealed    []byte // the private JWK, sealed
	// CreateTime is when the key was generated and published.
	CreateTime time.Time
	// ActivateTime is when it starts signing.
	ActivateTime time.Time
	// RetireTime is when it stops signing; zero until a rotation replaces it.
	RetireTime time.Time
	// RevokeTime is when an emergency rotation withdrew it: from then on no
	// token it signed is accepted. Zero for a key never revoked. A revoked
	// key is kept (unpublished) until every token it signed has expired,
	// so that a revocation set rebuilt from the database still names it.
	RevokeTime time.Time
}
