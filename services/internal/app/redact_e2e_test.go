package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEndToEndSwappedCredentialsNotLogged: a client that swaps its id and
// secret (client_id=<secret>&client_secret=<id>), at every endpoint that
// authenticates clients and by every way of sending them, is refused, and
// the captured logs (at debug level) hold no secret, access token or
// refresh token, nor anything else a caller put where ids go.
func TestEndToEndSwappedCredentialsNotLogged(t *testing.T) {
	forEachDeployment(t, testEndToEndSwappedCredentialsNotLogged)
}

func testEndToEndSwappedCredentialsNotLogged(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	r := e.grant(id, secret, "")
	if r.status != 200 {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	issued := r.json(t)
	access, _ := issued["access_token"].(string)
	refresh, _ := issued["refresh_token"].(string)
	if access == "" || refresh == "" {
		t.Fatalf("grant answered no access or refresh token: %s", r.body)
	}

	swapped := url.Values{"client_id": {secret}, "client_secret": {id}}
	with := func(extra url.Values) url.Values {
		v := url.Values{}
		for k, vs := range swapped {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	for _, c := range []struct {
		name         string
		path         string
		form         url.Values
		basicID, sec string
		want         int
	}{
		{"token, body", "/oauth2/token", with(url.Values{"grant_type": {"client_credentials"}}), "", "", 401},
		{"token, Basic", "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, secret, id, 401},
		// The refresh token names another client: refused before authentication.
		{"refresh, body", "/oauth2/token", with(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}), "", "", 400},
		{"revoke, body", "/oauth2/revoke", with(url.Values{"token": {access}}), "", "", 401},
		{"revoke, Basic", "/oauth2/revoke", url.Values{"token": {refresh}}, secret, id, 401},
		{"introspect, body", "/oauth2/introspect", with(url.Values{"token": {access}}), "", "", 401},
		{"introspect, Basic", "/oauth2/introspect", url.Values{"token": {refresh}}, secret, id, 401},
	} {
		if r := e.form(c.path, c.form, c.basicID, c.sec); r.status != c.want {
			t.Errorf("%s: %d %s; want %d", c.name, r.status, r.body, c.want)
		}
	}
	for _, body := range []map[string]any{
		{"grantType": 1, "clientId": secret, "clientSecret": id},
		{"grantType": "1", "clientId": secret, "clientSecret": id, "urlTSS": secret},
		{"grantType": 2, "clientId": secret, "clientSecret": id, "refreshToken": refresh},
	} {
		b, _ := json.Marshal(body)
		if r := e.tss("/rest/WSTSSAUTH", string(b)); r.status < 400 || r.status >= 500 {
			t.Errorf("TSS %s: %d %s", b, r.status, r.body)
		}
	}
	// Secrets where ids, filters and request ids go.
	for _, path := range []string{"/v1/tokens/" + secret, "/v1/tokens?tenant=" + secret, "/v1/tenants/" + secret} {
		req, _ := http.NewRequest("GET", e.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+op)
		req.Header.Set("X-Request-Id", secret)
		if r := e.send(req); r.status >= 500 {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	// The real credential still works: nothing above locked it out.
	if r := e.grant(id, secret, ""); r.status != 200 {
		t.Errorf("grant after the swapped attempts: %d %s", r.status, r.body)
	}

	logs := e.logs.String()
	if !strings.Contains(logs, "client authentication failed") {
		t.Fatalf("the failed authentications were not logged:\n%s", logs)
	}
	for what, leak := range map[string]string{"secret": secret[len("chave_sk_"):], "access token": access[20:],
		"refresh token": refresh[len("chave_rt_"):], "operator secret": e.opSec[len("chave_sk_"):], "operator token": op[20:]} {
		if strings.Contains(logs, leak) {
			t.Errorf("the logs hold the %s", what)
		}
	}
	assertNoSecretsAtRest(t, e, secret)
}
