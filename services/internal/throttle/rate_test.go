package throttle

import (
	"context"
	"testing"
	"time"
)

// TestNewRateLimitsEachKeyApart: a key gets limit attempts per window,
// another key its own, and the next window a fresh count; refused
// attempts count nothing and say when to retry.
func TestNewRateLimitsEachKeyApart(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r, err := NewRate(NewMemory(0), "leak:", 3, time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	allow := func(key string) (bool, time.Duration) {
		t.Helper()
		ok, retry, err := r.Allow(ctx, key)
		if err != nil {
			t.Fatalf("Allow(%q): %v", key, err)
		}
		return ok, retry
	}
	for i := range 3 {
		if ok, _ := allow("github"); !ok {
			t.Fatalf("attempt %d refused, want 3 allowed", i+1)
		}
	}
	now = now.Add(20 * time.Second)
	for range 2 {
		if ok, retry := allow("github"); ok || retry != 40*time.Second {
			t.Fatalf("4th attempt: allowed %v, retry after %v; want refused, 40s", ok, retry)
		}
	}
	if ok, _ := allow("internal-scanner"); !ok {
		t.Fatal("another key is refused")
	}
	now = now.Add(40 * time.Second)
	if ok, _ := allow("github"); !ok {
		t.Fatal("refused in the next window")
	}
	if _, err := NewRate(NewMemory(0), "", 0, time.Minute, nil); err == nil {
		t.Fatal("a limit of 0 was accepted")
	}
}
