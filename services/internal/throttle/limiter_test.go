package throttle_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/internal/throttle"
)

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var testPolicy = throttle.Policy{
	Window: time.Minute, MaxPairFailures: 5, MaxAddressFailures: 8, MaxClientFailures: 20, RememberSuccess: time.Hour,
}

// limiterEnv is a limiter over a store with a fake clock.
type limiterEnv struct {
	t     *testing.T
	l     *throttle.Limiter
	clock *clock
}

func newLimiterEnv(t *testing.T, store throttle.Store) *limiterEnv {
	c := &clock{now: t0}
	l, err := throttle.NewLimiter(store, testPolicy, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return &limiterEnv{t: t, l: l, clock: c}
}

// try runs one attempt: checked, then failed (wrong) or succeeded. It
// returns the decision.
func (e *limiterEnv) try(client, addr string, right bool) throttle.Decision {
	e.t.Helper()
	ctx := context.Background()
	a := throttle.Attempt{ClientID: client, Address: addr}
	d, err := e.l.Check(ctx, a)
	if err != nil {
		e.t.Fatal(err)
	}
	if !d.Allowed {
		return d
	}
	if right {
		err = e.l.Succeeded(ctx, d)
	} else {
		err = e.l.Failed(ctx, d)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// stores runs a policy test against the in-process and the Redis store.
func stores(t *testing.T, test func(t *testing.T, e *limiterEnv)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, newLimiterEnv(t, throttle.NewMemory(0)))
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		srv := testserver.StartRedis(t)
		test(t, newLimiterEnv(t, newRedisStore(t, srv, "")))
	})
}

func TestPairLimit(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, e *limiterEnv) {
		for i := range testPolicy.MaxPairFailures {
			if d := e.try("chave_ci_x", "198.51.100.7", false); !d.Allowed {
				t.Fatalf("failure %d refused: %+v", i+1, d)
			}
		}
		e.clock.Advance(10 * time.Second)
		d := e.try("chave_ci_x", "198.51.100.7", false)
		if d.Allowed || d.Limit != throttle.LimitPair || d.RetryAfter != 50*time.Second {
			t.Fatalf("over the limit: %+v, want refused by the pair limit for 50s", d)
		}
		// Refused attempts count nothing: the window ends on time.
		for range 100 {
			e.try("chave_ci_x", "198.51.100.7", true)
		}
		e.clock.Advance(50 * time.Second)
		if d := e.try("chave_ci_x", "198.51.100.7", false); !d.Allowed {
			t.Fatalf("after the window: %+v", d)
		}
		// The same client elsewhere and another client from there were
		// never affected.
		if d := e.try("chave_ci_x", "203.0.113.9", true); !d.Allowed {
			t.Fatalf("same client, other address: %+v", d)
		}
		if d := e.try("chave_ci_y", "198.51.100.7", true); !d.Allowed {
			t.Fatalf("other client, same address: %+v", d)
		}
	})
}

func TestAddressLimit(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, e *limiterEnv) {
		const attacker = "198.51.100.7"
		// A client that authenticated from the attacker's address (a
		// shared NAT) stays known there.
		e.try("chave_ci_neighbour", attacker, true)
		for i := range testPolicy.MaxAddressFailures {
			if d := e.try(fmt.Sprint("chave_ci_", i), attacker, false); !d.Allowed {
				t.Fatalf("failure %d refused: %+v", i+1, d)
			}
		}
		d := e.try("chave_ci_other", attacker, true)
		if d.Allowed || d.Limit != throttle.LimitAddress || d.RetryAfter != time.Minute {
			t.Fatalf("unknown pair from a throttled address: %+v", d)
		}
		if d := e.try("chave_ci_neighbour", attacker, true); !d.Allowed {
			t.Fatalf("known pair from a throttled address: %+v", d)
		}
		if d := e.try("chave_ci_other", "203.0.113.9", true); !d.Allowed {
			t.Fatalf("another address: %+v", d)
		}
	})
}

