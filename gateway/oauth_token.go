package gateway

import (
	"net/http"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

// serveToken is POST /oauth2/token: RFC 6749 §4.4 (client credentials) and
// §6 (refresh), form-encoded, the client authenticated by HTTP Basic or by
// the body. The auth service decides which grants exist.
func (o *oauthEndpoints) serveToken(w http.ResponseWriter, r *http.Request) {
	req, err := parseTokenRequest(w, r)
	if err != nil {
		o.writeError(w, r, err)
		return
	}
	resp, err := o.grant(r.Context(), req)
	if err != nil {
		o.writeError(w, r, err)
		return
	}
	writeTokenResponse(w, resp)
}

// parseTokenRequest reads a POSTed RFC 6749 token request: every grant's
// parameters are passed on (refresh_token for §6, scope for both), and the
// auth service decides which apply. Its errors are *oauthError.
func parseTokenRequest(w http.ResponseWriter, r *http.Request) (grantRequest, error) {
	if err := requirePost(w, r); err != nil {
		return grantRequest{}, err
	}
	form, err := readForm(w, r)
	if err != nil {
		return grantRequest{}, err
	}
	client, err := clientCredentials(r.Header, form)
	if err != nil {
		return grantRequest{}, err
	}
	return grantRequest{
		GrantType:    form.Get("grant_type"),
		ClientID:     client.id,
		ClientSecret: client.secret,
		Scope:        form.Get("scope"),
		RefreshToken: form.Get("refresh_token"),
	}, nil
}

// tokenResponse is RFC 6749 §5.1's body (written by tokenBody).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

func writeTokenResponse(w http.ResponseWriter, resp *authv1.TokenResponse) {
	setNoStore(w.Header())
	writeJSONBody(w, http.StatusOK, tokenBody(tokenResponse{
		AccessToken:  resp.GetAccessToken(),
		TokenType:    resp.GetTokenType(),
		ExpiresIn:    resp.GetExpiresIn(),
		RefreshToken: resp.GetRefreshToken(),
		Scope:        resp.GetScope(),
	}))
}
