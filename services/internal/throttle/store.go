// Package throttle limits failed client authentications (ASVS 6.3.1): it
// counts failures per client id, per source address and per (client id,
// address) pair in short fixed windows, and refuses attempts over the
// limits before their secret is checked. The counts live in a Store:
// in-process (Memory, the embedded default) or in Redis (shared by every
// replica), with Fallback keeping local limits while Redis is down.
package throttle

import (
	"context"
	"time"
)

// Window is a key's state: its count in the current window and when that
// window ends. The zero Window is a key with no count.
type Window struct {
	Count int64
	End   time.Time
}

// Store keeps counts in fixed windows. A key's window starts with its
// first count and lasts the duration given then; at its end the key is
// forgotten. Every method takes the current time from the caller (the
// Limiter's clock), so that a store needs no clock of its own. Each call
// is atomic per key: concurrent Incr calls on one key all count.
//
// Memory, Redis and Fallback implement it; one conformance suite
// (store_test.go) runs against each.
type Store interface {
	// Get returns each key's window at now; a key without a live window
	// has the zero Window.
	Get(ctx context.Context, now time.Time, keys ...string) ([]Window, error)
	// Incr adds one to each key's count, starting a window of length w at
	// now for a key without a live window.
	Incr(ctx context.Context, now time.Time, w time.Duration, keys ...string) error
	// Set starts a new window of length w at now for key, with count 1,
	// whatever the key held: a mark that lasts w.
	Set(ctx context.Context, now time.Time, w time.Duration, key string) error
	// Delete forgets the keys.
	Delete(ctx context.Context, now time.Time, keys ...string) error
}

// live reports whether w is a live window at now.
func (w Window) live(now time.Time) bool { return w.Count > 0 && now.Before(w.End) }
