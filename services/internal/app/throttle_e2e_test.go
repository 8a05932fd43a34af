package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/app/apptest"
	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/internal/throttle"
)

// e2eThrottle is the policy of the throttling end-to-end tests: small
// limits, a minute's window on a fake clock.
var e2eThrottle = throttle.Policy{Window: time.Minute, MaxPairFailures: 5, MaxAddressFailures: 10, MaxClientFailures: 100}

// fakeClock is a settable clock for the throttle, starting now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// throttleRig is a running `chave serve` with throttling on a fake clock.
type throttleRig struct {
	*e2e
	clock *fakeClock
}

// startThrottleE2E starts `chave serve` as startE2E does, with e2eThrottle
// on a fake clock, after edit adjusts the Config. A replica (dir set)
// shares that directory's database and keys and prints no credential.
func startThrottleE2E(t *testing.T, d deployment, redis *testserver.Redis, dir string, clock *fakeClock, edit func(*Config)) *throttleRig {
	t.Helper()
	replica := dir != ""
	if !replica {
		dir = t.TempDir()
	}
	logs := &apptest.Buffer{}
	var stdout bytes.Buffer
	cfg := Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", DB: d.db(t, dir),
		SecretsFile: filepath.Join(dir, "secrets.json"), SigningKeysFile: filepath.Join(dir, "signing-keys.json"),
		PrintBootstrapCredential: !replica, Stdout: &stdout,
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Throttle: e2eThrottle, ThrottleClock: clock.Now,
	}
	if redis != nil {
		cfg.Redis, cfg.RedisRequireNoEviction = redis.URL(), true
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	e := &e2e{t: t, srv: srv, base: "http://" + srv.HTTPAddr(), dir: dir, logs: logs, redis: redis, client: &http.Client{Timeout: 10 * time.Second}}
	if !replica {
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		var cred struct{ ClientID, ClientSecret string }
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cred); err != nil || cred.ClientID == "" {
			t.Fatalf("no operator credential printed: %q", stdout.String())
		}
		e.opID, e.opSec = cred.ClientID, cred.ClientSecret
	}
	return &throttleRig{e2e: e, clock: clock}
}

// caller sends the endpoints' requests as one HTTP client: from a local
// address of its own, and with an X-Forwarded-For header when xff is set.
type caller struct {
	t      *testing.T
	base   string
	client *http.Client
	xff    string
}

// from returns a caller whose connections leave from the loopback address
// local.
func (r *throttleRig) from(local, xff string) *caller {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	tr := &http.Transport{DialContext: d.DialContext}
	r.t.Cleanup(tr.CloseIdleConnections)
	return &caller{t: r.t, base: r.base, client: &http.Client{Timeout: 10 * time.Second, Transport: tr}, xff: xff}
}

func (c *caller) post(path, contentType, body, basicID, basicSecret string) response {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	if c.xff != "" {
		req.Header.Set("X-Forwarded-For", c.xff)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
}

const formType = "application/x-www-form-urlencoded"

func (c *caller) grant(id, secret string) response {
	c.t.Helper()
	return c.post("/oauth2/token", formType, "grant_type=client_credentials", id, secret)
}

func (c *caller) tss(id, secret string) response {
	c.t.Helper()
	return c.post("/rest/WSTSSAUTH", "application/json", fmt.Sprintf(`{"grantType": 1, "clientId": %q, "clientSecret": %q}`, id, secret), "", "")
}

// wantThrottled checks a 429 with Retry-After and the endpoint's error
// code (field error or code) slow_down.
func wantThrottled(t *testing.T, what string, r response, field string) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("%s: %d (Retry-After %q) %s, want 429 with Retry-After", what, r.status, r.header.Get("Retry-After"), r.body)
	}
	if got := r.json(t)[field]; got != "slow_down" {
		t.Fatalf("%s: %s = %v, want slow_down: %s", what, field, got, r.body)
	}
}

// exhaust sends the pair limit's worth of wrong secrets, each a 401.
func exhaust(t *testing.T, c *caller, id string) {
	t.Helper()
	for i := range e2eThrottle.MaxPairFailures {
		if r := c.grant(id, wrongSecret(t)); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d: %d %s, want 401", i+1, r.status, r.body)
		}
	}
}

var throttleDeployments = []deployment{deployments[0], deployments[1]} // sqlite, sqlite+redis

