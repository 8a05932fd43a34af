package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
)

const otherSecret = "chave_an0ther_s3cr3t_of_another_client"

// addRefreshClients adds credentials that get refresh tokens: rt-client
// and rt-other of tenant acme.
func (h *harness) addRefreshClients() {
	h.reg.add(auth.Client{
		ID: "rt-client", Tenant: "acme", Scopes: []string{"commercial", "inventory", "labels"},
		IssueRefreshTokens: true, SecretVersion: "v1",
	}, secret)
	h.reg.add(auth.Client{
		ID: "rt-other", Tenant: "acme", Scopes: []string{"commercial", "inventory", "labels"},
		IssueRefreshTokens: true, SecretVersion: "v1",
	}, otherSecret)
}

// grant runs the client-credentials grant for the client.
func (h *harness) grant(t *testing.T, clientID, clientSecret, scope string) *authv1.TokenResponse {
	t.Helper()
	resp, err := h.rpc.Token(context.Background(), &authv1.TokenRequest{
		GrantType: "client_credentials", ClientId: clientID, ClientSecret: clientSecret, Scope: scope,
	})
	if err != nil {
		t.Fatalf("client credentials for %s: %v", clientID, err)
	}
	return resp
}

func (h *harness) refresh(clientID, clientSecret, refreshToken, scope string) (*authv1.TokenResponse, error) {
	return h.rpc.Token(context.Background(), &authv1.TokenRequest{
		GrantType: "refresh_token", ClientId: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken, Scope: scope,
	})
}

// mustRefresh refreshes and checks the answer's shape.
func (h *harness) mustRefresh(t *testing.T, clientID, clientSecret, refreshToken, scope string) *authv1.TokenResponse {
	t.Helper()
	resp, err := h.refresh(clientID, clientSecret, refreshToken, scope)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if resp.GetAccessToken() == "" || resp.GetRefreshToken() == "" || resp.GetTokenType() != "Bearer" {
		t.Fatalf("refresh response = %v, want an access token, a refresh token and Bearer", resp)
	}
	return resp
}

// accessClaims decodes an access token's claims without checking them.
func accessClaims(t *testing.T, at string) map[string]any {
	t.Helper()
	parts := strings.Split(at, ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d segments", len(parts))
	}
	return decodeSegment(t, parts[1])
}

// refreshPayload decodes a refresh token's payload without checking it.
func refreshPayload(t *testing.T, rt string) map[string]any {
	t.Helper()
	body, ok := strings.CutPrefix(rt, "chave_rt_")
	if !ok {
		t.Fatalf("refresh token %q lacks the chave_rt_ prefix", rt)
	}
	payload, _, _ := strings.Cut(body, ".")
	return decodeSegment(t, payload)
}

func unix(m map[string]any, name string) int64 {
	f, _ := m[name].(float64)
	return int64(f)
}

