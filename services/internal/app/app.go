package app

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/inprocess"
	"github.com/chave/chave/services/internal/registry"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// Start starts the all-in-one server (`chave serve`): the registry, the
// auth service and the gateway in one process, built from the same parts
// as the services apart. It opens the database, starts the gRPC and HTTP
// servers and returns once both listen. Stop shuts them down.
//
// The auth service and the gateway reach the registry through the gRPC
// server's own interceptors like any other caller (in process, see package
// inprocess), so that authentication always runs. /metrics is served
// only on cfg.MetricsAddr (none when it is empty), never on the public
// HTTP address.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	return start(&cfg, roleServe, func(s *Server) error {
		metrics := newMetrics()
		catalog, err := loadCatalog(cfg.CatalogFile)
		if err != nil {
			return err
		}
		secretKeys, err := loadKeys(cfg, useStorageKeys|useRefreshKey)
		if err != nil {
			return err
		}
		if err := registerServerKeys(metrics, secretKeys, useStorageKeys|useRefreshKey); err != nil {
			return err
		}
		reg, err := s.openRegistry(ctx, cfg, catalog, secretKeys, metrics)
		if err != nil {
			return err
		}
		keysPath, err := signingKeysPath(cfg)
		if err != nil {
			return err
		}
		signingKeys, err := s.openSigningKeys(cfg, keysPath)
		if err != nil {
			return err
		}
		if s.httpLn, err = listen("--http-addr", cfg.HTTPAddr); err != nil {
			return err
		}
		if cfg.Issuer == "" {
			cfg.Issuer = defaultIssuer(hostPortFor(cfg.HTTPAddr, s.httpLn))
		}
		if cfg.Audience == "" {
			cfg.Audience = cfg.Issuer
		}
		s.issuer = cfg.Issuer
		verifier, err := newVerifier(verify.Config{
			Issuer: cfg.Issuer, Audience: cfg.Audience, Keys: signingKeys, Revocations: revocation.Checker(reg.revocations),
		}, metrics)
		if err != nil {
			return err
		}
		if err := s.listenGRPC(cfg, metrics, insecure.NewCredentials(), registry.StatusInterceptor(), auth.StatusInterceptor(), reg.interceptor(verifier, registry.RequireInProcess, cfg.Logger), auth.SourceInterceptor(false)); err != nil {
			return err
		}
		// The auth service and the gateway call the registry and the auth
		// service in process, through the same interceptors as the network
		// listener (authentication included): the two hops of every grant
		// cost no sockets, no HTTP/2 framing and no goroutine hand-offs.
		// CredentialService, the auth service's API, is served there alone,
		// never on the gRPC listener.
		self := inprocess.New(append([]grpc.UnaryServerInterceptor{registry.InProcessInterceptor()}, s.unary...)...)
		authReg, err := s.throttled(cfg, auth.NewRegistryClient(registryv1.NewCredentialServiceClient(self)), metrics)
		if err != nil {
			return err
		}
		authSrv, err := newAuthServer(cfg, catalog, secretKeys, verifier, authReg, signingKeys, metrics)
		if err != nil {
			return err
		}
		for _, r := range []grpc.ServiceRegistrar{s.grpc, self} {
			reg.register(r, cfg.Logger)
			authv1.RegisterAuthServiceServer(r, authSrv)
		}
		reg.registerCredentials(self, cfg.Logger)

		edge, err := s.newGateway(ctx, cfg, self, self, metrics, s.ready)
		if err != nil {
			return err
		}
		s.http = newHTTPServer(edge)
		if cfg.MetricsAddr != "" {
			if err := s.listenMetrics(cfg.MetricsAddr, metrics, nil); err != nil {
				return err
			}
		}

		if cfg.PrintBootstrapCredential {
			if err := printBootstrap(ctx, cfg, reg.svc); err != nil {
				return err
			}
		}
		s.watchHealth(reg.ready, registryv1.RegistryService_ServiceDesc.ServiceName, authv1.AuthService_ServiceDesc.ServiceName)
		return nil
	})
}

// printBootstrap creates and prints an operator credential when the database
// holds none: a development convenience that `make run` turns on.
func printBootstrap(ctx context.Context, cfg Config, reg *registry.Service) error {
	has, err := reg.HasOperator(ctx)
	if err != nil || has {
		return err
	}
	id, secret, err := reg.Bootstrap(ctx)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]string{"clientId": id, "clientSecret": secret.Reveal()})
	_, err = fmt.Fprintf(cfg.Stdout, "operator credential (shown once; keep it safe):\n%s\n", b)
	return err
}
