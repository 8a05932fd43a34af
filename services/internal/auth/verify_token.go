package auth

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	"github.com/chave/chave/services/verify"
)

// VerifyToken checks an access token for an internal service with the same
// verifier the registry and introspection use: signature, claims and the
// revocation set. It fails closed: when the revocation set cannot answer,
// the answer is UNAVAILABLE, never the claims.
func (s *Server) VerifyToken(ctx context.Context, req *authv1.VerifyTokenRequest) (*authv1.VerifyTokenResponse, error) {
	raw := strings.TrimSpace(req.GetToken())
	if raw == "" {
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "token: is required")
	}
	c, err := s.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, &verifyFailure{err: err}
	}
	return &authv1.VerifyTokenResponse{
		Issuer: c.Issuer, Subject: c.Subject, ClientId: c.ClientID, Audience: c.Audience,
		IssueTime: timestamppb.New(c.IssuedAt), ExpireTime: timestamppb.New(c.Expiry),
		TokenId: c.ID, Scopes: c.Scopes, Tenant: c.TenantID, SessionId: c.SessionID,
	}, nil
}

// verifyFailure is VerifyToken's failure: the verifier's error, a refusal
// or a check that could not be made.
type verifyFailure struct{ err error }

func (e *verifyFailure) Error() string { return "verifying token: " + e.err.Error() }

func (e *verifyFailure) Unwrap() error { return e.err }

// status is the gRPC status of a VerifyToken failure: a refused token is
// Unauthenticated, with the verify package's reason as an
// errorsv1.TokenRejection; a check that could not be made is Unavailable (fail
// closed).
func (e *verifyFailure) status(ctx context.Context) error {
	var ve *verify.Error
	switch {
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case errors.As(e.err, &ve):
		st := status.New(codes.Unauthenticated, "invalid access token: "+string(ve.Reason))
		if r, ok := tokenRejection(ve.Reason); ok {
			if d, derr := st.WithDetails(r.ErrorInfo()); derr == nil {
				st = d
			}
		}
		return st.Err()
	case errors.Is(e.err, verify.ErrInvalidToken):
		return status.Error(codes.Unauthenticated, "invalid access token")
	default:
		return status.Error(codes.Unavailable, "token verification is unavailable; retry")
	}
}

// tokenRejection is the ErrorInfo reason of each of the verify package's
// reasons; ok is false for one this build does not know.
func tokenRejection(r verify.Reason) (errorsv1.TokenRejection, bool) {
	switch r {
	case verify.ReasonMalformed:
		return errorsv1.TokenRejection_TOKEN_REJECTION_MALFORMED, true
	case verify.ReasonHeader:
		return errorsv1.TokenRejection_TOKEN_REJECTION_HEADER, true
	case verify.ReasonUnknownKey:
		return errorsv1.TokenRejection_TOKEN_REJECTION_UNKNOWN_KEY, true
	case verify.ReasonSignature:
		return errorsv1.TokenRejection_TOKEN_REJECTION_SIGNATURE, true
	case verify.ReasonMissingClaim:
		return errorsv1.TokenRejection_TOKEN_REJECTION_MISSING_CLAIM, true
	case verify.ReasonIssuer:
		return errorsv1.TokenRejection_TOKEN_REJECTION_ISSUER, true
	case verify.ReasonAudience:
		return errorsv1.TokenRejection_TOKEN_REJECTION_AUDIENCE, true
	case verify.ReasonExpired:
		return errorsv1.TokenRejection_TOKEN_REJECTION_EXPIRED, true
	case verify.ReasonNotYetValid:
		return errorsv1.TokenRejection_TOKEN_REJECTION_NOT_YET_VALID, true
	case verify.ReasonRevoked:
		return errorsv1.TokenRejection_TOKEN_REJECTION_REVOKED, true
	}
	return errorsv1.TokenRejection_TOKEN_REJECTION_UNSPECIFIED, false
}
