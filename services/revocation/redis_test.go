package revocation_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/revocation/revocationtest"
)

// newRedisSet returns a set on srv, not yet rebuilt, closed with the test.
func newRedisSet(t testing.TB, url string, opts revocation.Options) *revocation.Redis {
	t.Helper()
	client, err := revocation.ParseURL(url)
	if err != nil {
		t.Fatalf("ParseURL(%s): %v", url, err)
	}
	s, err := revocation.NewRedis(client, opts)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() }) // a second Close after the suite's reports an error
	return s
}

// rebuilt returns a healthy set on srv.
func rebuilt(t testing.TB, url string, opts revocation.Options) *revocation.Redis {
	t.Helper()
	s := newRedisSet(t, url, opts)
	if err := s.Rebuild(context.Background(), nil); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	return s
}

// admin returns a plain client to srv, for flushing it behind the set's back.
func admin(t testing.TB, srv *testserver.Redis) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisConformance(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	var n atomic.Int64
	revocationtest.Run(t, func(t *testing.T) revocation.Set {
		// One server; each set its own prefix, and so its own keys.
		prefix := fmt.Sprintf("conformance%d", n.Add(1))
		return rebuilt(t, srv.URL(), revocation.Options{Prefix: prefix})
	})
}

// TestRedisClusterConformance runs the suite on a one-node Redis Cluster
// through a cluster client. The server refuses commands whose keys span
// slots (CROSSSLOT) even with one node, so this checks that every key of a
// set shares its hash tag.
func TestRedisClusterConformance(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t, "--cluster-enabled", "yes")
	a := admin(t, srv)
	if err := a.Do(t.Context(), "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
	}
	// A node that just got its slots waits about 2s before it serves.
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := a.ClusterInfo(t.Context()).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ready after 10s: %q, %v", info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The server does refuse keys that span slots.
	if err := a.MGet(t.Context(), "a", "b").Err(); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("MGET across slots: %v, want CROSSSLOT", err)
	}

	url := "redis-cluster://" + srv.Addr()
	t.Run("Conformance", func(t *testing.T) {
		// Returns when every parallel subtest has, before Lost flushes.
		var n atomic.Int64
		revocationtest.Run(t, func(t *testing.T) revocation.Set {
			return rebuilt(t, url, revocation.Options{Prefix: fmt.Sprintf("cluster%d", n.Add(1))})
		})
	})
	t.Run("Lost", func(t *testing.T) {
		s := rebuilt(t, url, revocation.Options{})
		if err := s.Revoke(t.Context(), database()...); err != nil {
			t.Fatal(err)
		}
		wantAnswers(t, s)
		if err := a.FlushAll(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		wantLost(t, s)
		if err := s.Rebuild(t.Context(), database()); err != nil {
			t.Fatal(err)
		}
		wantAnswers(t, s)
	})
	t.Run("CheckEvictionPolicy", func(t *testing.T) {
		client, err := revocation.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if got, err := revocation.CheckEvictionPolicy(t.Context(), client); err != nil || got != revocation.PolicyNoEviction {
			t.Errorf("CheckEvictionPolicy = %q, %v; want noeviction", got, err)
		}
	})
}

var (
	at      = time.Date(2025, time.March, 14, 15, 9, 26, 535897000, time.UTC)
	revoked = revocation.Query{ClientID: "c1", IssuedAt: at.Truncate(time.Second), TokenID: "j1", FamilyID: "f1"}
	other   = revocation.Query{ClientID: "c2", IssuedAt: at, TokenID: "j2", FamilyID: "f2"}
)

// database is what the database says is revoked: j1 and c1.
func database() []revocation.Entry {
	until := time.Now().Add(time.Hour)
	return []revocation.Entry{
		{Kind: revocation.AccessToken, ID: "j1", At: at, Until: until},
		{Kind: revocation.Credential, ID: "c1", At: at, Until: until},
	}
}

