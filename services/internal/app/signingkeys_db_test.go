package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/internal/signing"
)

// TestNewServeSigningKeysInDB: the all-in-one server on the embedded
// default imports the key file it kept beside SQLite before and keeps the
// keys in the database across restarts.
func TestNewServeSigningKeysInDB(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "chave-data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	legacy, err := signing.LoadOrCreate(filepath.Join(dir, "signing-keys.json"), jwa.ES256, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(dir, "chave.db"),
		SigningKeyPollInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	}
	start := func() (*Server, *signing.KeySet) {
		t.Helper()
		srv, err := Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		store, err := OpenStore(t.Context(), cfg.DB)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		kek, err := loadKEK(cfg.KeyEncryptionKey, cfg.keys(), cfg.DB)
		if err != nil {
			t.Fatal(err)
		}
		db, err := signing.NewDB(store, kek)
		if err != nil {
			t.Fatal(err)
		}
		set, _, err := db.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return srv, set
	}
	srv, set := start()
	if set.Active().ID() != legacy.Active().ID() {
		t.Fatalf("the database signs with %s, want the imported %s", set.Active().ID(), legacy.Active().ID())
	}
	srv.Stop(context.Background())
	srv, set = start()
	defer srv.Stop(context.Background())
	if set.Active().ID() != legacy.Active().ID() || len(set.All()) != 1 {
		t.Fatalf("after a restart: %v, want the imported key alone", set)
	}
}
