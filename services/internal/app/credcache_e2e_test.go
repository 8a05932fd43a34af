package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/app/apptest"
)

// startReplica starts a second all-in-one server over e's database, Redis
// and key files: another replica of the same deployment, with its own
// registry and so its own credential cache.
func startReplica(t *testing.T, e *e2e) *e2e {
	t.Helper()
	logs := &apptest.Buffer{}
	cfg := Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: e.db,
		SecretsFile: filepath.Join(e.dir, "secrets.json"), SigningKeysFile: filepath.Join(e.dir, "signing-keys.json"),
		Redis: e.redis.URL(), RedisRequireNoEviction: true,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	return &e2e{t: t, srv: srv, base: "http://" + srv.HTTPAddr(), dir: e.dir, db: e.db, logs: logs, redis: e.redis,
		client: e.client, opID: e.opID, opSec: e.opSec}
}

// TestNewCredentialCacheE2E: through REST, every change a grant decides on
// is seen by the next grant, from caches warmed by grants first: on one
// server (SQLite, in process or with Redis) and on two replicas over
// PostgreSQL and Redis, the change made on one and the grant checked on
// both; and a Redis FLUSHALL between a change and the next grant hides
// nothing.
func TestNewCredentialCacheE2E(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			e := startE2E(t, d)
			replicas := []*e2e{e}
			if d.name == "postgres+redis" {
				replicas = append(replicas, startReplica(t, e))
			}
			t.Cleanup(func() {
				if t.Failed() {
					for i, r := range replicas {
						t.Logf("replica %d logs:\n%s", i, tail(r.logs.String(), 40))
					}
				}
			})
			testCredentialCacheE2E(t, replicas)
		})
	}
}