// TestThrottleEndToEnd: an attacker's burst of wrong secrets, from behind
// a trusted proxy, gets 429 with Retry-After at every endpoint that
// authenticates clients once over the limit, while the real client from
// another address still gets tokens; after the window the attacker may
// try again.
func TestThrottleEndToEnd(t *testing.T) {
	for _, d := range throttleDeployments {
		t.Run(d.name, func(t *testing.T) {
			var redis *testserver.Redis
			if d.redis {
				redis = testserver.StartRedis(t)
			}
			r := startThrottleE2E(t, d, redis, "", &fakeClock{now: time.Now()}, func(c *Config) { c.TrustedProxies = "127.0.0.0/8" })
			op := r.accessToken(r.opID, r.opSec)
			id, secret := r.credential(t, op, nil)
			attacker, real := r.from("127.0.0.1", "198.51.100.7"), r.from("127.0.0.1", "203.0.113.9")

			exhaust(t, attacker, id)
			r.clock.Advance(15 * time.Second)
			g := attacker.grant(id, wrongSecret(t))
			wantThrottled(t, "token endpoint", g, "error")
			if got := g.header.Get("Retry-After"); got != "45" {
				t.Errorf("Retry-After %q, want 45 (the window's rest)", got)
			}
			if g.header.Get("WWW-Authenticate") != "" {
				t.Errorf("429 with a challenge: %v", g.header)
			}
			// The right secret from the attacker's address is refused too:
			// a throttled attempt is never checked, so it confirms nothing.
			wantThrottled(t, "token endpoint, right secret", attacker.grant(id, secret), "error")
			wantThrottled(t, "TSS endpoint", attacker.tss(id, wrongSecret(t)), "code")
			wantThrottled(t, "revoke", attacker.post("/oauth2/revoke", formType, "token=x", id, wrongSecret(t)), "error")
			wantThrottled(t, "introspect", attacker.post("/oauth2/introspect", formType, "token=x", id, wrongSecret(t)), "error")

			// The real client, from its own address, is not locked out.
			if g := real.grant(id, secret); g.status != http.StatusOK {
				t.Fatalf("real client during the attack: %d %s", g.status, g.body)
			}
			if g := real.tss(id, secret); g.status != http.StatusOK {
				t.Fatalf("real client at the TSS endpoint during the attack: %d %s", g.status, g.body)
			}

			// The window passes: the attacker may try again (and fail).
			r.clock.Advance(46 * time.Second)
			if g := attacker.grant(id, wrongSecret(t)); g.status != http.StatusUnauthorized {
				t.Fatalf("after the window: %d %s, want 401", g.status, g.body)
			}
			if !strings.Contains(scrape(t, r.e2e), `chave_auth_throttled_total{endpoint="token",limit="pair"}`) {
				t.Error("no chave_auth_throttled_total for the token endpoint")
			}
		})
	}
}

// scrape returns the server's /metrics, from its metrics address (the
// public one has none).
func scrape(t *testing.T, e *e2e) string {
	t.Helper()
	resp, err := e.client.Get("http://" + e.srv.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	return string(b)
}

// TestThrottleIgnoresUntrustedForwarding: without a trusted proxy the
// address is the peer's: an attacker who writes X-Forwarded-For gains
// nothing, and a client from another address is not affected.
func TestThrottleIgnoresUntrustedForwarding(t *testing.T) {
	r := startThrottleE2E(t, deployments[0], nil, "", &fakeClock{now: time.Now()}, nil)
	op := r.accessToken(r.opID, r.opSec)
	id, secret := r.credential(t, op, nil)
	attacker := r.from("127.0.0.2", "")
	for i := range e2eThrottle.MaxPairFailures {
		attacker.xff = fmt.Sprint("198.51.100.", i+1) // a new "address" each time
		if g := attacker.grant(id, wrongSecret(t)); g.status != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d: %d %s", i+1, g.status, g.body)
		}
	}
	attacker.xff = "203.0.113.200"
	wantThrottled(t, "spoofed X-Forwarded-For", attacker.grant(id, wrongSecret(t)), "error")
	if g := r.from("127.0.0.3", "").grant(id, secret); g.status != http.StatusOK {
		t.Fatalf("real client from another address: %d %s", g.status, g.body)
	}
}

// TestThrottleReplicasShareRedis: two replicas of `chave serve` on one
// database and one Redis count failures together.
func TestThrottleReplicasShareRedis(t *testing.T) {
	redis := testserver.StartRedis(t)
	clock := &fakeClock{now: time.Now()}
	a := startThrottleE2E(t, deployments[1], redis, "", clock, nil)
	b := startThrottleE2E(t, deployments[1], redis, a.dir, clock, nil)
	op := a.accessToken(a.opID, a.opSec)
	id, secret := a.credential(t, op, nil)
	if g := b.from("127.0.0.1", "").grant(id, secret); g.status != http.StatusOK {
		t.Fatalf("replica b does not serve the credential: %d %s", g.status, g.body)
	}
	fromA, fromB := a.from("127.0.0.2", ""), b.from("127.0.0.2", "")
	for i := range e2eThrottle.MaxPairFailures {
		c := fromA
		if i%2 == 1 {
			c = fromB
		}
		if g := c.grant(id, wrongSecret(t)); g.status != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d: %d %s", i+1, g.status, g.body)
		}
	}
	wantThrottled(t, "replica a", fromA.grant(id, wrongSecret(t)), "error")
	wantThrottled(t, "replica b", fromB.grant(id, wrongSecret(t)), "error")
}

