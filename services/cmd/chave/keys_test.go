package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/internal/signing"
)

func TestKeysRotateAndList(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing-keys.json")
	first, err := signing.LoadOrCreate(path, jwa.ES256, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	oldKid := first.Active().ID()

	var out, errb bytes.Buffer
	start := time.Now()
	err = keysCommand(context.Background(), []string{"rotate", "--signing-keys-file", path,
		"--signing-algorithm", "EdDSA", "--pre-publish", "1m", "--retention", "2h"}, &out, &errb)
	if err != nil {
		t.Fatalf("keys rotate: %v (%s)", err, errb.String())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	set, err := signing.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	all := set.All()
	if len(all) != 2 {
		t.Fatalf("key file holds %d keys after a rotation, want 2", len(all))
	}
	next := all[0]
	if next.ID() == oldKid {
		next = all[1]
	}
	if next.Algorithm() != jwa.EdDSA {
		t.Errorf("new key %v, want EdDSA", next)
	}
	if d := next.Activates().Sub(start); d < time.Minute-time.Second || d > time.Minute+2*time.Second {
		t.Errorf("new key activates %v after the rotation, want about 1m", d)
	}
	if !strings.Contains(out.String(), next.ID()) || !strings.Contains(out.String(), oldKid) {
		t.Errorf("rotate printed %q, want both kids", out.String())
	}
	if !strings.Contains(errb.String(), "CHAVE_SIGNING_ALGORITHM") {
		t.Errorf("an algorithm change printed no note about the serve configuration: %q", errb.String())
	}

	// list, of the key file.
	out.Reset()
	if err := keysCommand(context.Background(), []string{"list", "--signing-keys-file", path}, &out, &errb); err != nil {
		t.Fatalf("keys list: %v", err)
	}
	list := out.String()
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "KID") {
		t.Fatalf("list = %q, want a header and two keys", list)
	}
	for _, want := range []string{oldKid, next.ID(), "ES256", "EdDSA", "signing", "pending", next.Activates().Format(time.RFC3339)} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}
	// No private material: none of the file's private members' values.
	data, _ := os.ReadFile(path)
	var file struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for _, k := range file.Keys {
		d, _ := k["d"].(string)
		if d == "" || strings.Contains(list+out.String()+errb.String(), d) {
			t.Errorf("private member d missing from the file or printed (%q)", d)
		}
	}
}

func TestKeysErrors(t *testing.T) {
	var out, errb bytes.Buffer
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "none.json")
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"rotate", "--signing-keys-file", missing},
		{"list", "--signing-keys-file", missing},
		{"rotate", "--pre-publish", "soon"},
		{"list", "--db", "postgres://x"},
		{"list", "extra"},
	} {
		if err := keysCommand(ctx, args, &out, &errb); err == nil {
			t.Errorf("keys %v succeeded", args)
		}
	}
	if _, err := os.Stat(missing + ".lock"); err == nil {
		t.Error("rotating a missing file left a lock file")
	}
	out.Reset()
	if err := keysCommand(ctx, []string{"--help"}, &out, &errb); err != nil || !strings.Contains(out.String(), "chave keys rotate") {
		t.Errorf("keys --help = %v, %q", err, out.String())
	}
}

func TestKeysRotateRejectsBadArguments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing-keys.json")
	if _, err := signing.LoadOrCreate(path, jwa.ES256, time.Now()); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	for _, args := range [][]string{
		{"--signing-algorithm", "HS256"},
		{"--retention", "0s"},
		{"--pre-publish", "-1m"},
	} {
		if err := keysCommand(context.Background(), append([]string{"rotate", "--signing-keys-file", path}, args...), &out, &errb); err == nil {
			t.Errorf("keys rotate %v succeeded", args)
		}
	}
	set, err := signing.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.All()) != 1 {
		t.Errorf("rejected rotations left %d keys", len(set.All()))
	}
}
