package revocation

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// sweepInterval is how often a Memory set drops its expired entries. Reads
// ignore expired entries on their own; the sweep only gives back memory.
const sweepInterval = time.Minute

// memoryShards spreads the entries over this many maps, each under its own
// lock, so that a sweep holds a lock for a sixteenth of the set at a time
// and concurrent checks seldom meet on one lock.
const memoryShards = 16

// shrinkAbove: a shard whose map held more than this many entries, and
// now holds a quarter of that or less, is copied into a map of its present
// size after a sweep. Go maps never shrink on their own: without this a
// burst of revocations (a rebuild, a mass leak) would keep its memory for
// the life of the process.
const shrinkAbove = 1024

// Memory is a Set held in the process: the embedded default for a single
// server. It is never lost and never unavailable until it is closed.
//
// An entry costs about 70 bytes whatever its id's length
// (BenchmarkMemoryBytesPerEntry): it is keyed by a 128-bit hash of its kind
// and id, seeded at random per set, and holds its instant and its expiry as
// two integers. Two ids with one key would share an entry, which could
// only revoke more than asked, never less; maphash is not a cryptographic
// hash, but its seeds never leave the process, so ids cannot be aimed at a
// collision. A goroutine, owned by the set and stopped by Close, drops
// expired entries every minute.
type Memory struct {
	now    func() time.Time
	seeds  [5][2]maphash.Seed // per kind, of the two halves of a key
	shards [memoryShards]memoryShard
	// generation is the set's: random, renewed by every Rebuild.
	generation atomic.Pointer[Generation]

	closed    atomic.Bool
	stop      chan struct{} // closed by Close: the sweeper returns
	done      chan struct{} // closed by the sweeper when it has returned
	closeOnce sync.Once
}

// memoryShard is one map of the set. A nil map means the set is closed.
type memoryShard struct {
	mu      sync.RWMutex
	entries map[memoryKey]memoryEntry
	peak    int // the most entries the map has held since it was made
}

// memoryKey is an entry's kind and id hashed with the set's two seeds of
// that kind.
type memoryKey [16]byte

// memoryEntry is an entry's instant and expiry.
type memoryEntry struct {
	at    int64 // At in Unix nanoseconds (Validate bounds it to 1970–2200); Changed: Version
	until int64 // Until in Unix seconds, rounded up: never forgotten early
}

var _ Set = (*Memory)(nil)

// NewMemory returns an empty in-process set and starts its sweeper; Close
// stops it. clock returns the current time; nil means time.Now.
func NewMemory(clock func() time.Time) *Memory {
	if clock == nil {
		clock = time.Now
	}
	m := &Memory{now: clock, stop: make(chan struct{}), done: make(chan struct{})}
	for i := range m.seeds {
		m.seeds[i] = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	}
	for i := range m.shards {
		m.shards[i].entries = make(map[memoryKey]memoryEntry)
	}
	m.renewGeneration()
	go m.sweepEvery(sweepInterval)
	return m
}

// keyOf returns the key of an entry, and the shard that holds it.
func (m *Memory) keyOf(kind Kind, id string) (memoryKey, *memoryShard) {
	var k memoryKey
	seeds := &m.seeds[kind-Credential]
	binary.LittleEndian.PutUint64(k[:8], maphash.String(seeds[0], id))
	binary.LittleEndian.PutUint64(k[8:], maphash.String(seeds[1], id))
	return k, &m.shards[k[0]%memoryShards]
}

// unixCeil returns t in Unix seconds, rounded up.
func unixCeil(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// Revoke adds entries.
func (m *Memory) Revoke(ctx context.Context, entries ...Entry) error {
	if err := validate(entries); err != nil {
		return err
	}
	if m.closed.Load() {
		return errMemoryClosed
	}
	now := m.now().Unix()
	for _, e := range entries {
		until := unixCeil(e.Until)
		if until <= now {
			continue
		}
		k, sh := m.keyOf(e.Kind, e.ID)
		at := e.At.UnixNano()
		if e.Kind == Changed {
			at = e.Version
		}
		if err := sh.put(k, memoryEntry{at: at, until: until}, now); err != nil {
			return err
		}
	}
	return nil
}

// put merges v into the shard: a live entry already there keeps the later
// instant and the later expiry.
func (sh *memoryShard) put(k memoryKey, v memoryEntry, now int64) error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.entries == nil {
		return errMemoryClosed
	}
	if old, ok := sh.entries[k]; ok && old.until > now {
		v.at = max(v.at, old.at)
		v.until = max(v.until, old.until)
	}
	sh.entries[k] = v
	sh.peak = max(sh.peak, len(sh.entries))
	return nil
}

