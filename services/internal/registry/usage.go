// Usage: grants counted per credential and UTC day in memory, flushed to
// the database at most once a minute, and read back per credential.

package registry

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// UsageFlushInterval is how often RunUsageKeeper writes the counted grants:
// a grant itself writes nothing.
const UsageFlushInterval = time.Minute

// usagePruneInterval is how often RunUsageKeeper deletes days older than
// chave.UsageRetention.
const usagePruneInterval = time.Hour

// usageShards spreads the counters over independent locks so that grants
// of different credentials on different cores rarely meet.
const usageShards = 64

const secondsPerDay = 24 * 60 * 60

type usageKey struct {
	id  string
	day int64 // unix seconds of the UTC midnight
}

type usageCell struct {
	succeeded, failed int64
}

type usageShard struct {
	mu    sync.Mutex
	cells map[usageKey]usageCell
	_     [40]byte // keeps neighbouring shards' locks off one cache line
}

// usageCounter counts grants per credential and day until a flush drains
// it.
type usageCounter struct {
	seed   maphash.Seed
	shards [usageShards]usageShard
}

func newUsageCounter() *usageCounter {
	u := &usageCounter{seed: maphash.MakeSeed()}
	for i := range u.shards {
		u.shards[i].cells = map[usageKey]usageCell{}
	}
	return u
}

func (u *usageCounter) shard(id string) *usageShard {
	return &u.shards[maphash.String(u.seed, id)%usageShards]
}

// add counts n succeeded or failed grants of id on the day of at.
func (u *usageCounter) add(id string, at time.Time, succeeded, failed int64) {
	day := at.Unix()
	day -= ((day % secondsPerDay) + secondsPerDay) % secondsPerDay // the UTC midnight, also before 1970
	k := usageKey{id: id, day: day}
	sh := u.shard(id)
	sh.mu.Lock()
	c := sh.cells[k]
	c.succeeded += succeeded
	c.failed += failed
	sh.cells[k] = c
	sh.mu.Unlock()
}

// drain takes every count, leaving the counter empty.
func (u *usageCounter) drain() []chave.UsageCount {
	var out []chave.UsageCount
	for i := range u.shards {
		sh := &u.shards[i]
		sh.mu.Lock()
		cells := sh.cells
		if len(cells) == 0 {
			sh.mu.Unlock()
			continue
		}
		sh.cells = make(map[usageKey]usageCell, len(cells))
		sh.mu.Unlock()
		for k, c := range cells {
			out = append(out, chave.UsageCount{TokenID: k.id, UsageDay: chave.UsageDay{
				Day: time.Unix(k.day, 0).UTC(), Succeeded: c.succeeded, Failed: c.failed}})
		}
	}
	return out
}

// pending returns the counts of id not flushed yet, by day (unix seconds).
func (u *usageCounter) pending(id string) map[int64]usageCell {
	sh := u.shard(id)
	out := map[int64]usageCell{}
	sh.mu.Lock()
	for k, c := range sh.cells {
		if k.id == id {
			out[k.day] = c
		}
	}
	sh.mu.Unlock()
	return out
}

// grantKey marks a context as a grant at a token endpoint.
type grantKey struct{}

type grantInfo struct {
	clientAddress string
}

// AtTokenEndpoint marks ctx as a grant at a token endpoint (/oauth2/token,
// the TSS endpoint) from the HTTP client at clientAddress (an IP address,
// empty when unknown): the client authentications made under it count in
// the credential's usage and must come from an address its tenant's
// policy allows. CredentialServer marks AuthenticateClient and
// UseRefreshToken calls; revocation and introspection are no grants.
func AtTokenEndpoint(ctx context.Context, clientAddress string) context.Context {
	return context.WithValue(ctx, grantKey{}, grantInfo{clientAddress: clientAddress})
}

func grantOf(ctx context.Context) (grantInfo, bool) {
	g, ok := ctx.Value(grantKey{}).(grantInfo)
	return g, ok
}

