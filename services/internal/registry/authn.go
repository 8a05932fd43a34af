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
// audience, revocation) and returns its client id, scopes and the secret
// version it was issued under ("" for tokens from before chave stamped
// it).
type AccessTokenVerifier func(ctx context.Context, raw string) (clientID string, scopes []string, secretVersion string, err error)

// AuthInterceptor authenticates every call of the registry's two services,
// each by its own rule. RegistryService calls carry a single
// "authorization: Bearer <jwt>" carrying registry.admin, issued to a
// credential that is still active, still holds registry.admin and has not
// rotated its secret since; the caller it establishes is what every method
// authorises against. CredentialService calls must come from the auth
// service, which internal decides (nil: nobody). LeakService's ReportLeaks
// is public by rule: a leaked secret is its own proof, and the method
// bounds and rate-limits what it takes. Calls to other services pass
// through. Its refusals are domain errors, which StatusInterceptor,
// installed outside it, maps with the servers' own.
func AuthInterceptor(svc *Service, verify AccessTokenVerifier, internal InternalAuth, log *slog.Logger) grpc.UnaryServerInterceptor {
	registryPrefix := "/" + registryv1.RegistryService_ServiceDesc.ServiceName + "/"
	credentialPrefix := "/" + registryv1.CredentialService_ServiceDesc.ServiceName + "/"
	leakPrefix := "/" + registryv1.LeakService_ServiceDesc.ServiceName + "/"
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		switch {
		case strings.HasPrefix(info.FullMethod, registryPrefix):
			caller, err := authenticate(ctx, svc, verify)
			if err != nil {
				return nil, err
			}
			return handler(WithCaller(ctx, caller), req)
		case strings.HasPrefix(info.FullMethod, credentialPrefix):
			if internal == nil {
				return nil, errNotInternal
			}
			if err := internal(ctx); err != nil {
				log.WarnContext(ctx, "internal call refused", "method", info.FullMethod, "err", err)
				return nil, errNotInternal
			}
			return handler(ctx, req)
		case info.FullMethod == registryv1.LeakService_ReportLeaks_FullMethodName:
			return handler(ctx, req) // public: no credential
		case strings.HasPrefix(info.FullMethod, leakPrefix):
			// A method added to LeakService is not public by accident.
			return nil, toStatus(ctx, log, chave.Errorf(chave.PermissionDenied, "the method is not public"))
		default:
			return handler(ctx, req)
		}
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
	clientID, scopes, secretVersion, err := verify(ctx, strings.TrimSpace(raw))
	if err != nil {
		if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable {
			return Caller{}, chave.Errorf(chave.Unavailable, "token verification is unavailable")
		}
		return Caller{}, &chave.Error{Code: chave.Unauthenticated, Message: "invalid access token", Err: err}
	}
	if !slices.Contains(scopes, chave.ScopeRegistryAdmin) {
		return Caller{}, chave.Errorf(chave.PermissionDenied, "the access token lacks the %s scope", chave.ScopeRegistryAdmin)
	}
	return svc.Principal(ctx, clientID, secretVersion)
}
