package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/internal/chave"
)

// maxClientCredentialSize bounds client_id and client_secret: longer ones
// cannot be chave's and are refused before they reach the registry.
const maxClientCredentialSize = 512

// clientCredentials runs the client-credentials grant (RFC 6749 §4.4): the
// client authenticates with its id and secret and gets an access token for
// its scopes, or for the subset it asks for.
func (s *Server) clientCredentials(ctx context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	client, err := s.authenticateClient(ctx, req.GetClientId(), req.GetClientSecret())
	if err != nil {
		return nil, err
	}
	granted := client.Scopes
	if !slices.IsSorted(granted) {
		granted = chave.SortedSet(granted)
	}
	scopes, ok := chave.NarrowScopes(granted, req.GetScope())
	if !ok {
		return nil, newOAuthError(ErrInvalidScope, "the requested scope exceeds the credential's access")
	}
	at, err := s.mint.mintAccessToken(client, scopes, s.now())
	if errors.Is(err, errCredentialExpired) {
		return nil, errInvalidClient(err)
	}
	if err != nil {
		return nil, err
	}
	s.log.DebugContext(ctx, "access token issued",
		slog.String("grant_type", GrantClientCredentials),
		slog.String("client_id", client.ID),
		slog.String("tenant", client.Tenant),
		slog.String("jti", at.id),
		slog.Time("exp", at.expiry),
	)
	return &authv1.TokenResponse{
		AccessToken: at.raw,
		TokenType:   TokenTypeBearer,
		ExpiresIn:   at.expiresIn,
		Scope:       strings.Join(scopes, " "),
	}, nil
}

// authenticateClient checks the client's credentials; every way of failing
// that is the client's fault ends in the same invalid_client.
func (s *Server) authenticateClient(ctx context.Context, clientID, secret string) (Client, error) {
	if clientID == "" || secret == "" {
		return Client{}, errInvalidClient(errors.New("client credentials missing"))
	}
	if len(clientID) > maxClientCredentialSize || len(secret) > maxClientCredentialSize {
		return Client{}, errInvalidClient(errors.New("client credentials too long"))
	}
	client, err := s.clients.AuthenticateClient(ctx, clientID, secret)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Client{}, ctxErr
		}
		switch chave.ErrorCode(err) {
		case chave.Unauthenticated:
			s.log.InfoContext(ctx, "client authentication failed", slog.String("client_id", truncate(clientID)))
			return Client{}, errInvalidClient(err)
		case chave.Unavailable:
			return Client{}, errUnavailable(err)
		default:
			return Client{}, fmt.Errorf("authenticating client: %w", err)
		}
	}
	if client.expired(s.now()) {
		s.log.InfoContext(ctx, "expired credential presented", slog.String("client_id", client.ID))
		return Client{}, errInvalidClient(errors.New("credential expired"))
	}
	return client, nil
}

// truncate cuts a client-supplied value short for the logs.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
