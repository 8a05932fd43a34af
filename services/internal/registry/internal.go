package registry

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/chave/chave/services/internal/chave"
)

// InternalAuth decides whether a call may use CredentialService, which is
// for the auth service alone: nil means it may.
type InternalAuth func(ctx context.Context) error

// errNotInternal answers every CredentialService call that does not come
// from the auth service; it says nothing about what was missing.
var errNotInternal = chave.Errorf(chave.PermissionDenied, "CredentialService is only for chave's auth service")

// InternalTokenMetadata is the gRPC metadata key that carries the shared
// internal-service token (CHAVE_INTERNAL_TOKEN) from the auth service to
// the registry.
const InternalTokenMetadata = "chave-internal-token"

// MinInternalTokenSize is the least length of an internal-service token.
const MinInternalTokenSize = 32

// RequireInternalToken admits calls whose metadata carries exactly one
// InternalTokenMetadata value equal to token, compared in constant time.
func RequireInternalToken(token string) InternalAuth {
	want := sha256.Sum256([]byte(token))
	return func(ctx context.Context) error {
		md, _ := metadata.FromIncomingContext(ctx)
		values := md.Get(InternalTokenMetadata)
		if len(values) != 1 {
			return fmt.Errorf("%d %s values", len(values), InternalTokenMetadata)
		}
		got := sha256.Sum256([]byte(values[0]))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return errors.New("wrong internal token")
		}
		return nil
	}
}

// RequireClientCertificate admits calls over TLS whose client certificate
// verified against the server's client CAs and, when identity is not
// empty, names it as a DNS or URI subject alternative name (or, lacking
// SANs, as its common name).
func RequireClientCertificate(identity string) InternalAuth {
	return func(ctx context.Context) error {
		p, ok := peer.FromContext(ctx)
		if !ok {
			return errors.New("no peer")
		}
		info, ok := p.AuthInfo.(credentials.TLSInfo)
		if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
			return errors.New("no verified client certificate")
		}
		if identity == "" {
			return nil
		}
		leaf := info.State.VerifiedChains[0][0]
		if slices.Contains(leaf.DNSNames, identity) {
			return nil
		}
		for _, u := range leaf.URIs {
			if u.String() == identity {
				return nil
			}
		}
		if len(leaf.DNSNames) == 0 && len(leaf.URIs) == 0 && leaf.Subject.CommonName == identity {
			return nil
		}
		return fmt.Errorf("client certificate does not name %q", identity)
	}
}

// RequireAll admits a call that every rule admits; with no rules it admits
// nothing.
func RequireAll(rules ...InternalAuth) InternalAuth {
	return func(ctx context.Context) error {
		if len(rules) == 0 {
			return errors.New("no internal caller is configured")
		}
		for _, r := range rules {
			if err := r(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// AllowAny admits every call: for a registry whose network only the auth
// service reaches, by the operator's explicit choice.
func AllowAny(context.Context) error { return nil }
