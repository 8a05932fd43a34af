package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/signing"
	"github.com/chave/chave/services/internal/testserver"
)

// TestNewKeysDB walks the stored signing keys through the CLI: import a key
// file, rotate, list, refuse to retire the signing key, emergency-rotate
// with the revocation set, export.
func TestNewKeysDB(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "chave.db")
	file := filepath.Join(dir, "old-keys.json")
	old, err := signing.LoadOrCreate(file, jwa.ES256, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys := func(args ...string) (string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		err := keysCommand(ctx, append([]string{args[0], "--db", db}, args[1:]...), &out, &errb)
		return out.String() + errb.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := keys(args...)
		if err != nil {
			t.Fatalf("keys %v: %v\n%s", args, err, out)
		}
		return out
	}
	if _, err := keys("rotate"); !chave.IsCode(err, chave.FailedPrecondition) {
		t.Fatalf("rotate on an empty database: %v, want FailedPrecondition", err)
	}
	if out := must("import", "--file", file); !strings.Contains(out, "imported 1") {
		t.Fatalf("import: %s", out)
	}
	// The key-encryption key was generated beside the SQLite file.
	if fi, err := os.Stat(filepath.Join(dir, "secrets.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets.json: %v, %v", fi, err)
	}
	out := must("rotate", "--pre-publish", "1m")
	if !strings.Contains(out, old.Active().ID()) {
		t.Fatalf("rotate printed %q, want the replaced kid", out)
	}
	list := must("list")
	if n := len(strings.Split(strings.TrimSpace(list), "\n")); n != 3 || !strings.Contains(list, "signing") || !strings.Contains(list, "pending") {
		t.Fatalf("list = %q, want a header, a signing and a pending key", list)
	}
	if _, err := keys("retire", old.Active().ID()); !chave.IsCode(err, chave.FailedPrecondition) {
		t.Fatalf("retire of the signing key: %v, want FailedPrecondition", err)
	}
	if _, err := keys("retire"); err == nil {
		t.Fatal("retire without a kid succeeded")
	}

	redis := testserver.StartRedis(t)
	out = must("rotate", "--emergency", "--redis", redis.URL())
	if strings.Count(out, "revoked signing key") != 2 || !strings.Contains(out, "refuses their tokens everywhere") {
		t.Fatalf("emergency rotation printed %q, want both old keys revoked through the revocation set", out)
	}
	list = must("list")
	if strings.Count(list, "revoked") != 2 || strings.Count(list, "signing") != 1 {
		t.Fatalf("list after the emergency = %q", list)
	}
	exported := filepath.Join(dir, "export.json")
	must("export", "--file", exported)
	set, err := signing.Load(exported)
	if err != nil || len(set.All()) != 1 {
		t.Fatalf("exported %v, %v; want the one key in force", set, err)
	}
	if _, err := keys("export", "--file", exported); err == nil {
		t.Fatal("export overwrote a key file")
	}
	if _, err := keys("rotate", "--emergency", "--signing-keys-file", file); err == nil {
		t.Fatal("an emergency rotation of a key file succeeded")
	}
}
