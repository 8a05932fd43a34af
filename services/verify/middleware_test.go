package verify_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/verify"
)

// echoClaims answers 200 with the subject and scopes of the request's claims.
var echoClaims = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := verify.ClaimsFromContext(r.Context())
	if !ok {
		http.Error(w, "no claims in the context", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, c.Subject+" "+strings.Join(c.Scopes, ","))
})

func TestHTTPMiddleware(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	valid := token(t, k)
	expired := signRaw(t, validHeader(k), with(validClaims(), "exp", now.Add(-time.Hour).Unix()), jwa.ES256, k.priv)
	revokedTok := signRaw(t, validHeader(k), with(validClaims(), "jti", "revoked"), jwa.ES256, k.priv)
	keys := keySet(t, k.pub)

	checker := &jtiChecker{revoked: map[string]bool{"revoked": true}}
	v := newRevocationVerifier(t, keys, checker, nil)
	down := newRevocationVerifier(t, keys, &fakeChecker{err: errSetDown}, nil)
	quiet := verify.WithLogger(slog.New(slog.DiscardHandler))

	const challenge = `Bearer realm="chave"`
	tests := []struct {
		name       string
		v          *verify.Verifier
		opts       []verify.MiddlewareOption
		auth       []string
		wantStatus int
		wantAuth   string // WWW-Authenticate
		wantBody   string // prefix
	}{
		{"valid", v, nil, []string{"Bearer " + valid}, 200, "", "client-1 commercial,inventory"},
		{"scheme in lower case", v, nil, []string{"bearer " + valid}, 200, "", "client-1"},
		{"scheme in upper case, two spaces", v, nil, []string{"BEARER  " + valid}, 200, "", "client-1"},
		{"no header", v, nil, nil, 401, challenge, "missing bearer token"},
		{"basic auth", v, nil, []string{"Basic YTpi"}, 401, challenge, "missing bearer token"},
		{"empty header", v, nil, []string{""}, 401, challenge, ""},
		{"two headers", v, nil, []string{"Bearer " + valid, "Bearer " + valid}, 400, challenge + `, error="invalid_request"`, ""},
		{"bearer without token", v, nil, []string{"Bearer"}, 400, challenge + `, error="invalid_request"`, ""},
		{"bearer with two tokens", v, nil, []string{"Bearer " + valid + " " + valid}, 400, challenge + `, error="invalid_request"`, ""},
		{"bad token", v, nil, []string{"Bearer nope"}, 401, challenge + `, error="invalid_token", error_description="malformed"`, "invalid access token: malformed"},
		{"expired", v, nil, []string{"Bearer " + expired}, 401, challenge + `, error="invalid_token", error_description="expired"`, ""},
		{"revoked", v, nil, []string{"Bearer " + revokedTok}, 401, challenge + `, error="invalid_token", error_description="revoked"`, ""},
		{"revocation set down", down, []verify.MiddlewareOption{quiet}, []string{"Bearer " + valid}, 503, "", "access token verification unavailable"},
		{"revocation set down, bad token", down, []verify.MiddlewareOption{quiet}, []string{"Bearer " + expired}, 401, challenge + `, error="invalid_token", error_description="expired"`, ""},
		{"scopes held", v, []verify.MiddlewareOption{verify.WithRequiredScopes("inventory", "commercial")}, []string{"Bearer " + valid}, 200, "", "client-1"},
		{"scope missing", v, []verify.MiddlewareOption{verify.WithRequiredScopes("inventory", "labels")}, []string{"Bearer " + valid}, 403,
			challenge + `, error="insufficient_scope", scope="inventory labels"`, "insufficient scope: missing labels"},
		{"realm", v, []verify.MiddlewareOption{verify.WithRealm(`inv"entory`)}, nil, 401, `Bearer realm="inv\"entory"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := verify.HTTPMiddleware(tt.v, tt.opts...)(echoClaims)
			req := httptest.NewRequest(http.MethodGet, "/things", nil)
			for _, a := range tt.auth {
				req.Header.Add("Authorization", a)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d; body %q", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantAuth)
			}
			if !strings.HasPrefix(rec.Body.String(), tt.wantBody) {
				t.Errorf("body = %q, want it to start with %q", rec.Body, tt.wantBody)
			}
			if rec.Code != 200 && rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("a refusal without Cache-Control: no-store")
			}
			if rec.Code == 503 && rec.Header().Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		})
	}
}

// TestHTTPMiddlewareOneVerifyPerRequest: the middleware verifies once, so
// a request costs at most one revocation round trip.
func TestHTTPMiddlewareOneVerifyPerRequest(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	rc := &fakeChecker{}
	observed := 0
	v := newRevocationVerifier(t, keySet(t, k.pub), rc, func(string) { observed++ })
	h := verify.HTTPMiddleware(v, verify.WithRequiredScopes("inventory"))(echoClaims)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, k))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rc.calls.Load() != 1 || observed != 1 {
		t.Errorf("status %d, %d revocation checks, %d observations; want 200, 1, 1", rec.Code, rc.calls.Load(), observed)
	}
}

func TestClaimsFromContext(t *testing.T) {
	if _, ok := verify.ClaimsFromContext(context.Background()); ok {
		t.Error("claims in an empty context")
	}
	ctx := verify.ContextWithClaims(context.Background(), verify.Claims{Subject: "s"})
	if c, ok := verify.ClaimsFromContext(ctx); !ok || c.Subject != "s" {
		t.Errorf("ClaimsFromContext = %+v, %v", c, ok)
	}
}

func TestMiddlewarePanicsWithoutVerifier(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("HTTPMiddleware(nil) did not panic")
		}
	}()
	verify.HTTPMiddleware(nil)
}

// jtiChecker revokes the listed jti.
type jtiChecker struct{ revoked map[string]bool }

func (c *jtiChecker) IsRevoked(_ context.Context, cl verify.Claims) (bool, error) {
	return c.revoked[cl.ID], nil
}
