package auth

import (
	"context"

	"github.com/chave/chave/services/internal/chave"
)

// The types of the auth service's Registry contract are the domain's
// (package chave), so that the registry service, its gRPC client and the
// tests' fake share one definition.
type (
	// Client is what a grant needs to know about an authenticated
	// credential.
	Client = chave.Client
	// ClientCredentials are a client's id and secret.
	ClientCredentials = chave.ClientCredentials
	// IssuedToken names a token the auth service issued.
	IssuedToken = chave.IssuedToken
	// IssuedTokenState is what the registry knows of an issued token.
	IssuedTokenState = chave.IssuedTokenState
)

// ClientAuthenticator checks a client id and secret. A wrong secret, an
// unknown client and a revoked or expired credential all yield an error
// with chave.Unauthenticated as its code, so that callers cannot tell them
// apart; an unreachable backend yields chave.Unavailable. Implementations
// compare secrets in constant time and never log them.
type ClientAuthenticator interface {
	AuthenticateClient(ctx context.Context, clientID, secret string) (Client, error)
}
