package sqlstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// RetryPolicy bounds how often an operation the database aborted to resolve
// a conflict is run again, and how long to wait in between.
type RetryPolicy struct {
	Attempts int           // runs in all; below 1, one
	Base     time.Duration // the wait after the first run, before jitter
	Max      time.Duration // the longest wait, before jitter
}

// do runs op until it succeeds, fails with an error that is not a
// conflict abort (retryable), or has run p.Attempts times. Giving up on
// conflicts returns an Unavailable error (the caller may try again later)
// that wraps the last abort. op's other errors come back unchanged.
func (p RetryPolicy) do(ctx context.Context, retryable func(error) bool, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || !retryable(err) {
			return err
		}
		if attempt >= p.Attempts {
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
// p.Base up to p.Max, of which a random half is kept, so that transactions
// aborted together do not run again together.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
