package verify

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// UnaryServerInterceptor returns an interceptor that lets a call through
// only with a valid access token in exactly one "authorization: Bearer …"
// metadata value, and stores its claims in the call's context
// (ClaimsFromContext). It answers codes.Unauthenticated for a missing,
// duplicated or rejected token, codes.PermissionDenied for a token without
// a scope required by WithRequiredScopes, and codes.Unavailable when Verify
// could not decide (ErrUnavailable). WithSkipMethods (or
// SkipHealthAndReflection) exempts methods.
func UnaryServerInterceptor(v *Verifier, opts ...MiddlewareOption) grpc.UnaryServerInterceptor {
	a := &grpcAuth{v: v, cfg: newMiddlewareConfig(v, opts)}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if a.cfg.skips(info.FullMethod) {
			return handler(ctx, req)
		}
		ctx, err := a.authenticate(ctx)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams: the token
// is checked once, when the stream opens, and the handler's stream carries
// the claims in its Context.
func StreamServerInterceptor(v *Verifier, opts ...MiddlewareOption) grpc.StreamServerInterceptor {
	a := &grpcAuth{v: v, cfg: newMiddlewareConfig(v, opts)}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if a.cfg.skips(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, err := a.authenticate(ss.Context())
		if err != nil {
			return err
		}
		return handler(srv, &claimsStream{ServerStream: ss, ctx: ctx})
	}
}

type grpcAuth struct {
	v   *Verifier
	cfg *middlewareConfig
}

// authenticate verifies the call's token and returns ctx with its claims,
// or a status error.
func (a *grpcAuth) authenticate(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	raw, problem := bearerToken(md.Get("authorization"))
	switch problem {
	case credentialsNone:
		return nil, status.Error(codes.Unauthenticated, "missing bearer token")
	case credentialsWrong:
		return nil, status.Error(codes.Unauthenticated, "want exactly one authorization metadata value: Bearer and a token")
	}
	claims, err := a.v.Verify(ctx, raw)
	if err != nil {
		var ve *Error
		if errors.As(err, &ve) {
			return nil, status.Error(codes.Unauthenticated, "invalid access token: "+string(ve.Reason))
		}
		a.cfg.log.WarnContext(ctx, "verify: cannot verify access token", "err", err)
		return nil, status.Error(codes.Unavailable, "access token verification unavailable; retry later")
	}
	if missing := a.cfg.missingScopes(claims); len(missing) > 0 {
		return nil, status.Error(codes.PermissionDenied, "insufficient scope: missing "+strings.Join(missing, " "))
	}
	return ContextWithClaims(ctx, claims), nil
}

// claimsStream is a server stream whose context carries the claims.
type claimsStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *claimsStream) Context() context.Context { return s.ctx }