// wantLost checks that every call that answers for the set fails with ErrLost.
func wantLost(t *testing.T, s *revocation.Redis) {
	t.Helper()
	ctx := t.Context()
	for _, q := range []revocation.Query{revoked, other, {TokenID: "j1"}, {}} {
		got, err := s.IsRevoked(ctx, q)
		if !errors.Is(err, revocation.ErrLost) {
			t.Errorf("IsRevoked(%+v) on a lost set = %v, %v; want ErrLost", q, got, err)
		}
	}
	if err := s.Healthy(ctx); !errors.Is(err, revocation.ErrLost) {
		t.Errorf("Healthy on a lost set: %v, want ErrLost", err)
	}
	if gen, err := s.Versions(ctx, []string{"t:c1"}, make([]int64, 1)); !errors.Is(err, revocation.ErrLost) {
		t.Errorf("Versions on a lost set = %q, %v; want ErrLost", gen, err)
	}
}

func wantAnswers(t *testing.T, s *revocation.Redis) {
	t.Helper()
	ctx := t.Context()
	for q, want := range map[revocation.Query]bool{revoked: true, other: false, {TokenID: "j1"}: true, {ClientID: "c1", IssuedAt: at}: true} {
		got, err := s.IsRevoked(ctx, q)
		if err != nil || got != want {
			t.Errorf("IsRevoked(%+v) = %v, %v; want %v, nil", q, got, err, want)
		}
	}
	if err := s.Healthy(ctx); err != nil {
		t.Errorf("Healthy: %v", err)
	}
}

func TestRedisNewSetIsLost(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	s := newRedisSet(t, srv.URL(), revocation.Options{})
	// Nothing has ever vouched for this store: a verifier must not trust it.
	wantLost(t, s)
	if err := s.Rebuild(t.Context(), database()); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	wantAnswers(t, s)
}

func TestRedisFlushAll(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	s := rebuilt(t, srv.URL(), revocation.Options{})
	ctx := t.Context()
	if err := s.Revoke(ctx, database()...); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	wantAnswers(t, s)

	if err := admin(t, srv).FlushAll(ctx).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	wantLost(t, s)

	// A revocation written into the lost set is reported, and does not make
	// the set look whole.
	late := revocation.Entry{Kind: revocation.Family, ID: "late", At: at, Until: time.Now().Add(time.Hour)}
	if err := s.Revoke(ctx, late); !errors.Is(err, revocation.ErrLost) {
		t.Fatalf("Revoke into a lost set: %v, want ErrLost", err)
	}
	if err := s.Revoke(ctx); !errors.Is(err, revocation.ErrLost) {
		t.Fatalf("Revoke of nothing into a lost set: %v, want ErrLost", err)
	}
	wantLost(t, s)

	// The database's view does not hold the late revocation (it was read
	// before); the rebuild keeps it anyway.
	if err := s.Rebuild(ctx, database()); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	wantAnswers(t, s)
	if got, err := s.IsRevoked(ctx, revocation.Query{FamilyID: "late"}); err != nil || !got {
		t.Errorf("IsRevoked(late family) after Rebuild = %v, %v; want true, nil", got, err)
	}
}

func TestRedisKillAndRestart(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	s := rebuilt(t, srv.URL(), revocation.Options{Timeout: 200 * time.Millisecond})
	ctx := t.Context()
	if err := s.Revoke(ctx, database()...); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	wantAnswers(t, s)

	srv.Kill()
	for _, q := range []revocation.Query{revoked, other} {
		start := time.Now()
		got, err := s.IsRevoked(ctx, q)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("IsRevoked with Redis down took %s", took)
		}
		if !errors.Is(err, revocation.ErrUnavailable) {
			t.Errorf("IsRevoked(%+v) with Redis down = %v, %v; want ErrUnavailable", q, got, err)
		}
	}
	if err := s.Healthy(ctx); !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("Healthy with Redis down: %v, want ErrUnavailable", err)
	}
	if err := s.Revoke(ctx, database()...); !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("Revoke with Redis down: %v, want ErrUnavailable", err)
	}
	if _, err := s.Size(ctx); !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("Size with Redis down: %v, want ErrUnavailable", err)
	}
	if err := s.Rebuild(ctx, database()); !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("Rebuild with Redis down: %v, want ErrUnavailable", err)
	}

	// Back, but empty: lost until rebuilt.
	srv.Restart()
	wantLost(t, s)
	if err := s.Rebuild(ctx, database()); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	wantAnswers(t, s)
}

