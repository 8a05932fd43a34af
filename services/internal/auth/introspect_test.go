package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
)

// introspect asks as the caller and fails the test on an error.
func (h *harness) introspect(t *testing.T, callerID, callerSecret, token string) *authv1.IntrospectTokenResponse {
	t.Helper()
	resp, err := h.rpc.IntrospectToken(context.Background(), &authv1.IntrospectTokenRequest{
		ClientId: callerID, ClientSecret: callerSecret, Token: token,
	})
	if err != nil {
		t.Fatalf("IntrospectToken as %s: %v", callerID, err)
	}
	return resp
}

// wantInactive checks the answer is exactly active=false.
func wantInactive(t *testing.T, resp *authv1.IntrospectTokenResponse) {
	t.Helper()
	if !proto.Equal(resp, &authv1.IntrospectTokenResponse{}) {
		t.Errorf("introspection = %v, want only active=false", resp)
	}
}

// addIntrospectors adds: acme-introspector (acme, token.introspect),
// globex-introspector (globex, token.introspect), acme-plain (acme, no
// token.introspect) and operator (tenant chave).
func (h *harness) addIntrospectors() {
	h.reg.add(auth.Client{ID: "acme-introspector", Tenant: "acme", Scopes: []string{chave.ScopeTokenIntrospect}}, secret)
	h.reg.add(auth.Client{ID: "globex-introspector", Tenant: "globex", Scopes: []string{chave.ScopeTokenIntrospect}}, secret)
	h.reg.add(auth.Client{ID: "acme-plain", Tenant: "acme", Scopes: []string{"inventory"}}, secret)
	h.reg.add(auth.Client{ID: "operator", Tenant: "chave", Operator: true, Scopes: []string{chave.ScopeRegistryAdmin}}, secret)
}

func TestIntrospectActive(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	resp := h.grant(t, "rt-client", secret, "inventory labels")
	claims := accessClaims(t, resp.GetAccessToken())
	p := refreshPayload(t, resp.GetRefreshToken())
	h.clock.Advance(time.Minute)

	got := h.introspect(t, "rt-client", secret, resp.GetAccessToken())
	want := &authv1.IntrospectTokenResponse{
		Active: true, Scope: "inventory labels", ClientId: "rt-client", Sub: "rt-client",
		Exp: unix(claims, "exp"), Iat: unix(claims, "iat"), Iss: issuer, TokenType: "access_token",
		Tenantid: "acme", Aud: []string{audience}, Jti: claims["jti"].(string),
	}
	if !proto.Equal(got, want) {
		t.Errorf("access token: %v\nwant %v", got, want)
	}
	// Its own access token: the caller's authentication and the
	// revocation set answered; the registry is not asked again.
	h.reg.mu.Lock()
	checks := len(h.reg.checks)
	h.reg.mu.Unlock()
	if checks != 0 {
		t.Errorf("the registry was asked %d times about the caller's own access token, want 0", checks)
	}
	// Another client's: the registry checks the jti and the family (sid).
	h.addIntrospectors()
	if got := h.introspect(t, "acme-introspector", secret, resp.GetAccessToken()); !proto.Equal(got, want) {
		t.Errorf("access token introspected by its tenant: %v\nwant %v", got, want)
	}
	h.reg.mu.Lock()
	check := h.reg.checks[len(h.reg.checks)-1]
	h.reg.mu.Unlock()
	if check.TokenID != claims["jti"] || check.FamilyID != p["f"] {
		t.Errorf("registry checked %+v, want the jti and the family (sid)", check)
	}

	got = h.introspect(t, "rt-client", secret, resp.GetRefreshToken())
	want = &authv1.IntrospectTokenResponse{
		Active: true, Scope: "inventory labels", ClientId: "rt-client", Sub: "rt-client",
		Exp: unix(p, "e"), Iat: unix(p, "i"), Iss: issuer, TokenType: "refresh_token", Tenantid: "acme",
	}
	if !proto.Equal(got, want) {
		t.Errorf("refresh token: %v\nwant %v", got, want)
	}
	// The hint changes nothing.
	hinted, err := h.rpc.IntrospectToken(context.Background(), &authv1.IntrospectTokenRequest{
		ClientId: "rt-client", ClientSecret: secret, Token: resp.GetRefreshToken(), TokenTypeHint: "access_token",
	})
	if err != nil || !proto.Equal(hinted, want) {
		t.Errorf("with a wrong hint: %v, %v", hinted, err)
	}
}

