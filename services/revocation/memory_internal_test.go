package revocation

import (
	"testing"
	"time"
)

// TestMemorySweep checks that writes drop expired entries, at most once per
// sweepEvery, so that a set that is only written does not grow forever.
func TestMemorySweep(t *testing.T) {
	t0 := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	now := t0
	m := NewMemory(func() time.Time { return now })
	ctx := t.Context()
	entry := func(id string, ttl time.Duration) Entry {
		return Entry{Kind: AccessToken, ID: id, At: now, Until: now.Add(ttl)}
	}
	if err := m.Revoke(ctx, entry("a", time.Second), entry("b", time.Hour)); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(2 * time.Second) // a expired, but the last sweep is recent
	if err := m.Revoke(ctx, entry("c", time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(m.entries); n != 3 {
		t.Fatalf("%d entries held before the sweep is due, want 3", n)
	}
	now = t0.Add(sweepEvery)
	if err := m.Revoke(ctx, entry("d", time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.entries[memoryKey{AccessToken, "a"}]; ok || len(m.entries) != 3 {
		t.Fatalf("after the sweep: %d entries, a held = %v; want 3 (b, c, d)", len(m.entries), ok)
	}
}
