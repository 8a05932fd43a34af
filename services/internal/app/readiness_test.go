package app

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/testserver"
)

// readinessBound is what the tests allow readiness to take to follow a
// dependency; the design is within about 250 ms (readyInterval plus a
// check), the bound is generous for a loaded machine. The measured figures
// are logged.
const readinessBound = time.Second

// outage is how long a dependency stays down: long enough for clients'
// reconnection backoffs and circuit breakers to engage, as in a real
// outage.
const outage = 3 * time.Second

// TestReadinessFollowsRedisAndPostgres: the registry apart (gRPC health
// and /readyz on its metrics port) and the all-in-one server (/readyz on
// its public port) turn not ready soon after Redis or PostgreSQL dies,
// and ready again soon after it answers again.
func TestReadinessFollowsRedisAndPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs its own PostgreSQL cluster")
	}
	redis := testserver.StartRedis(t)
	pg := testserver.StartPostgres(t)
	quiet := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	reg, err := StartRegistry(context.Background(), Config{
		GRPCAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Redis: redis.URL(), DB: pg.URL(),
		SecretsFile: filepath.Join(dir, "secrets.json"), Internal: InternalConfig{Insecure: true}, Logger: quiet,
	}.Registry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Stop(context.Background()) })
	serve, err := Start(context.Background(), Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", Redis: redis.URL(), DB: pg.URL(),
		SecretsFile: filepath.Join(dir, "secrets.json"), SigningKeysFile: filepath.Join(dir, "signing-keys.json"), Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Stop(context.Background()) })

	conn, err := newServer(quiet).dial("--registry", reg.GRPCAddr(), TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	httpClient := &http.Client{Timeout: 2 * time.Second}
	readyz := func(url string) bool {
		resp, err := httpClient.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	probes := []struct {
		name  string
		ready func() bool
	}{
		{"registry grpc.health.v1", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: registryv1.RegistryService_ServiceDesc.ServiceName})
			return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
		}},
		{"registry /readyz (metrics port)", func() bool { return readyz("http://" + reg.MetricsAddr() + "/readyz") }},
		{"serve /readyz (public port)", func() bool { return readyz("http://" + serve.HTTPAddr() + "/readyz") }},
	}
	// expect waits, from since, until every probe says want, and logs how
	// long each took.
	expect := func(what string, since time.Time, want bool) {
		t.Helper()
		for _, p := range probes {
			for p.ready() != want {
				if time.Since(since) > readinessBound+5*time.Second {
					break // reported below
				}
				time.Sleep(5 * time.Millisecond)
			}
			took := time.Since(since)
			t.Logf("%s: %s ready=%v after %v", what, p.name, want, took.Round(time.Millisecond))
			if took > readinessBound {
				t.Errorf("%s: %s took %v to report ready=%v; want within %v", what, p.name, took, want, readinessBound)
			}
		}
	}
	expect("at start", time.Now(), true)

	redis.Kill()
	expect("Redis killed", time.Now(), false)
	time.Sleep(outage)
	redis.Restart() // returns once Redis answers PING, empty: the keeper rebuilds the set
	expect("Redis back", time.Now(), true)

	pg.Stop()
	expect("PostgreSQL stopped", time.Now(), false)
	time.Sleep(outage)
	pg.Start() // returns once PostgreSQL accepts connections
	expect("PostgreSQL back", time.Now(), true)
}

// TestReadinessFollowsTheOtherServices: the auth service apart and the
// gateway apart turn not ready soon after the registry they use stops, and
// ready again soon after a registry answers on its address again (they
// redial at once instead of after their backoff).
func TestReadinessFollowsTheOtherServices(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	regCfg := Config{
		GRPCAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(dir, "chave.db"),
		SecretsFile: filepath.Join(dir, "secrets.json"), Internal: InternalConfig{Insecure: true}, Logger: quiet,
	}
	reg, err := StartRegistry(context.Background(), regCfg.Registry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Stop(context.Background()) })
	auth, err := StartAuth(context.Background(), Config{
		GRPCAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", RegistryAddr: reg.GRPCAddr(),
		SecretsFile: filepath.Join(dir, "secrets.json"), SigningKeysFile: filepath.Join(dir, "signing-keys.json"), Logger: quiet,
	}.Auth())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Stop(context.Background()) })
	gw, err := StartGateway(context.Background(), Config{
		HTTPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", RegistryAddr: reg.GRPCAddr(), AuthAddr: auth.GRPCAddr(), Logger: quiet,
	}.Gateway())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Stop(context.Background()) })

	httpClient := &http.Client{Timeout: 2 * time.Second}
	readyz := func(url string) bool {
		resp, err := httpClient.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	probes := map[string]string{
		"auth /readyz":    "http://" + auth.MetricsAddr() + "/readyz",
		"gateway /readyz": "http://" + gw.HTTPAddr() + "/readyz",
	}
	expect := func(what string, since time.Time, want bool) {
		t.Helper()
		for name, url := range probes {
			for readyz(url) != want && time.Since(since) < readinessBound+5*time.Second {
				time.Sleep(5 * time.Millisecond)
			}
			took := time.Since(since)
			t.Logf("%s: %s ready=%v after %v", what, name, want, took.Round(time.Millisecond))
			if took > readinessBound {
				t.Errorf("%s: %s took %v to report ready=%v; want within %v", what, name, took, want, readinessBound)
			}
		}
	}
	// At start the watchers may first have seen the others still starting.
	expect("at start", time.Now(), true)

	reg.Stop(context.Background())
	expect("registry stopped", time.Now(), false)
	time.Sleep(outage) // the connections back off meanwhile
	regCfg.GRPCAddr = reg.GRPCAddr()
	reg, err = StartRegistry(context.Background(), regCfg.Registry())
	if err != nil {
		t.Fatal(err)
	}
	expect("registry back", time.Now(), true)
}
