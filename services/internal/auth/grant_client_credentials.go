package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
)

// maxClientCredentialSize bounds client_id and client_secret: longer ones
// cannot be chave's and are refused before they reach the registry.
const maxClientCredentialSize = 512

// clientCredentials runs the client-credentials grant (RFC 6749 §4.4): the
// client authenticates with its id and secret and gets an access token for
// its scopes, or for the subset it asks for.
//
// A credential with IssueRefreshTokens (the registry's per-credential
// setting, on by default) also gets a refresh token that starts a new
// family, for the same scopes, and the access token carries the family as
// its sid. RFC 6749 §4.4.3 says a refresh token SHOULD NOT be issued here,
// since the client can always repeat the grant; chave issues one because
// clients written against TOTVS TSS expect it, and a credential that needs
// no refresh tokens has the setting turned off. A credential without
// scopes gets none: a refresh could only fail.
func (s *Server) clientCredentials(ctx context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	client, err := s.authenticateClient(ctx, req.GetClientId(), req.GetClientSecret())
	if err != nil {
		return nil, err
	}
	scopes, ok := chave.NarrowScopes(client.Scopes, req.GetScope())
	if !ok {
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_SCOPE, "the requested scope exceeds the credential's access")
	}
	now := s.now()
	var family string
	var familyExpiry time.Time
	if client.IssueRefreshTokens && len(scopes) > 0 {
		if family, familyExpiry, err = s.mint.newFamily(client, now); err != nil {
			return nil, mintError(err)
		}
	}
	at, err := s.mint.mintAccessToken(client, scopes, family, now)
	if err != nil {
		return nil, mintError(err)
	}
	resp := &authv1.TokenResponse{
		AccessToken: at.raw,
		TokenType:   TokenTypeBearer,
		ExpiresIn:   at.expiresIn,
		Scope:       strings.Join(scopes, " "),
	}
	if family != "" {
		rt, _, err := s.mint.mintRefreshToken(ctx, client, scopes, family, 0, familyExpiry, now)
		if err != nil {
			return nil, mintError(err)
		}
		resp.RefreshToken = rt
	}
	if s.log.Enabled(ctx, slog.LevelDebug) { // the hot path builds no attributes for nothing
		s.log.DebugContext(ctx, "access token issued",
			slog.String("grant_type", GrantClientCredentials), slog.String("client_id", client.ID),
			slog.String("tenant", client.Tenant), slog.String("jti", at.id), slog.Time("exp", at.expiry),
			slog.String("family", family))
	}
	return resp, nil
}

// mintError maps a failure to mint: a credential about to expire is the
// client's problem, anything else the server's.
func mintError(err error) error {
	if errors.Is(err, errCredentialExpired) {
		return errInvalidClient(err)
	}
	return err
}

// checkClientCredentials refuses, before any registry call, client
// credentials that are missing or cannot be chave's.
func checkClientCredentials(clientID, secret string) error {
	if clientID == "" || secret == "" {
		return errInvalidClient(errors.New("client credentials missing"))
	}
	if len(clientID) > maxClientCredentialSize || len(secret) > maxClientCredentialSize {
		return errInvalidClient(errors.New("client credentials too long"))
	}
	return nil
}

// authenticateClient checks the client's credentials; every way of failing
// that is the client's fault ends in the same invalid_client.
func (s *Server) authenticateClient(ctx context.Context, clientID, secret string) (Client, error) {
	if err := checkClientCredentials(clientID, secret); err != nil {
		return Client{}, err
	}
	client, err := s.registry.AuthenticateClient(ctx, clientID, secret)
	if err != nil {
		return Client{}, s.clientAuthError(ctx, clientID, err)
	}
	if client.Expired(s.now()) {
		s.log.InfoContext(ctx, "expired credential presented", slog.String("client_id", client.ID))
		return Client{}, errInvalidClient(errors.New("credential expired"))
	}
	return client, nil
}

// clientAuthError maps a failed registry call that authenticates the
// client: a bad credential is invalid_client, an unreachable registry
// temporarily_unavailable, anything else a server error.
func (s *Server) clientAuthError(ctx context.Context, clientID string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	switch chave.ErrorCode(err) {
	case chave.Unauthenticated:
		s.log.InfoContext(ctx, "client authentication failed", slog.String("client_id", secrets.LoggableClientID(clientID)))
		return errInvalidClient(err)
	case chave.Unavailable:
		return errUnavailable(err)
	default:
		return fmt.Errorf("authenticating client: %w", err)
	}
}

// truncate cuts a client-supplied value short.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
