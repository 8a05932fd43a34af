package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chave/chave/gateway"
	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

// The endpoints that read RFC 7009 / RFC 7662 requests, with the upstream
// call each makes and a way to answer it with an error.
var tokenQueryEndpoints = []struct {
	path    string
	calls   func(*fakeAuth) int
	failure func(*fakeAuth, error)
}{
	{
		"/oauth2/revoke",
		func(f *fakeAuth) int { return len(callsOf[*authv1.RevokeTokenRequest](f)) },
		func(f *fakeAuth, err error) { f.set(func(f *fakeAuth) { f.revokeErr = err }) },
	},
	{
		"/oauth2/introspect",
		func(f *fakeAuth) int { return len(callsOf[*authv1.IntrospectTokenRequest](f)) },
		func(f *fakeAuth, err error) { f.set(func(f *fakeAuth) { f.introspectErr = err }) },
	},
}

func newTokenQueryHarness(t *testing.T, edit func(*gateway.Config)) *harness {
	t.Helper()
	h := newHarness(t, edit)
	h.auth.set(func(f *fakeAuth) { f.introspectResp = &authv1.IntrospectTokenResponse{} })
	return h
}

func TestTokenQueryRequestErrors(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		header     http.Header
		body       string
		wantStatus int
		wantCode   string
	}{
		{"missing token", "POST", formHeader, "client_id=c&client_secret=s", 400, "invalid_request"},
		{"empty token", "POST", formHeader, "token=&client_id=c&client_secret=s", 400, "invalid_request"},
		{"repeated token", "POST", formHeader, "token=a&token=b&client_id=c&client_secret=s", 400, "invalid_request"},
		{"repeated hint", "POST", formHeader, "token=a&token_type_hint=x&token_type_hint=y&client_id=c&client_secret=s", 400, "invalid_request"},
		{"basic and body", "POST", withHeader(formHeader, "Authorization", basic("c", "s")), "token=a&client_id=c", 400, "invalid_request"},
		{"no client authentication", "POST", formHeader, "token=a", 401, "invalid_client"},
		{"malformed basic", "POST", withHeader(formHeader, "Authorization", "Basic !!!"), "token=a", 401, "invalid_client"},
		{"json body", "POST", http.Header{"Content-Type": {"application/json"}}, `{"token":"a"}`, 400, "invalid_request"},
		{"body too large", "POST", formHeader, "token=a&client_id=c&pad=" + strings.Repeat("a", 70<<10), 413, "invalid_request"},
		{"GET", "GET", nil, "", 405, "invalid_request"},
	}
	h := newTokenQueryHarness(t, nil)
	for _, ep := range tokenQueryEndpoints {
		for _, tt := range tests {
			t.Run(ep.path+"/"+tt.name, func(t *testing.T) {
				before := ep.calls(h.auth)
				resp, body := h.do(t, tt.method, ep.path, tt.header, tt.body)
				checkOAuthError(t, resp, body, tt.wantStatus, tt.wantCode)
				if tt.wantStatus == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "POST" {
					t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
				}
				if n := ep.calls(h.auth) - before; n != 0 {
					t.Errorf("auth service called %d times for a request the gateway should refuse", n)
				}
			})
		}
	}
}

func TestTokenQueryUpstreamErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
	}{
		{"invalid_client", oauthStatus(t, codes.Unauthenticated, "client authentication failed", "oauth2.chave", "invalid_client"), 401, "invalid_client"},
		{"invalid_request", oauthStatus(t, codes.InvalidArgument, "bad", "oauth2.chave", "invalid_request"), 400, "invalid_request"},
		{"unauthorized_client", oauthStatus(t, codes.PermissionDenied, "not yours", "oauth2.chave", "unauthorized_client"), 400, "unauthorized_client"},
		{"unsupported_token_type", oauthStatus(t, codes.InvalidArgument, "cannot revoke that", "oauth2.chave", "unsupported_token_type"), 400, "unsupported_token_type"},
		{"temporarily_unavailable", oauthStatus(t, codes.Unavailable, "the revocation store is unavailable", "oauth2.chave", "temporarily_unavailable"), 503, "temporarily_unavailable"},
		{"unavailable", status.Error(codes.Unavailable, "redis 10.0.0.7:6379: connection refused"), 503, "temporarily_unavailable"},
		{"deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), 503, "temporarily_unavailable"},
		{"internal", status.Error(codes.Internal, "pq: password authentication failed"), 500, "server_error"},
	}
	h := newTokenQueryHarness(t, nil)
	for _, ep := range tokenQueryEndpoints {
		for _, tt := range tests {
			t.Run(ep.path+"/"+tt.name, func(t *testing.T) {
				ep.failure(h.auth, tt.err)
				resp, body := h.do(t, http.MethodPost, ep.path,
					withHeader(formHeader, "Authorization", basic("c", "s")), "token=tok")
				checkOAuthError(t, resp, body, tt.wantStatus, tt.wantCode)
				for _, leak := range []string{"10.0.0.7", "pq:", "password"} {
					if strings.Contains(string(body), leak) {
						t.Errorf("body %s leaks %q", body, leak)
					}
				}
			})
		}
	}
}

