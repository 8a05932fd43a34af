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

// TestRegistryHealthFollowsItsDependencies: the registry's grpc.health.v1
// status, and its metrics listener's /readyz, turn NOT_SERVING while Redis
// is dead and SERVING again once it is back; /healthz stays 200 all along.
func TestRegistryHealthFollowsItsDependencies(t *testing.T) {
	redis := testserver.StartRedis(t)
	dir := t.TempDir()
	srv, err := StartRegistry(context.Background(), Config{
		GRPCAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Redis: redis.URL(),
		DB: "sqlite://" + filepath.Join(dir, "chave.db"), SecretsFile: filepath.Join(dir, "secrets.json"),
		Internal: InternalConfig{Insecure: true}, Logger: slog.New(slog.DiscardHandler),
	}.Registry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	conn, err := newServer(slog.New(slog.DiscardHandler)).dial("--registry", srv.GRPCAddr(), TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	httpClient := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) int {
		resp, err := httpClient.Get("http://" + srv.MetricsAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	expect := func(what string, want healthpb.HealthCheckResponse_ServingStatus, readyz int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: registryv1.RegistryService_ServiceDesc.ServiceName})
			cancel()
			if err == nil && resp.GetStatus() == want && get("/readyz") == readyz {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: health %v (%v), /readyz %d; want %v and %d", what, resp.GetStatus(), err, get("/readyz"), want, readyz)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if code := get("/healthz"); code != 200 {
			t.Fatalf("%s: /healthz %d", what, code)
		}
	}
	expect("at start", healthpb.HealthCheckResponse_SERVING, 200)
	redis.Kill()
	expect("with Redis dead", healthpb.HealthCheckResponse_NOT_SERVING, 503)
	redis.Restart()
	expect("after Redis came back", healthpb.HealthCheckResponse_SERVING, 200)
	// Draining turns health NOT_SERVING first (the server stops after).
	srv.beginDrain()
	expect("shutting down", healthpb.HealthCheckResponse_NOT_SERVING, 503)
}
