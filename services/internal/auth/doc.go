// Package auth is the auth service's gRPC server: it runs OAuth 2.0 grants
// (RFC 6749) that exchange a credential for a signed access token (RFC 9068)
// and publishes the public signing keys.
//
// Protocol handling and token minting are kept apart, as in ory/fosite: each
// grant lives in its own file (client_credentials.go; refresh_token.go will
// join it) with the small interface it needs, and every grant mints through
// minter (mint.go).
//
// # Errors
//
// Every OAuth error (RFC 6749 §5.2) leaves the server as a gRPC status whose
// details hold an errdetails.ErrorInfo with Domain "oauth2.chave" (ErrorDomain)
// and Reason the OAuth error code; the status message is the
// error_description, safe to show to the client. The gRPC codes are:
//
//	invalid_client                       Unauthenticated   (HTTP 401)
//	invalid_request, invalid_grant,
//	invalid_scope, unsupported_grant_type,
//	unauthorized_client                  InvalidArgument   (HTTP 400)
//	temporarily_unavailable              Unavailable       (HTTP 503)
//	server_error                         Internal          (HTTP 500)
//
// OAuthError reads the code and description back from such a status. The
// gateway, which imports only the proto module, finds the ErrorInfo the same
// way: the first detail of type google.rpc.ErrorInfo whose domain is
// "oauth2.chave".
package auth
