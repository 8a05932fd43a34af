package revocation

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// reads coalesces the MGETs of concurrent checks of one Redis set. While
// one MGET is in flight, the checks that arrive join the next and go in
// it together once it returns: one round trip and one marker read for all
// of them instead of one each (under load, most of what a check costs a
// process, and Redis, is its round trip). A check that finds no MGET in
// flight sends its own at once, so a lone check waits for nothing.
//
// A check's keys are always read by an MGET sent after the check began
// (the next batch is sent only after the one in flight has returned), so
// whatever was written to the set before a check began is seen by it:
// the same promise as one MGET a check.
type reads struct {
	// mget reads keys (the marker first) in one round trip, under the
	// set's timeout.
	mget func(ctx context.Context, keys []string) ([]any, error)
	// timeout bounds a check's wait, as it bounds one MGET: a check that
	// joins a batch answers ErrUnavailable if it is not answered in time.
	timeout time.Duration

	mu   sync.Mutex
	busy bool       // an MGET is in flight
	next *readBatch // the checks waiting for it to return; nil if none
}

// readBatch is the MGET the checks that wait share.
type readBatch struct {
	ctx   context.Context // the first check's, without its cancellation
	keys  []string        // the marker, then each key once
	index map[string]int  // position of a key in keys
	done  chan struct{}   // closed when vals and err are set
	vals  []any
	err   error
}

// read returns the values of keys, the set's marker first, as one MGET of
// them would: ErrUnavailable if Redis does not answer, or answers
// something else than a value a key.
func (r *reads) read(ctx context.Context, keys []string) ([]any, error) {
	r.mu.Lock()
	if !r.busy {
		r.busy = true
		r.mu.Unlock()
		vals, err := r.mgetAll(ctx, keys)
		r.release()
		return vals, err
	}
	b := r.next
	if b == nil {
		b = &readBatch{
			ctx:   context.WithoutCancel(ctx),
			keys:  []string{keys[0]},
			index: map[string]int{keys[0]: 0},
			done:  make(chan struct{}),
		}
		r.next = b
	}
	at := make([]int, len(keys))
	for i, k := range keys {
		p, ok := b.index[k]
		if !ok {
			p = len(b.keys)
			b.keys = append(b.keys, k)
			b.index[k] = p
		}
		at[i] = p
	}
	r.mu.Unlock()

	wait := time.NewTimer(r.timeout)
	defer wait.Stop()
	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, unavailable(ctx.Err())
	case <-wait.C:
		return nil, unavailable(context.DeadlineExceeded)
	}
	if b.err != nil {
		return nil, b.err
	}
	vals := make([]any, len(keys))
	for i, p := range at {
		vals[i] = b.vals[p]
	}
	return vals, nil
}

// release ends the MGET in flight: it sends the batch that waited for it,
// if any (staying busy), or marks the set idle.
func (r *reads) release() {
	r.mu.Lock()
	b := r.next
	r.next = nil
	if b == nil {
		r.busy = false
	}
	r.mu.Unlock()
	if b != nil {
		go r.send(b)
	}
}

// send runs b's MGET, answers its checks and releases the set.
func (r *reads) send(b *readBatch) {
	b.vals, b.err = r.mgetAll(b.ctx, b.keys)
	close(b.done)
	r.release()
}

// mgetAll is mget, failing unless it answers a value a key.
func (r *reads) mgetAll(ctx context.Context, keys []string) ([]any, error) {
	vals, err := r.mget(ctx, keys)
	if err != nil {
		return nil, err
	}
	if len(vals) != len(keys) {
		return nil, fmt.Errorf("%w: MGET answered %d values for %d keys", ErrUnavailable, len(vals), len(keys))
	}
	return vals, nil
}
