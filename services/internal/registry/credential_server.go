package registry

import (
	"context"
	"log/slog"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/chave"
)

// CredentialServer exposes the Service's methods for the auth service over
// gRPC (CredentialService). Who may call it at all is AuthInterceptor's
// rule; each method then authenticates the client the request names and
// checks that what it names is that client's.
type CredentialServer struct {
	registryv1.UnimplementedCredentialServiceServer
	svc *Service
	log *slog.Logger
}

// NewCredentialServer returns the gRPC server of CredentialService.
func NewCredentialServer(svc *Service, log *slog.Logger) *CredentialServer {
	if log == nil {
		log = slog.Default()
	}
	return &CredentialServer{svc: svc, log: log}
}

// AuthenticateClient implements registryv1.CredentialServiceServer.
func (s *CredentialServer) AuthenticateClient(ctx context.Context, req *registryv1.AuthenticateClientRequest) (*registryv1.AuthenticateClientResponse, error) {
	ctx = AtTokenEndpoint(ctx, req.GetClientAddress())
	client, err := s.svc.AuthenticateClient(ctx, req.GetClientId(), req.GetClientSecret())
	if err != nil {
		return nil, err
	}
	return &registryv1.AuthenticateClientResponse{Client: clientToProto(client)}, nil
}

// UseRefreshToken implements registryv1.CredentialServiceServer.
func (s *CredentialServer) UseRefreshToken(ctx context.Context, req *registryv1.UseRefreshTokenRequest) (*registryv1.UseRefreshTokenResponse, error) {
	proof := ClientProof{Secret: req.GetClientSecret()}
	if p, ok := req.GetProof().(*registryv1.UseRefreshTokenRequest_RefreshTokenSecretVersion); ok {
		proof = ClientProof{RefreshTokenSecretVersion: p.RefreshTokenSecretVersion}
	}
	ctx = AtTokenEndpoint(ctx, req.GetClientAddress())
	client, err := s.svc.UseRefreshToken(ctx, req.GetClientId(), proof, req.GetFamilyId(),
		req.GetGeneration(), timeFromProto(req.GetFamilyExpireTime()))
	if err != nil {
		return nil, err
	}
	return &registryv1.UseRefreshTokenResponse{Client: clientToProto(client)}, nil
}

// RevokeIssuedToken implements registryv1.CredentialServiceServer.
func (s *CredentialServer) RevokeIssuedToken(ctx context.Context, req *registryv1.RevokeIssuedTokenRequest) (*registryv1.RevokeIssuedTokenResponse, error) {
	err := s.svc.RevokeIssuedToken(ctx, req.GetClientId(), req.GetClientSecret(), IssuedToken{
		TokenID: req.GetTokenId(), FamilyID: req.GetFamilyId(), ExpireTime: timeFromProto(req.GetExpireTime()),
	})
	if err != nil {
		return nil, err
	}
	return &registryv1.RevokeIssuedTokenResponse{}, nil
}

// CheckIssuedToken implements registryv1.CredentialServiceServer.
func (s *CredentialServer) CheckIssuedToken(ctx context.Context, req *registryv1.CheckIssuedTokenRequest) (*registryv1.CheckIssuedTokenResponse, error) {
	st, err := s.svc.CheckIssuedToken(ctx, chave.ClientCredentials{ID: req.GetCallerClientId(), Secret: req.GetCallerClientSecret()}, req.GetClientId(), IssuedToken{
		TokenID: req.GetTokenId(), FamilyID: req.GetFamilyId(), Generation: req.Generation, SecretVersion: req.GetSecretVersion(),
	})
	if err != nil {
		return nil, err
	}
	if !st.Active {
		return &registryv1.CheckIssuedTokenResponse{}, nil
	}
	return &registryv1.CheckIssuedTokenResponse{Active: true, Tenant: st.Tenant, Scopes: st.Scopes,
		Operator: st.Operator, SecretVersion: st.SecretVersion}, nil
}

func clientToProto(c Client) *registryv1.Client {
	return &registryv1.Client{
		ClientId: c.ID, Tenant: c.Tenant, Scopes: c.Scopes,
		ExpireTime: timeToProto(c.ExpireTime), Operator: c.Operator,
		IssueRefreshTokens: c.IssueRefreshTokens, SecretVersion: c.SecretVersion,
	}
}