func TestClientCredentialsIssuesRefreshToken(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	resp := h.grant(t, "rt-client", secret, "inventory labels")
	rt := resp.GetRefreshToken()
	if !strings.HasPrefix(rt, "chave_rt_") || len(rt) > 512 {
		t.Fatalf("refresh token = %q, want chave_rt_… and short", rt)
	}
	p := refreshPayload(t, rt)
	fam, _ := p["f"].(string)
	if raw, err := base64.RawURLEncoding.DecodeString(fam); err != nil || len(raw) != 16 {
		t.Errorf("family id %q is not 128 bits of base64url", fam)
	}
	want := map[string]any{
		"f": fam, "g": 0.0, "c": "rt-client", "s": "inventory labels",
		"i": float64(now.Unix()), "e": float64(now.Add(24 * time.Hour).Unix()),
		"x": float64(now.Add(30 * 24 * time.Hour).Unix()), "v": "v1",
	}
	if got, _ := json.Marshal(p); string(got) != string(mustMarshal(t, want)) {
		t.Errorf("payload = %s\nwant %s", got, mustMarshal(t, want))
	}

	claims := accessClaims(t, resp.GetAccessToken())
	if claims["sid"] != fam {
		t.Errorf("access token sid = %v, want the family %s", claims["sid"], fam)
	}
	vc, err := h.verifier.Verify(context.Background(), resp.GetAccessToken())
	if err != nil || vc.SessionID != fam {
		t.Errorf("verified SessionID = %q, %v; want %s", vc.SessionID, err, fam)
	}

	// Every grant starts a new family.
	if again := refreshPayload(t, h.grant(t, "rt-client", secret, "").GetRefreshToken()); again["f"] == fam {
		t.Error("two grants share a family")
	}
	// No refresh token (nor sid) for a credential without the setting or
	// without scopes.
	h.reg.add(auth.Client{ID: "no-scopes", Tenant: "acme", IssueRefreshTokens: true, SecretVersion: "v1"}, secret)
	for _, id := range []string{"client-1", "no-scopes"} {
		resp := h.grant(t, id, secret, "")
		if resp.GetRefreshToken() != "" {
			t.Errorf("%s got a refresh token", id)
		}
		if _, ok := accessClaims(t, resp.GetAccessToken())["sid"]; ok {
			t.Errorf("%s's access token has a sid", id)
		}
	}
	// No refresh token without a secret version: rotation could not cut it
	// off.
	h.reg.add(auth.Client{ID: "no-version", Tenant: "acme", Scopes: []string{"labels"}, IssueRefreshTokens: true}, secret)
	_, err = h.rpc.Token(context.Background(), &authv1.TokenRequest{GrantType: "client_credentials", ClientId: "no-version", ClientSecret: secret})
	wantOAuthError(t, err, codes.Internal, "server_error")
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRefreshRotation: every refresh returns a new refresh token of the
// same family; presenting a spent one revokes the family, so that the
// newest one fails too.
func TestRefreshRotation(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	first := h.grant(t, "rt-client", secret, "")
	rt0 := first.GetRefreshToken()
	fam := refreshPayload(t, rt0)["f"]

	h.clock.Advance(10 * time.Minute)
	second := h.mustRefresh(t, "rt-client", secret, rt0, "")
	rt1 := second.GetRefreshToken()
	if rt1 == rt0 {
		t.Fatal("the refresh token did not rotate")
	}
	p1 := refreshPayload(t, rt1)
	if p1["f"] != fam || p1["g"] != 1.0 || p1["x"] != refreshPayload(t, rt0)["x"] || p1["s"] != "commercial inventory labels" {
		t.Errorf("new refresh token payload = %v; want family %v, generation 1, the same family expiry and scopes", p1, fam)
	}
	if unix(p1, "i") != h.clock.Now().Unix() || unix(p1, "e") != h.clock.Now().Add(24*time.Hour).Unix() {
		t.Errorf("new refresh token iat/exp = %v/%v, want now and now+24h", p1["i"], p1["e"])
	}
	claims := accessClaims(t, second.GetAccessToken())
	if claims["sid"] != fam || claims["scope"] != "commercial inventory labels" || second.GetScope() != "commercial inventory labels" ||
		second.GetExpiresIn() != 1800 || claims["client_id"] != "rt-client" || claims["tenantid"] != "acme" {
		t.Errorf("refreshed access token claims = %v, response %v", claims, second)
	}
	if claims["jti"] == accessClaims(t, first.GetAccessToken())["jti"] {
		t.Error("the refreshed access token repeats the jti")
	}

	rt2 := h.mustRefresh(t, "rt-client", secret, rt1, "").GetRefreshToken()

	// rt1 again: reuse. The answer is invalid_grant and the family dies.
	_, err := h.refresh("rt-client", secret, rt1, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	if f, _ := h.reg.family(fam.(string)); !f.revoked {
		t.Error("reuse did not revoke the family")
	}
	_, err = h.refresh("rt-client", secret, rt2, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	_, err = h.refresh("rt-client", secret, rt0, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
}

func TestRefreshBoundToClient(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "").GetRefreshToken()

	// Another client, authenticated or not, cannot use it; the token is
	// not spent (the registry never hears of it).
	_, err := h.refresh("rt-other", otherSecret, rt, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	_, err = h.refresh("rt-other", "wrong", rt, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	// Its own client must authenticate.
	_, err = h.refresh("rt-client", "wrong", rt, "")
	wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
	_, err = h.refresh("rt-client", "", rt, "")
	wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
	_, err = h.refresh("", "", rt, "")
	wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
	_, err = h.refresh("rt-client", secret, "", "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_request")

	// A credential that authenticates wrongly spends nothing either: the
	// registry authenticates before it advances.
	h.mustRefresh(t, "rt-client", secret, rt, "")
}

func TestRefreshScopes(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "commercial labels").GetRefreshToken()

	// Widening is invalid_scope, before the token is spent.
	for _, scope := range []string{"inventory", "commercial inventory", "registry.admin", "LABELS"} {
		_, err := h.refresh("rt-client", secret, rt, scope)
		wantOAuthError(t, err, codes.InvalidArgument, "invalid_scope")
	}
	h.reg.mu.Lock()
	uses := h.reg.uses
	h.reg.mu.Unlock()
	if uses != 0 {
		t.Errorf("the registry was asked %d times; invalid_scope must not spend the token", uses)
	}

	// Narrowing narrows the access token; the new refresh token keeps the
	// refresh token's scopes.
	resp := h.mustRefresh(t, "rt-client", secret, rt, "labels")
	if resp.GetScope() != "labels" || accessClaims(t, resp.GetAccessToken())["scope"] != "labels" {
		t.Errorf("narrowed refresh: scope %q, claim %v; want labels", resp.GetScope(), accessClaims(t, resp.GetAccessToken())["scope"])
	}
	if s := refreshPayload(t, resp.GetRefreshToken())["s"]; s != "commercial labels" {
		t.Errorf("new refresh token scopes = %v, want the old token's, commercial labels", s)
	}
	resp = h.mustRefresh(t, "rt-client", secret, resp.GetRefreshToken(), "")
	if resp.GetScope() != "commercial labels" {
		t.Errorf("scope after a narrowed refresh = %q, want commercial labels back", resp.GetScope())
	}
}

func TestRefreshNarrowedCredential(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "").GetRefreshToken()

	// The credential lost labels and gained purchasing: the new tokens
	// reach what both allow.
	h.reg.update("rt-client", func(c *auth.Client) { c.Scopes = []string{"commercial", "inventory", "purchasing"} })
	resp := h.mustRefresh(t, "rt-client", secret, rt, "")
	if resp.GetScope() != "commercial inventory" || refreshPayload(t, resp.GetRefreshToken())["s"] != "commercial inventory" {
		t.Errorf("scope = %q, refresh token scopes %v; want commercial inventory", resp.GetScope(), refreshPayload(t, resp.GetRefreshToken())["s"])
	}
	// Asking for a scope the credential lost since: what is left of the
	// request is granted.
	h.reg.update("rt-client", func(c *auth.Client) { c.Scopes = []string{"inventory"} })
	resp = h.mustRefresh(t, "rt-client", secret, resp.GetRefreshToken(), "commercial inventory")
	if resp.GetScope() != "inventory" {
		t.Errorf("scope = %q, want inventory", resp.GetScope())
	}
	// Nothing left: invalid_grant.
	h.reg.update("rt-client", func(c *auth.Client) { c.Scopes = []string{"purchasing"} })
	_, err := h.refresh("rt-client", secret, resp.GetRefreshToken(), "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
}

func TestRefreshCappedByCredentialExpiry(t *testing.T) {
	tests := []struct {
		name             string
		expire           time.Time // the credential's
		wantExp, wantFam time.Time
	}{
		{"never expires", time.Time{}, now.Add(24 * time.Hour), now.Add(30 * 24 * time.Hour)},
		{"expires in 10 days", now.Add(10 * 24 * time.Hour), now.Add(24 * time.Hour), now.Add(10 * 24 * time.Hour)},
		{"expires in 2 hours", now.Add(2 * time.Hour), now.Add(2 * time.Hour), now.Add(2 * time.Hour)},
		{"expires in 2 hours and a half second", now.Add(2*time.Hour + 500*time.Millisecond), now.Add(2 * time.Hour), now.Add(2 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.reg.add(auth.Client{
				ID: "expiring", Tenant: "acme", Scopes: []string{"labels"}, ExpireTime: tt.expire,
				IssueRefreshTokens: true, SecretVersion: "v1",
			}, secret)
			p := refreshPayload(t, h.grant(t, "expiring", secret, "").GetRefreshToken())
			if unix(p, "e") != tt.wantExp.Unix() || unix(p, "x") != tt.wantFam.Unix() {
				t.Errorf("exp %v, family expiry %v; want %d, %d", p["e"], p["x"], tt.wantExp.Unix(), tt.wantFam.Unix())
			}
		})
	}

	// A credential whose expiry moves closer caps the next refresh token.
	h := newHarness(t)
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "").GetRefreshToken()
	h.reg.update("rt-client", func(c *auth.Client) { c.ExpireTime = now.Add(45 * time.Minute) })
	resp := h.mustRefresh(t, "rt-client", secret, rt, "")
	if got := unix(refreshPayload(t, resp.GetRefreshToken()), "e"); got != now.Add(45*time.Minute).Unix() {
		t.Errorf("refresh token exp = %d, want the credential's expiry %d", got, now.Add(45*time.Minute).Unix())
	}
	if resp.GetExpiresIn() != 1800 {
		t.Errorf("expires_in = %d", resp.GetExpiresIn())
	}
	// …and past the credential's expiry, nothing works.
	h.clock.Advance(45 * time.Minute)
	_, err := h.refresh("rt-client", secret, resp.GetRefreshToken(), "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
}

// TestRefreshFamilyExpiry: however often a family is refreshed, none of
// its tokens outlives the family.
func TestRefreshFamilyExpiry(t *testing.T) {
	h := newHarness(t, func(c *auth.Config) {
		c.RefreshTokenLifetime, c.RefreshFamilyLifetime = time.Hour, 3*time.Hour
	})
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "").GetRefreshToken()
	famExp := now.Add(3 * time.Hour).Unix()
	for i := range 3 {
		h.clock.Advance(50 * time.Minute)
		rt = h.mustRefresh(t, "rt-client", secret, rt, "").GetRefreshToken()
		p := refreshPayload(t, rt)
		wantExp := min(h.clock.Now().Add(time.Hour).Unix(), famExp)
		if unix(p, "e") != wantExp || unix(p, "x") != famExp {
			t.Errorf("refresh %d: exp %v, family %v; want %d, %d", i+1, p["e"], p["x"], wantExp, famExp)
		}
	}
	h.reg.mu.Lock()
	gotFamExp := h.reg.lastUsed.familyExpiry
	h.reg.mu.Unlock()
	if gotFamExp.Unix() != famExp {
		t.Errorf("the registry heard family expiry %v, want %d", gotFamExp, famExp)
	}
	h.clock.Set(now.Add(3 * time.Hour))
	_, err := h.refresh("rt-client", secret, rt, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
}

func TestRefreshExpired(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "").GetRefreshToken()
	h.clock.Advance(24 * time.Hour)
	_, err := h.refresh("rt-client", secret, rt, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	h.clock.Set(now.Add(24*time.Hour - time.Second))
	h.mustRefresh(t, "rt-client", secret, rt, "")
}

// TestRefreshSecretRotation: rotating the secret cuts off the refresh
// tokens issued under the old one, even presented with the new secret.
func TestRefreshSecretRotation(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "").GetRefreshToken()
	const newSecret = "chave_r0tated_s3cr3t"
	h.reg.add(auth.Client{
		ID: "rt-client", Tenant: "acme", Scopes: []string{"commercial", "inventory", "labels"},
		IssueRefreshTokens: true, SecretVersion: "v2",
	}, newSecret)
	_, err := h.refresh("rt-client", secret, rt, "")
	wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
	_, err = h.refresh("rt-client", newSecret, rt, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	// A new grant works with the new secret.
	h.mustRefresh(t, "rt-client", newSecret, h.grant(t, "rt-client", newSecret, "").GetRefreshToken(), "")
}

func TestRefreshTamperedOrGarbage(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "labels").GetRefreshToken()
	body := strings.TrimPrefix(rt, "chave_rt_")
	payloadB64, mac, _ := strings.Cut(body, ".")

	// The payload widened to every scope, with the old MAC.
	p := refreshPayload(t, rt)
	p["s"] = "commercial inventory labels"
	widened := "chave_rt_" + base64.RawURLEncoding.EncodeToString(mustMarshal(t, p)) + "." + mac

	// A token of a server with another key.
	other := newHarness(t, func(c *auth.Config) { c.RefreshTokenKey = []byte("another key, another key, another key") })
	other.addRefreshClients()
	foreign := other.grant(t, "rt-client", secret, "").GetRefreshToken()

	macBytes, _ := base64.RawURLEncoding.DecodeString(mac)
	macBytes[0] ^= 1
	flipped := "chave_rt_" + payloadB64 + "." + base64.RawURLEncoding.EncodeToString(macBytes)

	for name, tok := range map[string]string{
		"garbage":             "garbage",
		"prefix only":         "chave_rt_",
		"no MAC":              "chave_rt_" + payloadB64,
		"empty MAC":           "chave_rt_" + payloadB64 + ".",
		"truncated MAC":       rt[:len(rt)-2],
		"flipped MAC bit":     flipped,
		"padded MAC":          rt + "=",
		"extra segment":       rt + ".x",
		"widened payload":     widened,
		"another key":         foreign,
		"wrong prefix":        "chave_xx_" + body,
		"upper-case prefix":   "CHAVE_RT_" + body,
		"an access token":     h.grant(t, "rt-client", secret, "").GetAccessToken(),
		"huge":                rt + strings.Repeat("A", 5000),
		"white space":         " " + rt,
		"standard base64 MAC": "chave_rt_" + payloadB64 + "." + strings.NewReplacer("-", "+", "_", "/").Replace(mac) + "+",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.refresh("rt-client", secret, tok, "")
			st := wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
			if len(st.Message()) > 200 {
				t.Errorf("description echoes the input: %.80s…", st.Message())
			}
		})
	}
	// After all that, the genuine token still works: nothing was spent.
	h.mustRefresh(t, "rt-client", secret, rt, "")
	if strings.Contains(h.logs.String(), rt) || strings.Contains(h.logs.String(), secret) {
		t.Error("logs hold a refresh token or a secret")
	}
}

// TestRefreshParallel: of 20 parallel refreshes of one token exactly one
// succeeds; the others are invalid_grant, never a server error. The
// registry takes them for reuse, so the family ends.
func TestRefreshParallel(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "").GetRefreshToken()

	const n = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		won     []*authv1.TokenResponse
		refused int
		others  []error
	)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := h.refresh("rt-client", secret, rt, "")
			code, _, _ := auth.OAuthError(err)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, resp)
			case code == "invalid_grant" && status.Code(err) == codes.InvalidArgument:
				refused++
			default:
				others = append(others, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(won) != 1 || refused != n-1 || len(others) != 0 {
		t.Fatalf("%d successes, %d invalid_grant, other errors %v; want 1, %d, none", len(won), refused, others, n-1)
	}
	_, err := h.refresh("rt-client", secret, won[0].GetRefreshToken(), "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
}

func TestRefreshRegistryFailures(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		reason string
	}{
		{"unavailable", chave.Errorf(chave.Unavailable, "db down"), codes.Unavailable, "temporarily_unavailable"},
		{"unauthenticated", chave.Errorf(chave.Unauthenticated, "credential revoked"), codes.Unauthenticated, "invalid_client"},
		{"invalid grant", chave.Errorf(chave.InvalidGrant, "family revoked"), codes.InvalidArgument, "invalid_grant"},
		{"internal", status.Error(codes.Internal, "pq: deadlock detected"), codes.Internal, "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addRefreshClients()
			rt := h.grant(t, "rt-client", secret, "").GetRefreshToken()
			h.reg.setErr(&h.reg.useErr, tt.err)
			_, err := h.refresh("rt-client", secret, rt, "")
			st := wantOAuthError(t, err, tt.code, tt.reason)
			if strings.Contains(st.Message(), "pq:") || strings.Contains(st.Message(), "db down") {
				t.Errorf("description %q leaks the cause", st.Message())
			}
		})
	}

	// A credential that no longer gets refresh tokens may not refresh.
	h := newHarness(t)
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "").GetRefreshToken()
	h.reg.update("rt-client", func(c *auth.Client) { c.IssueRefreshTokens = false })
	_, err := h.refresh("rt-client", secret, rt, "")
	wantOAuthError(t, err, codes.InvalidArgument, "unauthorized_client")
}

