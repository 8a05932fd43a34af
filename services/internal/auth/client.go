package auth

import (
	"context"
	"time"
)

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

// expired reports whether the credential has expired at now.
func (c Client) expired(now time.Time) bool {
	return !c.ExpireTime.IsZero() && !now.Before(c.ExpireTime)
}

// ClientAuthenticator checks a client id and secret. A wrong secret, an
// unknown client and a revoked or expired credential all yield an error
// with chave.Unauthenticated as its code, so that callers cannot tell them
// apart; an unreachable backend yields chave.Unavailable. Implementations
// compare secrets in constant time and never log them.
type ClientAuthenticator interface {
	AuthenticateClient(ctx context.Context, clientID, secret string) (Client, error)
}
