package app

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
)

// TestTSSRefreshByRefreshTokenAlone sends the TSS document's refresh
// example byte for byte (no client credentials, a trailing comma): the
// refresh token authenticates by itself, rotation and reuse detection stay
// as they are, credentials if sent must be the token's, a rotated secret
// cuts the family off, and /oauth2/token still wants client
// authentication.
func TestTSSRefreshByRefreshTokenAlone(t *testing.T) { forEachDeployment(t, testTSSRefreshAlone) }

func testTSSRefreshAlone(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	other, otherSecret := e.credential(t, op, nil)
	tssToken := func(r response) (access, refresh string) {
		t.Helper()
		var m map[string]any
		if r.status != 200 || json.Unmarshal(r.body, &m) != nil || len(m) != 4 {
			t.Fatalf("TSS answer: %d %s", r.status, r.body)
		}
		return m["accesstoken"].(string), m["refreshToken"].(string)
	}
	refusedWith := func(what string, r response, code string) {
		t.Helper()
		var m map[string]any
		if r.status == 200 || json.Unmarshal(r.body, &m) != nil || m["code"] != code || m["message"] == nil {
			t.Fatalf("%s: %d %s, want a refusal with code %s", what, r.status, r.body, code)
		}
	}
	documentRefresh := func(rt string) string {
		return `{"urlTSS": "https://tss.example.com:8080", "grantType": 2, "refreshToken": "` + rt + `", }`
	}

	_, rt0 := tssToken(e.tss("/rest/WSTSSAUTH", fmt.Sprintf(`{"urlTSS": "x", "grantType": 1, "clientId": %q, "clientSecret": %q}`, id, secret)))
	at1, rt1 := tssToken(e.tss("/rest/WSTSSAUTH", documentRefresh(rt0)))
	if got := e.introspect(id, secret, at1); got["active"] != true || got["client_id"] != id {
		t.Fatalf("access token from a refresh by refresh token alone introspects %v", got)
	}
	// The document's other spelling.
	_, rt2 := tssToken(e.tss("/rest/WSTSSAUTH", `{"urlTSS": "https://tss.example.com:8080", "grantyType": 2, "refreshToken": "`+rt1+`", }`))

	// Credentials, if sent, must be the token's: another client's id, or
	// its id and secret, are refused and spend nothing.
	refusedWith("another client's id", e.tss("/rest/WSTSSAUTH",
		fmt.Sprintf(`{"grantType": 2, "clientId": %q, "refreshToken": %q}`, other, rt2)), "invalid_grant")
	refusedWith("another client's credentials", e.tss("/rest/WSTSSAUTH",
		fmt.Sprintf(`{"grantType": 2, "clientId": %q, "clientSecret": %q, "refreshToken": %q}`, other, otherSecret, rt2)), "invalid_grant")
	refusedWith("the right id with a wrong secret", e.tss("/rest/WSTSSAUTH",
		fmt.Sprintf(`{"grantType": 2, "clientId": %q, "clientSecret": %q, "refreshToken": %q}`, id, wrongSecret(t), rt2)), "invalid_client")
	_, rt3 := tssToken(e.tss("/rest/WSTSSAUTH", fmt.Sprintf(`{"grantType": 2, "clientId": %q, "refreshToken": %q, }`, id, rt2)))

	// /oauth2/token keeps RFC 6749 §6: no client authentication, no refresh.
	if r := e.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt3}}, "", ""); r.status != 401 || r.json(t)["error"] != "invalid_client" {
		t.Fatalf("/oauth2/token refresh without client authentication: %d %s", r.status, r.body)
	}

	// Reuse detection: a spent token revokes the family, the newest too.
	refusedWith("a spent refresh token", e.tss("/rest/WSTSSAUTH", documentRefresh(rt1)), "invalid_grant")
	refusedWith("the newest token of a family revoked on reuse", e.tss("/rest/WSTSSAUTH", documentRefresh(rt3)), "invalid_grant")

	// Rotation cuts a family off, by the token alone as well.
	_, fresh := tssToken(e.tss("/rest/WSTSSAUTH", fmt.Sprintf(`{"grantType": 1, "clientId": %q, "clientSecret": %q}`, id, secret)))
	if r := e.do("POST", "/v1/tokens/"+id+":rotate", op, map[string]any{}); r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	refusedWith("a refresh token from before a rotation", e.tss("/rest/WSTSSAUTH", documentRefresh(fresh)), "invalid_grant")

	// Garbage is invalid_grant, never a 500.
	refusedWith("a forged refresh token", e.tss("/rest/WSTSSAUTH", documentRefresh("chave_rt_eyJmIjoiQSJ9.AAAA")), "invalid_grant")
	refusedWith("no refresh token", e.tss("/rest/WSTSSAUTH", `{"grantType": 2, }`), "invalid_request")
}
