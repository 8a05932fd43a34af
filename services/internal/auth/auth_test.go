package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/signing"
	"github.com/chave/chave/services/verify"
)

const (
	issuer   = "https://auth.example"
	audience = "chave"
	secret   = "chave_s3cr3t_that_must_never_be_logged"
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// refreshKey authenticates the harness's refresh tokens.
var refreshKey = []byte("0123456789abcdef0123456789abcdef")

// keySets caches one generated set per algorithm across tests.
var keySets sync.Map

func keySetFor(t testing.TB, alg jwa.SignatureAlgorithm) *signing.KeySet {
	t.Helper()
	if s, ok := keySets.Load(alg); ok {
		return s.(*signing.KeySet)
	}
	s, err := signing.Generate(alg, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	actual, _ := keySets.LoadOrStore(alg, s)
	return actual.(*signing.KeySet)
}

// testClock is a settable clock, shared by the server, its verifier and the
// registry.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// newVerifier returns the verifier of the tokens keys signs.
func newVerifier(t testing.TB, keys *signing.KeySet, clock func() time.Time) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: audience, Algorithms: keys.Algorithms(), Keys: keys, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newVerifierWith is newVerifier consulting revocations.
func newVerifierWith(t testing.TB, keys *signing.KeySet, clock func() time.Time, revocations verify.RevocationChecker) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: audience, Algorithms: keys.Algorithms(), Keys: keys, Clock: clock, Revocations: revocations})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// baseConfig is a valid Config for keys.
func baseConfig(t testing.TB, keys *signing.KeySet) auth.Config {
	return auth.Config{
		Issuer: issuer, Audience: audience,
		RefreshTokenKey: refreshKey,
		Verifier:        newVerifier(t, keys, func() time.Time { return now }),
		Clock:           func() time.Time { return now },
	}
}

type harness struct {
	clock    *testClock
	keys     *signing.KeySet
	reg      *memRegistry
	verifier *verify.Verifier
	server   *auth.Server
	rpc      authv1.AuthServiceClient // over a real gRPC transport (bufconn)
	logs     *bytes.Buffer
}

// newHarness serves an auth server on an in-memory gRPC connection; it
// reaches a memRegistry through the registry adapter, over another one.
func newHarness(t testing.TB, mutate ...func(*auth.Config)) *harness {
	return newHarnessWith(t, false, mutate...)
}

