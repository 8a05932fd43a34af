package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/chave/chave/services/internal/cli"
)

// exampleOrder is the order in which the client commands' examples run:
// each builds on what the ones before created, as a reader following
// them after `make run` would.
var exampleOrder = []string{
	"chave tenants create", "chave tenants list", "chave tenants get", "chave tenants update", "chave tenants set-policy", "chave tenants",
	"chave contexts", "chave contexts list",
	"chave tokens", "chave tokens create", "chave tokens list", "chave tokens get", "chave tokens update",
	"chave tokens events", "chave tokens usage", "chave tokens rotate", "chave tokens revoke",
	"chave token", "chave introspect", "chave logout",
}

// TestExamplesWorkAsWritten runs every example of every client command's
// --help in bash against a real server, as `make run` serves it (the
// address aside): each must exit 0.
func TestExamplesWorkAsWritten(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed: ", err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (an example uses it): ", err)
	}
	bin, env := chaveBinary(t)
	base, id, secret := startServer(t)
	env = append(env, "CHAVE_SERVER="+base, "CHAVE_CLIENT_ID="+id, "CHAVE_CLIENT_SECRET="+secret, "HOME="+t.TempDir(), "XDG_CONFIG_HOME=")

	examples := map[string]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.GroupID != "server" && c.Name() != "login" && c.Name() != "completion" && c.Name() != "help" && c.HasParent() {
			if c.Example == "" {
				t.Errorf("%s --help has no examples", c.CommandPath())
			}
			examples[c.CommandPath()] = c.Example
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(&cli.Env{LookupEnv: func(string) (string, bool) { return "", false }}))

	for _, path := range exampleOrder {
		ex, ok := examples[path]
		if !ok {
			t.Errorf("%s: no such command", path)
			continue
		}
		delete(examples, path)
		// Lines ending in \ continue; an assignment carries to the next line.
		script := "set -e -o pipefail; shopt -s expand_aliases; alias chave=" + bin + "\n" +
			strings.ReplaceAll(ex, "http://localhost:8080", base)
		script = strings.ReplaceAll(script, "| head -1", "| sed -n 1p") // sed reads all: no SIGPIPE for chave
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%s: an example failed: %v\n%s\nstdout: %s\nstderr: %s", path, err, ex, stdout.String(), stderr.String())
		}
	}
	for path := range examples {
		t.Errorf("%s: its examples are not run; add it to exampleOrder", path)
	}
}

// TestReadmeFirstCommands runs the README's first five CLI commands, in
// order, against a real server.
func TestReadmeFirstCommands(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## The CLI: first five commands")
	_, block, ok2 := strings.Cut(section, "```sh\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no sh block under \"The CLI: first five commands\"")
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
		if strings.HasPrefix(l, "export ") { // the credential: this test's own
			continue
		}
		lines = append(lines, l)
	}
	if n := len(lines); n != 5 {
		t.Errorf("the README shows %d commands after the export, want 5", n)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed: ", err)
	}
	bin, env := chaveBinary(t)
	base, id, secret := startServer(t)
	env = append(env, "CHAVE_SERVER="+base, "CHAVE_CLIENT_ID="+id, "CHAVE_CLIENT_SECRET="+secret)
	script := "set -e -o pipefail; shopt -s expand_aliases; alias chave=" + bin + "\n" +
		strings.ReplaceAll(strings.ReplaceAll(strings.Join(lines, "\n"), "http://localhost:8080", base), "| head -1", "| sed -n 1p")
	cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s", err, out)
	}
	for _, want := range []string{"inventory,telegram", "clientSecret:", "Equipe financeiro", "revogado", `"contexts"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the README's commands did not print %q:\n%s", want, out)
		}
	}
}
