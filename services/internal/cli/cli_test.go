package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const botToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// TestScriptRun is what a CI pipeline does: parse -o json, use the printed
// secret at /oauth2/token, rotate it, revoke the token.
func TestScriptRun(t *testing.T) {
	s := startServer(t)
	op := s.op()

	ten := op.must(t, "tenants", "create", "acme", "--name", "ACME", "--context", "inventory", "--context", "telegram", "-o", "json").json(t)
	if ten["id"] != "acme" || ten["displayName"] != "ACME" {
		t.Fatalf("tenant: %v", ten)
	}
	created := op.must(t, "tokens", "create", "--name", "Equipe financeiro", "--tenant", "acme", "--context", "inventory", "-o", "json")
	if !strings.Contains(created.stderr, "não será mostrado de novo") {
		t.Errorf("no warning on stderr about the secret: %q", created.stderr)
	}
	m := created.json(t)
	id, _ := m["clientId"].(string)
	secret1, _ := m["clientSecret"].(string)
	if !strings.HasPrefix(id, "chave_ci_") || !strings.HasPrefix(secret1, "chave_sk_") {
		t.Fatalf("create printed %v", m)
	}
	if strings.Contains(created.stderr, secret1) {
		t.Fatal("the secret went to stderr")
	}
	if got := s.grant(t, id, secret1); got != 200 {
		t.Fatalf("grant with the printed secret: %d", got)
	}

	rotated := op.must(t, "tokens", "rotate", id, "--yes", "-o", "json").json(t)
	secret2, _ := rotated["clientSecret"].(string)
	if !strings.HasPrefix(secret2, "chave_sk_") || secret2 == secret1 || rotated["clientId"] != id {
		t.Fatalf("rotate printed %v", rotated)
	}
	if got := s.grant(t, id, secret1); got != 401 {
		t.Errorf("grant with the rotated-out secret: %d, want 401", got)
	}
	if got := s.grant(t, id, secret2); got != 200 {
		t.Errorf("grant with the new secret: %d", got)
	}

	revoked := op.must(t, "tokens", "revoke", id, "--yes", "-o", "json").json(t)
	if revoked["state"] != "TOKEN_STATE_REVOKED" || revoked["id"] != id {
		t.Fatalf("revoke printed %v", revoked)
	}
	if got := s.grant(t, id, secret2); got != 401 {
		t.Errorf("grant after the revocation: %d, want 401", got)
	}
	// The script reads one field with jsonpath, and ids with -o name.
	if o := op.must(t, "tokens", "get", id, "-o", "jsonpath={.state}"); o.stdout != "TOKEN_STATE_REVOKED\n" {
		t.Errorf("jsonpath: %q", o.stdout)
	}
	if o := op.must(t, "tokens", "list", "--tenant", "acme", "-o", "name"); o.stdout != id+"\n" {
		t.Errorf("-o name: %q", o.stdout)
	}
}

