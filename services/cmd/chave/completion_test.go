package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/app"
	"github.com/chave/chave/services/internal/cli"
)

// TestMain lets the test binary be the chave binary: run as "chave" with
// CHAVE_TEST_RUN_MAIN=1 it runs main.
func TestMain(m *testing.M) {
	if os.Getenv("CHAVE_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// chaveBinary puts this test binary on a PATH as "chave" and returns its
// path and the environment that runs it as chave's main.
func chaveBinary(t *testing.T) (string, []string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(dir, "chave")); err != nil {
		t.Fatal(err)
	}
	env := []string{"CHAVE_TEST_RUN_MAIN=1", "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "CHAVE_") {
			env = append(env, kv)
		}
	}
	return filepath.Join(dir, "chave"), env
}

// minimalBashCompletion stands in for the bash-completion package's
// _get_comp_words_by_ref where the package is not installed.
const minimalBashCompletion = `
if [ -r /usr/share/bash-completion/bash_completion ]; then
  . /usr/share/bash-completion/bash_completion
elif ! declare -F _get_comp_words_by_ref >/dev/null; then
  _get_comp_words_by_ref() {
    cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
  }
fi
`

// startServer starts `chave serve` in process on loopback with a
// temporary SQLite database; it returns the base URL and the operator
// credential.
func startServer(t *testing.T) (base, id, secret string) {
	t.Helper()
	dir := t.TempDir()
	var out bytes.Buffer
	srv, err := app.Start(context.Background(), app.Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(dir, "chave.db"),
		SecretsFile: filepath.Join(dir, "secrets.json"), SigningKeysFile: filepath.Join(dir, "signing-keys.json"),
		PrintBootstrapCredential: true, Stdout: &out, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var cred struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cred); err != nil {
		t.Fatal(err)
	}
	return "http://" + srv.HTTPAddr(), cred.ClientID, cred.ClientSecret
}

// TestCompletionLoadsInBashAndCompletesIDs sources `chave completion bash`
// in bash, as a user's profile does, and completes token and tenant ids
// from a running server; zsh and fish scripts generate.
func TestCompletionLoadsInBashAndCompletesIDs(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed: ", err)
	}
	bin, env := chaveBinary(t)

	base, id, secret := startServer(t)
	env = append(env, "CHAVE_SERVER="+base, "CHAVE_CLIENT_ID="+id, "CHAVE_CLIENT_SECRET="+secret)
	chave := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chave %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String()
	}
	chave("tenants", "create", "acme", "--name", "ACME", "--context", "inventory")
	id = strings.TrimSpace(chave("tokens", "create", "--name", "Equipe financeiro", "--tenant", "acme", "--context", "inventory", "-o", "name"))

	complete := func(line string) string {
		t.Helper()
		script := minimalBashCompletion + `
source <(chave completion bash) || exit 1
complete -p chave >/dev/null || { echo "no completion registered" >&2; exit 1; }
# Readline is not running: the function is called as bash would call it.
compopt() { :; }
read -r -a COMP_WORDS <<< "$LINE"
[[ "$LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$LINE
COMP_POINT=${#COMP_LINE}
__start_chave chave "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
		cmd.Env = append(env, "LINE="+line)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("bash completion of %q: %v\n%s", line, err, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("bash completion of %q wrote to stderr: %s", line, stderr.String())
		}
		return stdout.String()
	}
	if got := complete("chave tokens get "); !strings.Contains(got, id) {
		t.Errorf("chave tokens get <TAB>: %q, want the token id %s", got, id)
	}
	if got := complete("chave tenants get a"); strings.TrimSpace(got) != "acme" {
		t.Errorf("chave tenants get a<TAB>: %q, want acme", got)
	}
	if got := complete("chave tokens create --tenant acme --context inv"); strings.TrimSpace(got) != "inventory" {
		t.Errorf("--context inv<TAB>: %q, want inventory", got)
	}
	if got := complete("chave tok"); !strings.Contains(got, "tokens") || !strings.Contains(got, "token") {
		t.Errorf("chave tok<TAB>: %q", got)
	}

	if got := chave("completion", "zsh"); !strings.Contains(got, "#compdef chave") {
		t.Errorf("zsh script: %.200q", got)
	}
	if got := chave("completion", "fish"); !strings.Contains(got, "complete -c chave") {
		t.Errorf("fish script: %.200q", got)
	}
}

// TestExitCodesOfTheBinary runs the binary: os.Exit's code comes from the
// error's kind.
func TestExitCodesOfTheBinary(t *testing.T) {
	bin, env := chaveBinary(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, cli.ExitOK},
		{[]string{"serve", "--help"}, cli.ExitOK},
		{[]string{"help", "registry"}, cli.ExitOK},
		{[]string{"frobnicate"}, cli.ExitUsage},
		{[]string{}, cli.ExitUsage},
		{[]string{"serve", "--no-such-flag"}, cli.ExitUsage},
		{[]string{"registry", "extra"}, cli.ExitUsage},
		{[]string{"tokens", "get"}, cli.ExitUsage},
		{[]string{"tokens", "list", "--server", "http://127.0.0.1:1", "--client-id", "x"}, cli.ExitPermissionDenied},
		{[]string{"auth", "--grpc-addr", "127.0.0.1:0"}, cli.ExitFailure},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append(env, "CHAVE_CLIENT_SECRET=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("chave %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.code, stderr.String())
		}
		if strings.Count(stderr.String(), "chave: ") > 1 {
			t.Errorf("chave %s: the error printed twice:\n%s", strings.Join(tc.args, " "), stderr.String())
		}
	}
}