func testCredentialCacheE2E(t *testing.T, replicas []*e2e) {
	e := replicas[0]
	changer := replicas[len(replicas)-1] // the change is made on the last; checked on all
	op := e.accessToken(e.opID, e.opSec)
	opOn := changer.accessToken(e.opID, e.opSec)
	if r := e.do("POST", "/v1/tenants", op, map[string]any{"id": "cachet", "displayName": "Cache",
		"contexts": []string{"inventory", "commercial", "labels"}}); r.status != 200 {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	newCredential := func(t *testing.T, body map[string]any) (string, string) {
		t.Helper()
		body["tenant"], body["displayName"] = "cachet", "cache"
		if body["contexts"] == nil {
			body["contexts"] = []string{"inventory", "commercial"}
		}
		r := e.do("POST", "/v1/tokens", op, body)
		if r.status != 200 {
			t.Fatalf("create credential: %d %s", r.status, r.body)
		}
		m := r.json(t)
		return m["clientId"].(string), m["clientSecret"].(string)
	}
	// warm grants twice on every replica: the second is a cache hit.
	warm := func(t *testing.T, id, secret string) {
		t.Helper()
		for _, r := range replicas {
			for range 2 {
				if g := r.grant(id, secret, ""); g.status != 200 {
					t.Fatalf("warming grant on %s: %d %s", r.base, g.status, g.body)
				}
			}
		}
	}
	grantStatus := func(t *testing.T, what, id, secret string, want int) {
		t.Helper()
		for i, r := range replicas {
			if g := r.grant(id, secret, ""); g.status != want {
				t.Errorf("%s, replica %d: grant %d %s, want %d", what, i, g.status, g.body, want)
			}
		}
	}
	scopeOnAll := func(t *testing.T, what, id, secret, want string) {
		t.Helper()
		for i, r := range replicas {
			g := r.grant(id, secret, "")
			if g.status != 200 || g.json(t)["scope"] != want {
				t.Errorf("%s, replica %d: grant %d %s, want scope %q", what, i, g.status, g.body, want)
			}
		}
	}
	patch := func(t *testing.T, path string, body map[string]any) {
		t.Helper()
		if r := changer.do("PATCH", path, opOn, body); r.status != 200 {
			t.Fatalf("PATCH %s: %d %s", path, r.status, r.body)
		}
	}
	post := func(t *testing.T, path string, body map[string]any) response {
		t.Helper()
		r := changer.do("POST", path, opOn, body)
		if r.status != 200 {
			t.Fatalf("POST %s: %d %s", path, r.status, r.body)
		}
		return r
	}

	t.Run("revoke", func(t *testing.T) {
		id, secret := newCredential(t, map[string]any{})
		warm(t, id, secret)
		post(t, "/v1/tokens/"+id+":revoke", map[string]any{})
		grantStatus(t, "after revoke", id, secret, 401)
	})
	t.Run("rotate", func(t *testing.T) {
		id, secret := newCredential(t, map[string]any{})
		warm(t, id, secret)
		fresh := post(t, "/v1/tokens/"+id+":rotate", map[string]any{}).json(t)["clientSecret"].(string)
		grantStatus(t, "the old secret after rotate", id, secret, 401)
		grantStatus(t, "the new secret after rotate", id, fresh, 200)
	})
	t.Run("rotate with a grace period", func(t *testing.T) {
		id, secret := newCredential(t, map[string]any{})
		warm(t, id, secret)
		end := time.Now().Add(2 * time.Second)
		fresh := post(t, "/v1/tokens/"+id+":rotate", map[string]any{"previousSecretExpireTime": end.UTC().Format(time.RFC3339Nano)}).json(t)["clientSecret"].(string)
		grantStatus(t, "the old secret during the grace period", id, secret, 200)
		grantStatus(t, "the new secret during the grace period", id, fresh, 200)
		time.Sleep(time.Until(end) + 100*time.Millisecond)
		grantStatus(t, "the old secret after the grace period", id, secret, 401)
		grantStatus(t, "the new secret after the grace period", id, fresh, 200)
	})
	t.Run("narrow contexts", func(t *testing.T) {
		id, secret := newCredential(t, map[string]any{})
		warm(t, id, secret)
		patch(t, "/v1/tokens/"+id, map[string]any{"contexts": []string{"inventory"}})
		scopeOnAll(t, "after narrowing", id, secret, "inventory")
	})
	t.Run("expire time", func(t *testing.T) {
		id, secret := newCredential(t, map[string]any{})
		warm(t, id, secret)
		end := time.Now().Add(2 * time.Second)
		patch(t, "/v1/tokens/"+id, map[string]any{"expireTime": end.UTC().Format(time.RFC3339Nano)})
		for i, r := range replicas {
			g := r.grant(id, secret, "")
			if g.status != 200 {
				t.Fatalf("replica %d: grant before the new expiry: %d %s", i, g.status, g.body)
			}
			// The access token lives no longer than the credential.
			if in, _ := g.json(t)["expires_in"].(float64); in > 2 {
				t.Errorf("replica %d: expires_in %v after the expiry moved 2s ahead", i, in)
			}
		}
		time.Sleep(time.Until(end) + 100*time.Millisecond)
		grantStatus(t, "after the new expiry", id, secret, 401)
	})
	t.Run("leak report", func(t *testing.T) {
		id, secret := newCredential(t, map[string]any{})
		warm(t, id, secret)
		if r := changer.doRetrying("POST", "/v1/leaks", "", map[string]any{"secrets": []string{secret}, "source": "github"}); r.status != 200 {
			t.Fatalf("leak report: %d %s", r.status, r.body)
		}
		grantStatus(t, "after a leak report", id, secret, 401)
	})
	t.Run("tenant entitlement removed", func(t *testing.T) {
		id, secret := newCredential(t, map[string]any{})
		warm(t, id, secret)
		patch(t, "/v1/tenants/cachet", map[string]any{"contexts": []string{"inventory", "labels"}})
		scopeOnAll(t, "after the tenant lost commercial", id, secret, "inventory")
		patch(t, "/v1/tenants/cachet", map[string]any{"contexts": []string{"inventory", "commercial", "labels"}})
		scopeOnAll(t, "after the tenant got commercial back", id, secret, "commercial inventory")
	})
	t.Run("tenant address policy", func(t *testing.T) {
		id, secret := newCredential(t, map[string]any{})
		warm(t, id, secret)
		patch(t, "/v1/tenants/cachet", map[string]any{"policy": map[string]any{"allowedClientCidrs": []string{"203.0.113.0/24"}}})
		grantStatus(t, "from outside the new ranges", id, secret, 401)
		patch(t, "/v1/tenants/cachet", map[string]any{"policy": map[string]any{}})
		grantStatus(t, "once the ranges are gone", id, secret, 200)
	})
	if e.redis == nil {
		return
	}
	t.Run("FLUSHALL between a change and the next grant", func(t *testing.T) {
		id, secret := newCredential(t, map[string]any{})
		warm(t, id, secret)
		patch(t, "/v1/tokens/"+id, map[string]any{"contexts": []string{"inventory"}})
		if err := flushAll(e); err != nil {
			t.Fatal(err)
		}
		// Lost, then rebuilt by the keeper: the change shows all along.
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			scopeOnAll(t, "after the flush", id, secret, "inventory")
			if t.Failed() {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		id2, secret2 := newCredential(t, map[string]any{})
		warm(t, id2, secret2)
		post(t, "/v1/tokens/"+id2+":revoke", map[string]any{})
		if err := flushAll(e); err != nil {
			t.Fatal(err)
		}
		grantStatus(t, "revoked, right after the flush", id2, secret2, 401)
	})
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
