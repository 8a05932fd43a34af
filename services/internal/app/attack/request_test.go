package attack

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestHeaderAndBodyTricks sends requests that bend HTTP: more than one
// credential, headers meant for the services behind the gateway, method
// overrides, and bodies a lenient parser would misread. Each row says what
// it sends and the status it must get; a row may also require that
// nothing changed.
func TestHeaderAndBodyTricks(t *testing.T) { forEach(t, testHeaderAndBodyTricks) }

func testHeaderAndBodyTricks(t *testing.T, tg *target) {
	op := tg.operatorToken()
	tg.tenant(op, "acme")
	tg.tenant(op, "globex")
	victim, _ := tg.credential(op, "acme", "victim", "inventory")
	id, secret := tg.credential(op, "acme", "client", "inventory")
	otherID, otherSecret := tg.credential(op, "acme", "other", "inventory")
	globexID, globexSecret := tg.credential(op, "globex", "globex-admin", "registry.admin")
	globex := tg.accessToken(globexID, globexSecret)
	basic := func(req *http.Request, id, secret string) *http.Request {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return req
	}
	form := func(path, body string) *http.Request {
		req := tg.request("POST", path, "", body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	big := `{"displayName": "` + strings.Repeat("x", 2<<20) + `", "tenant": "acme", "contexts": ["inventory"]}`

	rows := []struct {
		name string
		req  func() *http.Request
		want []int // any of these statuses
	}{
		// More than one credential.
		{"two Authorization headers, both the operator's", func() *http.Request {
			req := tg.request("GET", "/v1/tokens", op, nil)
			req.Header.Add("Authorization", "Bearer "+op)
			return req
		}, []int{400}},
		{"two Authorization headers, a tenant admin's then the operator's", func() *http.Request {
			req := tg.request("GET", "/v1/tokens?tenant=acme", globex, nil)
			req.Header.Add("Authorization", "Bearer "+op)
			return req
		}, []int{400}},
		{"an Authorization header with a byte outside ASCII", func() *http.Request {
			req := tg.request("GET", "/v1/tokens", "", nil)
			req.Header["Authorization"] = []string{"Bearer " + op + "\xe9"}
			return req
		}, []int{400, 401}},
		{"Basic and body client authentication at once", func() *http.Request {
			return basic(form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()), id, secret)
		}, []int{400}},
		{"Basic for one client, the body naming another", func() *http.Request {
			return basic(form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {otherID}}.Encode()), id, secret)
		}, []int{400, 401}},
		{"two Authorization headers at the token endpoint", func() *http.Request {
			req := basic(form("/oauth2/token", "grant_type=client_credentials"), id, secret)
			req.Header.Add("Authorization", req.Header.Get("Authorization"))
			return req
		}, []int{400, 401}},
		{"Basic at the token endpoint with one client's id and another's secret", func() *http.Request {
			return basic(form("/oauth2/token", "grant_type=client_credentials"), id, otherSecret)
		}, []int{401}},
		{"a Bearer token at the token endpoint instead of client authentication", func() *http.Request {
			req := form("/oauth2/token", "grant_type=client_credentials")
			req.Header.Set("Authorization", "Bearer "+op)
			return req
		}, []int{400, 401}},

		// Headers meant for the services behind the gateway.
		{"Grpc-Metadata-Authorization instead of Authorization", func() *http.Request {
			req := tg.request("GET", "/v1/tokens", "", nil)
			req.Header.Set("Grpc-Metadata-Authorization", "Bearer "+op)
			return req
		}, []int{401}},
		{"Grpc-Metadata-Authorization next to a tenant admin's Authorization", func() *http.Request {
			req := tg.request("GET", "/v1/tokens?tenant=acme", globex, nil)
			req.Header.Set("Grpc-Metadata-Authorization", "Bearer "+op)
			return req
		}, []int{403}},
		{"Grpc-Metadata-X-Forwarded-For and X-Forwarded-For from outside", func() *http.Request {
			req := tg.request("GET", "/v1/tokens?tenant=acme", globex, nil)
			req.Header.Set("Grpc-Metadata-X-Forwarded-For", "127.0.0.1")
			req.Header.Set("X-Forwarded-For", "127.0.0.1")
			return req
		}, []int{403}},

		// Method overrides.
		{"X-HTTP-Method-Override: PATCH on a GET", func() *http.Request {
			req := tg.request("GET", "/v1/tokens/"+victim, op, map[string]any{"displayName": "pwned"})
			req.Header.Set("X-HTTP-Method-Override", "PATCH")
			return req
		}, []int{200}}, // answered as the GET it is; the token is checked below
		{"X-HTTP-Method-Override: GET on a revoke", func() *http.Request {
			req := tg.request("POST", "/v1/tokens/"+victim+":revoke", globex, map[string]any{})
			req.Header.Set("X-HTTP-Method-Override", "GET")
			return req
		}, []int{403, 404}},
		{"X-HTTP-Method-Override: PATCH on a POST to the token", func() *http.Request {
			req := tg.request("POST", "/v1/tokens/"+victim, op, map[string]any{"displayName": "pwned"})
			req.Header.Set("X-HTTP-Method-Override", "PATCH")
			return req
		}, []int{404, 405, 501}},
		{"a form-encoded POST to a GET route (path length fallback)", func() *http.Request {
			req := tg.request("POST", "/v1/tokens/"+victim, op, "displayName=pwned")
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}, []int{404, 405, 501}},

		// Bodies.
		{"duplicate JSON keys: tenant globex, then acme", func() *http.Request {
			return tg.request("POST", "/v1/tokens", globex, `{"displayName": "dup", "tenant": "globex", "contexts": ["inventory"], "tenant": "acme"}`)
		}, []int{400, 403}},
		{"duplicate JSON keys in a PATCH", func() *http.Request {
			return tg.request("PATCH", "/v1/tokens/"+victim, op, `{"displayName": "one", "displayName": "pwned"}`)
		}, []int{400}},
		{"an unknown field", func() *http.Request {
			return tg.request("POST", "/v1/tokens", op, `{"displayName": "x", "tenant": "acme", "contexts": ["inventory"], "operator": true}`)
		}, []int{400}},
		{"a field in snake_case and in camelCase", func() *http.Request {
			return tg.request("POST", "/v1/tokens", op, `{"displayName": "x", "display_name": "y", "tenant": "acme", "contexts": ["inventory"]}`)
		}, []int{400}},
		{"a body over the limit (2 MiB)", func() *http.Request {
			return tg.request("POST", "/v1/tokens", op, big)
		}, []int{400, 413}},
		{"a JSON array where an object belongs", func() *http.Request {
			return tg.request("POST", "/v1/tokens", op, `[{"displayName": "x", "tenant": "acme", "contexts": ["inventory"]}]`)
		}, []int{400}},
		{"JSON nested ten thousand deep", func() *http.Request {
			return tg.request("POST", "/v1/tokens", op, strings.Repeat(`{"parameters":`, 10000)+strings.Repeat("}", 10000))
		}, []int{400}},
		{"invalid UTF-8 in a string", func() *http.Request {
			return tg.request("POST", "/v1/tokens", op, "{\"displayName\": \"\xff\xfe\", \"tenant\": \"acme\", \"contexts\": [\"inventory\"]}")
		}, []int{400}},
		{"JSON to the token endpoint", func() *http.Request {
			return basic(tg.request("POST", "/oauth2/token", "", map[string]any{"grant_type": "client_credentials"}), id, secret)
		}, []int{400}},
		{"the grant type twice at the token endpoint", func() *http.Request {
			return basic(form("/oauth2/token", "grant_type=client_credentials&grant_type=refresh_token"), id, secret)
		}, []int{400}},
		{"the grant type in the query string only", func() *http.Request {
			return basic(form("/oauth2/token?grant_type=client_credentials", ""), id, secret)
		}, []int{400}},
		{"client credentials in the query string", func() *http.Request {
			return form("/oauth2/token?client_id="+url.QueryEscape(id)+"&client_secret="+url.QueryEscape(secret), "grant_type=client_credentials")
		}, []int{400, 401}},
		{"a GET to the token endpoint", func() *http.Request {
			return basic(tg.request("GET", "/oauth2/token?grant_type=client_credentials", "", nil), id, secret)
		}, []int{405}},
		{"a form to the TSS endpoint", func() *http.Request {
			return form("/rest/WSTSSAUTH", url.Values{"grantType": {"1"}, "clientId": {id}, "clientSecret": {secret}}.Encode())
		}, []int{400, 415}},
		{"TSS: duplicate keys, a refresh then client credentials", func() *http.Request {
			return tg.request("POST", "/rest/WSTSSAUTH", "", fmt.Sprintf(`{"grantType": 2, "refreshToken": "x", "grantType": 1, "clientId": %q, "clientSecret": %q}`, id, secret))
		}, []int{400}},
		{"TSS: a client id of another client with this client's secret", func() *http.Request {
			return tg.request("POST", "/rest/WSTSSAUTH", "", fmt.Sprintf(`{"grantType": 1, "clientId": %q, "clientSecret": %q}`, otherID, secret))
		}, []int{401}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			a, err := tg.try(row.req())
			if err != nil {
				t.Fatal(err)
			}
			ok := false
			for _, s := range row.want {
				ok = ok || a.status == s
			}
			if !ok {
				t.Errorf("%d %s, want one of %v", a.status, a.body, row.want)
			}
			if a.status >= 500 {
				t.Errorf("a server error: %d", a.status)
			}
		})
	}

	// Nothing above changed the victim's token, created a token in acme
	// for globex, or revoked anything.
	tok := tg.must(tg.do("GET", "/v1/tokens/"+victim, op, nil), "read the victim")
	if tok["displayName"] != "victim" || !strings.HasSuffix(fmt.Sprint(tok["state"]), "ACTIVE") {
		t.Errorf("the victim's token changed: %v", tok)
	}
	list := tg.must(tg.do("GET", "/v1/tokens?tenant=acme", op, nil), "list acme")
	if n := len(list["tokens"].([]any)); n != 3 {
		t.Errorf("acme has %d tokens, want 3", n)
	}
	tg.grant(otherID, otherSecret) // still a working credential
}