// get returns the live entry under k.
func (sh *memoryShard) get(k memoryKey, now int64) (memoryEntry, bool, error) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.entries == nil {
		return memoryEntry{}, false, errMemoryClosed
	}
	v, ok := sh.entries[k]
	return v, ok && v.until > now, nil
}

// IsRevoked reports whether any entry revokes the token.
func (m *Memory) IsRevoked(ctx context.Context, q Query) (bool, error) {
	if m.closed.Load() {
		return false, errMemoryClosed
	}
	now := m.now().Unix()
	if q.ClientID != "" {
		v, ok, err := m.lookup(Credential, q.ClientID, now)
		if err != nil {
			return false, err
		}
		if ok && !q.IssuedAt.After(time.Unix(0, v.at)) {
			return true, nil
		}
	}
	for _, c := range [...]struct {
		kind Kind
		id   string
	}{{AccessToken, q.TokenID}, {Family, q.FamilyID}, {SigningKey, q.KeyID}} {
		if c.id == "" {
			continue
		}
		if _, ok, err := m.lookup(c.kind, c.id, now); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func (m *Memory) lookup(kind Kind, id string, now int64) (memoryEntry, bool, error) {
	k, sh := m.keyOf(kind, id)
	return sh.get(k, now)
}

// Versions answers the set's generation and the versions of the Changed
// entries under ids.
func (m *Memory) Versions(ctx context.Context, ids []string, versions []int64) (Generation, error) {
	if len(versions) != len(ids) {
		return "", fmt.Errorf("revocation: versions: %d ids, room for %d versions", len(ids), len(versions))
	}
	if m.closed.Load() {
		return "", errMemoryClosed
	}
	now := m.now().Unix()
	for i, id := range ids {
		v, ok, err := m.lookup(Changed, id, now)
		if err != nil {
			return "", err
		}
		versions[i] = 0
		if ok {
			versions[i] = v.at
		}
	}
	return *m.generation.Load(), nil
}

// Rebuild adds all to the set. A Memory set is never lost, so this is only
// its initial load; it renews the generation all the same, as the
// contract says every Rebuild does.
func (m *Memory) Rebuild(ctx context.Context, all []Entry) error {
	if err := m.Revoke(ctx, all...); err != nil {
		return err
	}
	m.renewGeneration()
	return nil
}

// renewGeneration gives the set a new random generation.
func (m *Memory) renewGeneration() {
	g := Generation(rand.Text())
	m.generation.Store(&g)
}

// Healthy returns nil until the set is closed.
func (m *Memory) Healthy(ctx context.Context) error {
	if m.closed.Load() {
		return errMemoryClosed
	}
	return nil
}

// Size returns the number of live entries.
func (m *Memory) Size(ctx context.Context) (int64, error) {
	if m.closed.Load() {
		return 0, errMemoryClosed
	}
	now := m.now().Unix()
	var n int64
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		if sh.entries == nil {
			sh.mu.RUnlock()
			return 0, errMemoryClosed
		}
		for _, v := range sh.entries {
			if v.until > now {
				n++
			}
		}
		sh.mu.RUnlock()
	}
	return n, nil
}

// sweepEvery runs sweep every interval until Close.
func (m *Memory) sweepEvery(interval time.Duration) {
	defer close(m.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sweep()
		}
	}
}

// sweep drops the entries that have expired by the set's clock, one shard
// at a time, and shrinks the maps that emptied.
func (m *Memory) sweep() {
	now := m.now().Unix()
	for i := range m.shards {
		m.shards[i].sweep(now)
	}
}

func (sh *memoryShard) sweep(now int64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for k, v := range sh.entries {
		if v.until <= now {
			delete(sh.entries, k)
		}
	}
	if n := len(sh.entries); sh.peak > shrinkAbove && n <= sh.peak/4 {
		small := make(map[memoryKey]memoryEntry, n)
		for k, v := range sh.entries {
			small[k] = v
		}
		sh.entries, sh.peak = small, n
	}
}

// Close stops the sweeper and drops the entries; every later call fails
// with ErrUnavailable. Closing again does nothing.
func (m *Memory) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		close(m.stop)
		<-m.done
		for i := range m.shards {
			sh := &m.shards[i]
			sh.mu.Lock()
			sh.entries, sh.peak = nil, 0
			sh.mu.Unlock()
		}
	})
	return nil
}

var errMemoryClosed = fmt.Errorf("%w: in-process set closed", ErrUnavailable)
