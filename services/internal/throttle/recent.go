package throttle

import (
	"sync"
	"time"
)

// DefaultMaxRecent bounds the pairs a Limiter remembers for Recent (some
// 100 bytes each): when it is reached, the expired ones are swept (once
// per Recheck at most), and while it stays reached a new success is not
// remembered (its pair's next attempts are checked, as without Recent).
// Only successes are remembered: an attacker without a secret adds none.
const DefaultMaxRecent = 65536

// recentPairs are the pairs Recent allows, each until an instant.
type recentPairs struct {
	mu        sync.Mutex
	max       int
	until     map[string]time.Time
	nextSweep time.Time
}

// live reports whether pair is remembered at now.
func (r *recentPairs) live(pair string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, ok := r.until[pair]
	if ok && !now.Before(until) {
		delete(r.until, pair)
		ok = false
	}
	return ok
}

// remember makes pair live from now until until.
func (r *recentPairs) remember(pair string, now, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.until == nil {
		r.until = make(map[string]time.Time)
	}
	if _, ok := r.until[pair]; !ok && len(r.until) >= r.max {
		if now.Before(r.nextSweep) {
			return
		}
		r.nextSweep = until
		for p, u := range r.until {
			if !now.Before(u) {
				delete(r.until, p)
			}
		}
		if len(r.until) >= r.max {
			return
		}
	}
	r.until[pair] = until
}

// forget drops pair.
func (r *recentPairs) forget(pair string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.until, pair)
}
