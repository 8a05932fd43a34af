package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/chave"
)

// registryTimeout bounds a call to the registry when the caller set no
// deadline, so that a stuck registry fails the grant fast.
const registryTimeout = 5 * time.Second

// NewRegistryClient returns the Registry that asks the registry's
// CredentialService over gRPC: the auth service reaches credentials only
// through the registry's API, never its storage. A call without a
// deadline gets one of registryTimeout.
func NewRegistryClient(registry registryv1.CredentialServiceClient) Registry {
	return registryClient{registry: registry}
}

type registryClient struct {
	registry registryv1.CredentialServiceClient
}

var _ Registry = registryClient{}

// withTimeout bounds ctx by registryTimeout unless it has a deadline.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, registryTimeout)
}

// AuthenticateClient passes the registry the HTTP client's address, as
// SourceInterceptor recorded it, for the tenant's allowedClientCidrs.
func (r registryClient) AuthenticateClient(ctx context.Context, clientID, secret string) (Client, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	resp, err := r.registry.AuthenticateClient(ctx, &registryv1.AuthenticateClientRequest{
		ClientId:      clientID,
		ClientSecret:  secret,
		ClientAddress: sourceOf(ctx).address,
	})
	if err != nil {
		return Client{}, registryError(err)
	}
	return clientFromProto(resp.GetClient(), clientID)
}

func (r registryClient) UseRefreshToken(ctx context.Context, clientID, secret, familyID string, generation int64, familyExpiry time.Time) (Client, error) {
	return r.useRefreshToken(ctx, &registryv1.UseRefreshTokenRequest{
		ClientId:         clientID,
		Proof:            &registryv1.UseRefreshTokenRequest_ClientSecret{ClientSecret: secret},
		FamilyId:         familyID,
		Generation:       generation,
		FamilyExpireTime: timestamppb.New(familyExpiry),
	})
}

func (r registryClient) UseRefreshTokenAlone(ctx context.Context, clientID, secretVersion, familyID string, generation int64, familyExpiry time.Time) (Client, error) {
	return r.useRefreshToken(ctx, &registryv1.UseRefreshTokenRequest{
		ClientId:         clientID,
		Proof:            &registryv1.UseRefreshTokenRequest_RefreshTokenSecretVersion{RefreshTokenSecretVersion: secretVersion},
		FamilyId:         familyID,
		Generation:       generation,
		FamilyExpireTime: timestamppb.New(familyExpiry),
	})
}

func (r registryClient) useRefreshToken(ctx context.Context, req *registryv1.UseRefreshTokenRequest) (Client, error) {
	// The tenant's allowedClientCidrs are checked on this address.
	req.ClientAddress = sourceOf(ctx).address
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	resp, err := r.registry.UseRefreshToken(ctx, req)
	if err != nil {
		// A family of another client is as good as no family.
		if isInvalidGrant(err) || status.Code(err) == codes.PermissionDenied {
			return Client{}, &chave.Error{Code: chave.InvalidGrant, Message: "refresh token refused", Err: err}
		}
		return Client{}, registryError(err)
	}
	return clientFromProto(resp.GetClient(), req.GetClientId())
}

func (r registryClient) RevokeIssuedToken(ctx context.Context, clientID, secret string, tok IssuedToken) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	req := &registryv1.RevokeIssuedTokenRequest{
		ClientId:     clientID,
		ClientSecret: secret,
		TokenId:      tok.TokenID,
		FamilyId:     tok.FamilyID,
	}
	if !tok.ExpireTime.IsZero() {
		req.ExpireTime = timestamppb.New(tok.ExpireTime)
	}
	if _, err := r.registry.RevokeIssuedToken(ctx, req); err != nil {
		return issuedTokenError(err)
	}
	return nil
}

