package main

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
	"github.com/chave/chave/services/internal/secrets"
)

// TestNewSeededCredentialsAreReal seeds credentials into the database of a
// running chave serve and checks that the registry treats them as its
// own: they are granted (and a wrong secret is not), listed in the
// tenant's first page, newest first after the one made through the API,
// and a revocation through the API ends their grants.
func TestNewSeededCredentialsAreReal(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "chave.db")
	var stdout bytes.Buffer
	srv, err := app.Start(context.Background(), app.Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: db,
		PrintBootstrapCredential: true, Stdout: &stdout,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	base := "http://" + srv.HTTPAddr()
	var op credential
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &op); err != nil || op.ID == "" {
		t.Fatalf("no operator credential printed: %q", stdout.String())
	}
	b := &bench{http: &http.Client{Timeout: 10 * time.Second}}
	ctx := t.Context()
	opToken, err := b.grant(ctx, base, op)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			rd = bytes.NewReader(j)
		}
		r, _ := http.NewRequestWithContext(ctx, method, base+path, rd)
		r.Header.Set("Authorization", "Bearer "+opToken)
		r.Header.Set("Content-Type", "application/json")
		resp, err := b.http.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	if code, body := call("POST", "/v1/tenants", map[string]any{"id": "bench", "displayName": "Bench", "contexts": []string{"inventory"}}); code != 200 {
		t.Fatalf("create tenant: %d %s", code, body)
	}
	if _, err := seedRegistry(ctx, seedConfig{db: db, tenant: "nope", tokens: 1, batch: 1, seed: "s"}); err == nil || !strings.Contains(err.Error(), "no such tenant") {
		t.Errorf("seeding an unknown tenant: %v, want no such tenant", err)
	}

	// Seeded while serve runs (SQLite: the write lock is waited for).
	const n = 130
	res, err := seedRegistry(ctx, seedConfig{db: db, tenant: "bench", tokens: n, batch: 50, seed: "test"})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if res.Tokens != n || res.TokensPerSecond <= 0 {
		t.Errorf("seed result %+v", res)
	}
	if id, secret := seededCredential("test", 0); res.Credential.ID != id || res.Credential.Secret != secret.Reveal() {
		t.Errorf("seed printed credential %s, want credential 0 of the seed, %s", res.Credential.ID, id)
	}
	var fresh credential
	code, body := call("POST", "/v1/tokens", map[string]any{"displayName": "fresh", "tenant": "bench", "contexts": []string{"inventory"}})
	if code != 200 || json.Unmarshal(body, &fresh) != nil {
		t.Fatalf("create token: %d %s", code, body)
	}

	grant := func(c credential) int {
		t.Helper()
		resp, err := b.http.Do(grantRequest(ctx, base, c, url.Values{"grant_type": {"client_credentials"}}))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, i := range []int{0, 1, 64, n - 1} {
		id, secret := seededCredential("test", i)
		if !secrets.IsClientID(id) {
			t.Errorf("seeded id %q is not a client id", id)
		}
		if code := grant(credential{ID: id, Secret: secret.Reveal()}); code != 200 {
			t.Errorf("grant of seeded credential %d: %d, want 200", i, code)
		}
	}
	id0, _ := seededCredential("test", 0)
	_, other := seededCredential("test", 1)
	if code := grant(credential{ID: id0, Secret: other.Reveal()}); code != 401 {
		t.Errorf("grant of seeded credential 0 with credential 1's secret: %d, want 401", code)
	}

	code, body = call("GET", "/v1/tokens?tenant=bench&pageSize=1000", nil)
	var page struct {
		Tokens []struct {
			ID, DisplayName, State string
		} `json:"tokens"`
	}
	if code != 200 || json.Unmarshal(body, &page) != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	if len(page.Tokens) != n+1 {
		t.Fatalf("listed %d tokens, want %d", len(page.Tokens), n+1)
	}
	idLast, _ := seededCredential("test", n-1)
	if page.Tokens[0].ID != fresh.ID || page.Tokens[1].ID != idLast || page.Tokens[n].ID != id0 {
		t.Errorf("list order: %s, %s … %s; want the fresh one, seeded %d … seeded 0", page.Tokens[0].ID, page.Tokens[1].ID, page.Tokens[n].ID, n-1)
	}
	if page.Tokens[1].State != "TOKEN_STATE_ACTIVE" {
		t.Errorf("seeded credential listed as %q", page.Tokens[1].State)
	}

	id5, secret5 := seededCredential("test", 5)
	if code, body := call("POST", "/v1/tokens/"+id5+":revoke", map[string]any{}); code != 200 {
		t.Fatalf("revoke seeded credential: %d %s", code, body)
	}
	if code := grant(credential{ID: id5, Secret: secret5.Reveal()}); code != 401 && code != 400 {
		t.Errorf("grant of a revoked seeded credential: %d, want a refusal", code)
	}
	// Seeding the same seed again collides and writes nothing.
	if _, err := seedRegistry(ctx, seedConfig{db: db, tenant: "bench", tokens: 3, batch: 3, seed: "test"}); err == nil {
		t.Error("seeding the same seed twice succeeded")
	}
}

// The derived ids ascend with i, and ids and secrets are well-formed and
// distinct.
func TestNewSeededCredentialShape(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := range 2000 {
		id, secret := seededCredential("shape", i)
		if !secrets.IsClientID(id) || id <= prev {
			t.Fatalf("id %d = %q after %q: want a client id, ascending", i, id, prev)
		}
		if _, err := secrets.ParseClientSecret(secret.Reveal()); err != nil || seen[secret.Reveal()] {
			t.Fatalf("secret %d: %v (seen before: %v)", i, err, seen[secret.Reveal()])
		}
		seen[secret.Reveal()] = true
		prev = id
	}
	if a, _ := seededCredential("one", 0); a == func() string { b, _ := seededCredential("two", 0); return b }() {
		t.Error("two seeds derive the same id")
	}
	if d := seedSpacing(1_000_000); time.Duration(1_000_000)*d > 340*24*time.Hour {
		t.Errorf("a million seeded %v apart span more than 340 days", d)
	}
}
