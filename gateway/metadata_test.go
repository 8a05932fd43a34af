package gateway_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

const metadataPath = "/.well-known/oauth-authorization-server"

func getMetadata(t *testing.T, h *harness) (*http.Response, []byte) {
	t.Helper()
	return h.do(t, http.MethodGet, metadataPath, nil, "")
}

func TestMetadataDocument(t *testing.T) {
	h := newHarness(t, nil)
	h.auth.set(func(f *fakeAuth) {
		f.metadata = &authv1.GetServerMetadataResponse{
			Issuer:                            "https://auth.example",
			GrantTypesSupported:               []string{"client_credentials", "refresh_token"},
			TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "private_key_jwt", "client_secret_post"},
			ScopesSupported:                   []string{"inventory", "labels"},
			SigningAlgValuesSupported:         []string{"ES256", "EdDSA"},
		}
	})
	for i := range 2 {
		resp, body := getMetadata(t, h)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d: status %d, body %s", i, resp.StatusCode, body)
		}
		for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "public, max-age=60"} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		methods := []any{"client_secret_basic", "client_secret_post"}
		want := map[string]any{
			"issuer":                                          "https://auth.example",
			"token_endpoint":                                  "https://auth.example/oauth2/token",
			"jwks_uri":                                        "https://auth.example/.well-known/jwks.json",
			"revocation_endpoint":                             "https://auth.example/oauth2/revoke",
			"introspection_endpoint":                          "https://auth.example/oauth2/introspect",
			"scopes_supported":                                []any{"inventory", "labels"},
			"response_types_supported":                        []any{},
			"grant_types_supported":                           []any{"client_credentials", "refresh_token"},
			"token_endpoint_auth_methods_supported":           methods,
			"revocation_endpoint_auth_methods_supported":      methods,
			"introspection_endpoint_auth_methods_supported":   methods,
			"chave_access_token_signing_alg_values_supported": []any{"ES256", "EdDSA"},
		}
		if got := decodeObject(t, body); !reflect.DeepEqual(got, want) {
			t.Errorf("document =\n%v\nwant\n%v", got, want)
		}
	}
	if n := len(callsOf[*authv1.GetServerMetadataRequest](h.auth)); n != 1 {
		t.Errorf("GetServerMetadata called %d times, want 1 (second call from cache)", n)
	}
	if resp, _ := h.do(t, http.MethodPost, metadataPath, nil, ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want 405", resp.StatusCode)
	}
}

func TestMetadataIssuerAndDefaults(t *testing.T) {
	tests := []struct {
		name, issuer, wantToken string
	}{
		{"http with port", "http://localhost:8080", "http://localhost:8080/oauth2/token"},
		{"trailing slash kept in issuer only", "https://auth.example/", "https://auth.example/oauth2/token"},
		{"path", "https://example.com/chave", "https://example.com/chave/oauth2/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.auth.set(func(f *fakeAuth) { f.metadata = &authv1.GetServerMetadataResponse{Issuer: tt.issuer} })
			resp, body := getMetadata(t, h)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %s", resp.StatusCode, body)
			}
			got := decodeObject(t, body)
			if got["issuer"] != tt.issuer || got["token_endpoint"] != tt.wantToken {
				t.Errorf("issuer %v, token_endpoint %v; want %q, %q", got["issuer"], got["token_endpoint"], tt.issuer, tt.wantToken)
			}
			// Required lists stay arrays; optional ones are left out.
			if !reflect.DeepEqual(got["grant_types_supported"], []any{}) ||
				!reflect.DeepEqual(got["token_endpoint_auth_methods_supported"], []any{"client_secret_basic", "client_secret_post"}) {
				t.Errorf("defaults wrong: %s", body)
			}
			for _, k := range []string{"scopes_supported", "chave_access_token_signing_alg_values_supported"} {
				if _, ok := got[k]; ok {
					t.Errorf("%s present in %s", k, body)
				}
			}
		})
	}
}

func TestMetadataFailures(t *testing.T) {
	tests := []struct {
		name       string
		resp       *authv1.GetServerMetadataResponse
		err        error
		wantStatus int
	}{
		{"unavailable", nil, status.Error(codes.Unavailable, "down at 10.0.0.7"), 503},
		{"internal", nil, status.Error(codes.Internal, "boom"), 500},
		{"no issuer", &authv1.GetServerMetadataResponse{}, nil, 500},
		{"relative issuer", &authv1.GetServerMetadataResponse{Issuer: "auth.example"}, nil, 500},
		{"issuer with query", &authv1.GetServerMetadataResponse{Issuer: "https://auth.example?x=1"}, nil, 500},
		{"issuer with fragment", &authv1.GetServerMetadataResponse{Issuer: "https://auth.example#"}, nil, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.auth.set(func(f *fakeAuth) { f.metadata, f.metadataErr = tt.resp, tt.err })
			resp, body := getMetadata(t, h)
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("status %d, Cache-Control %q; want %d, no-store", resp.StatusCode, resp.Header.Get("Cache-Control"), tt.wantStatus)
			}
			if strings.Contains(string(body), "10.0.0.7") || strings.Contains(string(body), "auth.example") {
				t.Errorf("body leaks the cause: %s", body)
			}
			// A failure is not cached: the next request asks again.
			getMetadata(t, h)
			if n := len(callsOf[*authv1.GetServerMetadataRequest](h.auth)); n != 2 {
				t.Errorf("GetServerMetadata called %d times, want 2", n)
			}
		})
	}
}
