package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/registry"
	"github.com/chave/chave/services/internal/testserver"
)

// BenchmarkServicesApartGrant is one client-credentials grant through the
// services apart as `make bench` runs them (chave-load's apart rows):
// gateway, auth service and registry, each its own Server on loopback,
// PostgreSQL and Redis, the internal token; here in one process, so that
// ns/op and allocs/op cover the three together.
func BenchmarkServicesApartGrant(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	redis := testserver.StartRedis(b)
	base := Config{
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", DB: testserver.Postgres(b),
		SecretsFile: filepath.Join(dir, "secrets.json"), SigningKeysFile: filepath.Join(dir, "signing-keys.json"),
		Redis: redis.URL(), RedisRequireNoEviction: true, Logger: slog.New(slog.DiscardHandler),
		Internal: InternalConfig{Token: "apart-bench-internal-token-0123456789"},
	}
	id, secret := apartCredential(b, base)
	start := func(startFn func(context.Context, Config) (*Server, error), cfg Config) *Server {
		b.Helper()
		srv, err := startFn(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
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
	gwCfg.RegistryAddr, gwCfg.AuthAddr = reg.GRPCAddr(), authSrv.GRPCAddr()
	gw := start(func(ctx context.Context, c Config) (*Server, error) { return StartGateway(ctx, c.Gateway()) }, gwCfg)

	token := "http://" + gw.HTTPAddr() + "/oauth2/token"
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	grant := func() error {
		req, _ := http.NewRequest("POST", token, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body) // so the connection is reused
		if resp.StatusCode != http.StatusOK {
			return &grantError{resp.StatusCode, string(b)}
		}
		return nil
	}
	// The gateway is ready once both upstreams answer.
	for deadline := time.Now().Add(10 * time.Second); grant() != nil; {
		if time.Now().After(deadline) {
			b.Fatalf("no grant through the services apart: %v", grant())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	b.ReportAllocs()
	b.SetParallelism(8) // 16 clients on 2 cores, as chave-load's c=16 row
	cpu0 := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := grant(); err != nil {
				once.Do(func() { b.Error(err) })
				return
			}
		}
	})
	b.StopTimer()
	// The process's CPU time per grant (the three servers and the HTTP
	// client; not PostgreSQL's or Redis's): less moved than ns/op by the
	// machine's other work.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is this process's user and system CPU time so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type grantError struct {
	status int
	body   string
}

func (e *grantError) Error() string { return http.StatusText(e.status) + ": " + e.body }

// apartCredential makes a tenant and a credential without refresh tokens
// (like chave-load's) on cfg's database.
func apartCredential(tb testing.TB, cfg Config) (id, secret string) {
	tb.Helper()
	ctx := context.Background()
	store, err := OpenStore(ctx, cfg.DB)
	if err != nil {
		tb.Fatal(err)
	}
	defer store.Close()
	svc, err := NewRegistry(cfg.Registry(), store)
	if err != nil {
		tb.Fatal(err)
	}
	opID, _, err := svc.Bootstrap(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	op := registry.Caller{ClientID: opID, Operator: true}
	if _, err := svc.CreateTenant(ctx, op, chave.Tenant{ID: "bench", DisplayName: "Bench", Contexts: []string{"inventory"}}); err != nil {
		tb.Fatal(err)
	}
	tok, s, err := svc.CreateToken(ctx, op, chave.Token{DisplayName: "bench grants", Tenant: "bench", Contexts: []string{"inventory"}})
	if err != nil {
		tb.Fatal(err)
	}
	return tok.ID, s.Reveal()
}