func TestTokenQueryAuthUnreachable(t *testing.T) {
	h := newTokenQueryHarness(t, func(cfg *gateway.Config) { cfg.Auth = dial(t, closedAddr(t)) })
	for _, ep := range tokenQueryEndpoints {
		resp, body := h.do(t, http.MethodPost, ep.path, formHeader, "token=tok&client_id=c&client_secret=s")
		checkOAuthError(t, resp, body, http.StatusServiceUnavailable, "temporarily_unavailable")
	}
}

func TestRevokeSuccess(t *testing.T) {
	h := newTokenQueryHarness(t, nil)
	const id, secret = "cli:ent/1", "s3cr+t:%&="
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   *authv1.RevokeTokenRequest
	}{
		{"basic with hint", withHeader(formHeader, "Authorization", basic(id, secret)),
			"token=rt.1&token_type_hint=refresh_token",
			&authv1.RevokeTokenRequest{ClientId: id, ClientSecret: secret, Token: "rt.1", TokenTypeHint: "refresh_token"}},
		{"body without hint", formHeader,
			url.Values{"token": {"at.jwt"}, "client_id": {id}, "client_secret": {secret}}.Encode(),
			&authv1.RevokeTokenRequest{ClientId: id, ClientSecret: secret, Token: "at.jwt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(callsOf[*authv1.RevokeTokenRequest](h.auth))
			resp, body := h.do(t, http.MethodPost, "/oauth2/revoke", tt.header, tt.body)
			if resp.StatusCode != http.StatusOK || len(body) != 0 {
				t.Fatalf("status %d, body %q; want 200 with an empty body", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			reqs := callsOf[*authv1.RevokeTokenRequest](h.auth)[before:]
			if len(reqs) != 1 || !proto.Equal(reqs[0], tt.want) {
				t.Errorf("auth service got %v, want [%v]", reqs, tt.want)
			}
		})
	}
}

func TestIntrospectForwardsRequest(t *testing.T) {
	h := newTokenQueryHarness(t, nil)
	h.do(t, http.MethodPost, "/oauth2/introspect", withHeader(formHeader, "Authorization", basic("rs", "pw")),
		"token=at.jwt&token_type_hint=access_token")
	want := &authv1.IntrospectTokenRequest{ClientId: "rs", ClientSecret: "pw", Token: "at.jwt", TokenTypeHint: "access_token"}
	if reqs := callsOf[*authv1.IntrospectTokenRequest](h.auth); len(reqs) != 1 || !proto.Equal(reqs[0], want) {
		t.Errorf("auth service got %v, want [%v]", reqs, want)
	}
}

func TestIntrospectAnswers(t *testing.T) {
	full := &authv1.IntrospectTokenResponse{
		Active: true, Scope: "inventory labels", ClientId: "c1", Sub: "c1", Exp: 1767227400, Iat: 1767225600,
		Iss: "https://auth.example", TokenType: "access_token", Tenantid: "acme", Aud: []string{"chave"}, Jti: "j1",
	}
	tests := []struct {
		name string
		resp *authv1.IntrospectTokenResponse
		want string
	}{
		{"inactive", &authv1.IntrospectTokenResponse{}, `{"active":false}`},
		{"inactive hides the rest", &authv1.IntrospectTokenResponse{Active: false, ClientId: "c1", Scope: "x", Aud: []string{"a"}},
			`{"active":false}`},
		{"active access token", full,
			`{"active":true,"scope":"inventory labels","client_id":"c1","token_type":"Bearer","exp":1767227400,` +
				`"iat":1767225600,"sub":"c1","aud":"chave","iss":"https://auth.example","jti":"j1","tenantid":"acme",` +
				`"token_use":"access_token"}`},
		{"refresh token, several audiences", &authv1.IntrospectTokenResponse{
			Active: true, ClientId: "c1", Sub: "c1", Exp: 2, Iat: 1, Iss: "i", TokenType: "refresh_token", Tenantid: "acme", Aud: []string{"a", "b"},
		}, `{"active":true,"client_id":"c1","exp":2,"iat":1,"sub":"c1","aud":["a","b"],"iss":"i","tenantid":"acme","token_use":"refresh_token"}`},
		{"active, nothing optional", &authv1.IntrospectTokenResponse{Active: true}, `{"active":true}`},
		{"unknown token type passes through", &authv1.IntrospectTokenResponse{Active: true, TokenType: "Bearer"},
			`{"active":true,"token_type":"Bearer"}`},
	}
	h := newTokenQueryHarness(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.auth.set(func(f *fakeAuth) { f.introspectResp = tt.resp })
			resp, body := h.do(t, http.MethodPost, "/oauth2/introspect", formHeader, "token=t&client_id=c&client_secret=s")
			if resp.StatusCode != http.StatusOK || string(body) != tt.want {
				t.Errorf("status %d, body\n%s\nwant 200 and\n%s", resp.StatusCode, body, tt.want)
			}
			for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}
