package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"google.golang.org/grpc/credentials/insecure"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/redact"
	"github.com/chave/chave/services/internal/registry"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// Start starts the all-in-one server (`chave serve`): the registry, the
// auth service and the gateway in one process, built from the same parts
// as the services apart. It opens the database, starts the gRPC and HTTP
// servers and returns once both listen. Stop shuts them down.
//
// The gateway reaches the registry and the auth service through the gRPC
// server's own services and interceptor chain, over a connection only this
// process can open (dialSelf: direct calls, or grpc/test/bufconn when
// tracing is on): the same interceptors (authentication included), the
// same tracing and metrics as a call from the network. The
// auth service is handed the registry service directly (directRegistry,
// the auth service's Registry contract over *registry.Service, doing what
// CredentialService does over gRPC: each method authenticates the client
// it names and checks that what it names is that client's, grants under
// the tenant's address policy); CredentialService itself is served
// nowhere. /metrics is served only on cfg.MetricsAddr
// (none when it is empty), never on the public HTTP address.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return start("serve", cfg.process(), func(s *Server) error {
		metrics := newMetrics()
		catalog, err := loadCatalog(cfg.CatalogFile)
		if err != nil {
			return err
		}
		secretKeys, err := loadKeys(cfg.keys(), cfg.DB, cfg.Logger, useStorageKeys|useRefreshKey)
		if err != nil {
			return err
		}
		if err := registerServerKeys(metrics, secretKeys, useStorageKeys|useRefreshKey); err != nil {
			return err
		}
		reg, err := s.openRegistry(ctx, cfg.Registry(), catalog, secretKeys, metrics)
		if err != nil {
			return err
		}
		signingKeys, err := s.openSigningKeys(ctx, cfg.Auth(), reg.store)
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
		// CredentialService is not served: no caller may use it.
		if err := s.listenGRPC(cfg.GRPCAddr, metrics, insecure.NewCredentials(), registry.StatusInterceptor(), auth.StatusInterceptor(), reg.interceptor(verifier, registry.RequireAll(), cfg.Logger), auth.SourceInterceptor(false)); err != nil {
			return err
		}
		authCfg := cfg.Auth()
		authReg, err := s.throttled(authCfg, s.directRegistry(reg.svc), metrics)
		if err != nil {
			return err
		}
		authSrv, err := newAuthServer(authCfg, catalog, secretKeys, verifier, authReg, signingKeys, metrics)
		if err != nil {
			return err
		}
		reg.register(s.registrar(), cfg.Logger)
		authv1.RegisterAuthServiceServer(s.registrar(), authSrv)

		self, err := s.dialSelf()
		if err != nil {
			return err
		}
		edge, err := s.newGateway(ctx, cfg.Gateway(), self, self, metrics, s.ready)
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
			if err := printBootstrap(ctx, cfg.Stdout, reg.svc); err != nil {
				return err
			}
		}
		s.watchHealth(reg.ready, registryv1.RegistryService_ServiceDesc.ServiceName, authv1.AuthService_ServiceDesc.ServiceName)
		return nil
	}, "db", redact.URL(cfg.DB))
}

// printBootstrap creates and prints an operator credential when the database
// holds none: a development convenience that `make run` turns on.
func printBootstrap(ctx context.Context, stdout io.Writer, reg *registry.Service) error {
	has, err := reg.HasOperator(ctx)
	if err != nil || has {
		return err
	}
	id, secret, err := reg.Bootstrap(ctx)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]string{"clientId": id, "clientSecret": secret.Reveal()})
	_, err = fmt.Fprintf(stdout, "operator credential (shown once; keep it safe):\n%s\n", b)
	return err
}