// newHarnessWith: direct hands the memRegistry to the server as is, with
// no gRPC hop to the registry.
func newHarnessWith(t testing.TB, direct bool, mutate ...func(*auth.Config)) *harness {
	t.Helper()
	h := &harness{
		clock: &testClock{t: now},
		keys:  keySetFor(t, jwa.ES256),
		logs:  &bytes.Buffer{},
	}
	h.reg = newMemRegistry(h.clock.Now)
	h.reg.add(auth.Client{
		ID: "client-1", Tenant: "acme",
		Scopes: []string{"commercial", "inventory", "registry.admin"},
	}, secret)
	// As in production, every revocation the registry records reaches the
	// set the verifier consults.
	h.verifier = newVerifierWith(t, h.keys, h.clock.Now, h.reg)
	cfg := auth.Config{
		Issuer: issuer, Audience: audience,
		RefreshTokenKey: refreshKey,
		Verifier:        h.verifier,
		ScopesSupported: []string{"commercial", "inventory", "registry.admin", "token.introspect"},
		Clock:           h.clock.Now,
		Logger:          slog.New(slog.NewJSONHandler(&lockedWriter{w: h.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	var reg auth.Registry = h.reg
	if !direct {
		reg = auth.NewRegistryClient(dialRegistry(t, registryServer{m: h.reg}))
	}
	srv, err := auth.NewServer(cfg, reg, h.keys)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	h.server = srv

	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(auth.StatusInterceptor()))
	authv1.RegisterAuthServiceServer(gs, srv)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h.rpc = authv1.NewAuthServiceClient(conn)
	return h
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func ccRequest(scope string) *authv1.TokenRequest {
	return &authv1.TokenRequest{GrantType: "client_credentials", ClientId: "client-1", ClientSecret: secret, Scope: scope}
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestClientCredentialsSuccess(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	resp, err := h.rpc.Token(ctx, ccRequest(""))
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if resp.GetTokenType() != "Bearer" || resp.GetExpiresIn() != 1800 || resp.GetRefreshToken() != "" ||
		resp.GetScope() != "commercial inventory registry.admin" {
		t.Errorf("response = %v, want Bearer, 1800 s, no refresh token, every scope", resp)
	}

	// Every header and claim, as the JWT carries them.
	parts := strings.Split(resp.GetAccessToken(), ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d segments", len(parts))
	}
	hdr := decodeSegment(t, parts[0])
	if fmt.Sprint(hdr) != fmt.Sprint(map[string]any{"alg": "ES256", "kid": h.keys.Active().ID(), "typ": "at+jwt"}) {
		t.Errorf("header = %v", hdr)
	}
	claims := decodeSegment(t, parts[1])
	jti, _ := claims["jti"].(string)
	if len(jti) < 22 {
		t.Errorf("jti = %q, want at least 128 random bits", jti)
	}
	want := map[string]any{
		"iss": issuer, "sub": "client-1", "client_id": "client-1", "aud": audience,
		"iat": float64(now.Unix()), "exp": float64(now.Add(1800 * time.Second).Unix()),
		"jti": jti, "scope": "commercial inventory registry.admin", "tenantid": "acme",
	}
	if fmt.Sprint(claims) != fmt.Sprint(want) {
		t.Errorf("claims = %v\nwant %v", claims, want)
	}

	// chave's own verifier accepts it…
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: audience, Keys: h.keys, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	vc, err := v.Verify(ctx, resp.GetAccessToken())
	if err != nil {
		t.Fatalf("verify.Verify: %v", err)
	}
	if vc.ClientID != "client-1" || vc.TenantID != "acme" || !vc.HasScope("registry.admin") || vc.ID != jti {
		t.Errorf("verified claims = %+v", vc)
	}

	// …and so does an independent library, with the published JWKS.
	jwks, err := h.rpc.GetJwks(ctx, &authv1.GetJwksRequest{})
	if err != nil {
		t.Fatalf("GetJwks: %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks.GetJwksJson(), &set); err != nil {
		t.Fatalf("go-jose cannot read the JWKS %s: %v", jwks.GetJwksJson(), err)
	}
	tok, err := josejwt.ParseSigned(resp.GetAccessToken(), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("go-jose ParseSigned: %v", err)
	}
	if got := tok.Headers[0].ExtraHeaders[jose.HeaderType]; got != "at+jwt" {
		t.Errorf("go-jose typ = %v", got)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWKS holds %d keys with kid %s", len(keys), tok.Headers[0].KeyID)
	}
	var std josejwt.Claims
	var extra struct {
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
		TenantID string `json:"tenantid"`
	}
	if err := tok.Claims(keys[0].Key, &std, &extra); err != nil {
		t.Fatalf("go-jose signature check: %v", err)
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{
		Issuer: issuer, Subject: "client-1", AnyAudience: josejwt.Audience{audience}, ID: jti, Time: now,
	}, 0); err != nil {
		t.Errorf("go-jose claim validation: %v", err)
	}
	if extra.ClientID != "client-1" || extra.TenantID != "acme" || extra.Scope != resp.GetScope() {
		t.Errorf("go-jose extra claims = %+v", extra)
	}
}

func TestClientCredentialsScopes(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		scope     string
		wantScope string // empty: want invalid_scope
	}{
		{"", "commercial inventory registry.admin"},
		{"inventory", "inventory"},
		{"  inventory   commercial inventory ", "commercial inventory"},
		{"registry.admin", "registry.admin"},
		{"labels", ""},
		{"inventory labels", ""},
		{"token.introspect", ""},
		{"INVENTORY", ""},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			resp, err := h.rpc.Token(context.Background(), ccRequest(tt.scope))
			if tt.wantScope == "" {
				wantOAuthError(t, err, codes.InvalidArgument, "invalid_scope")
				return
			}
			if err != nil {
				t.Fatalf("Token(scope %q): %v", tt.scope, err)
			}
			if resp.GetScope() != tt.wantScope {
				t.Errorf("scope = %q, want %q", resp.GetScope(), tt.wantScope)
			}
			claims := decodeSegment(t, strings.Split(resp.GetAccessToken(), ".")[1])
			if claims["scope"] != tt.wantScope {
				t.Errorf("token scope claim = %v, want %q", claims["scope"], tt.wantScope)
			}
		})
	}
}

func TestClientCredentialsNoScopes(t *testing.T) {
	h := newHarness(t)
	h.reg.add(auth.Client{ID: "bare", Tenant: "acme"}, secret)
	resp, err := h.rpc.Token(context.Background(), &authv1.TokenRequest{GrantType: "client_credentials", ClientId: "bare", ClientSecret: secret})
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if resp.GetScope() != "" {
		t.Errorf("scope = %q, want empty", resp.GetScope())
	}
}

// call runs a method of srv through StatusInterceptor, as a gRPC server
// does, without a transport: what a caller hears when the handler fails.
func call[Req, Resp any](ctx context.Context, srv *auth.Server, method func(context.Context, Req) (Resp, error), req Req) (Resp, error) {
	var zero Resp
	resp, err := auth.StatusInterceptor()(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/test/Method"},
		func(ctx context.Context, req any) (any, error) { return method(ctx, req.(Req)) })
	if err != nil {
		return zero, err
	}
	return resp.(Resp), nil
}

// wantOAuthError checks err is a status with the code and an ErrorInfo of
// the oauth2.chave domain with the reason, and returns the status.
func wantOAuthError(t *testing.T, err error, code codes.Code, reason string) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || err == nil {
		t.Fatalf("error = %v, want a status %v / %s", err, code, reason)
	}
	if st.Code() != code {
		t.Errorf("status code = %v, want %v (%v)", st.Code(), code, err)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil || info.GetReason() != reason || info.GetDomain() != "oauth2.chave" {
		t.Errorf("ErrorInfo = %v, want reason %s in domain oauth2.chave", info, reason)
	}
	gotCode, desc, ok := auth.OAuthError(err)
	if !ok || gotCode != reason || desc != st.Message() {
		t.Errorf("OAuthError = %q, %q, %v; want %q, %q, true", gotCode, desc, ok, reason, st.Message())
	}
	return st
}

func TestClientCredentialsUnknownClientAndBadSecretLookAlike(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var statuses []*status.Status
	for _, req := range []*authv1.TokenRequest{
		{GrantType: "client_credentials", ClientId: "client-1", ClientSecret: secret + "x"},
		{GrantType: "client_credentials", ClientId: "client-1", ClientSecret: secret[:10]},
		{GrantType: "client_credentials", ClientId: "nobody", ClientSecret: secret},
		{GrantType: "client_credentials", ClientId: "nobody", ClientSecret: "whatever"},
		{GrantType: "client_credentials", ClientId: "client-1"},
		{GrantType: "client_credentials", ClientSecret: secret},
		{GrantType: "client_credentials", ClientId: "client-1", ClientSecret: strings.Repeat("x", 10000)},
		{GrantType: "client_credentials", ClientId: "client-1", ClientSecret: secret + "y", Scope: "labels"},
	} {
		_, err := h.rpc.Token(ctx, req)
		statuses = append(statuses, wantOAuthError(t, err, codes.Unauthenticated, "invalid_client"))
	}
	for i, st := range statuses[1:] {
		if !proto.Equal(st.Proto(), statuses[0].Proto()) {
			t.Errorf("failure #%d = %v, failure #0 = %v: every client authentication failure must look the same", i+1, st.Proto(), statuses[0].Proto())
		}
	}
	if strings.Contains(h.logs.String(), secret) {
		t.Errorf("logs hold the secret:\n%s", h.logs)
	}
}

func TestClientCredentialsCappedByCredentialExpiry(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name          string
		expire        time.Time
		wantExpiresIn int64 // 0: want invalid_client
	}{
		{"expires in 10 minutes", now.Add(10 * time.Minute), 600},
		{"expires in 10 minutes and a half second", now.Add(10*time.Minute + 500*time.Millisecond), 600},
		{"expires after the token", now.Add(2 * time.Hour), 1800},
		{"expires with the token", now.Add(1800 * time.Second), 1800},
		{"expires in a second", now.Add(time.Second), 1},
		{"expires in half a second", now.Add(500 * time.Millisecond), 0},
		{"expired", now.Add(-time.Minute), 0},
		{"expires now", now, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("expiring-%d", i)
			h.reg.add(auth.Client{ID: id, Tenant: "acme", Scopes: []string{"inventory"}, ExpireTime: tt.expire}, secret)
			resp, err := h.rpc.Token(context.Background(), &authv1.TokenRequest{GrantType: "client_credentials", ClientId: id, ClientSecret: secret})
			if tt.wantExpiresIn == 0 {
				wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
				return
			}
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			claims := decodeSegment(t, strings.Split(resp.GetAccessToken(), ".")[1])
			exp := int64(claims["exp"].(float64))
			iat := int64(claims["iat"].(float64))
			if resp.GetExpiresIn() != tt.wantExpiresIn || exp-iat != tt.wantExpiresIn {
				t.Errorf("expires_in = %d, exp-iat = %d; want %d", resp.GetExpiresIn(), exp-iat, tt.wantExpiresIn)
			}
			if exp > tt.expire.Unix() {
				t.Errorf("exp %d is past the credential's expiry %d", exp, tt.expire.Unix())
			}
		})
	}
}

func TestAccessTokenLifetimeConfigurable(t *testing.T) {
	h := newHarness(t, func(c *auth.Config) { c.AccessTokenLifetime = 5 * time.Minute })
	resp, err := h.rpc.Token(context.Background(), ccRequest(""))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetExpiresIn() != 300 {
		t.Errorf("expires_in = %d, want 300", resp.GetExpiresIn())
	}
}

func TestGrantTypes(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		grantType string
		code      codes.Code
		reason    string
	}{
		{"", codes.InvalidArgument, "invalid_request"},
		{"refresh_token", codes.InvalidArgument, "invalid_grant"},
		{"password", codes.InvalidArgument, "unsupported_grant_type"},
		{"authorization_code", codes.InvalidArgument, "unsupported_grant_type"},
		{"CLIENT_CREDENTIALS", codes.InvalidArgument, "unsupported_grant_type"},
		{strings.Repeat("g", 5000), codes.InvalidArgument, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(truncate(tt.grantType), func(t *testing.T) {
			req := ccRequest("")
			req.GrantType = tt.grantType
			req.RefreshToken = "rt"
			_, err := h.rpc.Token(context.Background(), req)
			st := wantOAuthError(t, err, tt.code, tt.reason)
			if len(st.Message()) > 200 {
				t.Errorf("description of %d bytes echoes the input: %.80s…", len(st.Message()), st.Message())
			}
		})
	}
}

func truncate(s string) string {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

func TestAuthenticatorFailures(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		reason string
	}{
		{"registry down", &chave.Error{Code: chave.Unavailable, Message: "registry unavailable", Err: errors.New("dial tcp 10.0.0.7:9090: connection refused")}, codes.Unavailable, "temporarily_unavailable"},
		{"unexpected failure", errors.New("pq: relation tokens does not exist"), codes.Internal, "server_error"},
		{"revoked", chave.Errorf(chave.Unauthenticated, "token revoked"), codes.Unauthenticated, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.reg.setErr(&h.reg.authErr, tt.err)
			_, err := h.rpc.Token(context.Background(), ccRequest(""))
			st := wantOAuthError(t, err, tt.code, tt.reason)
			for _, internal := range []string{"10.0.0.7", "pq:", "revoked"} {
				if strings.Contains(st.Message(), internal) {
					t.Errorf("description %q leaks %q", st.Message(), internal)
				}
			}
			if strings.Contains(h.logs.String(), secret) {
				t.Errorf("logs hold the secret:\n%s", h.logs)
			}
		})
	}
}

