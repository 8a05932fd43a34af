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

// RefreshFamilies keeps the state of refresh-token families: one
// generation counter per family, written when a token is used, never when
// one is issued.
type RefreshFamilies interface {
	// UseRefreshToken authenticates the client (as AuthenticateClient
	// does) and, atomically with it, advances the family from generation
	// to generation+1, returning the client. Of several concurrent uses of
	// one generation exactly one succeeds. A generation other than the
	// family's current one (a used token presented again) revokes the
	// whole family. A used, revoked or expired family, or one of another
	// client, fails with chave.InvalidGrant; a bad credential with
	// chave.Unauthenticated; an unreachable backend with chave.Unavailable.
	// A family it has not seen starts at generation 0 and expires at
	// familyExpiry.
	UseRefreshToken(ctx context.Context, clientID, secret, familyID string, generation int64, familyExpiry time.Time) (Client, error)
	// UseRefreshTokenAlone is UseRefreshToken for a refresh token that
	// authenticates the client by itself (the TSS endpoint): the caller
	// verified the token's MAC, and the registry checks that the
	// credential is active and secretVersion, the token's, is still its
	// secret's (chave.InvalidGrant otherwise). Reuse detection and family
	// revocation are UseRefreshToken's.
	UseRefreshTokenAlone(ctx context.Context, clientID, secretVersion, familyID string, generation int64, familyExpiry time.Time) (Client, error)
}

// errBadRefreshToken is the one description of every refresh token that
// cannot be used: garbage, expired, another client's, used, revoked.
const errBadRefreshToken = "the refresh token is invalid, expired, revoked or was issued to another client"

func errInvalidGrant(cause error) *oauthError {
	return &oauthError{code: errorsv1.OauthError_OAUTH_ERROR_INVALID_GRANT, description: errBadRefreshToken, cause: cause}
}

// refreshTokenGrant runs the refresh grant (RFC 6749 §6). The client
// authenticates as for client credentials and presents a refresh token
// issued to it; it gets a new access token and a new refresh token of the
// same family (the next generation, with the family's expiry), and the
// presented token is spent: presenting it again revokes the family.
//
// The new tokens reach the presented token's scopes that the credential
// still reaches (scopes it lost since are dropped; none left is
// invalid_grant). The scope parameter narrows the access token; asking for
// a scope the refresh token lacks is invalid_scope, answered before the
// token is spent. The new refresh token keeps the full set, as RFC 6749 §6
// wants.
func (s *Server) refreshTokenGrant(ctx context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	raw := req.GetRefreshToken()
	if raw == "" {
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "refresh_token is required")
	}
	clientID, secret := req.GetClientId(), req.GetClientSecret()
	// The TSS endpoint's refresh needs no client secret: the refresh token
	// names its client, and its MAC is the proof.
	alone := req.GetRefreshTokenAuthenticates() && secret == ""
	if alone {
		if len(clientID) > maxClientCredentialSize {
			return nil, errInvalidClient(errors.New("client id too long"))
		}
	} else if err := checkClientCredentials(clientID, secret); err != nil {
		return nil, err
	}

	// Everything that can be checked without the registry is, so that a
	// bad request does not spend the token.
	rt, err := s.mint.refresh.parse(ctx, raw)
	if err != nil {
		return nil, errInvalidGrant(err)
	}
	now := s.now()
	if rt.expired(now) {
		return nil, errInvalidGrant(errors.New("refresh token expired"))
	}
	if alone && clientID == "" {
		clientID = rt.clientID
	}
	if rt.clientID != clientID {
		return nil, errInvalidGrant(fmt.Errorf("refresh token of client %q presented by %q", rt.clientID, secrets.LoggableClientID(clientID)))
	}
	requested, ok := chave.NarrowScopes(rt.scopes, req.GetScope())
	if !ok {
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_SCOPE, "the requested scope exceeds the refresh token's")
	}

	var client Client
	if alone {
		client, err = s.registry.UseRefreshTokenAlone(ctx, clientID, rt.secretVersion, rt.family, rt.generation, rt.familyExpiry)
	} else {
		client, err = s.registry.UseRefreshToken(ctx, clientID, secret, rt.family, rt.generation, rt.familyExpiry)
	}
	if err != nil {
		if chave.ErrorCode(err) == chave.InvalidGrant && ctx.Err() == nil {
			s.log.InfoContext(ctx, "refresh token refused",
				slog.String("client_id", secrets.LoggableClientID(clientID)), slog.String("family", rt.family), slog.Int64("generation", rt.generation))
			return nil, errInvalidGrant(err)
		}
		return nil, s.clientAuthError(ctx, clientID, err)
	}
	if client.Expired(now) {
		return nil, errInvalidClient(errors.New("credential expired"))
	}
	if client.SecretVersion != rt.secretVersion {
		return nil, errInvalidGrant(errors.New("the credential's secret was rotated since the family started"))
	}
	if !client.IssueRefreshTokens {
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_UNAUTHORIZED_CLIENT, "the credential may not use refresh tokens")
	}

	kept := intersectSorted(rt.scopes, client.Scopes)
	if len(kept) == 0 {
		return nil, errInvalidGrant(errors.New("the credential no longer reaches any of the refresh token's scopes"))
	}
	scopes := intersectSorted(requested, client.Scopes)
	if len(scopes) == 0 {
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_SCOPE, "the requested scope exceeds the credential's access")
	}

	at, err := s.mint.mintAccessToken(client, scopes, rt.family, now)
	if err != nil {
		return nil, mintError(err)
	}
	next, _, err := s.mint.mintRefreshToken(ctx, client, kept, rt.family, rt.generation+1, rt.familyExpiry, now)
	if err != nil {
		return nil, mintError(err)
	}
	s.log.DebugContext(ctx, "access token issued",
		slog.String("grant_type", GrantRefreshToken),
		slog.String("client_id", client.ID),
		slog.String("tenant", client.Tenant),
		slog.String("jti", at.id),
		slog.Time("exp", at.expiry),
		slog.String("family", rt.family),
		slog.Int64("generation", rt.generation+1),
	)
	return &authv1.TokenResponse{
		AccessToken:  at.raw,
		TokenType:    TokenTypeBearer,
		ExpiresIn:    at.expiresIn,
		RefreshToken: next,
		Scope:        strings.Join(scopes, " "),
	}, nil
}
