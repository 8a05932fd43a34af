package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
)

// FuzzTokenForm drives the token endpoint's request parsing with arbitrary
// bodies, content types and Authorization headers: it must never panic and
// always answer JSON with a 2xx, 4xx or 5xx status.
func FuzzTokenForm(f *testing.F) {
	f.Add("POST", "application/x-www-form-urlencoded", "", "grant_type=client_credentials&client_id=c&client_secret=s")
	f.Add("POST", "application/x-www-form-urlencoded; charset=utf-8", "Basic Yzpz", "grant_type=client_credentials&scope=a+b")
	f.Add("POST", "application/x-www-form-urlencoded", "Basic Yzpz", "grant_type=client_credentials&client_id=c")
	f.Add("POST", "application/x-www-form-urlencoded", "", "grant_type=a&grant_type=b")
	f.Add("POST", "application/x-www-form-urlencoded", "Basic %%%", "grant_type=%zz;x=1")
	f.Add("POST", "application/json", "", `{"grant_type":"client_credentials"}`)
	f.Add("GET", "", "Bearer x", "")
	f.Add("POST", "application/x-www-form-urlencoded", "Basic JWZmOiVmZg==", "grant_type=refresh_token&refresh_token=%ff")

	// The stub fails only on input gRPC could not carry, which the handler
	// must refuse first; the target below treats any 500 as a failure.
	auth := &stubAuth{token: func(req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
		for _, s := range []string{req.GetGrantType(), req.GetClientId(), req.GetClientSecret(), req.GetScope(), req.GetRefreshToken()} {
			if !utf8.ValidString(s) {
				return nil, status.Errorf(codes.Internal, "non-UTF-8 %q reached the auth service", s)
			}
		}
		return &authv1.TokenResponse{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 60}, nil
	}}
	o := &oauthEndpoints{auth: auth, log: slog.New(slog.DiscardHandler)}

	f.Fuzz(func(t *testing.T, method, contentType, authorization, body string) {
		if !validMethod(method) {
			return // net/http refuses such a request line before any handler runs
		}
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Method = method
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		o.serveToken(w, r)

		if class := w.Code / 100; class != 2 && class != 4 && class != 5 {
			t.Fatalf("status %d", w.Code)
		}
		if w.Code == http.StatusInternalServerError {
			t.Fatalf("500 for a client's input: %s", w.Body.String())
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("Cache-Control %q", cc)
		}
		var answer map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("body %q is not JSON: %v", w.Body.String(), err)
		}
		if w.Code != http.StatusOK {
			code, _ := answer["error"].(string)
			if _, known := oauthHTTPStatus(errorsv1.ParseOauthError(code)); !known {
				t.Fatalf("error %q is not an OAuth error code", code)
			}
		}
	})
}

// validMethod reports whether m is an HTTP token, as net/http requires.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range []byte(m) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
