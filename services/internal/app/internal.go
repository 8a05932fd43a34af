package app

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

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
