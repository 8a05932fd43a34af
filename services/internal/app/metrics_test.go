package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestServeMetricsOffThePublicPort: `chave serve` answers /metrics (and
// pprof, when asked for) only on its metrics address, never on the public
// HTTP port.
func TestServeMetricsOffThePublicPort(t *testing.T) {
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, pprof := range []bool{false, true} {
		dir := t.TempDir()
		srv, err := Start(context.Background(), Config{
			HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", PProf: pprof,
			DB: "sqlite://" + filepath.Join(dir, "chave.db"), Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		public, metrics := "http://"+srv.HTTPAddr(), "http://"+srv.MetricsAddr()
		if srv.MetricsAddr() == "" || srv.MetricsAddr() == srv.HTTPAddr() {
			t.Fatalf("metrics address %q (HTTP %q)", srv.MetricsAddr(), srv.HTTPAddr())
		}
		if code, _ := get(public + "/metrics"); code != http.StatusNotFound {
			t.Errorf("public port /metrics: %d, want 404", code)
		}
		if code, _ := get(public + "/debug/pprof/"); code != http.StatusNotFound {
			t.Errorf("public port /debug/pprof/: %d, want 404", code)
		}
		code, body := get(metrics + "/metrics")
		if code != http.StatusOK || !strings.Contains(body, "chave_gateway_http_requests_total") || !strings.Contains(body, "go_goroutines") {
			t.Errorf("metrics address /metrics: %d\n%.300s", code, body)
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, _ := get(metrics + path); code != http.StatusOK {
				t.Errorf("metrics address %s: %d", path, code)
			}
		}
		want := http.StatusNotFound
		if pprof {
			want = http.StatusOK
		}
		if code, _ := get(metrics + "/debug/pprof/goroutine?debug=1"); code != want {
			t.Errorf("pprof %v: /debug/pprof/goroutine %d, want %d", pprof, code, want)
		}
		if pprof {
			// The contention profiles are sampled, not empty.
			if got := runtime.SetMutexProfileFraction(-1); got != mutexProfileFraction {
				t.Errorf("mutex profile fraction %d, want %d", got, mutexProfileFraction)
			}
			if code, _ := get(metrics + "/debug/pprof/block?debug=1"); code != http.StatusOK {
				t.Errorf("/debug/pprof/block %d, want 200", code)
			}
		}
		srv.Stop(context.Background())
	}
}

// TestServeWithoutMetricsAddr: with no metrics address the all-in-one
// server opens no metrics listener, and still serves none on its public
// port.
func TestServeWithoutMetricsAddr(t *testing.T) {
	dir := t.TempDir()
	srv, err := Start(context.Background(), Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0",
		DB: "sqlite://" + filepath.Join(dir, "chave.db"), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	if srv.MetricsAddr() != "" {
		t.Errorf("metrics listener on %s", srv.MetricsAddr())
	}
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("public port /metrics: %d, want 404", resp.StatusCode)
	}
	if _, err := Start(context.Background(), Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", PProf: true,
		DB: "sqlite://" + filepath.Join(dir, "other.db"), Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "--pprof") {
		t.Errorf("--pprof without --metrics-addr: %v", err)
	}
}
