package auth_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/throttle"
)

// countingRegistry counts the calls that reach the registry.
type countingRegistry struct {
	auth.Registry
	calls atomic.Int64
}

func (c *countingRegistry) AuthenticateClient(ctx context.Context, id, secret string) (auth.Client, error) {
	c.calls.Add(1)
	return c.Registry.AuthenticateClient(ctx, id, secret)
}

func (c *countingRegistry) UseRefreshToken(ctx context.Context, id, secret, family string, gen int64, exp time.Time) (auth.Client, error) {
	c.calls.Add(1)
	return c.Registry.UseRefreshToken(ctx, id, secret, family, gen, exp)
}

func (c *countingRegistry) RevokeIssuedToken(ctx context.Context, id, secret string, tok auth.IssuedToken) error {
	c.calls.Add(1)
	return c.Registry.RevokeIssuedToken(ctx, id, secret, tok)
}

func (c *countingRegistry) CheckIssuedToken(ctx context.Context, caller auth.ClientCredentials, id string, tok auth.IssuedToken) (auth.IssuedTokenState, error) {
	c.calls.Add(1)
	return c.Registry.CheckIssuedToken(ctx, caller, id, tok)
}

var throttleTestPolicy = throttle.Policy{Window: time.Minute, MaxPairFailures: 3, MaxAddressFailures: 6, MaxClientFailures: 50}

// throttleHarness is an auth server whose registry is throttled, served
// over TCP on loopback (so that callers have real peer addresses) with
// the SourceInterceptor, and in process as `chave serve` calls it.
type throttleHarness struct {
	clock   *testClock
	reg     *countingRegistry
	metrics *prometheus.Registry
	addr    string
	self    *grpc.ClientConn // over an in-memory listener, as `chave serve` calls it
}

func newThrottleHarness(t *testing.T, trustForwarded bool) *throttleHarness {
	t.Helper()
	h := &throttleHarness{clock: &testClock{t: now}, metrics: prometheus.NewRegistry()}
	mem := newMemRegistry(h.clock.Now)
	mem.add(auth.Client{ID: "chave_ci_real", Tenant: "acme", Scopes: []string{"inventory"}, IssueRefreshTokens: true, SecretVersion: "v1"}, secret)
	h.reg = &countingRegistry{Registry: mem}
	limiter, err := throttle.NewLimiter(throttle.NewMemory(0), throttleTestPolicy, h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := auth.NewThrottledRegistry(h.reg, limiter, auth.ThrottleOptions{Registerer: h.metrics})
	if err != nil {
		t.Fatal(err)
	}
	keys := keySetFor(t, "ES256")
	srv, err := auth.NewServer(auth.Config{
		Issuer: issuer, Audience: audience, RefreshTokenKey: refreshKey,
		Verifier: newVerifier(t, keys, h.clock.Now), Clock: h.clock.Now,
	}, reg, keys)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(auth.StatusInterceptor(), auth.SourceInterceptor(trustForwarded)))
	authv1.RegisterAuthServiceServer(gs, srv)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	h.addr = lis.Addr().String()
	self := bufconn.Listen(1 << 16)
	go gs.Serve(self)
	h.self, err = grpc.NewClient("passthrough:///self", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return self.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.self.Close() })
	return h
}

// from returns a client of the server whose connections leave from the
// loopback address local (127.0.0.1, 127.0.0.2, …).
func (h *throttleHarness) from(t *testing.T, local string) authv1.AuthServiceClient {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+h.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
			return d.DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return authv1.NewAuthServiceClient(conn)
}

func cc(id, sec string) *authv1.TokenRequest {
	return &authv1.TokenRequest{GrantType: "client_credentials", ClientId: id, ClientSecret: sec}
}

const wrong = "chave_sk_wrong"

// wantThrottled checks a throttled answer: ResourceExhausted, the OAuth
// code slow_down and a RetryInfo of want (whole seconds).
func wantThrottled(t *testing.T, err error, want time.Duration) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("status %v %q, want ResourceExhausted", st.Code(), st.Message())
	}
	if code, _, ok := auth.OAuthError(err); !ok || code != "slow_down" {
		t.Fatalf("OAuth code %q, want %s", code, "slow_down")
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			if got := ri.GetRetryDelay().AsDuration(); got != want {
				t.Fatalf("retry delay %v, want %v", got, want)
			}
			return
		}
	}
	t.Fatalf("no RetryInfo in %v", st.Details())
}

