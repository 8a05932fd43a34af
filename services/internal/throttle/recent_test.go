package throttle

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The memory of recent successes is bounded: past max, expired pairs are
// swept, and while none is, new pairs are not remembered (and so are
// checked), never an unbounded map.
func TestNewRecentPairsBounded(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	r := recentPairs{max: 4}
	for i := range 4 {
		r.remember(fmt.Sprint("p", i), t0, t0.Add(time.Second))
	}
	r.remember("late", t0, t0.Add(time.Second))
	if r.live("late", t0) || len(r.until) != 4 {
		t.Fatalf("remembered past the bound: %d pairs", len(r.until))
	}
	if !r.live("p0", t0) {
		t.Fatal("a remembered pair was dropped")
	}
	// Once they expire, a new pair sweeps them.
	t1 := t0.Add(2 * time.Second)
	r.remember("next", t1, t1.Add(time.Second))
	if !r.live("next", t1) || len(r.until) != 1 {
		t.Fatalf("after expiry: %d pairs, next live %v", len(r.until), r.live("next", t1))
	}
}

// A negative Recheck turns Recent off: every attempt is checked.
func TestNewRecheckOff(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		recheck time.Duration
		recent  bool
	}{{0, true}, {-1, false}} {
		l, err := NewLimiter(NewMemory(0), Policy{Recheck: tc.recheck}, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		a := Attempt{ClientID: "chave_ci_x", Address: "192.0.2.1"}
		for range 2 { // the first success makes the pair known
			d, err := l.Check(ctx, a)
			if err != nil || !d.Allowed {
				t.Fatalf("check: %+v %v", d, err)
			}
			if err := l.Succeeded(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		if _, ok := l.Recent(a); ok != tc.recent {
			t.Errorf("Recheck %v: Recent %v, want %v", tc.recheck, ok, tc.recent)
		}
		// A failure, and the pair's attempts are checked again.
		if d, ok := l.Recent(a); ok {
			if err := l.Failed(ctx, d); err != nil {
				t.Fatal(err)
			}
			if _, ok := l.Recent(a); ok {
				t.Error("Recent after a failure")
			}
		}
	}
}
