package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

func TestServiceCommandsValidateTheirSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"auth", "--grpc-addr", "127.0.0.1:0"}, []string{"--registry: required"}},
		{[]string{"gateway", "--http-addr", "127.0.0.1:0"}, []string{"--registry: required", "--auth: required"}},
		{[]string{"registry", "--db", "postgres://x@127.0.0.1:1/db", "--tls-cert", "c.pem"}, []string{"--tls-key: required with --tls-cert"}},
		{[]string{"migrate", "--db", "mysql://x"}, []string{"--db"}},
		{[]string{"registry", "extra"}, []string{`unexpected argument "extra"`}},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errb)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("chave %s: error %v does not say %q", strings.Join(tc.args, " "), err, w)
			}
		}
	}
}

func TestEnvironmentErrorsNameTheVariable(t *testing.T) {
	t.Setenv("CHAVE_ACCESS_TOKEN_LIFETIME", "half an hour")
	t.Setenv("CHAVE_REDIS_REQUIRE_NOEVICTION", "sure")
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"auth"}, &out, &errb)
	for _, w := range []string{"CHAVE_ACCESS_TOKEN_LIFETIME", "CHAVE_REDIS_REQUIRE_NOEVICTION: want true or false"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not name %s", err, w)
		}
	}
	// The command line wins over a bad environment value.
	err = run(context.Background(), []string{"auth", "--access-token-lifetime", "1m", "--redis-require-noeviction=false"}, &out, &errb)
	if err == nil || strings.Contains(err.Error(), "CHAVE_") || !strings.Contains(err.Error(), "--registry: required") {
		t.Errorf("with flags overriding the environment: %v", err)
	}
}

func TestHelpListsEveryCommandAndFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"serve", "registry", "auth", "gateway", "migrate", "bootstrap", "keys"} {
		if !strings.Contains(out.String(), "chave "+c) {
			t.Errorf("usage does not list %s", c)
		}
	}
	for cmd, want := range map[string][]string{
		"registry": {"-jwks-url", "-tls-cert", "-tls-client-ca", "CHAVE_TLS_CLIENT_CA", "-metrics-addr"},
		"auth":     {"-registry", "-tls-ca", "-tls-client-cert", "-tls-cert", "-signing-keys-file"},
		"gateway":  {"-registry", "-auth", "-tls-client-key", "CHAVE_TLS_CA", "-shutdown-drain-delay"},
		"serve":    {"-metrics-addr", `(default "127.0.0.1:9100")`, "-pprof", "-shutdown-drain-delay", "CHAVE_SHUTDOWN_DRAIN_DELAY"},
	} {
		errb.Reset()
		if err := run(context.Background(), []string{cmd, "--help"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s --help: %v", cmd, err)
		}
		for _, w := range want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("chave %s --help does not mention %s", cmd, w)
			}
		}
	}
}

// TestRegistryDrainsAndStopsOnSignal runs `chave registry` until its
// context ends, as SIGTERM ends it: it returns nil.
func TestRegistryDrainsAndStopsOnSignal(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"registry", "--grpc-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
			"--db", "sqlite://" + filepath.Join(dir, "chave.db"), "--shutdown-drain-delay", "100ms", "--insecure-internal-rpcs"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v (%v)", err, <-done)
	}
	if !strings.HasPrefix(line, "chave registry listening: gRPC 127.0.0.1:") || !strings.Contains(line, "metrics 127.0.0.1:") {
		t.Fatalf("listening line: %q", line)
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck // drains the rest
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("registry stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("registry did not stop")
	}
}
