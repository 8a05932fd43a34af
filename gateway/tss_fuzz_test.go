package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
)

// FuzzTSSBody drives WSTSSAUTH's parsing with arbitrary content types and
// bodies: it must never panic nor answer 500 to a client's input, and it
// always answers JSON, either the four-member success body or a
// {"code", "message"} failure whose code is an OAuth error code.
func FuzzTSSBody(f *testing.F) {
	f.Add("application/json", `{"urlTSS": "http://localhost:8080/", "grantyType": "1", "clientId": "...", "clientSecret": "..."}`)
	f.Add("application/json", `{"urlTSS": "...", "grantType": 2, "clientId": "...", "clientSecret": "...", "refreshToken": "..."}`)
	f.Add("", `{"grantType":"1","grantyType":2,"clientId":"c"}`)
	f.Add("text/plain", `{"grantType":-1e400,"clientId":"\ud800"}`)
	f.Add("application/json", `{"grantType":"\u0031","clientId":"c\u0000"}`)
	f.Add("application/x-www-form-urlencoded", `grant_type=client_credentials`)
	f.Add("application/json;;", `[]`)
	f.Add("application/json", "{\"clientId\":\"\xff\",\"grantType\":1}")

	auth := &stubAuth{token: func(req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
		return &authv1.TokenResponse{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 60}, nil
	}}
	o := &oauthEndpoints{auth: auth, log: slog.New(slog.DiscardHandler)}

	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := httptest.NewRequest(http.MethodPost, tssPath, strings.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		o.serveTSS(w, r)

		if w.Code == http.StatusInternalServerError || (w.Code != http.StatusOK && w.Code/100 != 4) {
			t.Fatalf("status %d for a client's input: %s", w.Code, w.Body.String())
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
		var answer map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("body %q is not JSON: %v", w.Body.String(), err)
		}
		if w.Code == http.StatusOK {
			if len(answer) != 4 {
				t.Fatalf("success body %s does not have four members", w.Body.String())
			}
			return
		}
		code, _ := answer["code"].(string)
		if _, known := oauthHTTPStatus(errorsv1.ParseOauthError(code)); !known || len(answer) != 2 {
			t.Fatalf("failure body %s is not {code, message} with an OAuth code", w.Body.String())
		}
	})
}
