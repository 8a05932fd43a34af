package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chave/chave/services/internal/secrets"
)

// TestNewKeysServerCommands drives chave keys server and chave keys rewrap
// against a SQLite database and its secrets file: retiring refuses, with a
// count, a version still in use, and succeeds once it is drained.
func TestNewKeysServerCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "chave.db")
	keysPath := filepath.Join(dir, "secrets.json")
	keys := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := keysCommand(ctx, append(args, "--db", db), &out, &errb)
		return out.String(), errb.String(), err
	}
	var out bytes.Buffer
	if err := bootstrap(ctx, []string{"--db", db}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}

	if o, _, err := keys("server", "add", "--kind", "hmac"); err != nil || !strings.Contains(o, "version 2 (inactive)") {
		t.Fatalf("add: %q, %v", o, err)
	}
	if _, _, err := keys("server", "retire", "--kind", "hmac", "--version", "2"); err != nil {
		t.Fatalf("retiring a version never active (nothing uses it): %v", err)
	}
	if o, _, err := keys("server", "add", "--kind", "hmac"); err != nil || !strings.Contains(o, "version 3") {
		t.Fatalf("a second add: %q, %v (numbers are never reused)", o, err)
	}
	if o, _, err := keys("server", "activate", "--kind", "hmac", "--version", "3"); err != nil || !strings.Contains(o, "version 3 is active (was 1)") {
		t.Fatalf("activate: %q, %v", o, err)
	}
	// The operator's secret is still hashed under version 1.
	_, _, err := keys("server", "retire", "--kind", "hmac", "--version", "1")
	if err == nil || !strings.Contains(err.Error(), "1 live credentials") {
		t.Fatalf("retiring a version in use: %v", err)
	}
	o, _, err := keys("server", "list", "--kind", "hmac", "--usage", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var views []struct {
		Version int
		State   string
		Uses    *int
	}
	if err := json.Unmarshal([]byte(o), &views); err != nil || len(views) != 3 {
		t.Fatalf("list --json = %s, %v", o, err)
	}
	if views[0].State != "inactive" || *views[0].Uses != 1 || views[1].State != "retired" || views[2].State != "active" {
		t.Fatalf("list = %+v", views)
	}
	if _, _, err := keys("server", "retire", "--kind", "hmac", "--version", "1", "--force"); err != nil {
		t.Fatalf("retire --force: %v", err)
	}
	k, err := secrets.ReadKeyFile(keysPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Hash.Key(1); ok || k.Hash.Active != 3 {
		t.Fatalf("after retire --force: version 1 kept, active %d", k.Hash.Active)
	}

	// Refresh: refused until the lifetime has passed.
	keys("server", "add", "--kind", "refresh")
	keys("server", "activate", "--kind", "refresh", "--version", "2")
	if _, _, err := keys("server", "retire", "--kind", "refresh", "--version", "1"); err == nil || !strings.Contains(err.Error(), "may live until") {
		t.Fatalf("retiring a refresh version at once: %v", err)
	}

	// Seal: rewrap finds nothing to do on a database without parameters.
	if o, _, err := keys("rewrap", "--batch", "10"); err != nil || !strings.Contains(o, "re-sealed 0 values") {
		t.Fatalf("rewrap: %q, %v", o, err)
	}
	for _, bad := range [][]string{
		{"server", "add", "--kind", "rsa"},
		{"server", "activate", "--kind", "seal"},
		{"server", "activate", "--kind", "seal", "--version", "9"},
		{"server", "retire", "--kind", "seal", "--version", "1"}, // the active one
		{"server", "frobnicate"},
		{"rewrap", "--batch", "0"},
	} {
		if _, _, err := keys(bad...); err == nil {
			t.Errorf("keys %v: accepted", bad)
		}
	}
}
