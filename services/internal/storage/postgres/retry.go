package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATEs of the aborts PostgreSQL uses to resolve conflicts between
// transactions: running the transaction again is the documented remedy.
const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// retryPolicy bounds how often an operation PostgreSQL aborted to resolve a
// conflict is run again, and how long to wait in between.
type retryPolicy struct {
	attempts int           // runs in all, at least 1
	base     time.Duration // the wait after the first run, before jitter
	max      time.Duration // the longest wait, before jitter
}

func defaultRetryPolicy() retryPolicy {
	return retryPolicy{attempts: 5, base: 5 * time.Millisecond, max: 250 * time.Millisecond}
}

// do runs op until it succeeds, fails with an error that is not a
// conflict abort, or has run p.attempts times. Giving up on conflicts
// returns an Unavailable error (the caller may try again later) that wraps
// the last abort. op's own errors, and errors carried by a closureError,
// come back unchanged.
func (p retryPolicy) do(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || !retryable(err) {
			return err
		}
		if attempt >= p.attempts {
			return &chave.Error{
				Code:    chave.Unavailable,
				Message: "the database kept aborting the transaction to resolve conflicts; try again",
				Err:     fmt.Errorf("gave up after %d attempts: %w", attempt, err),
			}
		}
		timer := time.NewTimer(p.backoff(attempt))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (waiting to retry after: %v)", context.Cause(ctx), err)
		case <-timer.C:
		}
	}
}

// backoff returns the wait after the attempt-th run: exponential from
// p.base up to p.max, of which a random half is kept, so that transactions
// aborted together do not run again together.
func (p retryPolicy) backoff(attempt int) time.Duration {
	d := p.base
	for i := 1; i < attempt && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryable reports whether err is a serialization failure or a deadlock.
func retryable(err error) bool {
	if _, ok := closureErr(err); ok {
		return false
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == serializationFailure || pe.Code == deadlockDetected
}