func TestIntrospectInactive(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	other := newHarness(t, func(c *auth.Config) { c.RefreshTokenKey = []byte("another key, another key, another key") })
	other.addRefreshClients()

	h.clock.Set(now.Add(-2 * time.Hour))
	old := h.grant(t, "rt-client", secret, "")
	h.clock.Set(now)
	revoked := h.grant(t, "rt-client", secret, "")
	if err := h.revoke("rt-client", secret, revoked.GetAccessToken(), ""); err != nil {
		t.Fatal(err)
	}
	// Spent and replayed: the family is revoked.
	replayed := h.grant(t, "rt-client", secret, "")
	h.mustRefresh(t, "rt-client", secret, replayed.GetRefreshToken(), "")
	if _, err := h.refresh("rt-client", secret, replayed.GetRefreshToken(), ""); err == nil {
		t.Fatal("replay succeeded")
	}
	// Within Verify's leeway, but expired all the same.
	h.clock.Set(now.Add(-30*time.Minute - 10*time.Second))
	justExpired := h.grant(t, "rt-client", secret, "").GetAccessToken()
	h.clock.Set(now)

	for name, tok := range map[string]string{
		"garbage":                     "garbage",
		"refresh prefix, garbage":     "chave_rt_x.y",
		"another key's refresh token": other.grant(t, "rt-client", secret, "").GetRefreshToken(),
		"expired access token":        old.GetAccessToken(),
		"access token in the leeway":  justExpired,
		"revoked access token":        revoked.GetAccessToken(),
		"replayed family's refresh":   replayed.GetRefreshToken(),
		"replayed family's access":    replayed.GetAccessToken(),
		"access token of another":     other.grant(t, "rt-client", secret, "").GetAccessToken() + "x",
	} {
		t.Run(name, func(t *testing.T) {
			wantInactive(t, h.introspect(t, "rt-client", secret, tok))
		})
	}

	// A refresh token past its expiry, and every token of a revoked
	// credential.
	fresh := h.grant(t, "rt-client", secret, "")
	h.clock.Advance(24 * time.Hour)
	wantInactive(t, h.introspect(t, "rt-client", secret, fresh.GetRefreshToken()))
	h.clock.Set(now)
	h.reg.add(auth.Client{ID: "watcher", Tenant: "chave", Operator: true}, secret)
	h.reg.revokeCredential("rt-client")
	wantInactive(t, h.introspect(t, "watcher", secret, fresh.GetAccessToken()))
	wantInactive(t, h.introspect(t, "watcher", secret, fresh.GetRefreshToken()))
}

func TestIntrospectAuthorisation(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	h.addIntrospectors()
	resp := h.grant(t, "rt-client", secret, "")
	tests := []struct {
		caller string
		active bool
	}{
		{"rt-client", true},            // its own
		{"rt-other", false},            // same tenant, no token.introspect
		{"acme-plain", false},          // same tenant, no token.introspect
		{"acme-introspector", true},    // token.introspect, same tenant
		{"globex-introspector", false}, // token.introspect, other tenant
		{"operator", true},             // any
	}
	for _, tt := range tests {
		t.Run(tt.caller, func(t *testing.T) {
			callerSecret := secret
			if tt.caller == "rt-other" {
				callerSecret = otherSecret
			}
			for _, tok := range []string{resp.GetAccessToken(), resp.GetRefreshToken()} {
				got := h.introspect(t, tt.caller, callerSecret, tok)
				if tt.active {
					if !got.GetActive() || got.GetClientId() != "rt-client" || got.GetTenantid() != "acme" {
						t.Errorf("%v, want active, rt-client, acme", got)
					}
				} else {
					wantInactive(t, got)
				}
			}
		})
	}

	// The caller's current scopes decide: a credential that lost
	// token.introspect sees its own tokens only.
	h.reg.update("acme-introspector", func(c *auth.Client) { c.Scopes = []string{"inventory"} })
	wantInactive(t, h.introspect(t, "acme-introspector", secret, resp.GetAccessToken()))
}