func (r registryClient) CheckIssuedToken(ctx context.Context, caller ClientCredentials, clientID string, tok IssuedToken) (IssuedTokenState, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	resp, err := r.registry.CheckIssuedToken(ctx, &registryv1.CheckIssuedTokenRequest{
		CallerClientId: caller.ID, CallerClientSecret: caller.Secret,
		ClientId:      clientID,
		TokenId:       tok.TokenID,
		FamilyId:      tok.FamilyID,
		Generation:    tok.Generation,
		SecretVersion: tok.SecretVersion,
	})
	if status.Code(err) == codes.NotFound {
		return IssuedTokenState{}, nil
	}
	if err != nil {
		return IssuedTokenState{}, issuedTokenError(err)
	}
	if !resp.GetActive() {
		return IssuedTokenState{}, nil
	}
	return IssuedTokenState{
		Active:        true,
		Tenant:        resp.GetTenant(),
		Scopes:        chave.SortedSet(resp.GetScopes()),
		Operator:      resp.GetOperator(),
		SecretVersion: resp.GetSecretVersion(),
	}, nil
}

// clientFromProto checks that the registry answered for the client asked
// about and converts its answer.
func clientFromProto(pc *registryv1.Client, clientID string) (Client, error) {
	if pc.GetClientId() != clientID {
		return Client{}, fmt.Errorf("registry: authenticated client %q, asked for %q", pc.GetClientId(), clientID)
	}
	c := Client{
		ID:                 pc.GetClientId(),
		Tenant:             pc.GetTenant(),
		Scopes:             chave.SortedSet(pc.GetScopes()),
		Operator:           pc.GetOperator(),
		IssueRefreshTokens: pc.GetIssueRefreshTokens(),
		SecretVersion:      pc.GetSecretVersion(),
	}
	if et := pc.GetExpireTime(); et != nil {
		if err := et.CheckValid(); err != nil {
			return Client{}, fmt.Errorf("registry: client %q: expire time: %w", clientID, err)
		}
		c.ExpireTime = et.AsTime()
	}
	return c, nil
}

// registryError maps the registry's status, on a call that authenticates
// a client, to the domain codes the grants understand.
func registryError(err error) error {
	switch code := status.Code(err); code {
	case codes.Unauthenticated, codes.NotFound, codes.PermissionDenied, codes.InvalidArgument, codes.FailedPrecondition:
		// Whatever the registry says about a bad credential, the client
		// hears one answer.
		return &chave.Error{Code: chave.Unauthenticated, Message: "client authentication failed", Err: err}
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return &chave.Error{Code: chave.Unavailable, Message: "registry unavailable", Err: err}
	case codes.Canceled:
		return fmt.Errorf("registry: %w", errors.Join(context.Canceled, err))
	default:
		return fmt.Errorf("registry: authenticating client: %w", err)
	}
}

// isInvalidGrant reports whether the registry refused a refresh token: a
// FAILED_PRECONDITION or INVALID_ARGUMENT status whose ErrorInfo is the
// registry's REASON_INVALID_GRANT.
func isInvalidGrant(err error) bool {
	st, ok := status.FromError(err)
	if !ok || (st.Code() != codes.FailedPrecondition && st.Code() != codes.InvalidArgument) {
		return false
	}
	return errorsv1.ReasonOf(st) == errorsv1.Reason_REASON_INVALID_GRANT
}

// issuedTokenError maps the registry's status on RevokeIssuedToken and
// CheckIssuedToken.
func issuedTokenError(err error) error {
	switch code := status.Code(err); code {
	case codes.Unauthenticated:
		return &chave.Error{Code: chave.Unauthenticated, Message: "client authentication failed", Err: err}
	case codes.PermissionDenied:
		return &chave.Error{Code: chave.PermissionDenied, Message: "the token was issued to another client", Err: err}
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return &chave.Error{Code: chave.Unavailable, Message: "registry unavailable", Err: err}
	case codes.Canceled:
		return fmt.Errorf("registry: %w", errors.Join(context.Canceled, err))
	default:
		return fmt.Errorf("registry: %w", err)
	}
}