// countGrant counts a grant's outcome for the credential id names, if it
// is a grant and id named a real credential: success, or a refusal of the
// client (a wrong secret, an address the policy does not allow, a used or
// revoked refresh token). A failure of the registry itself counts nothing.
func (s *Service) countGrant(ctx context.Context, knownID string, err error) {
	if knownID == "" {
		return
	}
	if _, ok := grantOf(ctx); !ok {
		return
	}
	switch {
	case err == nil:
		s.usage.add(knownID, s.clock(), 1, 0)
	case chave.IsCode(err, chave.Unauthenticated), chave.IsCode(err, chave.InvalidGrant):
		s.usage.add(knownID, s.clock(), 0, 1)
	}
}

// FlushUsage writes the grants counted so far to the database. Counts a
// failed write could not store are kept for the next flush.
func (s *Service) FlushUsage(ctx context.Context) error {
	counts := s.usage.drain()
	if len(counts) == 0 {
		return nil
	}
	if err := s.store.AddTokenUsage(ctx, counts); err != nil {
		for _, c := range counts {
			s.usage.add(c.TokenID, c.Day, c.Succeeded, c.Failed)
		}
		return err
	}
	return nil
}

// RunUsageKeeper flushes the counted grants every interval (and once more
// when ctx ends, so that a shutdown loses none) and prunes days older than
// chave.UsageRetention every hour.
func (s *Service) RunUsageKeeper(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var pruned time.Time
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := s.FlushUsage(final); err != nil {
				s.log.Warn("usage not flushed at shutdown; counts since the last flush are lost", "err", err)
			}
			cancel()
			return
		case <-ticker.C:
		}
		if err := s.FlushUsage(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.WarnContext(ctx, "usage flush failed; retrying at the next", "err", err)
		}
		if now := s.clock(); now.Sub(pruned) >= usagePruneInterval {
			if err := s.store.PruneTokenUsage(ctx, chave.UsageDayOf(now.Add(-chave.UsageRetention))); err != nil {
				s.log.WarnContext(ctx, "usage prune failed", "err", err)
			} else {
				pruned = now
			}
		}
	}
}

// MaxUsageDays is how many days GetTokenUsage reaches back, today included.
const MaxUsageDays = 90

// GetTokenUsage returns a credential's grants per UTC day over the last
// days days (today included; 0 means MaxUsageDays), newest first, days
// without grants left out. It adds this process's counts not flushed yet,
// so a single registry answers exactly; with several, other replicas'
// recent grants appear within UsageFlushInterval.
func (s *Service) GetTokenUsage(ctx context.Context, c Caller, id string, days int) ([]chave.UsageDay, error) {
	switch {
	case days < 0 || days > MaxUsageDays:
		return nil, chave.InvalidField("days", "must be between 1 and %d (got %d)", MaxUsageDays, days)
	case days == 0:
		days = MaxUsageDays
	}
	if _, err := s.visibleToken(ctx, c, id); err != nil {
		return nil, err
	}
	since := chave.UsageDayOf(s.clock()).AddDate(0, 0, 1-days)
	stored, err := s.store.ListTokenUsage(ctx, id, since)
	if err != nil {
		return nil, err
	}
	pending := s.usage.pending(id)
	out := stored[:0:0]
	for _, d := range stored {
		if p, ok := pending[d.Day.Unix()]; ok {
			d.Succeeded += p.succeeded
			d.Failed += p.failed
			delete(pending, d.Day.Unix())
		}
		out = append(out, d)
	}
	for day, p := range pending {
		if d := time.Unix(day, 0).UTC(); !d.Before(since) {
			out = append(out, chave.UsageDay{Day: d, Succeeded: p.succeeded, Failed: p.failed})
		}
	}
	slices.SortFunc(out, func(a, b chave.UsageDay) int { return b.Day.Compare(a.Day) })
	return out, nil
}
