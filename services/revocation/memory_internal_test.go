package revocation

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// held counts the entries a Memory set holds, expired or not.
func (m *Memory) held() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		n += len(sh.entries)
		sh.mu.RUnlock()
	}
	return n
}

// TestMemorySweep checks that the set's own goroutine drops each entry once
// it has expired, and not before, without any write to prompt it; and that
// Close stops that goroutine (synctest fails a test whose goroutines
// outlive it).
func TestMemorySweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory(nil) // the bubble's clock
		ctx := t.Context()
		start := time.Now()
		entry := func(kind Kind, id string, ttl time.Duration) Entry {
			return Entry{Kind: kind, ID: id, At: start, Until: start.Add(ttl)}
		}
		if err := m.Revoke(ctx,
			entry(AccessToken, "jti-30s", 30*time.Second),
			entry(Family, "family-90s", 90*time.Second),
			entry(Credential, "credential-2h", 2*time.Hour),
		); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			after time.Duration // since start
			held  int
		}{
			{sweepInterval - time.Second, 3},   // no sweep yet
			{sweepInterval + time.Second, 2},   // swept: jti-30s expired
			{2*sweepInterval + time.Second, 1}, // family-90s expired
			{2*time.Hour - time.Second, 1},     // credential-2h not yet expired
			{2*time.Hour + time.Second, 0},     // swept at its Until
		}
		for _, s := range steps {
			time.Sleep(time.Until(start.Add(s.after)))
			synctest.Wait() // the sweeper has done what the ticker asked
			if got := m.held(); got != s.held {
				t.Errorf("at +%s: %d entries held, want %d", s.after, got, s.held)
			}
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestMemorySweepShrinks checks that a sweep that empties a shard gives
// its map back: Go maps never shrink, so the sweep copies what is left.
func TestMemorySweepShrinks(t *testing.T) {
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	m := NewMemory(func() time.Time { return now })
	defer m.Close()
	var burst []Entry
	for i := range 40 * shrinkAbove {
		burst = append(burst, Entry{Kind: AccessToken, ID: fmt.Sprint("burst-", i), At: now, Until: now.Add(time.Minute)})
	}
	burst = append(burst, Entry{Kind: Family, ID: "kept", At: now, Until: now.Add(time.Hour)})
	if err := m.Revoke(t.Context(), burst...); err != nil {
		t.Fatal(err)
	}
	before := make(map[int]map[memoryKey]memoryEntry)
	for i := range m.shards {
		if m.shards[i].peak <= shrinkAbove {
			t.Fatalf("shard %d peaked at %d entries: the burst is too small to test shrinking", i, m.shards[i].peak)
		}
		before[i] = m.shards[i].entries
	}
	now = now.Add(time.Minute)
	m.sweep()
	if n := m.held(); n != 1 {
		t.Fatalf("%d entries held after the sweep, want 1", n)
	}
	for i := range m.shards {
		sh := &m.shards[i]
		if sh.peak > 1 || fmt.Sprintf("%p", sh.entries) == fmt.Sprintf("%p", before[i]) {
			t.Errorf("shard %d: peak %d, map replaced = %v; want a new map of at most 1 entry", i, sh.peak, fmt.Sprintf("%p", sh.entries) != fmt.Sprintf("%p", before[i]))
		}
	}
	if ok, err := m.IsRevoked(t.Context(), Query{FamilyID: "kept"}); err != nil || !ok {
		t.Errorf("IsRevoked(kept) after shrinking = %v, %v; want true, nil", ok, err)
	}
}
