package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

// newJWKSHandler serves GET /.well-known/jwks.json (RFC 7517): the auth
// service's JWK Set, cached for jwksTTL.
func newJWKSHandler(auth authv1.AuthServiceClient, log *slog.Logger) *wellKnownHandler {
	h := newWellKnownHandler("JWK Set", "application/jwk-set+json", jwksFetcher(auth), log)
	h.cache.ttl = jwksTTL
	return h
}

func jwksFetcher(auth authv1.AuthServiceClient) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		resp, err := auth.GetJwks(ctx, &authv1.GetJwksRequest{})
		if err != nil {
			return nil, fmt.Errorf("fetching JWK Set: %w", err)
		}
		doc := resp.GetJwksJson()
		if !json.Valid(doc) {
			return nil, errors.New("fetching JWK Set: the auth service answered invalid JSON")
		}
		return doc, nil
	}
}
