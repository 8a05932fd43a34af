package gateway

import (
	"net/http"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

// serveRevoke is POST /oauth2/revoke (RFC 7009): the client, authenticated
// as at the token endpoint, revokes one of its access or refresh tokens.
// Success is 200 with an empty body (§2.2), also for a token the server does
// not know; only the auth service's answer decides it, so a storage failure
// there answers 503, never 200.
func (o *oauthEndpoints) serveRevoke(w http.ResponseWriter, r *http.Request) {
	q, err := readTokenQuery(w, r)
	if err != nil {
		o.writeError(w, r, err)
		return
	}
	_, err = o.auth.RevokeToken(r.Context(), &authv1.RevokeTokenRequest{
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
	w.WriteHeader(http.StatusOK)
}
