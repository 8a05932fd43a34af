package app

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/observe"
)

// TestConfigErrorsNameTheSetting starts each server with a bad setting: it
// refuses at once, with an error naming the setting, before it opens
// anything.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	pg := "postgres://chave@127.0.0.1:1/none" // never dialled: validation comes first
	// Each service apart takes its part of a Config.
	StartRegistry := func(ctx context.Context, c Config) (*Server, error) { return StartRegistry(ctx, c.Registry()) }
	StartAuth := func(ctx context.Context, c Config) (*Server, error) { return StartAuth(ctx, c.Auth()) }
	StartGateway := func(ctx context.Context, c Config) (*Server, error) { return StartGateway(ctx, c.Gateway()) }
	for _, tc := range []struct {
		name  string
		start func(context.Context, Config) (*Server, error)
		cfg   Config
		want  []string
	}{
		{"auth without registry", StartAuth, Config{}, []string{"--registry: required"}},
		{"gateway without upstreams", StartGateway, Config{}, []string{"--registry: required", "--auth: required"}},
		{"gateway bad registry", StartGateway, Config{RegistryAddr: "registry", AuthAddr: "auth:9090"}, []string{"--registry: want host:port"}},
		{"registry bad db", StartRegistry, Config{DB: "mysql://x"}, []string{"--db mysql://x"}},
		{"registry bad jwks url", StartRegistry, Config{DB: pg, JWKSURL: "ftp://x"}, []string{"--jwks-url"}},
		{"registry bad issuer", StartRegistry, Config{DB: pg, Issuer: "localhost:8080"}, []string{"--issuer"}},
		{"registry bad listen address", StartRegistry, Config{DB: pg, GRPCAddr: "9090"}, []string{"--grpc-addr"}},
		{"registry cert without key", StartRegistry, Config{DB: pg, TLS: TLSConfig{CertFile: "c.pem"}}, []string{"--tls-key: required with --tls-cert"}},
		{"registry client CA without cert", StartRegistry, Config{DB: pg, TLS: TLSConfig{ClientCAFile: "ca.pem"}}, []string{"--tls-client-ca: needs --tls-cert"}},
		{"registry missing cert file", StartRegistry, Config{DB: pg, GRPCAddr: "127.0.0.1:0", HashKey: key, EncryptionKey: key,
			TLS: TLSConfig{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}}, nil},
		{"registry short hash key", StartRegistry, Config{DB: pg, HashKey: "c2hvcnQ=", EncryptionKey: key}, []string{"CHAVE_HASH_KEY must be base64 of at least 32 bytes"}},
		{"registry without an internal-caller rule", StartRegistry, Config{DB: pg, HashKey: key, EncryptionKey: key}, []string{"CHAVE_INTERNAL_TOKEN", "--tls-client-ca", "--insecure-internal-rpcs"}},
		{"registry short internal token", StartRegistry, Config{DB: pg, HashKey: key, EncryptionKey: key, Internal: InternalConfig{Token: "short"}}, []string{"CHAVE_INTERNAL_TOKEN: shorter than 32"}},
		{"registry client identity without mTLS", StartRegistry, Config{DB: pg, HashKey: key, EncryptionKey: key, Internal: InternalConfig{Token: strings.Repeat("t", 32), ClientIdentity: "auth"}}, []string{"--internal-client-identity: needs --tls-client-ca"}},
		{"registry without keys on postgres", StartRegistry, Config{DB: pg}, []string{"CHAVE_HASH_KEY, CHAVE_ENCRYPTION_KEY (or --secrets-file) are required"}},
		{"auth bad refresh key", StartAuth, Config{RegistryAddr: "r:1", RefreshTokenKey: "!!"}, []string{"CHAVE_REFRESH_TOKEN_KEY must be base64 of at least 32 bytes"}},
		{"auth client key without cert", StartAuth, Config{RegistryAddr: "r:1", TLS: TLSConfig{ClientKeyFile: "k.pem"}}, []string{"--tls-client-cert: required with --tls-client-key"}},
		{"auth bad algorithm", StartAuth, Config{RegistryAddr: "r:1", SigningAlgorithm: "none"}, []string{"--signing-algorithm"}},
		{"auth lifetimes", StartAuth, Config{RegistryAddr: "r:1", AccessTokenLifetime: 48 * time.Hour, RefreshTokenLifetime: -time.Second},
			[]string{"--access-token-lifetime", "--refresh-token-lifetime"}},
		{"serve bad http address", Start, Config{HTTPAddr: "localhost"}, []string{"--http-addr"}},
		{"gateway bad sample ratio", StartGateway, Config{RegistryAddr: "r:1", AuthAddr: "a:1", Tracing: observe.TracingConfig{SampleRatio: 2}}, []string{"--trace-sample-ratio"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := tc.start(context.Background(), tc.cfg)
			if err == nil {
				srv.Stop(context.Background())
				t.Fatal("started")
			}
			if tc.want == nil && !strings.Contains(err.Error(), "--tls-cert") {
				t.Fatalf("error %q does not name --tls-cert", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	db := "sqlite://" + t.TempDir() + "/chave.db"
	for range 2 { // idempotent
		if err := Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	}
	if err := Migrate(context.Background(), "mysql://x"); err == nil || !strings.Contains(err.Error(), "--db") {
		t.Fatalf("migrate of an unsupported database: %v", err)
	}
}
