package registry

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/chave"
)

// AccessTokenVerifier checks an access token (signature, expiry, issuer,
// audience) and returns its client id and scopes.
type AccessTokenVerifier func(ctx context.Context, raw string) (clientID string, scopes []string, err error)

// publicMethods need no Bearer token: they serve the auth service, and a
// client secret is their proof.
var publicMethods = []string{
	registryv1.RegistryService_AuthenticateClient_FullMethodName,
	registryv1.RegistryService_UseRefreshToken_FullMethodName,
	registryv1.RegistryService_RevokeIssuedToken_FullMethodName,
	registryv1.RegistryService_CheckIssuedToken_FullMethodName,
}

// AuthInterceptor authenticates every registry call but the public ones: a
// single "authorization: Bearer <jwt>" carrying registry.admin, issued to a
// credential that is still active and still holds registry.admin. The
// caller it establishes is what every method authorises against. Calls to
// other services pass through.
func AuthInterceptor(svc *Service, verify AccessTokenVerifier, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, "/"+registryv1.RegistryService_ServiceDesc.ServiceName+"/") ||
			slices.Contains(publicMethods, info.FullMethod) {
			return handler(ctx, req)
		}
		caller, err := authenticate(ctx, svc, verify)
		if err != nil {
			return nil, toStatus(ctx, log, err)
		}
		return handler(WithCaller(ctx, caller), req)
	}
}

func authenticate(ctx context.Context, svc *Service, verify AccessTokenVerifier) (Caller, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	switch len(values) {
	case 0:
		return Caller{}, chave.Errorf(chave.Unauthenticated, "missing Authorization: Bearer access token")
	case 1:
	default:
		return Caller{}, chave.Errorf(chave.Unauthenticated, "more than one Authorization value")
	}
	scheme, raw, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return Caller{}, chave.Errorf(chave.Unauthenticated, "the Authorization value must be \"Bearer <access token>\"")
	}
	clientID, scopes, err := verify(ctx, strings.TrimSpace(raw))
	if err != nil {
		if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable {
			return Caller{}, chave.Errorf(chave.Unavailable, "token verification is unavailable")
		}
		return Caller{}, &chave.Error{Code: chave.Unauthenticated, Message: "invalid access token", Err: err}
	}
	if !slices.Contains(scopes, chave.ScopeRegistryAdmin) {
		return Caller{}, chave.Errorf(chave.PermissionDenied, "the access token lacks the %s scope", chave.ScopeRegistryAdmin)
	}
	return svc.Principal(ctx, clientID)
}
