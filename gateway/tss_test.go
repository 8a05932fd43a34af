package gateway_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chave/chave/gateway"
	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func newTSSHarness(t *testing.T, edit func(*gateway.Config)) *harness {
	t.Helper()
	h := newHarness(t, edit)
	h.auth.answer(&authv1.TokenResponse{AccessToken: "at.jwt", TokenType: "Bearer", ExpiresIn: 1800, RefreshToken: "rt.2", Scope: "inventory"}, nil)
	return h
}

// checkTSSSuccess checks WSTSSAUTH's success body byte for byte: exactly
// four members in TSS's order, expiresIn a number.
func checkTSSSuccess(t *testing.T, resp *http.Response, body []byte, want string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	if string(body) != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
	if got := decodeObject(t, body); len(got) != 4 {
		t.Errorf("body has %d members, want 4: %s", len(got), body)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// checkTSSError checks a WSTSSAUTH failure: the status, and a body of
// exactly {"code", "message"}.
func checkTSSError(t *testing.T, resp *http.Response, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	if resp.StatusCode != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, wantStatus, body)
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q is not an object of strings: %v", body, err)
	}
	if got["code"] != wantCode || got["message"] == "" || len(got) != 2 {
		t.Errorf("body = %s, want code %q and a message, nothing else", body, wantCode)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != "" {
		t.Errorf("WWW-Authenticate = %q: TSS clients send credentials in the body, never Basic", got)
	}
}

const tssSuccessBody = `{"accesstoken":"at.jwt","expiresIn":1800,"refreshToken":"rt.2","tokenType":"Bearer"}`

func TestTSSDocumentExamples(t *testing.T) {
	tests := []struct {
		name, body string
		want       *authv1.TokenRequest
	}{
		{"client credentials, as the TSS document spells it",
			`{"urlTSS": "http://localhost:8080/", "grantyType": "1", "clientId": "...", "clientSecret": "..."}`,
			&authv1.TokenRequest{GrantType: "client_credentials", ClientId: "...", ClientSecret: "..."}},
		{"refresh with credentials",
			`{"urlTSS": "...", "grantType": 2, "clientId": "...", "clientSecret": "...", "refreshToken": "..."}`,
			&authv1.TokenRequest{GrantType: "refresh_token", ClientId: "...", ClientSecret: "...", RefreshToken: "...", RefreshTokenAuthenticates: true}},
		// The document's refresh example, exactly: no credentials, and a
		// comma before the closing brace.
		{"refresh, as the TSS document prints it",
			`{"urlTSS": "https://tss.example.com:8080", "grantType": 2, "refreshToken": "chave_rt_x.y", }`,
			&authv1.TokenRequest{GrantType: "refresh_token", RefreshToken: "chave_rt_x.y", RefreshTokenAuthenticates: true}},
		{"refresh, as the TSS document prints it, spelt grantyType",
			"{\"urlTSS\": \"https://tss.example.com:8080\",\n\t\"grantyType\": 2,\n\t\"refreshToken\": \"chave_rt_x.y\",\n}\n",
			&authv1.TokenRequest{GrantType: "refresh_token", RefreshToken: "chave_rt_x.y", RefreshTokenAuthenticates: true}},
	}
	h := newTSSHarness(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.auth.requests())
			resp, body := h.do(t, http.MethodPost, "/rest/WSTSSAUTH", jsonHeader, tt.body)
			checkTSSSuccess(t, resp, body, tssSuccessBody)
			if reqs := h.auth.requests()[before:]; len(reqs) != 1 || !proto.Equal(reqs[0], tt.want) {
				t.Errorf("auth service got %v, want [%v]", reqs, tt.want)
			}
		})
	}
}

