package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestBootstrapCreatesPrivateFiles: `chave bootstrap` on a fresh embedded
// database creates its directory 0700 and the database and secrets files
// 0600.
func TestBootstrapCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "chave-data")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"bootstrap", "--db", "sqlite://" + filepath.Join(dir, "chave.db")}, &out, &errb); err != nil {
		t.Fatalf("bootstrap: %v (%s)", err, errb.String())
	}
	want := map[string]os.FileMode{".": 0o700, "chave.db": 0o600, "secrets.json": 0o600}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	// The -wal and -shm files, while they exist, have the database's mode.
	for _, name := range []string{"chave.db-wal", "chave.db-shm"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
}