func TestClientUnderAttack(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, e *limiterEnv) {
		const victim = "chave_ci_victim"
		e.try(victim, "192.0.2.1", true) // the real client's usual address
		// A distributed attack: each address stays under its own limits.
		n := 0
		for a := 0; n < int(testPolicy.MaxClientFailures); a++ {
			for range 2 {
				if d := e.try(victim, fmt.Sprint("198.51.100.", a), false); !d.Allowed {
					t.Fatalf("failure %d refused: %+v", n+1, d)
				}
				n++
			}
		}
		// Now every address that already failed is refused for the rest of
		// its window...
		d := e.try(victim, "198.51.100.0", false)
		if d.Allowed || d.Limit != throttle.LimitClient {
			t.Fatalf("attacking address after the client limit: %+v", d)
		}
		// ...a new one gets one try...
		if d := e.try(victim, "198.51.100.200", false); !d.Allowed {
			t.Fatalf("first try of a new address: %+v", d)
		}
		if d := e.try(victim, "198.51.100.200", false); d.Allowed || d.Limit != throttle.LimitClient {
			t.Fatalf("second try of a new address: %+v", d)
		}
		// ...and the real client gets through from its usual address and
		// from a new one.
		if d := e.try(victim, "192.0.2.1", true); !d.Allowed {
			t.Fatalf("real client, known address: %+v", d)
		}
		if d := e.try(victim, "192.0.2.77", true); !d.Allowed {
			t.Fatalf("real client, new address: %+v", d)
		}
		if d := e.try(victim, "192.0.2.77", true); !d.Allowed {
			t.Fatalf("real client, new address, again: %+v", d)
		}
		// The attack ends with its window.
		e.clock.Advance(testPolicy.Window)
		if d := e.try(victim, "198.51.100.0", false); !d.Allowed {
			t.Fatalf("after the window: %+v", d)
		}
	})
}

func TestSuccessClearsPair(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, e *limiterEnv) {
		for range testPolicy.MaxPairFailures - 1 {
			e.try("chave_ci_x", "192.0.2.1", false)
		}
		e.try("chave_ci_x", "192.0.2.1", true)
		for i := range testPolicy.MaxPairFailures {
			if d := e.try("chave_ci_x", "192.0.2.1", false); !d.Allowed {
				t.Fatalf("failure %d after a success refused: %+v", i+1, d)
			}
		}
		if d := e.try("chave_ci_x", "192.0.2.1", true); d.Allowed {
			t.Fatalf("a known pair is still bound by its own limit: %+v", d)
		}
	})
}

func TestIPv6SharesItsSlash64(t *testing.T) {
	t.Parallel()
	e := newLimiterEnv(t, throttle.NewMemory(0))
	for i := range testPolicy.MaxPairFailures {
		e.try("chave_ci_x", fmt.Sprintf("2001:db8:1:2::%x", i+1), false)
	}
	if d := e.try("chave_ci_x", "2001:db8:1:2:ffff::1", false); d.Allowed {
		t.Fatalf("another address of the same /64: %+v", d)
	}
	if d := e.try("chave_ci_x", "2001:db8:1:3::1", false); !d.Allowed {
		t.Fatalf("another /64: %+v", d)
	}
	// An IPv4-mapped address is its IPv4 address.
	for range testPolicy.MaxPairFailures {
		e.try("chave_ci_x", "192.0.2.1", false)
	}
	if d := e.try("chave_ci_x", "::ffff:192.0.2.1", false); d.Allowed {
		t.Fatalf("IPv4-mapped form of a throttled address: %+v", d)
	}
}

func TestLongClientIDs(t *testing.T) {
	t.Parallel()
	m := throttle.NewMemory(0)
	e := newLimiterEnv(t, m)
	long := string(make([]byte, 512))
	for range testPolicy.MaxPairFailures {
		e.try(long, "192.0.2.1", false)
	}
	if d := e.try(long, "192.0.2.1", false); d.Allowed {
		t.Fatalf("long client id not counted: %+v", d)
	}
	if d := e.try(long[:511], "192.0.2.1", false); !d.Allowed {
		t.Fatalf("another long client id shares the count: %+v", d)
	}
}
