package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chave/chave/gateway"
	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// basic is RFC 6749 §2.3.1's Basic credentials: each part form-encoded,
// then joined and base64-encoded.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func withHeader(base http.Header, kv ...string) http.Header {
	h := base.Clone()
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func decodeObject(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	return m
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestTokenSuccess(t *testing.T) {
	h := newHarness(t, nil)
	h.auth.answer(&authv1.TokenResponse{AccessToken: "at.jwt", TokenType: "Bearer", ExpiresIn: 1800, Scope: "inventory labels"}, nil)

	// Special characters that Basic must carry form-encoded.
	const id, secret = "cli:ent/1 é", "s3cr+t:%&=x"
	resp, body := h.do(t, http.MethodPost, "/oauth2/token",
		withHeader(http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=UTF-8"}}, "Authorization", basic(id, secret)),
		"grant_type=client_credentials&scope=inventory+labels")

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	want := map[string]any{"access_token": "at.jwt", "token_type": "Bearer", "expires_in": 1800.0, "scope": "inventory labels"}
	if got := decodeObject(t, body); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v, want exactly %v", got, want)
	}
	reqs := h.auth.requests()
	if len(reqs) != 1 {
		t.Fatalf("auth service got %d calls, want 1", len(reqs))
	}
	wantReq := &authv1.TokenRequest{GrantType: "client_credentials", ClientId: id, ClientSecret: secret, Scope: "inventory labels"}
	if !proto.Equal(reqs[0], wantReq) {
		t.Errorf("auth service got %v, want %v", reqs[0], wantReq)
	}
}

func TestTokenBodyAuthAndRefresh(t *testing.T) {
	h := newHarness(t, nil)
	h.auth.answer(&authv1.TokenResponse{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 60, RefreshToken: "rt2", Scope: "inventory"}, nil)

	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {"c1"}, "client_secret": {"s1"}, "refresh_token": {"rt1"}}
	resp, body := h.do(t, http.MethodPost, "/oauth2/token", formHeader, form.Encode())

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	got := decodeObject(t, body)
	if got["refresh_token"] != "rt2" || len(got) != 5 {
		t.Errorf("body = %v, want the five fields with refresh_token rt2", got)
	}
	wantReq := &authv1.TokenRequest{GrantType: "refresh_token", ClientId: "c1", ClientSecret: "s1", RefreshToken: "rt1"}
	if reqs := h.auth.requests(); len(reqs) != 1 || !proto.Equal(reqs[0], wantReq) {
		t.Errorf("auth service got %v, want [%v]", reqs, wantReq)
	}
}

func TestTokenRefreshPassesScope(t *testing.T) {
	h := newHarness(t, nil)
	h.auth.answer(&authv1.TokenResponse{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 60, RefreshToken: "rt2", Scope: "labels"}, nil)
	resp, body := h.do(t, http.MethodPost, "/oauth2/token", withHeader(formHeader, "Authorization", basic("c1", "s1")),
		"grant_type=refresh_token&refresh_token=rt1&scope=labels")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	wantReq := &authv1.TokenRequest{GrantType: "refresh_token", ClientId: "c1", ClientSecret: "s1", RefreshToken: "rt1", Scope: "labels"}
	if reqs := h.auth.requests(); len(reqs) != 1 || !proto.Equal(reqs[0], wantReq) {
		t.Errorf("auth service got %v, want [%v]", reqs, wantReq)
	}
}

// checkOAuthError checks an RFC 6749 §5.2 error answer.
func checkOAuthError(t *testing.T, resp *http.Response, body []byte, wantStatus int, wantCode string) map[string]any {
	t.Helper()
	if resp.StatusCode != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, wantStatus, body)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	got := decodeObject(t, body)
	if got["error"] != wantCode {
		t.Errorf("error = %v, want %q (body %s)", got["error"], wantCode, body)
	}
	for _, k := range keys(got) {
		if k != "error" && k != "error_description" {
			t.Errorf("unexpected field %q in %s", k, body)
		}
	}
	wantChallenge := ""
	if wantStatus == http.StatusUnauthorized {
		wantChallenge = `Basic realm="chave"`
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != wantChallenge {
		t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
	}
	return got
}

