package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/chave"
)

// registryTimeout bounds a call to the registry when the caller set no
// deadline, so that a stuck registry fails the grant fast.
const registryTimeout = 5 * time.Second

// NewRegistryAuthenticator returns a ClientAuthenticator that asks the
// registry service (its AuthenticateClient RPC): the auth service reaches
// credentials only through the registry's API, never its storage.
func NewRegistryAuthenticator(registry registryv1.RegistryServiceClient) ClientAuthenticator {
	return registryAuthenticator{registry: registry}
}

type registryAuthenticator struct {
	registry registryv1.RegistryServiceClient
}

func (r registryAuthenticator) AuthenticateClient(ctx context.Context, clientID, secret string) (Client, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, registryTimeout)
		defer cancel()
	}
	resp, err := r.registry.AuthenticateClient(ctx, &registryv1.AuthenticateClientRequest{
		ClientId:     clientID,
		ClientSecret: secret,
	})
	if err != nil {
		return Client{}, registryError(err)
	}
	if resp.GetClientId() != clientID {
		return Client{}, fmt.Errorf("registry: authenticated client %q, asked for %q", resp.GetClientId(), clientID)
	}
	c := Client{
		ID:                 resp.GetClientId(),
		Tenant:             resp.GetTenant(),
		Scopes:             chave.SortedSet(resp.GetScopes()),
		Operator:           resp.GetOperator(),
		IssueRefreshTokens: resp.GetIssueRefreshTokens(),
	}
	if et := resp.GetExpireTime(); et != nil {
		if err := et.CheckValid(); err != nil {
			return Client{}, fmt.Errorf("registry: client %q: expire time: %w", clientID, err)
		}
		c.ExpireTime = et.AsTime()
	}
	return c, nil
}

// registryError maps the registry's status to the domain codes the grants
// understand.
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