func TestTSSAccepts(t *testing.T) {
	tests := []struct {
		name, path, contentType, body, wantGrant string
	}{
		{"number", "/rest/WSTSSAUTH", "application/json", `{"grantType":1,"clientId":"c","clientSecret":"s"}`, "client_credentials"},
		{"numeric string", "/rest/WSTSSAUTH", "application/json", `{"grantType":"2","clientId":"c","clientSecret":"s","refreshToken":"r"}`, "refresh_token"},
		{"numeric string with spaces", "/rest/WSTSSAUTH", "application/json", `{"grantType":" 1 ","clientId":"c"}`, "client_credentials"},
		{"alias and name agree", "/rest/WSTSSAUTH", "application/json", `{"grantType":1,"grantyType":"1","clientId":"c"}`, "client_credentials"},
		{"alias beside a null name", "/rest/WSTSSAUTH", "application/json", `{"grantType":null,"grantyType":2,"clientId":"c"}`, "refresh_token"},
		{"alias beside an empty name", "/rest/WSTSSAUTH", "application/json", `{"grantType":"","grantyType":2,"clientId":"c"}`, "refresh_token"},
		{"unknown members", "/rest/WSTSSAUTH", "application/json", `{"grantType":1,"clientId":"c","extra":{"a":[1]},"urlTSS":7}`, "client_credentials"},
		{"names in other case", "/rest/WSTSSAUTH", "application/json", `{"GRANTTYPE":1,"clientid":"c"}`, "client_credentials"},
		{"lower-case path", "/rest/wstssauth", "application/json", `{"grantType":1,"clientId":"c"}`, "client_credentials"},
		{"upper-case path", "/REST/WSTSSAUTH", "application/json", `{"grantType":1,"clientId":"c"}`, "client_credentials"},
		{"mixed-case path", "/Rest/WsTssAuth", "application/json", `{"grantType":1,"clientId":"c"}`, "client_credentials"},
		{"no content type", "/rest/WSTSSAUTH", "", `{"grantType":1,"clientId":"c"}`, "client_credentials"},
		{"json with charset", "/rest/WSTSSAUTH", "application/json; charset=UTF-8", `{"grantType":1,"clientId":"c"}`, "client_credentials"},
		{"sloppy parameters", "/rest/WSTSSAUTH", "Application/JSON;charset=utf-8;", `{"grantType":1,"clientId":"c"}`, "client_credentials"},
		{"text/json", "/rest/WSTSSAUTH", "text/json", `{"grantType":1,"clientId":"c"}`, "client_credentials"},
		{"text/plain", "/rest/WSTSSAUTH", "text/plain", `{"grantType":1,"clientId":"c"}`, "client_credentials"},
		{"form type with a JSON body", "/rest/WSTSSAUTH", "application/x-www-form-urlencoded", `{"grantType":1,"clientId":"c"}`, "client_credentials"},
	}
	h := newTSSHarness(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header http.Header
			if tt.contentType != "" {
				header = http.Header{"Content-Type": {tt.contentType}}
			}
			before := len(h.auth.requests())
			resp, body := h.do(t, http.MethodPost, tt.path, header, tt.body)
			checkTSSSuccess(t, resp, body, tssSuccessBody)
			if reqs := h.auth.requests()[before:]; len(reqs) != 1 || reqs[0].GetGrantType() != tt.wantGrant || reqs[0].GetClientId() != "c" {
				t.Errorf("auth service got %v, want one %s request for client c", reqs, tt.wantGrant)
			}
		})
	}
	if !strings.Contains(h.logs.String(), "route=/rest/WSTSSAUTH") {
		t.Errorf("access log lacks the canonical route:\n%s", h.logs.String())
	}
}

func TestTSSWithoutRefreshToken(t *testing.T) {
	h := newHarness(t, nil)
	h.auth.answer(&authv1.TokenResponse{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 60}, nil)
	resp, body := h.do(t, http.MethodPost, "/rest/WSTSSAUTH", jsonHeader, `{"grantType":1,"clientId":"c","clientSecret":"s"}`)
	checkTSSSuccess(t, resp, body, `{"accesstoken":"at","expiresIn":60,"refreshToken":"","tokenType":"Bearer"}`)
}

