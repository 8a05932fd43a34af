// Package auth is the auth service's gRPC server: it runs OAuth 2.0 grants
// (RFC 6749) that exchange a credential for a signed access token (RFC 9068)
// and a refresh token, revokes (RFC 7009) and introspects (RFC 7662) the
// tokens it issued, and publishes the public signing keys and the server
// metadata (RFC 8414).
//
// Protocol handling and token minting are kept apart, as in ory/fosite: each
// grant lives in its own file (grant_client_credentials.go, grant_refresh.go) with
// the small interface it needs, and every grant mints through minter
// (mint.go). The auth service reaches credentials only through the
// registry's API (Registry; NewRegistryClient over gRPC).
//
// # Refresh tokens
//
// Refresh tokens are stateless and MAC-authenticated (refresh_codec.go):
// issuing one stores nothing. Each belongs to a family, started by a
// client-credentials grant, and carries its generation; the registry keeps
// one counter per family and advances it atomically when a token is used,
// so a token presented twice (a replay, or parallel refreshes) is noticed
// and revokes the family. Access tokens issued in a family carry its id as
// sid, so that revoking the family reaches them too.
//
// # Errors
//
// Every OAuth error (RFC 6749 §5.2) leaves the server as a gRPC status whose
// details hold an errdetails.ErrorInfo of the proto module's
// errorsv1.OauthError (domain "oauth2.chave", reason the OAuth error code);
// the status message is the error_description, safe to show to the
// client. Handlers return domain errors; StatusInterceptor maps them, in
// one place. The gRPC codes are:
//
//	invalid_client                       Unauthenticated   (HTTP 401)
//	invalid_request, invalid_grant,
//	invalid_scope, unsupported_grant_type,
//	unauthorized_client,
//	unsupported_token_type               InvalidArgument   (HTTP 400)
//	temporarily_unavailable              Unavailable       (HTTP 503)
//	slow_down                            ResourceExhausted (HTTP 429)
//	server_error                         Internal          (HTTP 500)
//
// OAuthError reads the code and description back from such a status; the
// gateway, which imports only the proto module, reads it with
// errorsv1.OauthErrorOf.
package auth
