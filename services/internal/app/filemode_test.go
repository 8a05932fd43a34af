package app

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestServeCreatesPrivateFiles: a fresh `chave serve` on the embedded
// default creates its directory 0700 and the SQLite database (with its -wal
// and -shm) and the secrets file (which keeps the key-encryption key of the
// signing keys, now in the database) 0600, whatever the umask leaves.
func TestServeCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "chave-data") // chave creates it
	srv, err := Start(context.Background(), Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0",
		DB: "sqlite://" + filepath.Join(dir, "chave.db"), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	checkPrivateFiles(t, dir, "chave.db", "chave.db-wal", "chave.db-shm", "secrets.json")
	if _, err := os.Stat(filepath.Join(dir, "signing-keys.json")); err == nil {
		t.Error("serve wrote a signing-keys file: the keys belong in the database")
	}
}

// checkPrivateFiles requires dir to be 0700 and each of files in it 0600.
func checkPrivateFiles(t *testing.T, dir string, files ...string) {
	t.Helper()
	mode := func(path string) fs.FileMode {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(dir); m != 0o700 {
		t.Errorf("%s: mode %v, want 0700", dir, m)
	}
	for _, f := range files {
		if m := mode(filepath.Join(dir, f)); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, m)
		}
	}
}
