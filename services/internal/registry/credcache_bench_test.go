package registry

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/storage/sqlite"
)

// BenchmarkAuthenticateClient is the registry's part of a
// client-credentials grant on SQLite with the in-process revocation set,
// as serve runs it: the credential cache on (every grant after the first
// a hit) and off (every grant reads the store, as before the cache).
// Compare the two with benchstat -col /cache.
func BenchmarkAuthenticateClient(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"off", -1}, {"on", 0}} {
		b.Run("cache="+c.name, func(b *testing.B) {
			ctx := AtTokenEndpoint(context.Background(), "127.0.0.1")
			store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "chave.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			hasher, _ := secrets.NewHasher(bytes.Repeat([]byte{1}, 32))
			sealer, _ := secrets.NewSealer(bytes.Repeat([]byte{2}, 32))
			svc, err := New(Config{Store: store, Catalog: chave.DefaultCatalog(), Hasher: hasher, Sealer: sealer,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CredentialCacheSize: c.size})
			if err != nil {
				b.Fatal(err)
			}
			opID, _, err := svc.Bootstrap(ctx)
			if err != nil {
				b.Fatal(err)
			}
			op, err := svc.Principal(ctx, opID, "")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.CreateTenant(ctx, op, chave.Tenant{ID: "acme", DisplayName: "Acme",
				Contexts: []string{"commercial", "inventory"}}); err != nil {
				b.Fatal(err)
			}
			tok, secret, err := svc.CreateToken(ctx, op, chave.Token{DisplayName: "bench", Tenant: "acme",
				Contexts: []string{"commercial", "inventory"}})
			if err != nil {
				b.Fatal(err)
			}
			id, sec := tok.ID, secret.Reveal()
			if _, err := svc.AuthenticateClient(ctx, id, sec); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := svc.AuthenticateClient(ctx, id, sec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
