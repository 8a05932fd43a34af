package auth

import (
	"context"
	"log/slog"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	"github.com/chave/chave/services/internal/chave"
)

// TokenRevoker records revocations of issued tokens.
type TokenRevoker interface {
	// RevokeIssuedToken authenticates the client (as AuthenticateClient
	// does) and revokes the access token or the refresh-token family it
	// names, durably, before it returns: from then on the token (every
	// token of the family, access tokens carrying it as sid included)
	// fails. Revoking what is revoked succeeds. A bad credential fails with
	// chave.Unauthenticated, a family of another client with
	// chave.PermissionDenied, an unreachable backend with chave.Unavailable.
	RevokeIssuedToken(ctx context.Context, clientID, secret string, tok IssuedToken) error
}

// RevokeToken revokes an access or refresh token the client was issued
// (RFC 7009). Revoking a refresh token revokes its whole family. A token
// that is garbage, unknown or already expired needs no revocation and
// succeeds once the client has authenticated (§2.2); another client's
// live token is unauthorized_client. Success means the revocation is
// recorded: a registry that could not record it is
// temporarily_unavailable, never success. token_type_hint is not needed:
// the token's form says what it is.
func (s *Server) RevokeToken(ctx context.Context, req *authv1.RevokeTokenRequest) (*authv1.RevokeTokenResponse, error) {
	if err := s.revoke(ctx, req); err != nil {
		return nil, err
	}
	return &authv1.RevokeTokenResponse{}, nil
}

func (s *Server) revoke(ctx context.Context, req *authv1.RevokeTokenRequest) error {
	clientID, secret := req.GetClientId(), req.GetClientSecret()
	if err := checkClientCredentials(clientID, secret); err != nil {
		return err
	}
	raw := req.GetToken()
	if raw == "" {
		return newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "token is required")
	}
	tok, err := s.readToken(ctx, raw)
	if err != nil {
		return err
	}

	// What a revocation must record, if anything.
	now := s.now()
	var target IssuedToken
	live := false
	switch tok.kind {
	case kindAccess:
		live = !tok.accessExpired
		target = IssuedToken{TokenID: tok.access.ID, ExpireTime: tok.access.Expiry}
	case kindRefresh:
		// An expired refresh token may have live descendants: the family
		// goes while any of its tokens could still be used.
		live = !tok.refresh.familyExpired(now)
		target = IssuedToken{FamilyID: tok.refresh.family, ExpireTime: tok.refresh.familyExpiry}
	}

	if !live || tok.clientID() != clientID {
		// Nothing to record, or not the client's to revoke: the client
		// still has to authenticate before it hears anything.
		if _, err := s.authenticateClient(ctx, clientID, secret); err != nil {
			return err
		}
		if live {
			s.log.InfoContext(ctx, "revocation of another client's token refused", slog.String("client_id", clientID))
			return newOAuthError(errorsv1.OauthError_OAUTH_ERROR_UNAUTHORIZED_CLIENT, "the token was issued to another client")
		}
		return nil
	}

	// The registry authenticates the client and records the revocation in
	// one call.
	if err := s.registry.RevokeIssuedToken(ctx, clientID, secret, target); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		switch chave.ErrorCode(err) {
		case chave.Unauthenticated:
			return s.clientAuthError(ctx, clientID, err)
		case chave.PermissionDenied:
			return &oauthError{code: errorsv1.OauthError_OAUTH_ERROR_UNAUTHORIZED_CLIENT, description: "the token was issued to another client", cause: err}
		default:
			return errUnavailableCause("the revocation could not be recorded; retry later", err)
		}
	}
	attrs := []any{slog.String("client_id", clientID)}
	if target.FamilyID != "" {
		attrs = append(attrs, slog.String("family", target.FamilyID))
	} else {
		attrs = append(attrs, slog.String("jti", target.TokenID))
	}
	s.log.InfoContext(ctx, "token revoked", attrs...)
	return nil
}
