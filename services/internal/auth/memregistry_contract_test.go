package auth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/auth/registrytest"
)

// TestMemRegistryContract: the fake the auth service's tests use keeps
// the contract the registry service and its gRPC client keep
// (app.TestRegistryContract runs the same suite against them).
func TestMemRegistryContract(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) registrytest.Subject {
		clock := time.Now
		m := newMemRegistry(clock)
		n := 0
		return registrytest.Subject{
			Registry: m,
			NewClient: func(*testing.T) (string, string) {
				n++
				id, secret := fmt.Sprintf("chave_ci_contract%d", n), fmt.Sprintf("chave_sk_contract%d", n)
				m.add(auth.Client{ID: id, Tenant: fmt.Sprintf("tenant-%d", n), Scopes: []string{"inventory"},
					IssueRefreshTokens: true, SecretVersion: fmt.Sprintf("v%d", n)}, secret)
				return id, secret
			},
			RevokeClient: func(_ *testing.T, id string) { m.revokeCredential(id) },
			Now:          clock,
		}
	})
}
