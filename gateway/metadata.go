package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

// The paths the gateway serves under the issuer.
const (
	tokenPath      = "/oauth2/token"
	revokePath     = "/oauth2/revoke"
	introspectPath = "/oauth2/introspect"
	jwksPath       = "/.well-known/jwks.json"
	metadataPath   = "/.well-known/oauth-authorization-server"
)

// gatewayAuthMethods are the client authentication methods the gateway
// carries to the auth service, at the token, revocation and introspection
// endpoints alike (RFC 6749 §2.3.1). It has nowhere to put a client
// assertion, so the JWT methods are never among them.
var gatewayAuthMethods = []string{"client_secret_basic", "client_secret_post"}

// serverMetadata is RFC 8414 §2's document.
type serverMetadata struct {
	Issuer          string   `json:"issuer"`
	TokenEndpoint   string   `json:"token_endpoint"`
	JWKSURI         string   `json:"jwks_uri"`
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// ResponseTypesSupported is REQUIRED but chave has no authorization
	// endpoint, so it supports no response type and the list is empty.
	// ["none"] would be wrong: "none" is itself a response type of the
	// authorization endpoint (OAuth 2.0 Multiple Response Type Encoding
	// Practices §5) and would claim that endpoint exists.
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	// token_endpoint_auth_signing_alg_values_supported is never sent: it
	// names the algorithms of private_key_jwt and client_secret_jwt client
	// assertions, which the gateway does not carry (gatewayAuthMethods).
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	// AccessTokenSigningAlgs lists the algorithms access tokens (RFC 9068)
	// are signed with. Neither RFC 8414 nor RFC 9068 registers a member for
	// them, so it carries chave's prefix as an extension (RFC 8414 §2
	// allows additional members) instead of borrowing a registered name.
	AccessTokenSigningAlgs []string `json:"chave_access_token_signing_alg_values_supported,omitempty"`
}

// newMetadataHandler serves GET /.well-known/oauth-authorization-server
// (RFC 8414), built from the auth service's answer and cached.
func newMetadataHandler(auth authv1.AuthServiceClient, log *slog.Logger) *wellKnownHandler {
	return newWellKnownHandler("server metadata", "application/json", metadataFetcher(auth), log)
}

func metadataFetcher(auth authv1.AuthServiceClient) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		resp, err := auth.GetServerMetadata(ctx, &authv1.GetServerMetadataRequest{})
		if err != nil {
			return nil, fmt.Errorf("fetching server metadata: %w", err)
		}
		md, err := newServerMetadata(resp)
		if err != nil {
			return nil, fmt.Errorf("fetching server metadata: %w", err)
		}
		return json.Marshal(md)
	}
}

// newServerMetadata builds the document. The issuer is kept exactly as the
// auth service gives it, since clients compare it with the tokens' iss
// (RFC 8414 §3.3); the endpoints are the gateway's paths under it.
func newServerMetadata(resp *authv1.GetServerMetadataResponse) (serverMetadata, error) {
	issuer := resp.GetIssuer()
	if err := checkIssuer(issuer); err != nil {
		return serverMetadata{}, err
	}
	base := strings.TrimSuffix(issuer, "/")
	methods := authMethods(resp.GetTokenEndpointAuthMethodsSupported())
	return serverMetadata{
		Issuer:                                 issuer,
		TokenEndpoint:                          base + tokenPath,
		JWKSURI:                                base + jwksPath,
		ScopesSupported:                        resp.GetScopesSupported(),
		ResponseTypesSupported:                 []string{},
		GrantTypesSupported:                    nonNil(resp.GetGrantTypesSupported()),
		TokenEndpointAuthMethodsSupported:      methods,
		RevocationEndpoint:                     base + revokePath,
		RevocationEndpointAuthMethodsSupported: methods,
		IntrospectionEndpoint:                  base + introspectPath,
		// A group of its own: gofmt 1.26 and 1.27 align its long name differently.
		IntrospectionEndpointAuthMethodsSupported: methods,
		AccessTokenSigningAlgs:                    resp.GetSigningAlgValuesSupported(),
	}, nil
}

// checkIssuer holds the issuer to RFC 8414 §2: an absolute URL without
// query or fragment. Plain http is allowed for development set-ups.
func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || strings.ContainsAny(issuer, "?#") {
		return fmt.Errorf("the auth service's issuer %q is not an http(s) URL without query or fragment", issuer)
	}
	return nil
}

// authMethods is the auth service's list cut down to what the gateway
// carries, in the service's order; without a list, all the gateway carries.
func authMethods(upstream []string) []string {
	if len(upstream) == 0 {
		return gatewayAuthMethods
	}
	methods := []string{}
	for _, m := range upstream {
		if slices.Contains(gatewayAuthMethods, m) && !slices.Contains(methods, m) {
			methods = append(methods, m)
		}
	}
	return methods
}

// nonNil keeps a required list a JSON array when it is empty.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
