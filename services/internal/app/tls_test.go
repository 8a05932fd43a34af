package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/chave/chave/services/internal/app/apptest"
)

// startTLSRegistry starts `chave registry` on SQLite with the server side
// of tlsCfg.
func startTLSRegistry(t *testing.T, tlsCfg TLSConfig) *Server {
	t.Helper()
	dir := t.TempDir()
	srv, err := StartRegistry(context.Background(), Config{
		GRPCAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0",
		DB: "sqlite://" + filepath.Join(dir, "chave.db"), SecretsFile: filepath.Join(dir, "secrets.json"),
		TLS: tlsCfg, Internal: InternalConfig{Insecure: true}, Logger: slog.New(slog.DiscardHandler),
	}.Registry())
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

// healthCheck asks the server's health service through a connection made
// as the gateway and the auth service make theirs.
func healthCheck(t *testing.T, addr string, client TLSConfig) error {
	t.Helper()
	s := newServer(slog.New(slog.DiscardHandler))
	conn, err := s.dial("--registry", addr, client)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(false))
	if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v", resp.GetStatus())
	}
	return err
}

func TestMutualTLS(t *testing.T) {
	pki := apptest.NewPKI(t, t.TempDir())
	srv := startTLSRegistry(t, TLSConfig{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, ClientCAFile: pki.CA})
	for _, tc := range []struct {
		name   string
		client TLSConfig
		ok     bool
		// why is part of the refusal when it is certain: with TLS 1.3 the
		// server refuses a client's certificate after the client finished
		// its handshake, so the client may see only a broken connection.
		why string
	}{
		{"CA and client certificate", TLSConfig{CAFile: pki.CA, ClientCertFile: pki.ClientCert, ClientKeyFile: pki.ClientKey}, true, ""},
		{"no client certificate", TLSConfig{CAFile: pki.CA}, false, ""},
		{"client certificate of another CA", TLSConfig{CAFile: pki.CA, ClientCertFile: pki.RogueCert, ClientKeyFile: pki.RogueKey}, false, ""},
		{"plaintext", TLSConfig{}, false, ""},
		{"server not verified (system roots)", TLSConfig{ClientCertFile: pki.ClientCert, ClientKeyFile: pki.ClientKey}, false, "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := healthCheck(t, srv.GRPCAddr(), tc.client)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), tc.why)) {
				t.Fatalf("want the connection refused (Unavailable, %q), got %v", tc.why, err)
			}
		})
	}
}

func TestServerTLSWithoutClientCertificates(t *testing.T) {
	pki := apptest.NewPKI(t, t.TempDir())
	srv := startTLSRegistry(t, TLSConfig{CertFile: pki.ServerCert, KeyFile: pki.ServerKey})
	if err := healthCheck(t, srv.GRPCAddr(), TLSConfig{CAFile: pki.CA}); err != nil {
		t.Fatalf("TLS client without a certificate: %v", err)
	}
	if err := healthCheck(t, srv.GRPCAddr(), TLSConfig{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext client of a TLS server: %v", err)
	}
}

func TestPlaintextByDefault(t *testing.T) {
	srv := startTLSRegistry(t, TLSConfig{})
	if err := healthCheck(t, srv.GRPCAddr(), TLSConfig{}); err != nil {
		t.Fatalf("plaintext: %v", err)
	}
}