func TestIntrospectFailures(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	at := h.grant(t, "rt-client", secret, "").GetAccessToken()
	for _, req := range []*authv1.IntrospectTokenRequest{
		{ClientId: "rt-client", ClientSecret: "wrong", Token: at},
		{ClientId: "nobody", ClientSecret: secret, Token: at},
		{Token: at},
		{ClientId: "rt-client", ClientSecret: "wrong", Token: "garbage"},
	} {
		_, err := h.rpc.IntrospectToken(context.Background(), req)
		wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
	}
	_, err := h.rpc.IntrospectToken(context.Background(), &authv1.IntrospectTokenRequest{ClientId: "rt-client", ClientSecret: secret})
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_request")

	// Another client's token is checked in the registry: its failures are
	// the answer's.
	h.addIntrospectors()
	h.reg.setErr(&h.reg.checkErr, chave.Errorf(chave.Unavailable, "db down"))
	_, err = h.rpc.IntrospectToken(context.Background(), &authv1.IntrospectTokenRequest{ClientId: "acme-introspector", ClientSecret: secret, Token: at})
	wantOAuthError(t, err, codes.Unavailable, "temporarily_unavailable")
	h.reg.setErr(&h.reg.checkErr, chave.Errorf(chave.Internal, "bug"))
	_, err = h.rpc.IntrospectToken(context.Background(), &authv1.IntrospectTokenRequest{ClientId: "acme-introspector", ClientSecret: secret, Token: at})
	wantOAuthError(t, err, codes.Internal, "server_error")
	h.reg.setErr(&h.reg.checkErr, nil)
}

// TestNewIntrospectOwnAccessTokenFailsClosed: a client's own access token
// is answered from the caller's authentication and the revocation set;
// a set that cannot answer is temporarily_unavailable, never active, and
// every revocation it holds makes the token inactive.
func TestNewIntrospectOwnAccessTokenFailsClosed(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	at := h.grant(t, "rt-client", secret, "").GetAccessToken()
	if got := h.introspect(t, "rt-client", secret, at); !got.GetActive() {
		t.Fatalf("live token inactive: %v", got)
	}
	h.reg.setErr(&h.reg.revocationSetErr, errors.New("redis down"))
	_, err := h.rpc.IntrospectToken(context.Background(), &authv1.IntrospectTokenRequest{ClientId: "rt-client", ClientSecret: secret, Token: at})
	wantOAuthError(t, err, codes.Unavailable, "temporarily_unavailable")
	h.reg.setErr(&h.reg.revocationSetErr, nil)

	for _, what := range []string{"jti", "family", "credential"} {
		t.Run(what, func(t *testing.T) {
			h := newHarness(t)
			h.addRefreshClients()
			at := h.grant(t, "rt-client", secret, "").GetAccessToken()
			claims := accessClaims(t, at)
			h.reg.mu.Lock()
			switch what {
			case "jti":
				h.reg.jtis[claims["jti"].(string)] = "rt-client"
			case "family":
				h.reg.families[claims["sid"].(string)] = &memFamily{client: "rt-client", revoked: true}
			case "credential":
				h.reg.revoked["rt-client"] = true
			}
			h.reg.mu.Unlock()
			resp, err := h.rpc.IntrospectToken(context.Background(), &authv1.IntrospectTokenRequest{ClientId: "rt-client", ClientSecret: secret, Token: at})
			if what == "credential" {
				// A revoked credential cannot authenticate at all.
				wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantInactive(t, resp)
		})
	}
}

func TestGetServerMetadata(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		t.Run(alg.String(), func(t *testing.T) {
			keys := keySetFor(t, alg)
			cfg := baseConfig(t, keys)
			cfg.ScopesSupported = []string{"commercial", "inventory", "registry.admin", "token.introspect"}
			srv, err := auth.NewServer(cfg, newMemRegistry(time.Now), keys)
			if err != nil {
				t.Fatal(err)
			}
			got, err := srv.GetServerMetadata(context.Background(), &authv1.GetServerMetadataRequest{})
			if err != nil {
				t.Fatal(err)
			}
			want := &authv1.GetServerMetadataResponse{
				Issuer:                            issuer,
				GrantTypesSupported:               []string{"client_credentials", "refresh_token"},
				TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
				ScopesSupported:                   []string{"commercial", "inventory", "registry.admin", "token.introspect"},
				SigningAlgValuesSupported:         []string{alg.String()},
			}
			if !proto.Equal(got, want) {
				t.Errorf("metadata = %v\nwant %v", got, want)
			}
		})
	}
	// Over gRPC too.
	h := newHarness(t)
	got, err := h.rpc.GetServerMetadata(context.Background(), &authv1.GetServerMetadataRequest{})
	if err != nil || got.GetIssuer() != issuer || len(got.GetSigningAlgValuesSupported()) != 1 {
		t.Errorf("GetServerMetadata over gRPC = %v, %v", got, err)
	}
}
