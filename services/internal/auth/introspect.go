package auth

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/verify"
)

// IssuedTokenChecker answers whether an issued token is still good as far
// as the registry knows.
type IssuedTokenChecker interface {
	// CheckIssuedToken reports whether the token is still good: its
	// credential (clientID) active, its family and its jti not revoked.
	// Signature and expiry are the caller's to check. An unknown client is
	// not active; an unreachable backend fails with chave.Unavailable.
	// The caller (the client introspecting) authenticates with its id and
	// secret (a failure is chave.Unauthenticated); a zero caller learns only
	// Active.
	CheckIssuedToken(ctx context.Context, caller ClientCredentials, clientID string, tok IssuedToken) (IssuedTokenState, error)
}

// IntrospectToken describes a token to an authenticated client (RFC 7662).
// A client may introspect its own tokens; a credential with the scope
// token.introspect those of its tenant; the operator any. Every other
// token (inactive, expired, unknown, garbage, or one the caller may not
// see) gets exactly active=false, so that the answer tells the caller
// nothing about tokens that are not its business.
//
// A refresh token is active while its MAC verifies, it has not expired,
// its credential is active with the secret it was issued under, its family
// is not revoked and it is the family's current generation.
func (s *Server) IntrospectToken(ctx context.Context, req *authv1.IntrospectTokenRequest) (*authv1.IntrospectTokenResponse, error) {
	caller, err := s.authenticateClient(ctx, req.GetClientId(), req.GetClientSecret())
	if err != nil {
		return nil, err
	}
	raw := req.GetToken()
	if raw == "" {
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "token is required")
	}
	inactive := &authv1.IntrospectTokenResponse{Active: false}
	tok, err := s.readToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var ref IssuedToken
	switch tok.kind {
	case kindAccess:
		// Verify tolerates clock skew; an introspection answer does not.
		if tok.accessExpired || !now.Before(tok.access.Expiry) {
			return inactive, nil
		}
		ref = IssuedToken{TokenID: tok.access.ID, FamilyID: tok.access.SessionID, ExpireTime: tok.access.Expiry, SecretVersion: tok.access.SecretVersion}
	case kindRefresh:
		if tok.refresh.expired(now) {
			return inactive, nil
		}
		ref = IssuedToken{FamilyID: tok.refresh.family, ExpireTime: tok.refresh.expiry, Generation: &tok.refresh.generation, SecretVersion: tok.refresh.secretVersion}
	default:
		return inactive, nil
	}

	owner := tok.clientID()
	if tok.kind == kindAccess && owner == caller.ID {
		// A client introspecting its own access token: the registry
		// already answered for the credential when it authenticated the
		// caller (active, not expired, its secret version and tenant), and
		// the verifier checked the revocation set, which every revocation
		// of the token, its family or its credential reaches before it
		// returns (docs/spec.md §2.4), and which fails closed when it
		// cannot answer. Asking the registry again would only repeat both.
		c := tok.access
		if (c.SecretVersion != "" && c.SecretVersion != caller.SecretVersion) ||
			(caller.Tenant != "" && c.TenantID != caller.Tenant) {
			return inactive, nil
		}
		return accessTokenIntrospection(c), nil
	}
	state, err := s.registry.CheckIssuedToken(ctx, ClientCredentials{ID: req.GetClientId(), Secret: req.GetClientSecret()}, owner, ref)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		switch chave.ErrorCode(err) {
		case chave.Unavailable:
			return nil, errUnavailable(err)
		case chave.PermissionDenied: // not the caller's to see
			s.log.InfoContext(ctx, "introspection of a token the caller may not see", slog.String("client_id", caller.ID))
			return inactive, nil
		}
		return nil, fmt.Errorf("checking issued token: %w", err)
	}
	if !state.Active || (tok.kind == kindRefresh && state.SecretVersion != tok.refresh.secretVersion) {
		return inactive, nil
	}
	tenant := state.Tenant
	if tok.kind == kindAccess {
		switch {
		case tenant == "":
			tenant = tok.access.TenantID
		case tok.access.TenantID != tenant:
			// A credential's tenant never changes: a token that disagrees
			// with its credential is not one to describe.
			return inactive, nil
		}
	}
	if !mayIntrospect(caller, owner, tenant) {
		s.log.InfoContext(ctx, "introspection of a token the caller may not see", slog.String("client_id", caller.ID))
		return inactive, nil
	}

	if tok.kind == kindRefresh {
		rt := tok.refresh
		return &authv1.IntrospectTokenResponse{
			Active:    true,
			Scope:     strings.Join(rt.scopes, " "),
			ClientId:  rt.clientID,
			Sub:       rt.clientID,
			Exp:       rt.expiry.Unix(),
			Iat:       rt.issuedAt.Unix(),
			Iss:       s.issuer,
			TokenType: TokenTypeRefreshToken,
			Tenantid:  tenant,
		}, nil
	}
	return accessTokenIntrospection(tok.access), nil
}

// accessTokenIntrospection describes an active access token.
func accessTokenIntrospection(c verify.Claims) *authv1.IntrospectTokenResponse {
	return &authv1.IntrospectTokenResponse{
		Active:    true,
		Scope:     strings.Join(c.Scopes, " "),
		ClientId:  c.ClientID,
		Sub:       c.Subject,
		Exp:       c.Expiry.Unix(),
		Iat:       c.IssuedAt.Unix(),
		Iss:       c.Issuer,
		TokenType: TokenTypeAccessToken,
		Tenantid:  c.TenantID,
		Aud:       slices.Clone(c.Audience),
		Jti:       c.ID,
	}
}

// mayIntrospect reports whether caller may see a token issued to owner,
// a credential of tenant.
func mayIntrospect(caller Client, owner, tenant string) bool {
	switch {
	case caller.ID == owner:
		return true
	case caller.Operator:
		return true
	case caller.Tenant != "" && caller.Tenant == tenant:
		return slices.Contains(caller.Scopes, chave.ScopeTokenIntrospect)
	default:
		return false
	}
}
