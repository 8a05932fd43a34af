// The credential cache: what spares a grant its database read.

package registry

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/revocation"
)

// The credential cache keeps, per client id, the credential and its tenant
// as the grant's one database read (GetClient) returned them, with their
// versions and the revocation set's generation seen before that read. A
// grant uses an entry only after one check of the set (Versions: one MGET
// on Redis, two map reads in process) finds
//
//   - the same generation: the set lost nothing since the entry was filled
//     (a loss and the rebuild that ends it renew the generation, and while
//     the set is lost the check fails, which is a miss);
//   - no Changed version of the credential or of its tenant greater than
//     the entry's: every change that can alter a grant's decision (update,
//     revocation, rotation, grace end, leak report, re-hash, tenant update)
//     bumps the row's version in the database and then writes the new
//     version to the set before the call that made it returns, on whichever
//     replica it ran;
//   - the entry younger than CredentialCacheMaxAge, which the Changed
//     entries outlive (changedLifetime): the absence of an entry means "no
//     change" only that long.
//
// The grant then decides on the entry exactly as on a fresh read (state
// and expiry at now, the secret against the server's hasher, the grace
// period at now, scopes, the tenant's address policy) and counts and
// records the use as usual. Only a success is served from the cache: any
// refusal on a cached entry is decided again on a fresh read, so that
// refusals, their logs and their usage counts are exactly those without a
// cache. A set that cannot answer (ErrLost, ErrUnavailable) is a miss: the
// grant reads the database as it would without a cache, and grants do not
// start to depend on the set.
//
// The generation is read before the database on a miss, so that an entry
// never carries a generation newer than what it read: a loss between the
// two would otherwise hide the changes the set lost.

// Defaults of the credential cache.
const (
	// CredentialCacheMaxAge is how long an entry may serve grants.
	CredentialCacheMaxAge = 30 * time.Second
	// DefaultCredentialCacheSize bounds the entries; at about 1 KiB each
	// (the credential and its tenant, their descriptive text dropped) the
	// cache stays within 10 MiB.
	DefaultCredentialCacheSize = 10_000
	// changedMargin is how much longer than the cache's maximum age a
	// Changed entry lives: slack for the delay between the database commit
	// and the set's write and for the set's rounding of lifetimes.
	changedMargin = 30 * time.Second
)

// changedLifetime is how long a Changed entry lives in the set.
const changedLifetime = CredentialCacheMaxAge + changedMargin

// credCache is the cache. A nil *credCache caches nothing.
type credCache struct {
	maxAge time.Duration
	size   int
	since  func(time.Time) time.Duration // time.Since; a fake in tests
	now    func() time.Time              // time.Now (monotonic); a fake in tests
	// wall is the registry's clock, the one Changed entries' lifetimes
	// are reckoned by (see aged).
	wall    func() time.Time
	metrics cacheMetrics

	mu        sync.RWMutex
	entries   map[string]*cacheEntry
	peak      int       // the most entries the map has held since it was made
	lastSweep time.Time // monotonic
}

// cacheEntry is one credential as read, immutable once stored.
type cacheEntry struct {
	token      chave.Token
	tenant     chave.Tenant
	generation revocation.Generation
	filled     time.Time // monotonic
	filledWall time.Time // by the registry's clock
}

// newCredCache returns a cache of at most size entries; size < 0 disables
// it (nil), 0 means DefaultCredentialCacheSize. wall is the registry's
// clock.
func newCredCache(size int, reg prometheus.Registerer, wall func() time.Time) (*credCache, error) {
	if size < 0 {
		return nil, nil
	}
	if size == 0 {
		size = DefaultCredentialCacheSize
	}
	c := &credCache{maxAge: CredentialCacheMaxAge, size: size, since: time.Since, now: time.Now, wall: wall,
		entries: make(map[string]*cacheEntry)}
	m, err := newCacheMetrics(reg, c)
	if err != nil {
		return nil, err
	}
	c.metrics = m
	return c, nil
}

// Results of a cache lookup (chave_credential_cache_lookups_total).
const (
	cacheHit        = "hit"
	cacheAbsent     = "miss_absent"     // no entry
	cacheOld        = "miss_age"        // older than the maximum age
	cacheGeneration = "miss_generation" // the set was rebuilt since
	cacheChanged    = "miss_changed"    // the credential or its tenant changed
	cacheSetError   = "miss_set_error"  // the set could not answer
	cacheRefused    = "refused"         // a hit the grant refused: decided again on a fresh read
)