func TestTokenRequestErrors(t *testing.T) {
	big := "grant_type=client_credentials&client_id=c&client_secret=s&pad=" + strings.Repeat("a", 70<<10)
	tests := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		body       string
		wantStatus int
		wantCode   string
	}{
		{"basic and body", "POST", "/oauth2/token", withHeader(formHeader, "Authorization", basic("c", "s")),
			"grant_type=client_credentials&client_id=c", 400, "invalid_request"},
		{"basic and body secret", "POST", "/oauth2/token", withHeader(formHeader, "Authorization", basic("c", "s")),
			"grant_type=client_credentials&client_secret=s", 400, "invalid_request"},
		{"repeated parameter", "POST", "/oauth2/token", formHeader,
			"grant_type=client_credentials&client_id=c&client_secret=s&scope=a&scope=b", 400, "invalid_request"},
		{"repeated empty parameter", "POST", "/oauth2/token", formHeader,
			"grant_type=client_credentials&client_id=c&client_secret=s&scope=&scope=", 400, "invalid_request"},
		{"json body", "POST", "/oauth2/token", http.Header{"Content-Type": {"application/json"}},
			`{"grant_type":"client_credentials"}`, 400, "invalid_request"},
		{"no content type", "POST", "/oauth2/token", nil, "grant_type=client_credentials", 400, "invalid_request"},
		{"GET", "GET", "/oauth2/token?grant_type=client_credentials&client_id=c&client_secret=s", nil, "", 405, "invalid_request"},
		{"missing grant_type", "POST", "/oauth2/token", formHeader, "client_id=c&client_secret=s", 400, "invalid_request"},
		{"empty grant_type", "POST", "/oauth2/token", formHeader, "grant_type=&client_id=c&client_secret=s", 400, "invalid_request"},
		{"grant_type only in query", "POST", "/oauth2/token?grant_type=client_credentials", formHeader,
			"client_id=c&client_secret=s", 400, "invalid_request"},
		{"no client authentication", "POST", "/oauth2/token", formHeader, "grant_type=client_credentials", 401, "invalid_client"},
		{"secret without id", "POST", "/oauth2/token", formHeader, "grant_type=client_credentials&client_secret=s", 400, "invalid_request"},
		{"bearer instead of basic", "POST", "/oauth2/token", withHeader(formHeader, "Authorization", "Bearer x"),
			"grant_type=client_credentials", 401, "invalid_client"},
		{"malformed basic", "POST", "/oauth2/token", withHeader(formHeader, "Authorization", "Basic !!!"),
			"grant_type=client_credentials", 401, "invalid_client"},
		{"basic without colon", "POST", "/oauth2/token",
			withHeader(formHeader, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("abc"))),
			"grant_type=client_credentials", 401, "invalid_client"},
		{"basic with bad escape", "POST", "/oauth2/token",
			withHeader(formHeader, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("a%zz:b"))),
			"grant_type=client_credentials", 401, "invalid_client"},
		{"two authorization headers", "POST", "/oauth2/token",
			withHeader(formHeader, "Authorization", basic("c", "s"), "Authorization", basic("d", "t")),
			"grant_type=client_credentials", 400, "invalid_request"},
		{"malformed form", "POST", "/oauth2/token", formHeader, "grant_type=%zz&client_id=c", 400, "invalid_request"},
		{"non-UTF-8 value", "POST", "/oauth2/token", formHeader, "grant_type=client_credentials&client_id=%ff&client_secret=s", 400, "invalid_request"},
		{"body too large", "POST", "/oauth2/token", formHeader, big, 413, "invalid_request"},
	}
	h := newHarness(t, nil)
	h.auth.answer(&authv1.TokenResponse{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 60}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.auth.requests())
			resp, body := h.do(t, tt.method, tt.path, tt.header, tt.body)
			checkOAuthError(t, resp, body, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
			}
			if n := len(h.auth.requests()) - before; n != 0 {
				t.Errorf("auth service called %d times for a request the gateway should refuse", n)
			}
		})
	}
}

func oauthStatus(t *testing.T, code codes.Code, msg, domain, reason string) error {
	t.Helper()
	st, err := status.New(code, msg).WithDetails(&errdetails.ErrorInfo{Domain: domain, Reason: reason})
	if err != nil {
		t.Fatalf("WithDetails: %v", err)
	}
	return st.Err()
}

func TestTokenUpstreamErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantDesc   string
	}{
		{"invalid_client", oauthStatus(t, codes.Unauthenticated, "client authentication failed", "oauth2.chave", "invalid_client"),
			401, "invalid_client", "client authentication failed"},
		{"invalid_request", oauthStatus(t, codes.InvalidArgument, "refresh_token is required", "oauth2.chave", "invalid_request"),
			400, "invalid_request", "refresh_token is required"},
		{"invalid_grant", oauthStatus(t, codes.InvalidArgument, `refresh token "x" was used`, "oauth2.chave", "invalid_grant"),
			400, "invalid_grant", "refresh token  x  was used"},
		{"invalid_scope", oauthStatus(t, codes.InvalidArgument, "scope telegram is not granted", "oauth2.chave", "invalid_scope"),
			400, "invalid_scope", "scope telegram is not granted"},
		{"unsupported_grant_type", oauthStatus(t, codes.InvalidArgument, "grant type password is not supported", "oauth2.chave", "unsupported_grant_type"),
			400, "unsupported_grant_type", "grant type password is not supported"},
		{"unauthorized_client", oauthStatus(t, codes.PermissionDenied, "refresh tokens are not issued to this client", "oauth2.chave", "unauthorized_client"),
			400, "unauthorized_client", "refresh tokens are not issued to this client"},
		{"unavailable", status.Error(codes.Unavailable, "dial tcp 10.0.0.7:9090: connection refused"),
			503, "temporarily_unavailable", "the authorization server is temporarily unavailable"},
		{"deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
			503, "temporarily_unavailable", "the authorization server is temporarily unavailable"},
		{"internal", status.Error(codes.Internal, "pq: password authentication failed for user chave"),
			500, "server_error", "internal error"},
		{"other domain", oauthStatus(t, codes.InvalidArgument, "x", "example.com", "invalid_client"),
			500, "server_error", "internal error"},
		{"unknown reason", oauthStatus(t, codes.InvalidArgument, "x", "oauth2.chave", "made_up"),
			500, "server_error", "internal error"},
	}
	h := newHarness(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.auth.answer(nil, tt.err)
			resp, body := h.do(t, http.MethodPost, "/oauth2/token",
				withHeader(formHeader, "Authorization", basic("c", "s")), "grant_type=client_credentials")
			got := checkOAuthError(t, resp, body, tt.wantStatus, tt.wantCode)
			if tt.wantDesc != "" && got["error_description"] != tt.wantDesc {
				t.Errorf("error_description = %q, want %q", got["error_description"], tt.wantDesc)
			}
			for _, leak := range []string{"10.0.0.7", "pq:", "password authentication"} {
				if strings.Contains(string(body), leak) {
					t.Errorf("body %s leaks %q", body, leak)
				}
			}
		})
	}
}

func TestTokenAuthUnreachable(t *testing.T) {
	h := newHarness(t, func(cfg *gateway.Config) {
		cfg.Auth = dial(t, closedAddr(t))
	})
	resp, body := h.do(t, http.MethodPost, "/oauth2/token",
		withHeader(formHeader, "Authorization", basic("c", "s")), "grant_type=client_credentials")
	checkOAuthError(t, resp, body, http.StatusServiceUnavailable, "temporarily_unavailable")
}

func TestTokenNeverLogsSecrets(t *testing.T) {
	h := newHarness(t, nil)
	h.auth.answer(&authv1.TokenResponse{AccessToken: "at-SECRET-TOKEN", TokenType: "Bearer", ExpiresIn: 60}, nil)
	h.do(t, http.MethodPost, "/oauth2/token", formHeader,
		"grant_type=client_credentials&client_id=c&client_secret=SECRET-VALUE")
	h.do(t, http.MethodPost, "/oauth2/token", withHeader(formHeader, "Authorization", basic("c", "BASIC-SECRET")),
		"grant_type=client_credentials")
	logs := h.logs.String()
	for _, s := range []string{"SECRET-VALUE", "at-SECRET-TOKEN", "BASIC-SECRET", base64.StdEncoding.EncodeToString([]byte("c:BASIC-SECRET"))} {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain %q:\n%s", s, logs)
		}
	}
	if !strings.Contains(logs, "route=/oauth2/token") {
		t.Errorf("access log lacks the route:\n%s", logs)
	}
}