// TestThrottleWithRedisDown: with Redis stopped the limits still apply,
// counted in process: never unlimited.
func TestThrottleWithRedisDown(t *testing.T) {
	redis := testserver.StartRedis(t)
	r := startThrottleE2E(t, deployments[1], redis, "", &fakeClock{now: time.Now()}, nil)
	op := r.accessToken(r.opID, r.opSec)
	id, secret := r.credential(t, op, nil)
	redis.Stop()
	attacker := r.from("127.0.0.2", "")
	for i := range e2eThrottle.MaxPairFailures {
		if g := attacker.grant(id, wrongSecret(t)); g.status != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d with Redis down: %d %s, want 401", i+1, g.status, g.body)
		}
	}
	wantThrottled(t, "Redis down", attacker.grant(id, wrongSecret(t)), "error")
	if g := r.from("127.0.0.3", "").grant(id, secret); g.status != http.StatusOK {
		t.Fatalf("real client with Redis down: %d %s", g.status, g.body)
	}
}

// TestThrottleServicesApart: the registry, the auth service and the
// gateway as separate servers (as deploy/ runs them): the client address
// the gateway reads behind its trusted proxy reaches the auth service
// over gRPC, so the attacker is throttled and the real client is not.
func TestThrottleServicesApart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	base := Config{
		GRPCAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		DB: "sqlite://" + filepath.Join(dir, "chave.db"), SecretsFile: filepath.Join(dir, "secrets.json"),
		SigningKeysFile: filepath.Join(dir, "signing-keys.json"), Logger: quiet,
		Throttle: e2eThrottle, ThrottleClock: (&fakeClock{now: time.Now()}).Now,
		// The registry and the auth service share the internal token.
		Internal: InternalConfig{Token: "throttle-e2e-internal-token-0123456789"},
	}
	// The operator credential is the client under attack.
	store, err := OpenStore(ctx, base.DB)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := NewRegistry(base.Registry(), store)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, err := boot.Bootstrap(ctx)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	start := func(startFn func(context.Context, Config) (*Server, error), cfg Config) *Server {
		t.Helper()
		srv, err := startFn(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Stop(ctx)
		})
		return srv
	}
	reg := start(func(ctx context.Context, c Config) (*Server, error) { return StartRegistry(ctx, c.Registry()) }, base)
	authCfg := base
	authCfg.RegistryAddr = reg.GRPCAddr()
	authSrv := start(func(ctx context.Context, c Config) (*Server, error) { return StartAuth(ctx, c.Auth()) }, authCfg)
	gwCfg := base
	gwCfg.RegistryAddr, gwCfg.AuthAddr, gwCfg.TrustedProxies = reg.GRPCAddr(), authSrv.GRPCAddr(), "127.0.0.1"
	gw := start(func(ctx context.Context, c Config) (*Server, error) { return StartGateway(ctx, c.Gateway()) }, gwCfg)

	rig := &throttleRig{e2e: &e2e{t: t, base: "http://" + gw.HTTPAddr()}}
	attacker, real := rig.from("127.0.0.1", "198.51.100.7"), rig.from("127.0.0.1", "203.0.113.9")
	exhaust(t, attacker, id)
	wantThrottled(t, "services apart", attacker.grant(id, wrongSecret(t)), "error")
	if g := real.grant(id, secret.Reveal()); g.status != http.StatusOK {
		t.Fatalf("real client: %d %s", g.status, g.body)
	}
}

// TestThrottleFinding5 replays issue 14's finding 5 on the default policy:
// of 1,200 wrong secrets in a row from one address, only the first
// throttle.DefaultMaxPairFailures are checked (401); every other one is
// 429.
func TestThrottleFinding5(t *testing.T) {
	r := startThrottleE2E(t, deployments[0], nil, "", &fakeClock{now: time.Now()}, func(c *Config) { c.Throttle = throttle.Policy{} })
	op := r.accessToken(r.opID, r.opSec)
	id, _ := r.credential(t, op, nil)
	attacker := r.from("127.0.0.2", "")
	wrong := wrongSecret(t)
	counts := map[int]int{}
	for range 1200 {
		counts[attacker.grant(id, wrong).status]++
	}
	if counts[http.StatusUnauthorized] != throttle.DefaultMaxPairFailures || counts[http.StatusTooManyRequests] != 1200-throttle.DefaultMaxPairFailures {
		t.Fatalf("answers by status: %v; want %d × 401, the rest 429", counts, throttle.DefaultMaxPairFailures)
	}
}