// TestRefreshDirect runs the grant with the registry in process: the
// grant's mapping of domain errors, without the gRPC adapter.
func TestRefreshDirect(t *testing.T) {
	h := newHarnessWith(t, true)
	h.addRefreshClients()
	rt := h.grant(t, "rt-client", secret, "").GetRefreshToken()
	rt2 := h.mustRefresh(t, "rt-client", secret, rt, "").GetRefreshToken()
	_, err := h.refresh("rt-client", secret, rt, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	_, err = h.refresh("rt-client", secret, rt2, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
}

// BenchmarkRefreshGrant measures a whole refresh grant, a direct call of
// the server method on the in-memory registry: everything the auth
// service does (parse the presented token, mint the access token and the
// next refresh token) and the family advance of the registry's fake.
// Each iteration presents the token the previous one returned.
func BenchmarkRefreshGrant(b *testing.B) {
	h := newHarnessWith(b, true, func(c *auth.Config) { c.Logger = nil })
	h.addRefreshClients()
	ctx := context.Background()
	first, err := h.server.Token(ctx, &authv1.TokenRequest{GrantType: "client_credentials", ClientId: "rt-client", ClientSecret: secret})
	if err != nil {
		b.Fatal(err)
	}
	req := &authv1.TokenRequest{GrantType: "refresh_token", ClientId: "rt-client", ClientSecret: secret, RefreshToken: first.GetRefreshToken()}
	b.ReportAllocs()
	defer auth.ReportCPU(b)()
	for b.Loop() {
		resp, err := h.server.Token(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		req.RefreshToken = resp.GetRefreshToken()
	}
}
