package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/auth/registrytest"
	"github.com/chave/chave/services/internal/registry"
)

// TestRegistryContract runs the auth service's Registry suite against the
// registry service itself (as `chave serve` hands it to the auth service,
// directRegistry)
// and against its gRPC client over `chave registry` (as the auth service
// apart reaches it); auth's tests run it against their fake.
func TestRegistryContract(t *testing.T) {
	token := strings.Repeat("c", registry.MinInternalTokenSize)
	subject := func(t *testing.T, grpc bool) registrytest.Subject {
		r := startRegistryApart(t, InternalConfig{Token: token}, TLSConfig{})
		var n atomic.Int64
		s := registrytest.Subject{
			Registry: newServer(slog.New(slog.DiscardHandler)).directRegistry(r.svc),
			NewClient: func(t *testing.T) (string, string) {
				return r.credential(t, fmt.Sprintf("tenant-%d", n.Add(1)))
			},
			RevokeClient: func(t *testing.T, id string) {
				if _, err := r.svc.RevokeToken(context.Background(), r.op, id); err != nil {
					t.Fatal(err)
				}
			},
			Now: time.Now,
		}
		if grpc {
			dialer := newServer(slog.New(slog.DiscardHandler))
			conn, err := dialer.dial("--registry", r.srv.GRPCAddr(), TLSConfig{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { dialer.Stop(context.Background()) })
			s.Registry = auth.NewRegistryClient(registryv1.NewCredentialServiceClient(withInternalToken(conn, token)))
		}
		return s
	}
	t.Run("registry service", func(t *testing.T) {
		registrytest.Run(t, func(t *testing.T) registrytest.Subject { return subject(t, false) })
	})
	t.Run("gRPC client", func(t *testing.T) {
		registrytest.Run(t, func(t *testing.T) registrytest.Subject { return subject(t, true) })
	})
}
