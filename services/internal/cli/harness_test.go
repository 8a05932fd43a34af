package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/app"
	"github.com/chave/chave/services/internal/app/apptest"
	"github.com/chave/chave/services/internal/cli"
)

// server is a real `chave serve` on loopback with a temporary SQLite
// database, and the operator credential it printed.
type server struct {
	base        string
	opID, opSec string
	logs        *apptest.Buffer
	configHome  string
	httpClient  *http.Client
	t           *testing.T
}

func startServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	logs := &apptest.Buffer{}
	var stdout bytes.Buffer
	srv, err := app.Start(context.Background(), app.Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(dir, "chave.db"),
		SecretsFile: filepath.Join(dir, "secrets.json"), SigningKeysFile: filepath.Join(dir, "signing-keys.json"),
		PrintBootstrapCredential: true, Stdout: &stdout,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var cred struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cred); err != nil || cred.ClientID == "" {
		t.Fatalf("no operator credential printed: %q", stdout.String())
	}
	return &server{t: t, base: "http://" + srv.HTTPAddr(), opID: cred.ClientID, opSec: cred.ClientSecret, logs: logs,
		configHome: t.TempDir(), httpClient: &http.Client{Timeout: 10 * time.Second}}
}

// outcome is what one CLI run printed and its exit code.
type outcome struct {
	stdout, stderr string
	code           int
}

func (o outcome) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(o.stdout), &m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, o.stdout)
	}
	return m
}

// invocation is one run of the CLI: its environment and standard input.
type invocation struct {
	env      map[string]string
	stdin    string
	terminal bool
}

// as returns an invocation signed in with the credential.
func (s *server) as(id, secret string) *invocation {
	return &invocation{env: map[string]string{
		"CHAVE_SERVER": s.base, "CHAVE_CLIENT_ID": id, "CHAVE_CLIENT_SECRET": secret,
		"XDG_CONFIG_HOME": s.configHome, "HOME": s.configHome, "LANG": "pt_BR.UTF-8",
	}}
}

// op is an invocation as the operator.
func (s *server) op() *invocation { return s.as(s.opID, s.opSec) }

func (inv *invocation) with(k, v string) *invocation {
	env := map[string]string{}
	for k, v := range inv.env {
		env[k] = v
	}
	if v == "" {
		delete(env, k)
	} else {
		env[k] = v
	}
	return &invocation{env: env, stdin: inv.stdin, terminal: inv.terminal}
}

// run runs the CLI's command tree in process.
func (inv *invocation) run(t *testing.T, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &cli.Env{
		Stdin: strings.NewReader(inv.stdin), Stdout: &stdout, Stderr: &stderr,
		LookupEnv:       func(k string) (string, bool) { v, ok := inv.env[k]; return v, ok },
		StdinIsTerminal: inv.terminal, StdoutIsTerminal: inv.terminal,
		Now: time.Now, Location: time.UTC,
	}
	root := cli.NewRoot(env, "chave test")
	cli.AddCommands(root, env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cli.Execute(ctx, root, args)
	return outcome{stdout: stdout.String(), stderr: stderr.String(), code: cli.ExitCode(err)}
}

// must runs the CLI and wants exit code 0.
func (inv *invocation) must(t *testing.T, args ...string) outcome {
	t.Helper()
	o := inv.run(t, args...)
	if o.code != 0 {
		t.Fatalf("chave %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), o.code, o.stdout, o.stderr)
	}
	return o
}

// grant runs the client-credentials grant at /oauth2/token and returns the
// HTTP status.
func (s *server) grant(t *testing.T, id, secret string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", s.base+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := s.httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
