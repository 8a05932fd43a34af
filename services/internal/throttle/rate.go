package throttle

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Rate limits how often a key (a leak report's source) acts: at most Limit
// times per fixed window of Window, over a Store. Unlike Limiter it counts
// every attempt, not failures.
type Rate struct {
	store  Store
	limit  int64
	window time.Duration
	prefix string
	now    func() time.Time
}

// NewRate returns a limit of limit attempts per window for each key, its
// keys kept in store under prefix (so that several rates share a store);
// clock nil means time.Now.
func NewRate(store Store, prefix string, limit int64, window time.Duration, clock func() time.Time) (*Rate, error) {
	switch {
	case store == nil:
		return nil, errors.New("throttle: nil store")
	case limit < 1 || window <= 0:
		return nil, fmt.Errorf("throttle: rate of %d per %v: both must be positive", limit, window)
	}
	if clock == nil {
		clock = time.Now
	}
	return &Rate{store: store, limit: limit, window: window, prefix: prefix, now: clock}, nil
}

// Allow counts an attempt of key and reports whether it is within the
// limit; when not, retryAfter is how long until the window ends. A refused
// attempt counts nothing. Concurrent attempts may overshoot the limit by
// their number (a read, then a count), never more.
func (r *Rate) Allow(ctx context.Context, key string) (allowed bool, retryAfter time.Duration, err error) {
	now := r.now().Truncate(time.Millisecond)
	k := r.prefix + clientKey(key)
	ws, err := r.store.Get(ctx, now, k)
	if err != nil {
		return false, 0, fmt.Errorf("throttle: rate: %w", err)
	}
	if w := ws[0]; w.live(now) && w.Count >= r.limit {
		return false, max(w.End.Sub(now), time.Millisecond), nil
	}
	if err := r.store.Incr(ctx, now, r.window, k); err != nil {
		return false, 0, fmt.Errorf("throttle: rate: %w", err)
	}
	return true, 0, nil
}