// TestRedisUnresponsive points a set at a server that accepts connections
// and never answers: the timeout, not the server, ends every call.
func TestRedisUnresponsive(t *testing.T) {
	t.Parallel()
	s := newRedisSet(t, silentServer(t), revocation.Options{Timeout: 100 * time.Millisecond})
	for range 3 {
		start := time.Now()
		got, err := s.IsRevoked(t.Context(), revoked)
		took := time.Since(start)
		if !errors.Is(err, revocation.ErrUnavailable) {
			t.Errorf("IsRevoked against a silent server = %v, %v; want ErrUnavailable", got, err)
		}
		if took > 2*time.Second {
			t.Errorf("IsRevoked against a silent server took %s", took)
		}
	}
	start := time.Now()
	if err := s.Healthy(t.Context()); !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("Healthy against a silent server: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Healthy against a silent server took %s", took)
	}
}

// silentServer returns the redis:// URL of a server that accepts
// connections and never answers, closed with the test.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed by the cleanup below
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "redis://" + l.Addr().String()
}

// hook runs after every command the set's client sends.
type hook struct {
	commands atomic.Int64 // round trips: single commands and pipelines
	after    func(cmd redis.Cmder)
}

func (h *hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.commands.Add(1)
		err := next(ctx, cmd)
		if h.after != nil {
			h.after(cmd)
		}
		return err
	}
}

func (h *hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.commands.Add(1)
		return next(ctx, cmds)
	}
}

func TestRedisOneRoundTrip(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	h := &hook{}
	client.AddHook(h)
	s, err := revocation.NewRedis(client, revocation.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	if err := s.Rebuild(ctx, database()); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, database()...); err != nil { // loads the script
		t.Fatal(err)
	}
	for _, q := range []revocation.Query{revoked, other, {TokenID: "j1"}, {}} {
		before := h.commands.Load()
		if _, err := s.IsRevoked(ctx, q); err != nil {
			t.Fatal(err)
		}
		if n := h.commands.Load() - before; n != 1 {
			t.Errorf("IsRevoked(%+v) took %d round trips, want 1", q, n)
		}
	}
	before := h.commands.Load()
	if err := s.Revoke(ctx, database()...); err != nil {
		t.Fatal(err)
	}
	if n := h.commands.Load() - before; n != 1 {
		t.Errorf("Revoke of two entries took %d round trips, want 1", n)
	}
}

