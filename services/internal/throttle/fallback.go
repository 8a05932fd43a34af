package throttle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultRetryShared is how long a Fallback keeps to its local store after
// the shared one failed, before it tries the shared one again.
const DefaultRetryShared = time.Second

// Fallback is a shared Store (Redis) backed by a local one (Memory), so
// that limits never lapse while the shared store is down.
//
// Every write goes to both: the local store holds this replica's own share
// of the counts. Get answers, per key, the larger of the two counts while
// the shared store answers, and the local one alone while it does not.
// After a failure of the shared store, Fallback uses only the local one for
// RetryShared, then tries the shared store again: when it answers, its
// counts apply again at once. Its methods never fail.
type Fallback struct {
	shared, local Store
	retry         time.Duration
	log           *slog.Logger
	onFallback    func() // counts the calls answered by the local store alone

	mu        sync.Mutex
	downUntil time.Time // the shared store is skipped before this instant
	down      bool      // the shared store failed last time it was tried
}

var _ Store = (*Fallback)(nil)

// FallbackOptions configure a Fallback.
type FallbackOptions struct {
	// RetryShared: see DefaultRetryShared; zero means the default.
	RetryShared time.Duration
	// Logger hears when the shared store goes and comes back; nil discards.
	Logger *slog.Logger
	// OnLocalOnly, when set, is called for every call the local store
	// answers alone (a metric).
	OnLocalOnly func()
}

// NewFallback returns shared backed by local.
func NewFallback(shared, local Store, opts FallbackOptions) *Fallback {
	if opts.RetryShared <= 0 {
		opts.RetryShared = DefaultRetryShared
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OnLocalOnly == nil {
		opts.OnLocalOnly = func() {}
	}
	return &Fallback{shared: shared, local: local, retry: opts.RetryShared, log: opts.Logger, onFallback: opts.OnLocalOnly}
}

// useShared reports whether the shared store is worth trying at now.
func (f *Fallback) useShared(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Before(f.downUntil) {
		f.onFallback()
		return false
	}
	return true
}

// result records how the shared store answered at now.
func (f *Fallback) result(ctx context.Context, now time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err != nil && ctx.Err() != nil:
		// The caller gave up: that says nothing about the store.
	case err != nil:
		f.onFallback()
		if !f.down {
			f.log.WarnContext(ctx, "throttle: shared store unreachable; limiting failed authentications in process", "err", err)
		}
		f.down, f.downUntil = true, now.Add(f.retry)
	case f.down:
		f.log.InfoContext(ctx, "throttle: shared store reachable again")
		f.down, f.downUntil = false, time.Time{}
	}
}

// Get implements Store.
func (f *Fallback) Get(ctx context.Context, now time.Time, keys ...string) ([]Window, error) {
	local, err := f.local.Get(ctx, now, keys...)
	if err != nil || len(local) != len(keys) {
		local = make([]Window, len(keys))
	}
	if !f.useShared(now) {
		return local, nil
	}
	shared, err := f.shared.Get(ctx, now, keys...)
	f.result(ctx, now, err)
	if err != nil || len(shared) != len(keys) {
		return local, nil
	}
	for i := range shared {
		if local[i].Count > shared[i].Count {
			shared[i] = local[i]
		}
	}
	return shared, nil
}

// Incr implements Store.
func (f *Fallback) Incr(ctx context.Context, now time.Time, w time.Duration, keys ...string) error {
	_ = f.local.Incr(ctx, now, w, keys...)
	if f.useShared(now) {
		f.result(ctx, now, f.shared.Incr(ctx, now, w, keys...))
	}
	return nil
}

// Set implements Store.
func (f *Fallback) Set(ctx context.Context, now time.Time, w time.Duration, key string) error {
	_ = f.local.Set(ctx, now, w, key)
	if f.useShared(now) {
		f.result(ctx, now, f.shared.Set(ctx, now, w, key))
	}
	return nil
}

// Delete implements Store.
func (f *Fallback) Delete(ctx context.Context, now time.Time, keys ...string) error {
	_ = f.local.Delete(ctx, now, keys...)
	if f.useShared(now) {
		f.result(ctx, now, f.shared.Delete(ctx, now, keys...))
	}
	return nil
}
