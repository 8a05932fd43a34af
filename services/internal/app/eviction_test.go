package app

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chave/chave/services/internal/testserver"
)

// A Redis that may evict keys could silently drop a revocation: chave
// refuses it when told to, and otherwise starts with a loud warning.
func TestRedisEvictionPolicyCheck(t *testing.T) {
	redis := testserver.StartRedis(t, "--maxmemory-policy", "allkeys-lru")
	cfg := func(require bool, logs *bytes.Buffer) Config {
		dir := t.TempDir()
		return Config{
			HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(dir, "chave.db"),
			Redis: redis.URL(), RedisRequireNoEviction: require,
			Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		}
	}
	var logs bytes.Buffer
	if srv, err := Start(context.Background(), cfg(true, &logs)); err == nil {
		srv.Stop(context.Background())
		t.Fatal("started on an evicting Redis with --redis-require-noeviction")
	} else if !strings.Contains(err.Error(), "maxmemory-policy") || !strings.Contains(err.Error(), "allkeys-lru") {
		t.Fatalf("error does not name the setting: %v", err)
	}
	logs.Reset()
	srv, err := Start(context.Background(), cfg(false, &logs))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop(context.Background())
	if !strings.Contains(logs.String(), "allkeys-lru") || !strings.Contains(logs.String(), `"level":"WARN"`) {
		t.Fatalf("no warning about the eviction policy in the logs: %s", logs.String())
	}
}
