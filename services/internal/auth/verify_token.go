package auth

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/verify"
)

// VerifyDomain is the ErrorInfo domain of VerifyToken's refusals; the
// reason is the verify package's (expired, revoked, signature, …).
const VerifyDomain = "verify.chave"

// VerifyToken checks an access token for an internal service with the same
// verifier the registry and introspection use: signature, claims and the
// revocation set. It fails closed: when the revocation set cannot answer,
// the answer is UNAVAILABLE, never the claims.
func (s *Server) VerifyToken(ctx context.Context, req *authv1.VerifyTokenRequest) (*authv1.VerifyTokenResponse, error) {
	raw := strings.TrimSpace(req.GetToken())
	if raw == "" {
		return nil, status.Error(codes.InvalidArgument, "token: is required")
	}
	c, err := s.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, verifyStatus(ctx, err)
	}
	return &authv1.VerifyTokenResponse{
		Issuer: c.Issuer, Subject: c.Subject, ClientId: c.ClientID, Audience: c.Audience,
		IssueTime: timestamppb.New(c.IssuedAt), ExpireTime: timestamppb.New(c.Expiry),
		TokenId: c.ID, Scopes: c.Scopes, Tenant: c.TenantID, SessionId: c.SessionID,
	}, nil
}

func verifyStatus(ctx context.Context, err error) error {
	var ve *verify.Error
	switch {
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case errors.As(err, &ve):
		st := status.New(codes.Unauthenticated, "invalid access token: "+string(ve.Reason))
		if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: strings.ToUpper(string(ve.Reason)), Domain: VerifyDomain}); derr == nil {
			st = d
		}
		return st.Err()
	case errors.Is(err, verify.ErrInvalidToken):
		return status.Error(codes.Unauthenticated, "invalid access token")
	default:
		return status.Error(codes.Unavailable, "token verification is unavailable; retry")
	}
}