func TestCanceledRequest(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.reg.setErr(&h.reg.authErr, context.Canceled)
	_, err := call(ctx, h.server, h.server.Token, ccRequest(""))
	if status.Code(err) != codes.Canceled {
		t.Errorf("Token with a canceled context: %v, want Canceled", err)
	}
}

func TestGetJwks(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA, jwa.HS512} {
		t.Run(alg.String(), func(t *testing.T) {
			keys := keySetFor(t, alg)
			srv, err := auth.NewServer(baseConfig(t, keys), newMemRegistry(time.Now), keys)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.GetJwks(context.Background(), &authv1.GetJwksRequest{})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := keys.PublicJWKS()
			if !bytes.Equal(resp.GetJwksJson(), want) {
				t.Errorf("GetJwks = %s, want %s", resp.GetJwksJson(), want)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(resp.GetJwksJson(), &set); err != nil {
				t.Fatalf("go-jose cannot read %s: %v", resp.GetJwksJson(), err)
			}
			wantKeys := 1
			if alg == jwa.HS512 {
				wantKeys = 0
			}
			if len(set.Keys) != wantKeys {
				t.Errorf("JWKS has %d keys, want %d", len(set.Keys), wantKeys)
			}
			for _, k := range set.Keys {
				if !k.IsPublic() || k.KeyID != keys.Active().ID() || k.Algorithm != alg.String() || k.Use != "sig" {
					t.Errorf("JWK = %+v, want a public sig key %s / %s", k, keys.Active().ID(), alg)
				}
			}
		})
	}
}

