package gateway

import (
	"net/http"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

// Token uses the auth service reports in IntrospectTokenResponse.token_type.
const (
	tokenUseAccess  = "access_token"
	tokenUseRefresh = "refresh_token"
)

// serveIntrospect is POST /oauth2/introspect (RFC 7662): the caller
// authenticates as a client, as at the token endpoint, and the auth service
// decides which tokens it may see; anything else is {"active":false}.
func (o *oauthEndpoints) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	q, err := readTokenQuery(w, r)
	if err != nil {
		o.writeError(w, r, err)
		return
	}
	resp, err := o.auth.IntrospectToken(r.Context(), &authv1.IntrospectTokenRequest{
		ClientId:      q.client.id,
		ClientSecret:  q.client.secret,
		Token:         q.token,
		TokenTypeHint: q.hint,
	})
	if err != nil {
		o.writeError(w, r, o.upstreamError(r.Context(), err))
		return
	}
	setNoStore(w.Header())
	writeJSON(w, http.StatusOK, newIntrospection(resp))
}

// introspection is RFC 7662 §2.2's body, members in the RFC's order; the
// optional ones are left out when empty.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       any    `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	Jti       string `json:"jti,omitempty"`
	// TenantID is the claim TSS clients read (docs/spec.md §2.3).
	TenantID string `json:"tenantid,omitempty"`
	// TokenUse says whether the token is an access or a refresh token, as
	// Ory Hydra's member of that name does, so that a resource server can
	// refuse a refresh token presented as a Bearer token.
	TokenUse string `json:"token_use,omitempty"`
}

// newIntrospection builds the answer. An inactive token shows nothing but
// active=false, whatever else the auth service filled in.
func newIntrospection(resp *authv1.IntrospectTokenResponse) introspection {
	if !resp.GetActive() {
		return introspection{}
	}
	in := introspection{
		Active:   true,
		Scope:    resp.GetScope(),
		ClientID: resp.GetClientId(),
		Exp:      resp.GetExp(),
		Iat:      resp.GetIat(),
		Sub:      resp.GetSub(),
		Aud:      audience(resp.GetAud()),
		Iss:      resp.GetIss(),
		Jti:      resp.GetJti(),
		TenantID: resp.GetTenantid(),
	}
	in.TokenType, in.TokenUse = tokenTypeAndUse(resp.GetTokenType())
	return in
}

// tokenTypeAndUse splits the auth service's token_type, which names the
// token's use, into RFC 7662's token_type (RFC 6749 §7.1's type: an access
// token is a Bearer token; a refresh token has no such type) and token_use.
// A value the gateway does not know passes through as the token_type.
func tokenTypeAndUse(t string) (tokenType, use string) {
	switch t {
	case tokenUseAccess:
		return "Bearer", tokenUseAccess
	case tokenUseRefresh:
		return "", tokenUseRefresh
	}
	return t, ""
}

// audience is the aud member as the access token's own claim carries it
// (RFC 7519 §4.1.3): one audience as a string, several as an array, none
// left out.
func audience(aud []string) any {
	switch len(aud) {
	case 0:
		return nil
	case 1:
		return aud[0]
	}
	return aud
}