func TestThrottleAtEveryEndpoint(t *testing.T) {
	t.Parallel()
	h := newThrottleHarness(t, false)
	ctx := context.Background()
	attacker, real := h.from(t, "127.0.0.2"), h.from(t, "127.0.0.1")

	// The real client holds a refresh token.
	good, err := real.Token(ctx, cc("chave_ci_real", secret))
	if err != nil || good.GetRefreshToken() == "" {
		t.Fatalf("grant: %v %v", good, err)
	}

	for i := range throttleTestPolicy.MaxPairFailures {
		if _, err := attacker.Token(ctx, cc("chave_ci_real", wrong)); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("wrong secret %d: %v, want Unauthenticated", i+1, err)
		}
	}
	h.clock.Advance(20 * time.Second)
	before := h.reg.calls.Load()
	// Every endpoint refuses the attacker before the registry hears of it,
	// whatever the secret.
	for name, call := range map[string]func(sec string) error{
		"client credentials": func(sec string) error { _, err := attacker.Token(ctx, cc("chave_ci_real", sec)); return err },
		"refresh": func(sec string) error {
			_, err := attacker.Token(ctx, &authv1.TokenRequest{GrantType: "refresh_token", ClientId: "chave_ci_real", ClientSecret: sec, RefreshToken: good.GetRefreshToken()})
			return err
		},
		"revoke": func(sec string) error {
			_, err := attacker.RevokeToken(ctx, &authv1.RevokeTokenRequest{ClientId: "chave_ci_real", ClientSecret: sec, Token: good.GetAccessToken()})
			return err
		},
		"introspect": func(sec string) error {
			_, err := attacker.IntrospectToken(ctx, &authv1.IntrospectTokenRequest{ClientId: "chave_ci_real", ClientSecret: sec, Token: good.GetAccessToken()})
			return err
		},
	} {
		for _, sec := range []string{wrong, secret} {
			t.Run(name, func(t *testing.T) { wantThrottled(t, call(sec), 40*time.Second) })
		}
	}
	if n := h.reg.calls.Load() - before; n != 0 {
		t.Errorf("throttled attempts reached the registry %d times", n)
	}
	for _, ep := range []string{"token", "revoke", "introspect"} {
		if got := throttledTotal(t, h.metrics, ep); got < 2 {
			t.Errorf("chave_auth_throttled_total{endpoint=%q} = %v", ep, got)
		}
	}

	// The real client, calling from its own address, is untouched.
	if _, err := real.Token(ctx, cc("chave_ci_real", secret)); err != nil {
		t.Fatalf("real client during the attack: %v", err)
	}
	// After the window the attacker may try again.
	h.clock.Advance(40 * time.Second)
	if _, err := attacker.Token(ctx, cc("chave_ci_real", wrong)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("after the window: %v", err)
	}
}

// throttledTotal sums chave_auth_throttled_total of the endpoint.
func throttledTotal(t *testing.T, reg *prometheus.Registry, endpoint string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "chave_auth_throttled_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && l.GetValue() == endpoint {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// A networked caller cannot choose the address it is counted under: the
// forwarded-address metadata is believed only in process (or when the
// server is told to trust it).
func TestThrottleSourceAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	spoof := func(ctx context.Context, addr string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, auth.ClientAddressMetadata, addr)
	}
	exhaust := func(t *testing.T, call func(ctx context.Context) error, addr func(i int64) string) {
		t.Helper()
		for i := range throttleTestPolicy.MaxPairFailures {
			if err := call(spoof(ctx, addr(i))); status.Code(err) != codes.Unauthenticated {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
	}

	t.Run("network peer", func(t *testing.T) {
		h := newThrottleHarness(t, false)
		attacker := h.from(t, "127.0.0.3")
		call := func(ctx context.Context) error { _, err := attacker.Token(ctx, cc("chave_ci_real", wrong)); return err }
		// A new spoofed address each time: counted under the peer anyway.
		exhaust(t, call, func(i int64) string { return fmt.Sprint("198.51.100.", i+1) })
		wantThrottled(t, call(spoof(ctx, "203.0.113.50")), time.Minute)
	})
	t.Run("trusted gateway", func(t *testing.T) {
		h := newThrottleHarness(t, true)
		gw := h.from(t, "127.0.0.4")
		call := func(ctx context.Context) error { _, err := gw.Token(ctx, cc("chave_ci_real", wrong)); return err }
		exhaust(t, call, func(int64) string { return "198.51.100.9" })
		wantThrottled(t, call(spoof(ctx, "198.51.100.9")), time.Minute)
		// Another client behind the same gateway is another address.
		if _, err := gw.Token(spoof(ctx, "203.0.113.7"), cc("chave_ci_real", secret)); err != nil {
			t.Fatalf("another forwarded address: %v", err)
		}
	})
	t.Run("in process", func(t *testing.T) {
		h := newThrottleHarness(t, false)
		client := authv1.NewAuthServiceClient(h.self)
		call := func(ctx context.Context) error { _, err := client.Token(ctx, cc("chave_ci_real", wrong)); return err }
		exhaust(t, call, func(int64) string { return "2001:db8:1:2::1" })
		// The same /64.
		wantThrottled(t, call(spoof(ctx, "2001:db8:1:2::99")), time.Minute)
		if _, err := client.Token(spoof(ctx, "2001:db8:9::1"), cc("chave_ci_real", secret)); err != nil {
			t.Fatalf("another forwarded address: %v", err)
		}
	})
}
