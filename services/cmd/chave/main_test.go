package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestBootstrapPrintsOnlyTheCredential(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "chave.db")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"bootstrap", "--db", db}, &out, &errb); err != nil {
		t.Fatalf("bootstrap: %v (%s)", err, errb.String())
	}
	dec := json.NewDecoder(&out)
	var cred map[string]string
	if err := dec.Decode(&cred); err != nil {
		t.Fatalf("stdout is not one JSON object: %v", err)
	}
	if len(cred) != 2 || !strings.HasPrefix(cred["clientId"], "chave_ci_") || !strings.HasPrefix(cred["clientSecret"], "chave_sk_") {
		t.Fatalf("credential = %v", cred)
	}
	if dec.More() {
		t.Fatal("stdout holds more than one JSON object")
	}
	if strings.Contains(errb.String(), cred["clientSecret"]) {
		t.Fatal("the secret went to stderr")
	}
	// A second bootstrap adds another operator with another secret.
	var out2 bytes.Buffer
	if err := run(context.Background(), []string{"bootstrap", "--db", db}, &out2, &errb); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(out.Bytes(), out2.Bytes()) {
		t.Fatal("bootstrap printed the same credential twice")
	}
}

func TestUnknownCommandAndBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, &out, &errb); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := run(context.Background(), []string{"serve", "--no-such-flag"}, &out, &errb); err == nil {
		t.Fatal("unknown flag accepted")
	}
	if err := run(context.Background(), []string{"serve", "--db", "mysql://x", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "--db") {
		t.Fatalf("unsupported database: %v", err)
	}
}