// TestEveryCommandBothModes runs each registry command as a table and as
// JSON, and checks that both show what the server holds.
func TestEveryCommandBothModes(t *testing.T) {
	s := startServer(t)
	op := s.op()
	paramFile := filepath.Join(t.TempDir(), "params.json")
	if err := os.WriteFile(paramFile, []byte(`{"telegram": {"botToken": "`+botToken+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}

	// tenants
	o := op.must(t, "tenants", "create", "acme", "--name", "ACME", "--context", "inventory", "--context", "telegram")
	wantAll(t, o.stdout, "acme", "ACME", "inventory,telegram")
	if j := op.must(t, "tenants", "create", "globex", "--name", "Globex", "--context", "inventory", "-o", "json").json(t); j["id"] != "globex" {
		t.Errorf("tenants create -o json: %v", j)
	}
	wantAll(t, op.must(t, "tenants", "list").stdout, "ID", "NOME", "acme", "globex", "Globex")
	if j := op.must(t, "tenants", "list", "-o", "json").json(t); len(j["tenants"].([]any)) != 2 {
		t.Errorf("tenants list -o json: %v", j)
	}
	wantAll(t, op.must(t, "tenants", "get", "acme").stdout, "ACME", "inventory,telegram")
	if j := op.must(t, "tenants", "get", "acme", "-o", "json").json(t); j["displayName"] != "ACME" {
		t.Errorf("tenants get -o json: %v", j)
	}
	wantAll(t, op.must(t, "tenants", "update", "acme", "--name", "ACME Indústria").stdout, "ACME Indústria")
	if j := op.must(t, "tenants", "update", "acme", "--context", "inventory", "--context", "telegram", "--context", "foccohub", "-o", "json").json(t); len(j["contexts"].([]any)) != 3 || j["displayName"] != "ACME Indústria" {
		t.Errorf("tenants update -o json: %v", j)
	}

	// contexts
	wantAll(t, op.must(t, "contexts", "list").stdout, "inventory", "Estoque", "botToken (secreto")
	wantAll(t, op.with("LANG", "en_US.UTF-8").must(t, "contexts", "list").stdout, "Inventory", "NAME", "botToken (secret")
	if j := op.must(t, "contexts", "list", "--tenant", "globex", "-o", "json").json(t); len(j["contexts"].([]any)) != 1 {
		t.Errorf("contexts list --tenant globex -o json: %v", j)
	}

	// tokens
	o = op.must(t, "tokens", "create", "--name", "Bot de vendas", "--tenant", "acme", "--context", "telegram",
		"--param-file", paramFile, "--expires-in", "90d")
	wantAll(t, o.stdout, "clientId:", "clientSecret:  chave_sk_", "Bot de vendas", "telegram", "em 3 meses")
	j := op.must(t, "tokens", "create", "--name", "Equipe financeiro", "--description", "Consulta", "--tenant", "acme",
		"--general-access", "--expires", "2099-01-31", "-o", "json").json(t)
	id := j["clientId"].(string)
	tok := j["token"].(map[string]any)
	if tok["generalAccess"] != true || tok["expireTime"] != "2099-02-01T00:00:00Z" || tok["description"] != "Consulta" {
		t.Errorf("tokens create -o json: %v (a bare --expires date is the end of that day)", tok)
	}
	wantAll(t, op.must(t, "tokens", "list").stdout, "NOME", "ESTADO", "Bot de vendas", "Equipe financeiro", "ativo", "geral", "nunca")
	if j := op.must(t, "tokens", "list", "--tenant", "acme", "-o", "json").json(t); len(j["tokens"].([]any)) != 2 {
		t.Errorf("tokens list -o json: %v", j)
	}
	wantAll(t, op.must(t, "tokens", "get", id).stdout, id, "Equipe financeiro", "Consulta", "geral", "em 7")
	if j := op.must(t, "tokens", "get", id, "-o", "json").json(t); j["id"] != id || j["tenant"] != "acme" {
		t.Errorf("tokens get -o json: %v", j)
	}
	wantAll(t, op.must(t, "tokens", "update", id, "--context", "inventory", "--no-expiry").stdout, "inventory", "expira:          nunca")
	if j := op.must(t, "tokens", "update", id, "--name", "Financeiro", "--description", "", "-o", "json").json(t); j["displayName"] != "Financeiro" || j["description"] != "" || j["expireTime"] != nil {
		t.Errorf("tokens update -o json: %v", j)
	}
	wantAll(t, op.must(t, "tokens", "rotate", id, "--yes").stdout, "clientSecret:  chave_sk_")
	wantAll(t, op.must(t, "tokens", "revoke", id, "--yes").stdout, "revogado", s.opID)
	if j := op.must(t, "tokens", "revoke", id, "--yes", "-o", "json").json(t); j["state"] != "TOKEN_STATE_REVOKED" {
		t.Errorf("tokens revoke -o json (again: idempotent): %v", j)
	}
	wantAll(t, op.must(t, "tokens", "events", id).stdout, "AÇÃO", "create", "update", "rotate", "revoke", s.opID)
	if j := op.must(t, "tokens", "events", id, "-o", "json").json(t); len(j["events"].([]any)) < 5 {
		t.Errorf("tokens events -o json: %v", j)
	}
	wantAll(t, op.must(t, "tokens", "list", "--state", "revoked").stdout, "Financeiro", "revogado")

	// token and introspect
	at := strings.TrimSpace(op.must(t, "token").stdout)
	if strings.Count(at, ".") != 2 {
		t.Fatalf("chave token printed %q, not a JWT", at)
	}
	if j := op.must(t, "token", "-o", "json").json(t); j["access_token"] == "" || j["token_type"] != "Bearer" {
		t.Errorf("token -o json: %v", j)
	}
	wantAll(t, op.must(t, "introspect", at).stdout, "ativo:", "sim", s.opID, "registry.admin")
	if j := op.must(t, "introspect", at, "-o", "json").json(t); j["active"] != true || j["client_id"] != s.opID {
		t.Errorf("introspect -o json: %v", j)
	}
	if j := op.must(t, "introspect", "not-a-token", "-o", "json").json(t); j["active"] != false {
		t.Errorf("introspect of garbage: %v", j)
	}
}

// TestListPages pages one page at a time and all at once.
func TestListPages(t *testing.T) {
	s := startServer(t)
	op := s.op()
	op.must(t, "tenants", "create", "acme", "--name", "ACME", "--context", "inventory")
	for _, n := range []string{"um", "dois", "três"} {
		op.must(t, "tokens", "create", "--name", n, "--tenant", "acme", "--context", "inventory")
	}
	first := op.must(t, "tokens", "list", "--tenant", "acme", "--page-size", "2", "-o", "json").json(t)
	next, _ := first["nextPageToken"].(string)
	if len(first["tokens"].([]any)) != 2 || next == "" {
		t.Fatalf("first page: %v", first)
	}
	second := op.must(t, "tokens", "list", "--tenant", "acme", "--page-size", "2", "--page-token", next, "-o", "name")
	if strings.Count(second.stdout, "\n") != 1 {
		t.Errorf("second page: %q", second.stdout)
	}
	table := op.must(t, "tokens", "list", "--tenant", "acme", "--page-size", "2")
	wantAll(t, table.stderr, "--page-token", "--all")
	all := op.must(t, "tokens", "list", "--tenant", "acme", "--page-size", "1", "--all", "-o", "json").json(t)
	if l := all["tokens"].([]any); len(l) != 3 {
		t.Errorf("--all: %d tokens, want 3: %v", len(l), all)
	}
	if _, ok := all["nextPageToken"]; ok {
		t.Error("--all printed a nextPageToken")
	}
	names := op.must(t, "tokens", "list", "--tenant", "acme", "--page-size", "1", "--all").stdout
	wantAll(t, names, "um", "dois", "três")
}

// TestExitCodes: bad input exits 2 with a message naming the field, 404
// exits 3, a missing or insufficient credential 4.
func TestExitCodes(t *testing.T) {
	s := startServer(t)
	op := s.op()
	op.must(t, "tenants", "create", "acme", "--name", "ACME", "--context", "inventory")
	op.must(t, "tenants", "create", "globex", "--name", "Globex", "--context", "inventory")
	globexToken := op.must(t, "tokens", "create", "--name", "g", "--tenant", "globex", "--context", "inventory", "-o", "name").stdout
	globexToken = strings.TrimSpace(globexToken)
	admin := op.must(t, "tokens", "create", "--name", "Admin ACME", "--tenant", "acme", "--context", "registry.admin", "-o", "json").json(t)
	acmeAdmin := s.as(admin["clientId"].(string), admin["clientSecret"].(string))

	for _, tc := range []struct {
		name string
		inv  *invocation
		args []string
		code int
		want []string
	}{
		{"missing --name", op, []string{"tokens", "create", "--tenant", "acme", "--context", "inventory"}, 2, []string{"--name is required"}},
		{"no access", op, []string{"tokens", "create", "--name", "x", "--tenant", "acme"}, 2, []string{"--general-access", "--context"}},
		{"expiry in the past", op, []string{"tokens", "create", "--name", "x", "--tenant", "acme", "--context", "inventory", "--expires", "2020-01-31"}, 2, []string{"expireTime"}},
		{"bad date", op, []string{"tokens", "create", "--name", "x", "--tenant", "acme", "--context", "inventory", "--expires", "31/01/2027"}, 2, []string{"--expires", "2027-01-31"}},
		{"bad duration", op, []string{"tokens", "create", "--name", "x", "--tenant", "acme", "--context", "inventory", "--expires-in", "soon"}, 2, []string{"--expires-in"}},
		{"unknown context", op, []string{"tokens", "create", "--name", "x", "--tenant", "acme", "--context", "nope"}, 2, []string{"contexts", "nope"}},
		{"context not entitled", op, []string{"tokens", "create", "--name", "x", "--tenant", "acme", "--context", "telegram"}, 2, []string{"contexts"}},
		{"bad param", op, []string{"tokens", "create", "--name", "x", "--tenant", "acme", "--context", "inventory", "--param", "botToken"}, 2, []string{"--param", "CONTEXT.NAME=VALUE"}},
		{"bad tenant id", op, []string{"tenants", "create", "ACME!", "--name", "x"}, 2, []string{"id"}},
		{"unknown flag", op, []string{"tokens", "list", "--colour"}, 2, []string{"unknown flag: --colour", "chave tokens list --help"}},
		{"unknown command", op, []string{"tokens", "delete", "x"}, 2, []string{`unknown command "delete"`}},
		{"missing id", op, []string{"tokens", "get"}, 2, []string{"missing ID"}},
		{"bad output", op, []string{"tokens", "list", "-o", "yaml"}, 2, []string{"--output"}},
		{"bad jsonpath", op, []string{"tokens", "list", "-o", "jsonpath={tokens"}, 2, []string{"jsonpath"}},
		{"bad state", op, []string{"tokens", "list", "--state", "gone"}, 2, []string{"--state"}},
		{"revoke without --yes off a terminal", op, []string{"tokens", "revoke", globexToken}, 2, []string{"--yes"}},
		{"nothing to update", op, []string{"tokens", "update", globexToken}, 2, []string{"nothing to change"}},
		{"bad server", op.with("CHAVE_SERVER", "localhost:8080"), []string{"tokens", "list"}, 2, []string{"--server"}},
		{"no such token", op, []string{"tokens", "get", "chave_ci_nope"}, 3, []string{"not found"}},
		{"no such tenant", op, []string{"tenants", "get", "nope"}, 3, []string{"not found"}},
		{"events of no token", op, []string{"tokens", "events", "chave_ci_nope"}, 3, []string{"not found"}},
		{"no credential", op.with("CHAVE_CLIENT_ID", "").with("CHAVE_CLIENT_SECRET", ""), []string{"tokens", "list"}, 4, []string{"CHAVE_CLIENT_ID", "chave login"}},
		{"wrong secret", op.with("CHAVE_CLIENT_SECRET", "chave_sk_wrong"), []string{"tokens", "list"}, 4, []string{"invalid_client"}},
		{"another tenant's token", acmeAdmin, []string{"tokens", "get", globexToken}, 3, []string{"not found"}},
		{"revoking another tenant's token", acmeAdmin, []string{"tokens", "revoke", globexToken, "--yes"}, 3, []string{"not found"}},
		{"another tenant", acmeAdmin, []string{"tenants", "get", "globex"}, 4, nil},
		{"creating a tenant as a tenant admin", acmeAdmin, []string{"tenants", "create", "initech", "--name", "Initech"}, 4, nil},
		{"unreachable server", op.with("CHAVE_SERVER", "http://127.0.0.1:1"), []string{"tokens", "list"}, 1, []string{"127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.inv.run(t, tc.args...)
			if o.code != tc.code {
				t.Errorf("chave %s: exit %d, want %d\nstderr: %s", strings.Join(tc.args, " "), o.code, tc.code, o.stderr)
			}
			if !strings.HasPrefix(o.stderr, "chave: ") {
				t.Errorf("stderr %q does not start with the error", o.stderr)
			}
			wantAll(t, o.stderr, tc.want...)
			if strings.Contains(o.stderr, "goroutine") || strings.Contains(o.stderr, "panic") {
				t.Errorf("a stack trace: %s", o.stderr)
			}
		})
	}
	// The acme admin still manages its own tenant's tokens.
	acmeAdmin.must(t, "tokens", "create", "--name", "own", "--tenant", "acme", "--context", "inventory")
	if o := acmeAdmin.must(t, "tokens", "list", "-o", "name"); strings.Contains(o.stdout, globexToken) {
		t.Error("a tenant admin listed another tenant's token")
	}
}

// TestConfirmOnTerminal: revoke and rotate ask on a terminal.
func TestConfirmOnTerminal(t *testing.T) {
	s := startServer(t)
	op := s.op()
	op.must(t, "tenants", "create", "acme", "--name", "ACME", "--context", "inventory")
	j := op.must(t, "tokens", "create", "--name", "x", "--tenant", "acme", "--context", "inventory", "-o", "json").json(t)
	id, sec := j["clientId"].(string), j["clientSecret"].(string)

	no := &invocation{env: op.env, stdin: "n\n", terminal: true}
	if o := no.run(t, "tokens", "revoke", id); o.code != 1 || !strings.Contains(o.stderr, "Revogar o token "+id) || !strings.Contains(o.stderr, "cancelled") {
		t.Errorf("declined revoke: exit %d, stderr %q", o.code, o.stderr)
	}
	if o := no.run(t, "tokens", "rotate", id); o.code != 1 {
		t.Errorf("declined rotate: exit %d, stderr %q", o.code, o.stderr)
	}
	if got := s.grant(t, id, sec); got != 200 {
		t.Fatalf("after declining, the secret answers %d", got)
	}
	yes := &invocation{env: op.env, stdin: "sim\n", terminal: true}
	if o := yes.must(t, "tokens", "revoke", id); !strings.Contains(o.stdout, "revogado") {
		t.Errorf("confirmed revoke printed %q", o.stdout)
	}
	if got := s.grant(t, id, sec); got != 401 {
		t.Errorf("after revoking, the secret answers %d", got)
	}
}

// TestSecretsNeverShown: the CLI's own secret appears in no help, error or
// log, and has no flag.
func TestSecretsNeverShown(t *testing.T) {
	s := startServer(t)
	op := s.op()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(s.opSec+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := op.with("CHAVE_CLIENT_SECRET", "")
	fromFile.must(t, "tenants", "create", "acme", "--name", "ACME", "--context", "inventory", "--client-secret-file", secretFile)

	check := func(what string, o outcome) {
		t.Helper()
		for _, sec := range []string{s.opSec, s.opSec[len("chave_sk_"):]} {
			if strings.Contains(o.stdout+o.stderr, sec) {
				t.Errorf("%s shows the client secret:\n%s%s", what, o.stdout, o.stderr)
			}
		}
	}
	for _, args := range [][]string{
		{"--help"}, {"tokens", "--help"}, {"tokens", "create", "--help"}, {"tokens", "list", "--help"},
		{"tokens", "get", "--help"}, {"tokens", "update", "--help"}, {"tokens", "revoke", "--help"},
		{"tokens", "rotate", "--help"}, {"tokens", "events", "--help"}, {"tenants", "--help"},
		{"tenants", "create", "--help"}, {"tenants", "list", "--help"}, {"tenants", "get", "--help"},
		{"tenants", "update", "--help"}, {"contexts", "list", "--help"}, {"token", "--help"},
		{"introspect", "--help"}, {"login", "--help"}, {"logout", "--help"}, {"completion", "bash", "--help"},
	} {
		o := op.must(t, args...)
		check("chave "+strings.Join(args, " "), o)
		if len(args) > 1 && args[len(args)-1] == "--help" && args[0] != "completion" && !strings.Contains(o.stdout, "Examples:") {
			t.Errorf("chave %s has no examples", strings.Join(args, " "))
		}
	}
	// No flag takes the secret, and the refusal does not echo it.
	for _, arg := range []string{"--client-secret=" + s.opSec, "--client-secret"} {
		o := op.run(t, "tokens", "list", arg, s.opSec)
		if o.code != 2 {
			t.Errorf("%s: exit %d, want 2", arg, o.code)
		}
		check("a --client-secret flag", o)
	}
	// Errors and the verbose log.
	check("an unreachable server", op.with("CHAVE_SERVER", "http://127.0.0.1:1").run(t, "tokens", "list", "-v"))
	check("a wrong client id", op.with("CHAVE_CLIENT_ID", "chave_ci_nope").run(t, "tokens", "list", "-v"))
	check("an empty secret file", fromFile.run(t, "tokens", "list", "--client-secret-file", os.DevNull))
	o := op.must(t, "tokens", "list", "-v")
	check("the verbose log", o)
	wantAll(t, o.stderr, "GET", "/v1/tokens", "status=200", "/oauth2/token")
	at := strings.TrimSpace(op.must(t, "token").stdout)
	if strings.Contains(o.stderr, at[strings.LastIndexByte(at, '.')+1:]) || strings.Contains(o.stderr, "Bearer") {
		t.Error("the verbose log shows an access token")
	}
	if strings.Contains(s.logs.String(), s.opSec) {
		t.Error("the server logged the secret")
	}
}

// TestLoginLogout stores a credential, uses it, and removes it.
func TestLoginLogout(t *testing.T) {
	s := startServer(t)
	bare := s.op().with("CHAVE_CLIENT_ID", "").with("CHAVE_CLIENT_SECRET", "").with("CHAVE_SERVER", "")

	if o := bare.run(t, "tokens", "list"); o.code != 4 {
		t.Fatalf("before login: exit %d", o.code)
	}
	wrong := &invocation{env: bare.env, stdin: "chave_sk_wrong\n"}
	if o := wrong.run(t, "login", "--server", s.base, "--client-id", s.opID); o.code != 4 {
		t.Errorf("login with a wrong secret: exit %d (%s)", o.code, o.stderr)
	}
	login := &invocation{env: bare.env, stdin: s.opSec + "\n"}
	o := login.must(t, "login", "--server", s.base, "--client-id", s.opID)
	wantAll(t, o.stderr, s.base, s.opID)
	if strings.Contains(o.stdout+o.stderr, s.opSec) {
		t.Error("login printed the secret")
	}
	for _, f := range []string{"login.json", "client-secret"} {
		fi, err := os.Stat(filepath.Join(s.configHome, "chave", f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	data, _ := os.ReadFile(filepath.Join(s.configHome, "chave", "login.json"))
	if strings.Contains(string(data), s.opSec) {
		t.Error("login.json holds the secret")
	}

	// The server is remembered too.
	bare.must(t, "tenants", "create", "acme", "--name", "ACME", "--context", "inventory")
	// The stored credential never goes to another server.
	if o := bare.with("CHAVE_SERVER", "http://127.0.0.1:1").run(t, "tokens", "list"); o.code != 4 {
		t.Errorf("stored credential offered to another server: exit %d (%s)", o.code, o.stderr)
	}

	bare.must(t, "logout")
	if _, err := os.Stat(filepath.Join(s.configHome, "chave", "client-secret")); !os.IsNotExist(err) {
		t.Errorf("logout left the secret: %v", err)
	}
	if o := bare.run(t, "tokens", "list"); o.code != 4 {
		t.Errorf("after logout: exit %d", o.code)
	}
}

// TestColour dims revoked and expired rows on a terminal only, and honours
// NO_COLOR.
func TestColour(t *testing.T) {
	s := startServer(t)
	op := s.op()
	op.must(t, "tenants", "create", "acme", "--name", "ACME", "--context", "inventory")
	id := strings.TrimSpace(op.must(t, "tokens", "create", "--name", "velho", "--tenant", "acme", "--context", "inventory", "-o", "name").stdout)
	op.must(t, "tokens", "create", "--name", "novo", "--tenant", "acme", "--context", "inventory")
	op.must(t, "tokens", "revoke", id, "--yes")

	tty := &invocation{env: op.env, terminal: true}
	out := tty.must(t, "tokens", "list", "--tenant", "acme").stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var dimmed, plain int
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "\x1b[2m") && strings.Contains(l, "velho"):
			dimmed++
		case strings.HasPrefix(l, "\x1b[0m") && !strings.Contains(l, "velho"):
			plain++
		}
	}
	if dimmed != 1 || plain != 2 {
		t.Errorf("on a terminal, want the revoked row dimmed:\n%q", out)
	}
	// Aligned: every row's STATE column starts at the same place.
	col := strings.Index(lines[0], "ESTADO")
	for _, l := range lines[1:] {
		if i := strings.Index(l, "ativo"); i >= 0 && i != col {
			t.Errorf("misaligned row %q (ESTADO at %d)", l, col)
		}
	}
	for name, inv := range map[string]*invocation{
		"NO_COLOR": {env: tty.with("NO_COLOR", "1").env, terminal: true},
		"a pipe":   op,
	} {
		if out := inv.must(t, "tokens", "list").stdout; strings.Contains(out, "\x1b[") {
			t.Errorf("%s: colour in %q", name, out)
		}
	}
}

func wantAll(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("output does not contain %q:\n%s", w, got)
		}
	}
}

var _ = time.Now
