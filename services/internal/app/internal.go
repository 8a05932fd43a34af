package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/registry"
)

// InternalConfig is how the registry apart knows that a CredentialService
// call comes from the auth service, and how the auth service proves it.
// The registry refuses to start unless at least one rule is set (or
// Insecure says the network alone keeps others out); every rule set must
// hold.
type InternalConfig struct {
	// Token is the internal-service token the auth service sends with every
	// call to the registry (CHAVE_INTERNAL_TOKEN, at least 32 characters,
	// the same for both); the registry compares it in constant time.
	Token string
	// ClientIdentity, with mutual TLS (--tls-client-ca), is the DNS or URI
	// subject alternative name the auth service's client certificate must
	// carry (--internal-client-identity); empty: any certificate the
	// client CA issued.
	ClientIdentity string
	// Insecure admits every caller of the registry's gRPC port to
	// CredentialService (--insecure-internal-rpcs): for development, or a
	// network where only the auth service reaches that port.
	Insecure bool
}

// registryRule returns the rule of a registry apart with TLS tlsCfg, or
// why it cannot start.
func (c InternalConfig) registryRule(tlsCfg TLSConfig) (registry.InternalAuth, error) {
	var rules []registry.InternalAuth
	if c.Token != "" {
		if len(c.Token) < registry.MinInternalTokenSize {
			return nil, fmt.Errorf("CHAVE_INTERNAL_TOKEN: shorter than %d characters", registry.MinInternalTokenSize)
		}
		rules = append(rules, registry.RequireInternalToken(c.Token))
	}
	switch {
	case tlsCfg.ClientCAFile != "":
		rules = append(rules, registry.RequireClientCertificate(c.ClientIdentity))
	case c.ClientIdentity != "":
		return nil, errors.New("--internal-client-identity: needs --tls-client-ca (mutual TLS)")
	}
	switch {
	case len(rules) > 0:
		return registry.RequireAll(rules...), nil
	case c.Insecure:
		return registry.AllowAny, nil
	default:
		return nil, errors.New("CredentialService (the auth service's API) would be open to every caller of --grpc-addr: " +
			"set CHAVE_INTERNAL_TOKEN (on the registry and the auth service), or --tls-client-ca (mutual TLS), " +
			"or --insecure-internal-rpcs where only the auth service reaches the registry")
	}
}

// withInternalToken makes every call on conn carry the internal-service
// token, when there is one.
func withInternalToken(conn grpc.ClientConnInterface, token string) grpc.ClientConnInterface {
	if token == "" {
		return conn
	}
	return internalTokenConn{conn, token}
}

type internalTokenConn struct {
	grpc.ClientConnInterface
	token string
}

func (c internalTokenConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	ctx = metadata.AppendToOutgoingContext(ctx, registry.InternalTokenMetadata, c.token)
	return c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
}

// directRegistry is the registry service as the auth service of `chave
// serve` calls it, directly, doing what CredentialServer does over gRPC:
// each grant is checked against the tenant's address policy
// (registry.AtTokenEndpoint, with the client address the auth service
// recorded), a family of another client is no good refresh token, and
// each call is a span named as the CredentialService method it stands
// for, so that a grant's trace shows the registry's part as it does
// between the services apart.
func (s *Server) directRegistry(svc *registry.Service) auth.Registry {
	return directRegistry{svc: svc, tracer: s.tracing.Tracer("github.com/chave/chave/services/internal/registry")}
}

type directRegistry struct {
	svc    *registry.Service
	tracer trace.Tracer
}

var credentialService = registryv1.CredentialService_ServiceDesc.ServiceName + "/"

// span starts the span of method; end ends it with err's outcome.
func (r directRegistry) span(ctx context.Context, method string) (context.Context, func(error)) {
	ctx, span := r.tracer.Start(ctx, credentialService+method, trace.WithSpanKind(trace.SpanKindInternal))
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(otelcodes.Error, string(chave.ErrorCode(err)))
		}
		span.End()
	}
}

func (r directRegistry) AuthenticateClient(ctx context.Context, clientID, secret string) (_ auth.Client, err error) {
	ctx, end := r.span(ctx, "AuthenticateClient")
	defer func() { end(err) }()
	c, err := r.svc.AuthenticateClient(registry.AtTokenEndpoint(ctx, auth.ClientAddress(ctx)), clientID, secret)
	return c.Contract(), err
}

func (r directRegistry) UseRefreshToken(ctx context.Context, clientID, secret, familyID string, generation int64, familyExpiry time.Time) (_ auth.Client, err error) {
	ctx, end := r.span(ctx, "UseRefreshToken")
	defer func() { end(err) }()
	return r.useRefreshToken(ctx, clientID, registry.ClientProof{Secret: secret}, familyID, generation, familyExpiry)
}

func (r directRegistry) UseRefreshTokenAlone(ctx context.Context, clientID, secretVersion, familyID string, generation int64, familyExpiry time.Time) (_ auth.Client, err error) {
	ctx, end := r.span(ctx, "UseRefreshToken")
	defer func() { end(err) }()
	return r.useRefreshToken(ctx, clientID, registry.ClientProof{RefreshTokenSecretVersion: secretVersion}, familyID, generation, familyExpiry)
}

func (r directRegistry) useRefreshToken(ctx context.Context, clientID string, proof registry.ClientProof, familyID string, generation int64, familyExpiry time.Time) (auth.Client, error) {
	c, err := r.svc.UseRefreshToken(registry.AtTokenEndpoint(ctx, auth.ClientAddress(ctx)), clientID, proof, familyID, generation, familyExpiry)
	if chave.IsCode(err, chave.PermissionDenied) { // another client's family
		return auth.Client{}, &chave.Error{Code: chave.InvalidGrant, Message: "refresh token refused", Err: err}
	}
	return c.Contract(), err
}

func (r directRegistry) RevokeIssuedToken(ctx context.Context, clientID, secret string, tok auth.IssuedToken) (err error) {
	ctx, end := r.span(ctx, "RevokeIssuedToken")
	defer func() { end(err) }()
	return r.svc.RevokeIssuedToken(ctx, clientID, secret, tok)
}

func (r directRegistry) CheckIssuedToken(ctx context.Context, caller auth.ClientCredentials, clientID string, tok auth.IssuedToken) (_ auth.IssuedTokenState, err error) {
	ctx, end := r.span(ctx, "CheckIssuedToken")
	defer func() { end(err) }()
	return r.svc.CheckIssuedToken(ctx, caller, clientID, tok)
}
