package gateway_test

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

// checkStatusBody checks grpc-gateway's error body and returns its message.
func checkStatusBody(t *testing.T, resp *http.Response, body []byte, wantStatus int, wantCode codes.Code) string {
	t.Helper()
	if resp.StatusCode != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, wantStatus, body)
	}
	got := decodeObject(t, body)
	if code, _ := got["code"].(float64); codes.Code(code) != wantCode {
		t.Errorf("code = %v, want %d (%v)", got["code"], wantCode, wantCode)
	}
	if _, ok := got["details"].([]any); !ok {
		t.Errorf("details missing in %s", body)
	}
	msg, _ := got["message"].(string)
	return msg
}

func TestRESTGetTokenForwardsOnlyAllowedHeaders(t *testing.T) {
	h := newHarness(t, nil)
	header := http.Header{
		"Authorization":                  {"Bearer good"},
		"Grpc-Metadata-Authorization":    {"Bearer evil"},
		"Grpc-Metadata-X-Tenant":         {"other"},
		"Grpc-Metadata-Grpcgateway-Host": {"evil"},
		"X-Request-Id":                   {"req-123"},
		"Accept-Language":                {"en"},
		"Cookie":                         {"session=1"},
	}
	resp, body := h.do(t, http.MethodGet, "/v1/tokens/tok_1", header, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}

	calls := h.reg.callLog()
	if len(calls) != 1 || calls[0].method != "GetToken" {
		t.Fatalf("registry calls = %v, want one GetToken", calls)
	}
	if want := (&registryv1.GetTokenRequest{Id: "tok_1"}); !proto.Equal(calls[0].req, want) {
		t.Errorf("request = %v, want %v", calls[0].req, want)
	}
	md := calls[0].md
	for key, want := range map[string][]string{
		"authorization":   {"Bearer good"},
		"x-request-id":    {"req-123"},
		"accept-language": {"en"},
	} {
		if got := md.Get(key); !reflect.DeepEqual(got, want) {
			t.Errorf("metadata %s = %q, want %q", key, got, want)
		}
	}
	for key := range md {
		if key == "x-tenant" || strings.HasPrefix(key, "grpcgateway-") || strings.HasPrefix(key, "grpc-metadata") {
			t.Errorf("metadata carries %s = %q, which no client may set", key, md.Get(key))
		}
	}

	// The bare token, lowerCamelCase, defaults shown, unset timestamps absent.
	got := decodeObject(t, body)
	for k, want := range map[string]any{
		"id": "tok_1", "displayName": "Financeiro", "tenant": "acme", "description": "",
		"generalAccess": false, "contexts": []any{}, "state": "TOKEN_STATE_UNSPECIFIED",
	} {
		if !reflect.DeepEqual(got[k], want) {
			t.Errorf("%s = %#v, want %#v (body %s)", k, got[k], want, body)
		}
	}
	for _, k := range []string{"createTime", "expireTime", "display_name"} {
		if _, ok := got[k]; ok {
			t.Errorf("body has %s: %s", k, body)
		}
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := resp.Header.Get("X-Request-Id"); got != "req-123" {
		t.Errorf("X-Request-Id = %q, want req-123", got)
	}
}

func TestRESTRejectsTwoAuthorizationHeaders(t *testing.T) {
	h := newHarness(t, nil)
	header := http.Header{"Authorization": {"Bearer a", "Bearer b"}}
	resp, body := h.do(t, http.MethodGet, "/v1/tokens/tok_1", header, "")
	checkStatusBody(t, resp, body, http.StatusBadRequest, codes.InvalidArgument)
	if n := len(h.reg.callLog()); n != 0 {
		t.Errorf("registry called %d times", n)
	}
}

func TestRESTIgnoresMethodOverride(t *testing.T) {
	h := newHarness(t, nil)
	for _, ct := range []string{"application/x-www-form-urlencoded", "application/json"} {
		t.Run(ct, func(t *testing.T) {
			header := http.Header{"X-Http-Method-Override": {"GET"}, "Content-Type": {ct}}
			resp, body := h.do(t, http.MethodPost, "/v1/tokens/x", header, "")
			checkStatusBody(t, resp, body, http.StatusMethodNotAllowed, codes.Unimplemented)
			if calls := h.reg.callLog(); len(calls) != 0 {
				t.Errorf("registry got %v; a POST was served as a GET", calls)
			}
		})
	}
}

func TestRESTCreateToken(t *testing.T) {
	h := newHarness(t, nil)
	resp, body := h.do(t, http.MethodPost, "/v1/tokens", http.Header{"Content-Type": {"application/json"}},
		`{"displayName":"Financeiro","tenant":"acme","contexts":["inventory"],"parameters":{"telegram":{"botToken":"b"}}}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	got := decodeObject(t, body)
	if got["clientId"] != "tok_1" || got["clientSecret"] != "chave_secret" {
		t.Errorf("body = %s, want clientId and clientSecret", body)
	}
	calls := h.reg.callLog()
	if len(calls) != 1 {
		t.Fatalf("registry calls = %v", calls)
	}
	req := calls[0].req.(*registryv1.CreateTokenRequest)
	if req.GetDisplayName() != "Financeiro" || !slices.Equal(req.GetContexts(), []string{"inventory"}) ||
		req.GetParameters()["telegram"].GetFields()["botToken"].GetStringValue() != "b" {
		t.Errorf("registry got %v", req)
	}
}

func TestRESTBadJSON(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct{ name, body, wantInMessage string }{
		{"unknown field", `{"displayName":"x","tenat":"acme"}`, "tenat"},
		{"malformed", `{"displayName":`, ""},
		{"wrong type", `{"generalAccess":"yes"}`, "generalAccess"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.do(t, http.MethodPost, "/v1/tokens", http.Header{"Content-Type": {"application/json"}}, tt.body)
			msg := checkStatusBody(t, resp, body, http.StatusBadRequest, codes.InvalidArgument)
			if !strings.Contains(msg, tt.wantInMessage) {
				t.Errorf("message %q does not name %q", msg, tt.wantInMessage)
			}
		})
	}
	if n := len(h.reg.callLog()); n != 0 {
		t.Errorf("registry called %d times", n)
	}
}

func TestRESTErrors(t *testing.T) {
	badRequest, err := status.New(codes.InvalidArgument, "displayName: required").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "displayName", Description: "required"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		err         error
		wantStatus  int
		wantCode    codes.Code
		wantMessage string
		wantDetails int
	}{
		{"internal", status.Error(codes.Internal, "pq: connection to 10.0.0.5 refused"), 500, codes.Internal, "internal error", 0},
		{"unknown", status.Error(codes.Unknown, "panic: runtime error at storage.go:42"), 500, codes.Internal, "internal error", 0},
		{"data loss", status.Error(codes.DataLoss, "disk"), 500, codes.Internal, "internal error", 0},
		{"unavailable", status.Error(codes.Unavailable, "dial tcp 10.0.0.5:5432"), 503, codes.Unavailable, "service unavailable", 0},
		{"not found", status.Error(codes.NotFound, "token tok_1 not found"), 404, codes.NotFound, "token tok_1 not found", 0},
		{"permission denied", status.Error(codes.PermissionDenied, "registry.admin required"), 403, codes.PermissionDenied, "registry.admin required", 0},
		{"unauthenticated", status.Error(codes.Unauthenticated, "bearer token required"), 401, codes.Unauthenticated, "bearer token required", 0},
		{"bad request keeps details", badRequest.Err(), 400, codes.InvalidArgument, "displayName: required", 1},
	}
	h := newHarness(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.reg.answer(nil, tt.err)
			resp, body := h.do(t, http.MethodGet, "/v1/tokens/tok_1", http.Header{"Authorization": {"Bearer x"}}, "")
			if msg := checkStatusBody(t, resp, body, tt.wantStatus, tt.wantCode); msg != tt.wantMessage {
				t.Errorf("message = %q, want %q", msg, tt.wantMessage)
			}
			if details, _ := decodeObject(t, body)["details"].([]any); len(details) != tt.wantDetails {
				t.Errorf("details = %v, want %d", details, tt.wantDetails)
			}
			if tt.wantCode == codes.Unauthenticated {
				if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="chave", error="invalid_token"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			}
		})
	}
	if !strings.Contains(h.logs.String(), "pq: connection to 10.0.0.5 refused") {
		t.Errorf("the internal cause is not logged:\n%s", h.logs.String())
	}
}

func TestRESTRouting(t *testing.T) {
	h := newHarness(t, nil)
	resp, body := h.do(t, http.MethodGet, "/v1/nothing-here", nil, "")
	checkStatusBody(t, resp, body, http.StatusNotFound, codes.NotFound)
	resp, body = h.do(t, http.MethodDelete, "/v1/tokens/tok_1", nil, "")
	checkStatusBody(t, resp, body, http.StatusMethodNotAllowed, codes.Unimplemented)
	// The AuthService's own REST mapping is not registered: the token
	// endpoint is the form-encoded handler, which refuses JSON.
	resp, body = h.do(t, http.MethodPost, "/oauth2/token", http.Header{"Content-Type": {"application/json"}}, `{}`)
	checkOAuthError(t, resp, body, http.StatusBadRequest, "invalid_request")
}

func TestRESTRevokeVerb(t *testing.T) {
	h := newHarness(t, nil)
	resp, body := h.do(t, http.MethodPost, "/v1/tokens/tok_1:revoke", http.Header{"Content-Type": {"application/json"}}, `{}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	if calls := h.reg.callLog(); len(calls) != 1 || calls[0].method != "RevokeToken" {
		t.Errorf("registry calls = %v, want one RevokeToken", calls)
	}
	if got := decodeObject(t, body); got["id"] != "tok_1" {
		t.Errorf("body = %s, want the bare token", body)
	}
}
