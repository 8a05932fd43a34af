package throttle_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/internal/throttle"
)

// TestFallbackWhileRedisIsDown: with Redis stopped the limits still apply
// (in process), and once Redis is back the shared counts apply again.
func TestFallbackWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	var localOnly atomic.Int64
	newReplica := func() (*limiterEnv, *throttle.Fallback) {
		shared := newRedisStore(t, srv, "test:fallback")
		f := throttle.NewFallback(shared, throttle.NewMemory(0), throttle.FallbackOptions{
			RetryShared: 5 * time.Second, OnLocalOnly: func() { localOnly.Add(1) },
		})
		return newLimiterEnv(t, f), f
	}
	a, _ := newReplica()
	b, _ := newReplica()
	const client, addr = "chave_ci_x", "198.51.100.7"

	// Shared: failures on one replica count on the other.
	for range testPolicy.MaxPairFailures - 1 {
		a.try(client, addr, false)
	}
	b.try(client, addr, false)
	if d := a.try(client, addr, false); d.Allowed {
		t.Fatalf("replica a does not see replica b's failure: %+v", d)
	}

	// Redis down: a replica that has seen nothing starts counting in
	// process, and refuses at the limit all the same.
	srv.Stop()
	c, _ := newReplica()
	for i := range testPolicy.MaxPairFailures {
		if d := c.try(client, "203.0.113.9", false); !d.Allowed {
			t.Fatalf("failure %d with Redis down refused: %+v", i+1, d)
		}
	}
	if d := c.try(client, "203.0.113.9", false); d.Allowed {
		t.Fatalf("no limit with Redis down: %+v", d)
	}
	if localOnly.Load() == 0 {
		t.Fatal("the local-only calls were not reported")
	}
	// Replica a keeps its own share of the counts (4 of the 5): one more
	// failure and it refuses.
	if d := a.try(client, addr, false); !d.Allowed {
		t.Fatalf("replica a with Redis down: %+v", d)
	}
	if d := a.try(client, addr, false); d.Allowed {
		t.Fatalf("replica a forgot its own failures with Redis down: %+v", d)
	}

	// Redis back (empty): once the retry delay has passed, counts are
	// shared again.
	srv.Restart()
	for _, r := range []*limiterEnv{a, b, c} {
		r.clock.Advance(2 * testPolicy.Window)
	}
	for range testPolicy.MaxPairFailures {
		a.try("chave_ci_y", addr, false)
	}
	if d := b.try("chave_ci_y", addr, false); d.Allowed {
		t.Fatalf("replica b does not see replica a's failures after Redis came back: %+v", d)
	}
}