// TestRedisRebuildOvertaken loses the data while a Rebuild runs: the
// Rebuild must not mark the half-written set whole.
func TestRedisRebuildOvertaken(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	flusher := admin(t, srv)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	var flushed atomic.Bool
	h := &hook{after: func(cmd redis.Cmder) {
		// After the first batch of entries, flush behind the set's back.
		name := strings.ToLower(cmd.Name())
		if (name == "evalsha" || name == "eval") && flushed.CompareAndSwap(false, true) {
			if err := flusher.FlushAll(context.Background()).Err(); err != nil {
				t.Errorf("FLUSHALL: %v", err)
			}
		}
	}}
	client.AddHook(h)
	s, err := revocation.NewRedis(client, revocation.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	var all []revocation.Entry
	for i := range 2500 { // three batches
		all = append(all, revocation.Entry{Kind: revocation.AccessToken, ID: fmt.Sprint(i), At: at, Until: time.Now().Add(time.Hour)})
	}
	err = s.Rebuild(t.Context(), all)
	if !flushed.Load() {
		t.Fatal("the hook never flushed")
	}
	if !errors.Is(err, revocation.ErrLost) {
		t.Fatalf("Rebuild overtaken by a flush: %v, want ErrLost", err)
	}
	if err := s.Healthy(t.Context()); !errors.Is(err, revocation.ErrLost) {
		t.Fatalf("Healthy after an overtaken Rebuild: %v, want ErrLost", err)
	}
	// The next rebuild completes.
	if err := s.Rebuild(t.Context(), all); err != nil {
		t.Fatalf("second Rebuild: %v", err)
	}
	if got, err := s.IsRevoked(t.Context(), revocation.Query{TokenID: "0"}); err != nil || !got {
		t.Errorf("IsRevoked(first entry) = %v, %v; want true, nil", got, err)
	}
}

func TestCheckEvictionPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"default", nil, revocation.PolicyNoEviction},
		{"lru", []string{"--maxmemory-policy", "allkeys-lru"}, "allkeys-lru"},
		{"config disabled", []string{"--rename-command", "CONFIG", ""}, revocation.PolicyUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := testserver.StartRedis(t, tt.args...)
			client, err := revocation.ParseURL(srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			got, err := revocation.CheckEvictionPolicy(t.Context(), client)
			if err != nil || got != tt.want {
				t.Errorf("CheckEvictionPolicy = %q, %v; want %q, nil", got, err, tt.want)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		srv := testserver.StartRedis(t)
		srv.Stop()
		client, err := revocation.ParseURL(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		if got, err := revocation.CheckEvictionPolicy(ctx, client); !errors.Is(err, revocation.ErrUnavailable) {
			t.Errorf("CheckEvictionPolicy with Redis down = %q, %v; want ErrUnavailable", got, err)
		}
	})
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		want    string // the client's type
		tls     bool
		wantErr bool
	}{
		{url: "redis://localhost:6379", want: "*redis.Client"},
		{url: "redis://user:pw@localhost:6379/2?dial_timeout=1s", want: "*redis.Client"},
		{url: "rediss://redis.example:6380", want: "*redis.Client", tls: true},
		{url: "redis-sentinel://s1:26379?master_name=mymaster&addr=s2:26379", want: "*redis.Client"},
		{url: "rediss-sentinel://s1:26379?master_name=mymaster", want: "*redis.Client", tls: true},
		{url: "redis-cluster://n1:7000?addr=n2:7000", want: "*redis.ClusterClient"},
		{url: "rediss-cluster://n1:7000", want: "*redis.ClusterClient", tls: true},
		{url: "redis-sentinel://s1:26379", wantErr: true}, // no master name
		{url: "redis-ring://n1:7000", wantErr: true},
		{url: "http://localhost:6379", wantErr: true},
		{url: "unix:///tmp/redis.sock", wantErr: true},
		{url: "redis://localhost:6379?no_such_option=1", wantErr: true},
		{url: "redis://localhost:6379/x", wantErr: true},
		{url: "", wantErr: true},
	}
	for _, tt := range tests {
		c, err := revocation.ParseURL(tt.url)
		if tt.wantErr {
			if err == nil {
				_ = c.Close()
				t.Errorf("ParseURL(%q) succeeded, want an error", tt.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.url, err)
			continue
		}
		if got := fmt.Sprintf("%T", c); got != tt.want {
			t.Errorf("ParseURL(%q) is a %s, want %s", tt.url, got, tt.want)
		}
		var ctxTimeout, tls bool
		switch c := c.(type) {
		case *redis.Client:
			ctxTimeout, tls = c.Options().ContextTimeoutEnabled, c.Options().TLSConfig != nil
		case *redis.ClusterClient:
			ctxTimeout, tls = c.Options().ContextTimeoutEnabled, c.Options().TLSConfig != nil
		}
		if !ctxTimeout {
			t.Errorf("ParseURL(%q): client ignores context deadlines", tt.url)
		}
		if tls != tt.tls {
			t.Errorf("ParseURL(%q): TLS = %v, want %v", tt.url, tls, tt.tls)
		}
		_ = c.Close()
	}
	// A malformed URL's error does not repeat its password.
	if _, err := revocation.ParseURL("redis://user:s3cret@host:6379/%zz"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("ParseURL of a malformed URL: %v; want an error without the password", err)
	}
}

func TestNewRedisOptions(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, opts := range []revocation.Options{{Prefix: "a{b}"}, {Prefix: "{x"}, {Timeout: -time.Second}} {
		if _, err := revocation.NewRedis(c, opts); err == nil {
			t.Errorf("NewRedis(%+v) succeeded, want an error", opts)
		}
	}
	if _, err := revocation.NewRedis(nil, revocation.Options{}); err == nil {
		t.Error("NewRedis(nil client) succeeded, want an error")
	}
}

func BenchmarkRedisIsRevoked(b *testing.B) {
	srv := testserver.StartRedis(b)
	s := rebuilt(b, srv.URL(), revocation.Options{})
	now := time.Now()
	if err := s.Revoke(b.Context(),
		revocation.Entry{Kind: revocation.Credential, ID: "c1", At: now, Until: now.Add(time.Hour)},
		revocation.Entry{Kind: revocation.Family, ID: "f1", At: now, Until: now.Add(time.Hour)},
	); err != nil {
		b.Fatal(err)
	}
	q := revocation.Query{ClientID: "c2", IssuedAt: now, TokenID: "j1", FamilyID: "f2"} // the common case: not revoked
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.IsRevoked(b.Context(), q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.IsRevoked(b.Context(), q); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// 16 checkers on 2 cores, as a registry under chave-load's c=16 grant
	// load: the CPU time of this process and of redis-server per check
	// (getrusage and INFO cpu), steadier than ns/op on a shared machine.
	b.Run("c16", func(b *testing.B) {
		info := admin(b, srv)
		cpu0, redis0 := processCPU(b), redisCPU(b, info)
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.IsRevoked(b.Context(), q); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(redisCPU(b, info)-redis0)/float64(b.N), "redis-cpu-ns/op")
	})
}

// processCPU is this process's user and system CPU time so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is redis-server's user and system CPU time so far, from INFO
// cpu (to the microsecond).
func redisCPU(tb testing.TB, c *redis.Client) time.Duration {
	info, err := c.Info(tb.Context(), "cpu").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var total time.Duration
	for line := range strings.Lines(info) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "used_cpu_sys" && name != "used_cpu_user") {
			continue
		}
		sec, err := strconv.ParseFloat(value, 64)
		if err != nil {
			tb.Fatalf("INFO cpu %s: %v", line, err)
		}
		total += time.Duration(sec * float64(time.Second))
	}
	return total
}

