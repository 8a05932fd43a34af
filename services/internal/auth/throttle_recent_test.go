package auth_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/throttle"
)

// readCountingStore counts the reads of a throttle store.
type readCountingStore struct {
	throttle.Store
	reads atomic.Int64
}

func (s *readCountingStore) Get(ctx context.Context, now time.Time, keys ...string) ([]throttle.Window, error) {
	s.reads.Add(1)
	return s.Store.Get(ctx, now, keys...)
}

// recentReplicas are two auth replicas (their own limiters, so their own
// memory of recent successes) over one shared store and one registry.
type recentReplicas struct {
	clock *testClock
	store *readCountingStore
	reg   *countingRegistry
	a, b  auth.Registry
}

func newRecentReplicas(t *testing.T) *recentReplicas {
	t.Helper()
	r := &recentReplicas{clock: &testClock{t: now}, store: &readCountingStore{Store: throttle.NewMemory(0)}}
	mem := newMemRegistry(r.clock.Now)
	mem.add(auth.Client{ID: "chave_ci_real", Tenant: "acme", Scopes: []string{"inventory"}, SecretVersion: "v1"}, secret)
	r.reg = &countingRegistry{Registry: mem}
	replica := func() auth.Registry {
		l, err := throttle.NewLimiter(r.store, throttleTestPolicy, r.clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := auth.NewThrottledRegistry(r.reg, l, auth.ThrottleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	r.a, r.b = replica(), replica()
	return r
}

func grantCode(reg auth.Registry, sec string) chave.Code {
	_, err := reg.AuthenticateClient(context.Background(), "chave_ci_real", sec)
	return chave.ErrorCode(err)
}

// A client that keeps succeeding reads the shared store once per Recheck,
// not once per attempt.
func TestNewThrottleRecentSkipsTheStore(t *testing.T) {
	r := newRecentReplicas(t)
	for i := range 3 { // unknown, then known: the second success is remembered
		if c := grantCode(r.b, secret); c != "" {
			t.Fatalf("grant %d: %q", i+1, c)
		}
	}
	reads := r.store.reads.Load()
	for range 50 {
		if c := grantCode(r.b, secret); c != "" {
			t.Fatalf("remembered grant: %q", c)
		}
	}
	if got := r.store.reads.Load() - reads; got != 0 {
		t.Fatalf("%d store reads for 50 remembered grants, want none", got)
	}
	r.clock.Advance(throttle.DefaultRecheck)
	grantCode(r.b, secret)
	if got := r.store.reads.Load() - reads; got != 1 {
		t.Fatalf("%d store reads after Recheck, want 1", got)
	}
}

// An attacker sharing the real client's pair (the same NAT) cannot ride
// the real client's remembered success: on the replica that remembers
// it, a wrong secret is checked before it is answered, and refused if
// another replica took the pair over its limit; every attempt after it
// is checked first and costs no registry call.
func TestNewThrottleRecentRechecksAFailure(t *testing.T) {
	r := newRecentReplicas(t)
	for range 3 {
		grantCode(r.b, secret)
	}
	// The attacker takes the pair to its limit on replica a.
	for i := range throttleTestPolicy.MaxPairFailures {
		if c := grantCode(r.a, wrong); c != chave.Unauthenticated {
			t.Fatalf("failure %d on a: %q", i+1, c)
		}
	}
	if c := grantCode(r.a, wrong); c != chave.ResourceExhausted {
		t.Fatalf("over the limit on a: %q, want throttled", c)
	}
	// Replica b still remembers the success: the wrong secret reaches
	// the registry once, and is answered as refused, counting nothing.
	calls := r.reg.calls.Load()
	if c := grantCode(r.b, wrong); c != chave.ResourceExhausted {
		t.Fatalf("over the limit on b (remembered pair): %q, want throttled", c)
	}
	for i := range 20 {
		if c := grantCode(r.b, wrong); c != chave.ResourceExhausted {
			t.Fatalf("attempt %d on b after the recheck: %q, want throttled", i+1, c)
		}
	}
	if c := grantCode(r.b, secret); c != chave.ResourceExhausted {
		t.Fatalf("right secret on b after the recheck: %q, want throttled like any attempt of the pair", c)
	}
	if got := r.reg.calls.Load() - calls; got != 1 {
		t.Fatalf("%d registry calls on b over the limit, want the one remembered attempt", got)
	}
	// Refusals counted nothing: the window ends on time for both.
	r.clock.Advance(throttleTestPolicy.Window)
	for _, reg := range []auth.Registry{r.a, r.b} {
		if c := grantCode(reg, secret); c != "" {
			t.Fatalf("after the window: %q", c)
		}
	}
}

// On one replica, a remembered pair gets exactly its limit of failures:
// the first failure ends the memory, the rest are checked first.
func TestNewThrottleRecentOneReplicaExact(t *testing.T) {
	r := newRecentReplicas(t)
	for range 3 {
		grantCode(r.b, secret)
	}
	calls := r.reg.calls.Load()
	answers := map[chave.Code]int{}
	for range 3 * throttleTestPolicy.MaxPairFailures {
		answers[grantCode(r.b, wrong)]++
	}
	if answers[chave.Unauthenticated] != int(throttleTestPolicy.MaxPairFailures) ||
		answers[chave.ResourceExhausted] != 2*int(throttleTestPolicy.MaxPairFailures) {
		t.Fatalf("answers %v, want %d refused credentials then throttled", answers, throttleTestPolicy.MaxPairFailures)
	}
	if got := r.reg.calls.Load() - calls; got != throttleTestPolicy.MaxPairFailures {
		t.Fatalf("%d registry calls, want %d", got, throttleTestPolicy.MaxPairFailures)
	}
}

// A success Recent allowed clears nothing: failures another replica
// counted stay until a checked success clears them.
func TestNewThrottleRecentSuccessClearsNothing(t *testing.T) {
	r := newRecentReplicas(t)
	for range 3 {
		grantCode(r.b, secret)
	}
	for range throttleTestPolicy.MaxPairFailures - 1 {
		grantCode(r.a, wrong)
	}
	if c := grantCode(r.b, secret); c != "" { // remembered: no store call
		t.Fatalf("remembered success: %q", c)
	}
	grantCode(r.a, wrong) // the last failure the limit allows
	if c := grantCode(r.a, wrong); c != chave.ResourceExhausted {
		t.Fatalf("the remembered success cleared a's failures: %q", c)
	}
}