func TestNewServerRejectsBadConfig(t *testing.T) {
	keys := keySetFor(t, jwa.ES256)
	tests := []struct {
		name   string
		mutate func(*auth.Config)
	}{
		{"no issuer", func(c *auth.Config) { c.Issuer = "" }},
		{"no audience", func(c *auth.Config) { c.Audience = "" }},
		{"negative lifetime", func(c *auth.Config) { c.AccessTokenLifetime = -time.Second }},
		{"sub-second lifetime", func(c *auth.Config) { c.AccessTokenLifetime = time.Millisecond }},
		{"lifetime too long", func(c *auth.Config) { c.AccessTokenLifetime = 25 * time.Hour }},
		{"no refresh-token key", func(c *auth.Config) { c.RefreshTokenKey = nil }},
		{"short refresh-token key", func(c *auth.Config) { c.RefreshTokenKey = refreshKey[:31] }},
		{"no verifier", func(c *auth.Config) { c.Verifier = nil }},
		{"sub-second refresh-token lifetime", func(c *auth.Config) { c.RefreshTokenLifetime = time.Millisecond }},
		{"refresh token outlives its family", func(c *auth.Config) {
			c.RefreshTokenLifetime, c.RefreshFamilyLifetime = 2*time.Hour, time.Hour
		}},
		{"refresh token outlives the default family", func(c *auth.Config) { c.RefreshTokenLifetime = 31 * 24 * time.Hour }},
		{"negative family lifetime", func(c *auth.Config) { c.RefreshFamilyLifetime = -time.Hour }},
		{"family lifetime too long", func(c *auth.Config) { c.RefreshFamilyLifetime = 367 * 24 * time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(t, keys)
			tt.mutate(&cfg)
			if _, err := auth.NewServer(cfg, newMemRegistry(time.Now), keys); err == nil {
				t.Errorf("NewServer(%+v) succeeded, want an error", cfg)
			}
		})
	}
	if _, err := auth.NewServer(baseConfig(t, keys), nil, keys); err == nil {
		t.Error("NewServer without a registry succeeded")
	}
	if _, err := auth.NewServer(baseConfig(t, keys), newMemRegistry(time.Now), nil); err == nil {
		t.Error("NewServer without keys succeeded")
	}
	// A family shorter than a day shortens the default refresh-token
	// lifetime with it.
	cfg := baseConfig(t, keys)
	cfg.RefreshFamilyLifetime = time.Hour
	if _, err := auth.NewServer(cfg, newMemRegistry(time.Now), keys); err != nil {
		t.Errorf("NewServer with a one-hour family and the default refresh-token lifetime: %v", err)
	}
}

func TestOAuthErrorOnForeignErrors(t *testing.T) {
	other, _ := status.New(codes.InvalidArgument, "x").WithDetails(&errdetails.ErrorInfo{Reason: "r", Domain: "elsewhere"})
	for _, err := range []error{
		nil,
		errors.New("plain"),
		status.Error(codes.Unauthenticated, "no details"),
		other.Err(),
	} {
		if code, desc, ok := auth.OAuthError(err); ok {
			t.Errorf("OAuthError(%v) = %q, %q, true; want ok=false", err, code, desc)
		}
	}
}

// BenchmarkClientCredentialsGrant measures a whole Token call: a direct
// call of the server method, and a call over gRPC on an in-memory
// connection.
func BenchmarkClientCredentialsGrant(b *testing.B) {
	h := newHarnessWith(b, true, func(c *auth.Config) { c.Logger = nil })
	ctx := context.Background()
	b.Run("in-process", func(b *testing.B) {
		req := ccRequest("inventory")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.server.Token(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("grpc-bufconn", func(b *testing.B) {
		req := ccRequest("inventory")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.rpc.Token(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