// BenchmarkRedisBytesPerEntry measures what an entry costs Redis: its
// used_memory before and after adding entriesPerRun entries of every kind
// (ids as chave makes them), and MEMORY USAGE of one key of each kind.
func BenchmarkRedisBytesPerEntry(b *testing.B) {
	const entriesPerRun = 100_000
	srv := testserver.StartRedis(b)
	a := admin(b, srv)
	ctx := b.Context()
	usedMemory := func() int64 {
		b.Helper()
		info, err := a.InfoMap(ctx, "memory").Result()
		if err != nil {
			b.Fatal(err)
		}
		n, err := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	now := time.Now()
	entries := make([]revocation.Entry, entriesPerRun)
	for i := range entries {
		e := revocation.Entry{At: now, Until: now.Add(time.Hour)}
		switch i % 3 {
		case 0:
			e.Kind, e.ID = revocation.AccessToken, rand.Text()
		case 1:
			e.Kind, e.ID = revocation.Family, base64.RawURLEncoding.EncodeToString([]byte(rand.Text())[:16])
		default:
			e.Kind, e.ID = revocation.Credential, "chv_"+rand.Text()
		}
		entries[i] = e
	}
	var perEntry float64
	for b.Loop() {
		if err := a.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		s := rebuilt(b, srv.URL(), revocation.Options{})
		before := usedMemory()
		if err := s.Rebuild(ctx, entries); err != nil {
			b.Fatal(err)
		}
		perEntry = float64(usedMemory()-before) / entriesPerRun
	}
	b.ReportMetric(perEntry, "bytes/entry")
	for i, kind := range []string{"credential", "access-token", "family"} {
		e := entries[(i+2)%3]
		key := "{" + revocation.DefaultPrefix + "}:" + map[revocation.Kind]string{
			revocation.Credential: "c:", revocation.AccessToken: "t:", revocation.Family: "f:"}[e.Kind] + e.ID
		n, err := a.MemoryUsage(ctx, key).Result()
		if err != nil {
			b.Fatalf("MEMORY USAGE %s: %v", key, err)
		}
		b.ReportMetric(float64(n), "usage-bytes/"+kind+"-key")
	}
}

// TestNewRedisVersionsAcrossAFlush: a flush loses the Changed entries with
// everything else; until the rebuild Versions answers ErrLost, and after
// it another generation, which is how a copy stamped before the flush
// learns that the absence of its entry proves nothing.
func TestNewRedisVersionsAcrossAFlush(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	s := rebuilt(t, srv.URL(), revocation.Options{})
	ctx := t.Context()
	ids := []string{revocation.ChangedToken("c1"), revocation.ChangedTenant("acme")}
	got := make([]int64, 2)
	if err := s.Revoke(ctx, revocation.Entry{Kind: revocation.Changed, ID: ids[0], At: at, Version: 3, Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	before, err := s.Versions(ctx, ids, got)
	if err != nil || got[0] != 3 || got[1] != 0 {
		t.Fatalf("Versions = %q, %v, %v; want [3 0]", before, got, err)
	}
	if err := admin(t, srv).FlushAll(ctx).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	wantLost(t, s)
	if err := s.Rebuild(ctx, database()); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	after, err := s.Versions(ctx, ids, got)
	if err != nil {
		t.Fatalf("Versions after Rebuild: %v", err)
	}
	if after == before {
		t.Errorf("generation %q unchanged across a flush and a rebuild", after)
	}
	if got[0] != 0 {
		t.Errorf("version after the flush = %d, want 0 (lost with the rest)", got[0])
	}
	srv.Kill()
	if _, err := s.Versions(ctx, ids, got); !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("Versions with Redis down: %v, want ErrUnavailable", err)
	}
}

// TestNewRedisCoalescedChecksSeeEveryWrite runs checks from many
// goroutines while entries are written one after another: the checks
// share MGETs (fewer round trips than checks), and each still sees every
// entry whose write returned before the check began, its credential
// revoked and its version at least the one written, never an older one.
func TestNewRedisCoalescedChecksSeeEveryWrite(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, PoolSize: 64})
	var mgets atomic.Int64
	client.AddHook(&hook{after: func(cmd redis.Cmder) {
		if cmd.Name() == "mget" {
			mgets.Add(1)
		}
	}})
	s, err := revocation.NewRedis(client, revocation.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	if err := s.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour)
	const writes = 200
	var written atomic.Int64 // entries 0 … written-1 were written
	var checks atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			got := make([]int64, 2)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				w := written.Load()
				if w == 0 {
					continue
				}
				last := strconv.FormatInt(w-1, 10)
				checks.Add(1)
				if (g+n)%2 == 0 {
					revoked, err := s.IsRevoked(ctx, revocation.Query{ClientID: "c" + last, IssuedAt: at.Add(-time.Second), TokenID: "j" + last})
					if err != nil || !revoked {
						t.Errorf("IsRevoked(c%s) after its write = %v, %v; want true", last, revoked, err)
						return
					}
					continue
				}
				// The version entry is written as the count: at least w.
				if _, err := s.Versions(ctx, []string{"count", "v" + last}, got); err != nil || got[0] < w || got[1] != w {
					t.Errorf("Versions(count, v%s) after write %d = %v, %v; want [≥%d %d]", last, w, got, err, w, w)
					return
				}
			}
		})
	}
	for i := range int64(writes) {
		id := strconv.FormatInt(i, 10)
		if err := s.Revoke(ctx,
			revocation.Entry{Kind: revocation.Credential, ID: "c" + id, At: at, Until: until},
			revocation.Entry{Kind: revocation.Changed, ID: "count", At: at, Version: i + 1, Until: until},
			revocation.Entry{Kind: revocation.Changed, ID: "v" + id, At: at, Version: i + 1, Until: until},
		); err != nil {
			t.Fatalf("Revoke %d: %v", i, err)
		}
		written.Store(i + 1)
		time.Sleep(200 * time.Microsecond)
	}
	close(stop)
	wg.Wait()
	if c, m := checks.Load(), mgets.Load(); c < 1000 || m >= c {
		t.Errorf("%d checks took %d MGETs: want at least 1,000 checks sharing them", c, m)
	}
	t.Logf("%d checks, %d MGETs", checks.Load(), mgets.Load())
}

// TestNewRedisCoalescedChecksTimeOut points checks from many goroutines at
// a server that never answers: each, whether it sent its MGET or waited to
// share the next, answers ErrUnavailable within the set's timeout.
func TestNewRedisCoalescedChecksTimeOut(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	s := newRedisSet(t, silentServer(t), revocation.Options{Timeout: timeout})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			start := time.Now()
			var err error
			if i%2 == 0 {
				_, err = s.IsRevoked(t.Context(), revoked)
			} else {
				_, err = s.Versions(t.Context(), []string{"x"}, make([]int64, 1))
			}
			took := time.Since(start)
			if !errors.Is(err, revocation.ErrUnavailable) {
				t.Errorf("check %d against a silent server: %v, want ErrUnavailable", i, err)
			}
			if took > timeout+time.Second {
				t.Errorf("check %d against a silent server took %s, its timeout %s", i, took, timeout)
			}
		})
	}
	wg.Wait()
}
