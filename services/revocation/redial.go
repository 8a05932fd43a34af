package revocation

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// redialInterval is how often the client tries to reconnect to a Redis
// that became unreachable, so that verification and readiness resume
// within about that long of Redis answering again.
const redialInterval = 50 * time.Millisecond

// maxRetryBackoff bounds the wait before a call is retried (after a dropped
// connection or a failed dial).
const maxRetryBackoff = 20 * time.Millisecond

// failFast makes a call to an unreachable Redis fail within milliseconds
// (the caller's next call tries again) instead of after go-redis's dial
// retries and retry backoffs used up its whole timeout: a dial tries once,
// and a call retries after at most maxRetryBackoff (go-redis: up to 1 s,
// longer than any call of the set may take). It also makes the pool
// reopen promptly once Redis is back (see redialPromptly). dialer_retries
// and max_retry_backoff in the URL win.
func failFast(o *redis.Options) {
	if o.DialerRetries == 0 {
		o.DialerRetries = 1
	}
	if o.MaxRetryBackoff == 0 {
		o.MaxRetryBackoff = maxRetryBackoff
	}
	poolSize := o.PoolSize
	if poolSize <= 0 {
		poolSize = 10 * runtime.GOMAXPROCS(0) // go-redis's default
	}
	o.Dialer = redialPromptly(redis.NewDialer(o), poolSize)
}

// redialPromptly wraps go-redis's dialer. After poolSize failed dials in a
// row go-redis stops dialling for calls (they fail with the last dial
// error) and probes Redis from the background, one dial every second or
// so; from then on a dial here retries every redialInterval for as long as
// its context allows (the pool's dial timeout), so that the pool reopens
// as soon as Redis answers. Before that, a dial tries once.
func redialPromptly(dial func(ctx context.Context, network, addr string) (net.Conn, error), poolSize int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var failures atomic.Int64 // failed dials since the last that succeeded
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		for {
			conn, err := dial(ctx, network, addr)
			if err == nil {
				failures.Store(0)
				return conn, nil
			}
			if failures.Add(1) < int64(poolSize) || ctx.Err() != nil {
				return nil, err
			}
			t := time.NewTimer(redialInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, err
			case <-t.C:
			}
		}
	}
}
