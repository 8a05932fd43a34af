package throttle

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxEntries bounds a Memory store: about 150 bytes an entry, so
// some 15 MB at most.
const DefaultMaxEntries = 100_000

// minSweep is the size below which a Memory store never sweeps.
const minSweep = 1024

// Memory is a Store in process memory: the embedded default, and the
// local fallback of a shared store. Its size is bounded: expired entries
// are swept whenever it has doubled since the last sweep, and when it is
// full after a sweep, arbitrary entries are dropped (a flood of distinct
// keys can then reset some counts early, never make it grow).
type Memory struct {
	mu        sync.Mutex
	entries   map[string]Window
	max       int
	nextSweep int
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store of at most maxEntries entries;
// zero or less means DefaultMaxEntries.
func NewMemory(maxEntries int) *Memory {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Memory{entries: map[string]Window{}, max: maxEntries, nextSweep: minSweep}
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, now time.Time, keys ...string) ([]Window, error) {
	out := make([]Window, len(keys))
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range keys {
		if w, ok := m.entries[k]; ok && w.live(now) {
			out[i] = w
		}
	}
	return out, nil
}

// Incr implements Store.
func (m *Memory) Incr(_ context.Context, now time.Time, w time.Duration, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		cur, ok := m.entries[k]
		if !ok || !cur.live(now) {
			cur = Window{End: now.Add(w)}
		}
		cur.Count++
		m.entries[k] = cur
	}
	m.bound(now)
	return nil
}

// Set implements Store.
func (m *Memory) Set(_ context.Context, now time.Time, w time.Duration, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[key] = Window{Count: 1, End: now.Add(w)}
	m.bound(now)
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, _ time.Time, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.entries, k)
	}
	return nil
}

// Len returns the number of entries held, expired ones not yet swept
// included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// bound sweeps expired entries once the map has doubled since the last
// sweep (amortised constant time per write) and drops entries while it is
// over its maximum. m.mu is held.
func (m *Memory) bound(now time.Time) {
	if len(m.entries) < m.nextSweep && len(m.entries) <= m.max {
		return
	}
	for k, w := range m.entries {
		if !w.live(now) {
			delete(m.entries, k)
		}
	}
	for k := range m.entries { // map order is unspecified: arbitrary victims
		if len(m.entries) <= m.max {
			break
		}
		delete(m.entries, k)
	}
	m.nextSweep = max(2*len(m.entries), minSweep)
}
