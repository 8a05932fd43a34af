package throttle_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/internal/throttle"
	"github.com/chave/chave/services/revocation"
)

// t0 is a whole millisecond, as every store keeps windows' ends.
var t0 = time.Date(2026, time.December, 1, 12, 0, 0, 0, time.UTC)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	testStore(t, func(t *testing.T) throttle.Store { return throttle.NewMemory(0) })
}

func TestRedisConformance(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	testStore(t, func(t *testing.T) throttle.Store { return newRedisStore(t, srv, "") })
}

func TestFallbackConformance(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	testStore(t, func(t *testing.T) throttle.Store {
		return throttle.NewFallback(newRedisStore(t, srv, ""), throttle.NewMemory(0), throttle.FallbackOptions{})
	})
}

// revocationURL opens a client of srv, closed when the test ends.
func revocationURL(tb testing.TB, srv *testserver.Redis) (redis.UniversalClient, error) {
	client, err := revocation.ParseURL(srv.URL())
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { client.Close() })
	return client, nil
}

// newRedisStore returns a store on srv under a prefix of its own (the
// test's name unless given), so that tests sharing a server do not meet.
func newRedisStore(t *testing.T, srv *testserver.Redis, prefix string) *throttle.Redis {
	t.Helper()
	client, err := revocationURL(t, srv)
	if err != nil {
		t.Fatal(err)
	}
	if prefix == "" {
		prefix = "test:" + t.Name()
	}
	s, err := throttle.NewRedis(client, throttle.RedisOptions{Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testStore is the Store contract; every implementation runs it.
func testStore(t *testing.T, open func(t *testing.T) throttle.Store) {
	ctx := context.Background()
	get := func(t *testing.T, s throttle.Store, now time.Time, keys ...string) []throttle.Window {
		t.Helper()
		ws, err := s.Get(ctx, now, keys...)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if len(ws) != len(keys) {
			t.Fatalf("Get(%d keys) answered %d windows", len(keys), len(ws))
		}
		return ws
	}
	want := func(t *testing.T, got throttle.Window, count int64, end time.Time) {
		t.Helper()
		if got.Count != count || (count > 0 && !got.End.Equal(end)) {
			t.Fatalf("window = %d until %v, want %d until %v", got.Count, got.End, count, end)
		}
	}

	t.Run("unknown keys have no count", func(t *testing.T) {
		s := open(t)
		for _, w := range get(t, s, t0, "a", "b") {
			want(t, w, 0, time.Time{})
		}
	})
	t.Run("counts within a window", func(t *testing.T) {
		s := open(t)
		for i := range 3 {
			if err := s.Incr(ctx, t0.Add(time.Duration(i)*time.Second), time.Minute, "k"); err != nil {
				t.Fatal(err)
			}
		}
		// The window began with the first count and keeps its end.
		want(t, get(t, s, t0.Add(59*time.Second), "k")[0], 3, t0.Add(time.Minute))
	})
	t.Run("a window ends", func(t *testing.T) {
		s := open(t)
		if err := s.Incr(ctx, t0, time.Minute, "k"); err != nil {
			t.Fatal(err)
		}
		want(t, get(t, s, t0.Add(time.Minute-time.Millisecond), "k")[0], 1, t0.Add(time.Minute))
		want(t, get(t, s, t0.Add(time.Minute), "k")[0], 0, time.Time{})
		// A count after the end starts a new window.
		later := t0.Add(90 * time.Second)
		if err := s.Incr(ctx, later, time.Minute, "k"); err != nil {
			t.Fatal(err)
		}
		want(t, get(t, s, later, "k")[0], 1, later.Add(time.Minute))
	})
	t.Run("several keys at once", func(t *testing.T) {
		s := open(t)
		if err := s.Incr(ctx, t0, time.Minute, "x", "y"); err != nil {
			t.Fatal(err)
		}
		if err := s.Incr(ctx, t0.Add(time.Second), 2*time.Minute, "y", "z"); err != nil {
			t.Fatal(err)
		}
		ws := get(t, s, t0.Add(2*time.Second), "x", "y", "z", "w")
		want(t, ws[0], 1, t0.Add(time.Minute))
		want(t, ws[1], 2, t0.Add(time.Minute))
		want(t, ws[2], 1, t0.Add(time.Second+2*time.Minute))
		want(t, ws[3], 0, time.Time{})
	})
	t.Run("set starts a new window", func(t *testing.T) {
		s := open(t)
		for range 4 {
			if err := s.Incr(ctx, t0, time.Minute, "k"); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Set(ctx, t0.Add(time.Second), time.Hour, "k"); err != nil {
			t.Fatal(err)
		}
		want(t, get(t, s, t0.Add(30*time.Minute), "k")[0], 1, t0.Add(time.Second+time.Hour))
		want(t, get(t, s, t0.Add(time.Second+time.Hour), "k")[0], 0, time.Time{})
	})
	t.Run("delete forgets", func(t *testing.T) {
		s := open(t)
		if err := s.Incr(ctx, t0, time.Minute, "k", "keep"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, t0, "k", "never-seen"); err != nil {
			t.Fatal(err)
		}
		ws := get(t, s, t0, "k", "keep")
		want(t, ws[0], 0, time.Time{})
		want(t, ws[1], 1, t0.Add(time.Minute))
	})
	t.Run("concurrent counts all count", func(t *testing.T) {
		s := open(t)
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() { errs <- s.Incr(ctx, t0, time.Minute, "k", "shared") })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range get(t, s, t0, "k", "shared") {
			want(t, w, n, t0.Add(time.Minute))
		}
	})
	t.Run("any key text", func(t *testing.T) {
		s := open(t)
		keys := []string{"p:a@b:c", "a:2001:db8::/64", "ç{}*?[]\\ \x00", strings.Repeat("x", 300)}
		if err := s.Incr(ctx, t0, time.Minute, keys...); err != nil {
			t.Fatal(err)
		}
		for i, w := range get(t, s, t0, keys...) {
			if w.Count != 1 {
				t.Fatalf("key %q: count %d", keys[i], w.Count)
			}
		}
	})
	t.Run("windows shorter than a second", func(t *testing.T) {
		s := open(t)
		if err := s.Incr(ctx, t0, 250*time.Millisecond, "k"); err != nil {
			t.Fatal(err)
		}
		want(t, get(t, s, t0.Add(249*time.Millisecond), "k")[0], 1, t0.Add(250*time.Millisecond))
		want(t, get(t, s, t0.Add(250*time.Millisecond), "k")[0], 0, time.Time{})
	})
}

func TestMemoryBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := throttle.NewMemory(2000)
	// Expired entries are swept as new ones arrive.
	for i := range 10_000 {
		now := t0.Add(time.Duration(i) * time.Second)
		if err := m.Incr(ctx, now, time.Second, fmt.Sprint("k", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.Len(); n > 2048 {
		t.Fatalf("%d entries kept of 10,000 expiring ones", n)
	}
	// Live entries beyond the maximum are dropped.
	for i := range 10_000 {
		if err := m.Incr(ctx, t0, time.Hour, fmt.Sprint("live", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.Len(); n > 2000 {
		t.Fatalf("%d entries kept, maximum 2000", n)
	}
}