func TestTSSRequestErrors(t *testing.T) {
	tests := []struct {
		name, method, contentType, body string
		wantStatus                      int
		wantCode                        string
	}{
		{"bad JSON", "POST", "application/json", `{"grantType":1,`, 400, "invalid_request"},
		{"empty body", "POST", "application/json", ``, 400, "invalid_request"},
		{"array", "POST", "application/json", `[1]`, 400, "invalid_request"},
		{"trailing data", "POST", "application/json", `{"grantType":1,"clientId":"c"} {}`, 400, "invalid_request"},
		{"grantType twice", "POST", "application/json", `{"grantType":2,"refreshToken":"r","grantType":1}`, 400, "invalid_request"},
		{"clientId twice, in another case", "POST", "application/json", `{"grantType":1,"clientId":"a","CLIENTID":"b","clientSecret":"s"}`, 400, "invalid_request"},
		{"refreshToken twice, with the document's trailing comma", "POST", "application/json", `{"grantType":2,"refreshToken":"r","refreshToken":"s",}`, 400, "invalid_request"},
		{"two trailing commas", "POST", "application/json", `{"grantType":2,"refreshToken":"r",,}`, 400, "invalid_request"},
		{"a trailing comma in an array", "POST", "application/json", `{"grantType":2,"refreshToken":"r","x":[1,]}`, 400, "invalid_request"},
		{"only a comma", "POST", "application/json", `{,}`, 400, "invalid_request"},
		{"clientId not a string", "POST", "application/json", `{"grantType":1,"clientId":7}`, 400, "invalid_request"},
		{"missing grantType", "POST", "application/json", `{"clientId":"c","clientSecret":"s"}`, 400, "invalid_request"},
		{"null body", "POST", "application/json", `null`, 400, "invalid_request"},
		{"grantType 3", "POST", "application/json", `{"grantType":3,"clientId":"c"}`, 400, "unsupported_grant_type"},
		{"grantType \"abc\"", "POST", "application/json", `{"grantType":"abc","clientId":"c"}`, 400, "unsupported_grant_type"},
		{"grantType 1.5", "POST", "application/json", `{"grantType":1.5,"clientId":"c"}`, 400, "unsupported_grant_type"},
		{"grantType huge", "POST", "application/json", `{"grantType":99999999999999999999999,"clientId":"c"}`, 400, "unsupported_grant_type"},
		{"grantType bool", "POST", "application/json", `{"grantType":true,"clientId":"c"}`, 400, "invalid_request"},
		{"grantType object", "POST", "application/json", `{"grantType":{},"clientId":"c"}`, 400, "invalid_request"},
		{"alias conflict", "POST", "application/json", `{"grantType":1,"grantyType":"2","clientId":"c"}`, 400, "invalid_request"},
		{"bad alias", "POST", "application/json", `{"grantType":1,"grantyType":"x","clientId":"c"}`, 400, "unsupported_grant_type"},
		{"missing clientId", "POST", "application/json", `{"grantType":1,"clientSecret":"s"}`, 401, "invalid_client"},
		{"XML content type", "POST", "application/xml", `{"grantType":1,"clientId":"c"}`, 400, "invalid_request"},
		{"multipart", "POST", "multipart/form-data; boundary=x", `{"grantType":1,"clientId":"c"}`, 400, "invalid_request"},
		{"body too large", "POST", "application/json",
			`{"grantType":1,"clientId":"c","pad":"` + strings.Repeat("a", 64<<10) + `"}`, 413, "invalid_request"},
		{"GET", "GET", "", "", 405, "invalid_request"},
	}
	h := newTSSHarness(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header http.Header
			if tt.contentType != "" {
				header = http.Header{"Content-Type": {tt.contentType}}
			}
			before := len(h.auth.requests())
			resp, body := h.do(t, tt.method, "/rest/wstssauth", header, tt.body)
			checkTSSError(t, resp, body, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
			}
			if n := len(h.auth.requests()) - before; n != 0 {
				t.Errorf("auth service called %d times for a request the gateway should refuse", n)
			}
		})
	}
}

func TestTSSUpstreamErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"invalid_client", oauthStatus(t, codes.Unauthenticated, "client authentication failed", "oauth2.chave", "invalid_client"),
			401, "invalid_client", "client authentication failed"},
		{"invalid_grant", oauthStatus(t, codes.InvalidArgument, "refresh token was already used", "oauth2.chave", "invalid_grant"),
			400, "invalid_grant", "refresh token was already used"},
		{"unavailable", status.Error(codes.Unavailable, "dial tcp 10.0.0.7:9090"),
			503, "temporarily_unavailable", "the authorization server is temporarily unavailable"},
		{"internal", status.Error(codes.Internal, "pq: password authentication failed"),
			500, "server_error", "internal error"},
	}
	h := newHarness(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.auth.answer(nil, tt.err)
			resp, body := h.do(t, http.MethodPost, "/rest/WSTSSAUTH", jsonHeader, `{"grantType":1,"clientId":"c","clientSecret":"s"}`)
			checkTSSError(t, resp, body, tt.wantStatus, tt.wantCode)
			var got map[string]string
			_ = json.Unmarshal(body, &got)
			if want := map[string]string{"code": tt.wantCode, "message": tt.wantMsg}; !reflect.DeepEqual(got, want) {
				t.Errorf("body = %v, want %v", got, want)
			}
		})
	}
}

func TestTSSAuthUnreachable(t *testing.T) {
	h := newHarness(t, func(cfg *gateway.Config) { cfg.Auth = dial(t, closedAddr(t)) })
	resp, body := h.do(t, http.MethodPost, "/REST/wstssauth", nil, `{"grantType":"1","clientId":"c","clientSecret":"s"}`)
	checkTSSError(t, resp, body, http.StatusServiceUnavailable, "temporarily_unavailable")
}

func TestTSSPathIsExact(t *testing.T) {
	h := newTSSHarness(t, nil)
	for _, path := range []string{"/rest/WSTSSAUTH/", "/rest/WSTSSAUTHX", "/rest/WSTSSAUTH/x"} {
		if resp, _ := h.do(t, http.MethodPost, path, jsonHeader, `{"grantType":1,"clientId":"c"}`); resp.StatusCode == http.StatusOK {
			t.Errorf("%s answered 200", path)
		}
	}
	if n := len(h.auth.requests()); n != 0 {
		t.Errorf("auth service called %d times", n)
	}
}
