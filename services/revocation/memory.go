package revocation

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// sweepEvery is how often, at most, a write to a Memory set walks the whole
// set to drop expired entries. Reads ignore expired entries on their own.
const sweepEvery = time.Minute

// Memory is a Set held in the process: the embedded default for a single
// server. It is never lost and never unavailable until it is closed.
type Memory struct {
	now func() time.Time

	mu        sync.RWMutex
	entries   map[memoryKey]memoryEntry
	nextSweep time.Time
	closed    bool
}

type memoryKey struct {
	kind Kind
	id   string
}

type memoryEntry struct {
	at, until time.Time
}

var _ Set = (*Memory)(nil)

// NewMemory returns an empty in-process set. clock returns the current time;
// nil means time.Now.
func NewMemory(clock func() time.Time) *Memory {
	if clock == nil {
		clock = time.Now
	}
	return &Memory{now: clock, entries: make(map[memoryKey]memoryEntry)}
}

// Revoke adds entries.
func (m *Memory) Revoke(ctx context.Context, entries ...Entry) error {
	if err := validate(entries); err != nil {
		return err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errMemoryClosed
	}
	for _, e := range entries {
		m.put(e, now)
	}
	m.maybeSweep(now)
	return nil
}

// put merges e into the set; the caller holds the write lock.
func (m *Memory) put(e Entry, now time.Time) {
	if !e.Until.After(now) {
		return
	}
	k := memoryKey{e.Kind, e.ID}
	v := memoryEntry{at: e.At, until: e.Until}
	if old, ok := m.entries[k]; ok && old.until.After(now) {
		if old.at.After(v.at) {
			v.at = old.at
		}
		if old.until.After(v.until) {
			v.until = old.until
		}
	}
	m.entries[k] = v
}

// maybeSweep drops expired entries at most once per sweepEvery; the caller
// holds the write lock.
func (m *Memory) maybeSweep(now time.Time) {
	if now.Before(m.nextSweep) {
		return
	}
	for k, v := range m.entries {
		if !v.until.After(now) {
			delete(m.entries, k)
		}
	}
	m.nextSweep = now.Add(sweepEvery)
}

// IsRevoked reports whether any entry revokes the token.
func (m *Memory) IsRevoked(ctx context.Context, q Query) (bool, error) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return false, errMemoryClosed
	}
	if q.ClientID != "" {
		if v, ok := m.live(Credential, q.ClientID, now); ok && !q.IssuedAt.After(v.at) {
			return true, nil
		}
	}
	if q.TokenID != "" {
		if _, ok := m.live(AccessToken, q.TokenID, now); ok {
			return true, nil
		}
	}
	if q.FamilyID != "" {
		if _, ok := m.live(Family, q.FamilyID, now); ok {
			return true, nil
		}
	}
	return false, nil
}

func (m *Memory) live(kind Kind, id string, now time.Time) (memoryEntry, bool) {
	v, ok := m.entries[memoryKey{kind, id}]
	return v, ok && v.until.After(now)
}

// Rebuild adds all to the set. A Memory set is never lost, so this is only
// its initial load.
func (m *Memory) Rebuild(ctx context.Context, all []Entry) error {
	return m.Revoke(ctx, all...)
}

// Healthy returns nil until the set is closed.
func (m *Memory) Healthy(ctx context.Context) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return errMemoryClosed
	}
	return nil
}

// Size returns the number of live entries.
func (m *Memory) Size(ctx context.Context) (int64, error) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, errMemoryClosed
	}
	var n int64
	for _, v := range m.entries {
		if v.until.After(now) {
			n++
		}
	}
	return n, nil
}

// Close drops the entries; every later call fails with ErrUnavailable.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.entries = nil
	return nil
}

var errMemoryClosed = fmt.Errorf("%w: in-process set closed", ErrUnavailable)
