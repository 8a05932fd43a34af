package app

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestOAuthErrors checks RFC 6749 §5.2 through the real stack: statuses,
// codes, WWW-Authenticate, and that an unknown client and a wrong secret
// are indistinguishable.
func TestOAuthErrors(t *testing.T) { forEachDeployment(t, testOAuthErrors) }

func testOAuthErrors(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	cc := url.Values{"grant_type": {"client_credentials"}}

	unknown := e.form("/oauth2/token", cc, "chave_ci_0000000000000000000000", secret)
	wrong := e.form("/oauth2/token", cc, id, wrongSecret(t))
	for name, r := range map[string]response{"unknown client": unknown, "wrong secret": wrong} {
		if r.status != 401 || r.json(t)["error"] != "invalid_client" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: %d %v %s", name, r.status, r.header, r.body)
		}
	}
	if !bytes.Equal(unknown.body, wrong.body) {
		t.Errorf("an unknown client and a wrong secret answer differently:\n%s\n%s", unknown.body, wrong.body)
	}

	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	cases := []struct {
		name   string
		form   url.Values
		basic  bool
		status int
		code   string
	}{
		{"credentials in two places", body, true, 400, "invalid_request"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, true, 400, "invalid_request"},
		{"no grant type", url.Values{}, true, 400, "invalid_request"},
		{"unsupported grant type", url.Values{"grant_type": {"password"}}, true, 400, "unsupported_grant_type"},
		{"widened scope", url.Values{"grant_type": {"client_credentials"}, "scope": {"labels"}}, true, 400, "invalid_scope"},
		{"bad refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"chave_rt_nope"}}, true, 400, "invalid_grant"},
		{"no client authentication", url.Values{"grant_type": {"client_credentials"}}, false, 401, "invalid_client"},
		{"body credentials", body, false, 200, ""},
	}
	for _, tc := range cases {
		basicID, basicSecret := "", ""
		if tc.basic {
			basicID, basicSecret = id, secret
		}
		r := e.form("/oauth2/token", tc.form, basicID, basicSecret)
		if r.status != tc.status || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d (Cache-Control %q) %s, want %d", tc.name, r.status, r.header.Get("Cache-Control"), r.body, tc.status)
			continue
		}
		if tc.code != "" && r.json(t)["error"] != tc.code {
			t.Errorf("%s: error %v, want %s", tc.name, r.json(t)["error"], tc.code)
		}
	}
	// Not form-encoded: invalid_request, never a 5xx.
	req, _ := http.NewRequest("POST", e.base+"/oauth2/token", strings.NewReader(`{"grant_type":"client_credentials"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(id, secret)
	if r := e.send(req); r.status != 400 {
		t.Errorf("JSON body: %d %s", r.status, r.body)
	}
}
