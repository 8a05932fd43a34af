package chave

import "time"

// The types that cross the contract between the auth service and the
// registry (the auth service's Registry, which the registry service, its
// gRPC client and the tests' in-memory fake all implement): defined once,
// here, so that neither side re-declares them.

// Client is what a grant needs to know about an authenticated credential.
type Client struct {
	// ID is the client id.
	ID string
	// Tenant is the company the credential belongs to.
	Tenant string
	// Scopes are the contexts the credential reaches now, sorted and
	// without duplicates.
	Scopes []string
	// ExpireTime is when the credential expires; zero means never. No
	// token issued from it outlives it.
	ExpireTime time.Time
	// Operator marks the operator credential, which manages every tenant.
	Operator bool
	// IssueRefreshTokens says whether grants also return a refresh token.
	IssueRefreshTokens bool
	// SecretVersion changes when the credential's secret rotates; refresh
	// tokens carry it, so rotation cuts them off.
	SecretVersion string
}

// Expired reports whether the credential has expired at now.
func (c Client) Expired(now time.Time) bool {
	return !c.ExpireTime.IsZero() && !now.Before(c.ExpireTime)
}

// ClientCredentials are a client's id and secret.
type ClientCredentials struct {
	ID, Secret string
}

// String never shows the secret.
func (c ClientCredentials) String() string { return c.ID + ":[REDACTED]" }

// IssuedToken names a token the auth service issued, for the registry:
// an access token by its jti, or a refresh-token family.
type IssuedToken struct {
	// TokenID is the access token's jti, or empty.
	TokenID string
	// FamilyID is the refresh-token family, or empty.
	FamilyID string
	// ExpireTime is when the token (or every token of the family) expires
	// anyway.
	ExpireTime time.Time
	// Generation, for a refresh token being checked, is its place in the
	// family: only the current generation is still good. Nil otherwise.
	Generation *int64
	// SecretVersion, for a token being checked, is the credential's secret
	// version it carries: only the current one is still good. Empty: not
	// checked.
	SecretVersion string
}

// IssuedTokenState is what the registry knows of an issued token.
type IssuedTokenState struct {
	Active bool
	// Tenant, Scopes (sorted) and Operator describe the token's credential
	// now; set when Active and the caller may see the credential.
	Tenant   string
	Scopes   []string
	Operator bool
	// SecretVersion is the credential's; a refresh token from before a
	// secret rotation carries another.
	SecretVersion string
}