type cacheMetrics struct {
	lookups map[string]prometheus.Counter
}

func newCacheMetrics(reg prometheus.Registerer, c *credCache) (cacheMetrics, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chave_credential_cache_lookups_total",
		Help: "Grant lookups in the registry's credential cache, by result (hit, miss_absent, miss_age, miss_generation, miss_changed, miss_set_error, refused).",
	}, []string{"result"})
	m := cacheMetrics{lookups: map[string]prometheus.Counter{}}
	for _, r := range []string{cacheHit, cacheAbsent, cacheOld, cacheGeneration, cacheChanged, cacheSetError, cacheRefused} {
		m.lookups[r] = vec.WithLabelValues(r)
	}
	entries := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "chave_credential_cache_entries",
		Help: "Credentials held in the registry's credential cache.",
	}, func() float64 { return float64(c.len()) })
	if reg != nil {
		for _, col := range []prometheus.Collector{vec, entries} {
			if err := reg.Register(col); err != nil {
				return cacheMetrics{}, err
			}
		}
	}
	return m, nil
}

func (c *credCache) count(result string) { c.metrics.lookups[result].Inc() }

func (c *credCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// changedIDs are the Changed entries that speak for a credential: its own
// and, unless it has none (the operator), its tenant's.
func changedIDs(buf *[2]string, clientID, tenant string) []string {
	buf[0] = revocation.ChangedToken(clientID)
	if tenant == "" {
		return buf[:1]
	}
	buf[1] = revocation.ChangedTenant(tenant)
	return buf[:2]
}

// lookup returns the entry of clientID if the set confirms it is current
// (see above). ok false is a miss, counted.
func (c *credCache) lookup(ctx context.Context, set revocation.Set, clientID string) (*cacheEntry, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e := c.entries[clientID]
	c.mu.RUnlock()
	if e == nil {
		c.count(cacheAbsent)
		return nil, false
	}
	if c.aged(e) {
		c.drop(clientID, e)
		c.count(cacheOld)
		return nil, false
	}
	var ids [2]string
	var versions [2]int64
	q := changedIDs(&ids, clientID, e.token.Tenant)
	gen, err := set.Versions(ctx, q, versions[:len(q)])
	switch {
	case err != nil:
		c.count(cacheSetError)
		return nil, false
	case gen != e.generation:
		c.drop(clientID, e)
		c.count(cacheGeneration)
		return nil, false
	case versions[0] > e.token.Version || (len(q) > 1 && versions[1] > e.tenant.Version):
		c.drop(clientID, e)
		c.count(cacheChanged)
		return nil, false
	}
	c.count(cacheHit)
	return e, true
}

// generation reads the set's generation before a database read whose
// result may fill the cache; ok false (the set cannot answer) means the
// result must not be cached.
func (c *credCache) generation(ctx context.Context, set revocation.Set, clientID string) (revocation.Generation, bool) {
	if c == nil {
		return "", false
	}
	var ids [2]string
	var versions [2]int64
	q := changedIDs(&ids, clientID, "")
	gen, err := set.Versions(ctx, q, versions[:len(q)])
	return gen, err == nil
}

// fill stores what a grant read after generation told it gen. What no
// grant decides on (names, descriptions, parameters) is not kept.
func (c *credCache) fill(clientID string, t chave.Token, tenant chave.Tenant, gen revocation.Generation) {
	if c == nil {
		return
	}
	t.DisplayName, t.Description, t.Creator, t.Revoker, t.Parameters, t.PolicyViolations = "", "", "", "", nil, nil
	tenant.DisplayName = ""
	e := &cacheEntry{token: t, tenant: tenant, generation: gen, filled: c.now(), filledWall: c.wall()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.since(c.lastSweep) >= c.maxAge {
		c.sweep()
	}
	if _, ok := c.entries[clientID]; !ok && len(c.entries) >= c.size {
		// Full: drop the entries past their age, or else any one (a map's
		// order is random). Either keeps the bound; a dropped entry costs
		// one database read.
		evicted := false
		for id, old := range c.entries {
			if c.aged(old) {
				delete(c.entries, id)
				evicted = true
			}
		}
		if !evicted {
			for id := range c.entries {
				delete(c.entries, id)
				break
			}
		}
	}
	c.entries[clientID] = e
	c.peak = max(c.peak, len(c.entries))
}

// sweep drops the aged entries, at most once per maximum age (from fill,
// so that no goroutine is needed), and gives back the map's memory when
// it emptied: Go maps never shrink on their own. c.mu is held.
func (c *credCache) sweep() {
	c.lastSweep = c.now()
	for id, e := range c.entries {
		if c.aged(e) {
			delete(c.entries, id)
		}
	}
	if n := len(c.entries); c.peak > 1024 && n <= c.peak/4 {
		small := make(map[string]*cacheEntry, n)
		for id, e := range c.entries {
			small[id] = e
		}
		c.entries, c.peak = small, n
	}
}

// aged reports whether e may no longer serve: it is the maximum age old,
// by the monotonic clock or by the registry's. The second guards against
// the wall clock stepping forward: Changed entries, whose lifetimes it
// reckons (in process), would then go early, and so must the entries they
// speak for. A clock stepping back makes an entry aged too.
func (c *credCache) aged(e *cacheEntry) bool {
	wall := c.wall().Sub(e.filledWall)
	return c.since(e.filled) >= c.maxAge || wall >= c.maxAge || wall < 0
}

// drop removes clientID's entry if it is still e (nil: whatever it is).
func (c *credCache) drop(clientID string, e *cacheEntry) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.entries[clientID]; ok && (e == nil || cur == e) {
		delete(c.entries, clientID)
	}
}

// cachedVersionGrant is cachedSecretGrant for a refresh grant proved by
// the refresh token's secret version instead of the secret.
func (s *Service) cachedVersionGrant(ctx context.Context, clientID, secretVersion string) (Client, bool) {
	e, ok := s.creds.lookup(ctx, s.revocations, clientID)
	if !ok {
		return Client{}, false
	}
	now := s.clock()
	if e.token.State(now) != chave.StateActive || !liveSecretVersion(e.token, secretVersion, now) {
		s.creds.count(cacheRefused)
		return Client{}, false
	}
	client, ok := s.cachedClient(ctx, e, secretVersion)
	if !ok {
		return Client{}, false
	}
	s.recordUse(ctx, clientID, now)
	return client, true
}

// changedToken is the Changed entry of a credential as the database holds
// it after a change.
func (s *Service) changedToken(t chave.Token) revocation.Entry {
	now := s.clock()
	return revocation.Entry{Kind: revocation.Changed, ID: revocation.ChangedToken(t.ID), At: now,
		Version: max(t.Version, 1), Until: now.Add(changedLifetime)}
}

// changedTenant is changedToken's for a tenant.
func (s *Service) changedTenant(t chave.Tenant) revocation.Entry {
	now := s.clock()
	return revocation.Entry{Kind: revocation.Changed, ID: revocation.ChangedTenant(t.ID), At: now,
		Version: max(t.Version, 1), Until: now.Add(changedLifetime)}
}

// errChangeNotPropagated answers a change the database recorded but the
// revocation set did not take: the caller retries.
var errChangeNotPropagated = chave.Errorf(chave.Unavailable, "the change is recorded but not yet in force everywhere; retry")

// propagateChanges writes Changed entries after the database committed
// their changes, and drops this replica's entry of each credential named.
// A lost set is no failure here: it will answer a new generation once
// rebuilt, which no cache entry filled before the loss carries, and until
// then it answers nothing. An unreachable set is: a replica that can
// still reach it could serve its stale entry, so the caller is told to
// retry, and the keeper rebuilds the set (renewing the generation).
func (s *Service) propagateChanges(ctx context.Context, entries ...revocation.Entry) error {
	s.dropCached(entries)
	err := s.revocations.Revoke(ctx, entries...)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, revocation.ErrLost):
		s.requestRebuild()
		return nil
	}
	s.log.ErrorContext(ctx, "change not propagated to the revocation set", "err", err, "entries", len(entries))
	s.requestRebuild()
	return &chave.Error{Code: chave.Unavailable, Message: errChangeNotPropagated.Message, Err: err}
}

// dropCached drops this replica's cache entries of the credentials whose
// Changed entries are among entries. The set's check would refuse them
// anyway; this only gives back their memory sooner.
func (s *Service) dropCached(entries []revocation.Entry) {
	for _, e := range entries {
		if e.Kind != revocation.Changed {
			continue
		}
		if id, ok := strings.CutPrefix(e.ID, revocation.ChangedToken("")); ok {
			s.creds.drop(id, nil)
		}
	}
}
