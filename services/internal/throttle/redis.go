package throttle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store in Redis, shared by every replica that uses the same
// server and prefix.
//
// # Keys
//
// With the default prefix "chave:throttle" every key is
// "{chave:throttle}:" + the Store's key, a hash with two fields: n, the
// count, and e, the window's end in Unix milliseconds of the caller's
// clock. The whole prefix is the hash tag, so that a call on several keys
// is one script on one Redis Cluster slot. A key's time to live is its
// window plus a second (PEXPIRE, relative, so that clock skew between
// chave and Redis moves nothing): memory is bounded by the failures of the
// last window. The window's end is compared with the caller's clock, not
// Redis's, so the expiry the caller sees is exact.
type Redis struct {
	client  redis.UniversalClient
	tag     string
	timeout time.Duration
}

var _ Store = (*Redis)(nil)

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// Prefix names the store; it becomes every key's hash tag. Default
	// "chave:throttle". It may not contain braces.
	Prefix string
	// Timeout bounds every round trip. Default 100ms: a Fallback turns to
	// its local store when it passes.
	Timeout time.Duration
}

// Defaults of RedisOptions.
const (
	DefaultRedisPrefix  = "chave:throttle"
	DefaultRedisTimeout = 100 * time.Millisecond
)

// expirySlack is how long a Redis key outlives its window.
const expirySlack = time.Second

// NewRedis returns a store in Redis through client. It does not own the
// client: closing it is the caller's.
func NewRedis(client redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	if client == nil {
		return nil, errors.New("throttle: nil Redis client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("throttle: Redis key prefix %q: braces are not allowed", opts.Prefix)
	}
	switch {
	case opts.Timeout < 0:
		return nil, fmt.Errorf("throttle: negative Redis timeout %s", opts.Timeout)
	case opts.Timeout == 0:
		opts.Timeout = DefaultRedisTimeout
	}
	return &Redis{client: client, tag: "{" + opts.Prefix + "}:", timeout: opts.Timeout}, nil
}

// incrScript adds one to each key (KEYS) whose window ends after now
// (ARGV[1], ms), and starts a window ending at ARGV[2] (ms) with count 1,
// living ARGV[3] ms in Redis, for the others.
var incrScript = redis.NewScript(`
local now = tonumber(ARGV[1])
for _, k in ipairs(KEYS) do
  local e = tonumber(redis.call('HGET', k, 'e'))
  if e == nil or e <= now then
    redis.call('HSET', k, 'e', ARGV[2], 'n', 1)
    redis.call('PEXPIRE', k, ARGV[3])
  else
    redis.call('HINCRBY', k, 'n', 1)
  end
end
return 0
`)

// setScript starts a window ending at ARGV[1] (ms) with count 1 on
// KEYS[1], living ARGV[2] ms in Redis.
var setScript = redis.NewScript(`
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'n', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
`)

// getScript returns, for each key, its count and its window's end.
var getScript = redis.NewScript(`
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('HMGET', k, 'n', 'e')
  out[2*i-1] = v[1]
  out[2*i] = v[2]
end
return out
`)

func (r *Redis) keys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = r.tag + k
	}
	return out
}

// Get implements Store with one round trip.
func (r *Redis) Get(ctx context.Context, now time.Time, keys ...string) ([]Window, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	vals, err := getScript.Run(ctx, r.client, r.keys(keys)).Slice()
	if err != nil {
		return nil, fmt.Errorf("throttle: Redis get: %w", err)
	}
	if len(vals) != 2*len(keys) {
		return nil, fmt.Errorf("throttle: Redis get: %d values for %d keys", len(vals), len(keys))
	}
	out := make([]Window, len(keys))
	for i := range keys {
		n, okN := parseInt(vals[2*i])
		e, okE := parseInt(vals[2*i+1])
		if !okN || !okE {
			continue // absent (or not ours): no count
		}
		w := Window{Count: n, End: time.UnixMilli(e)}
		if w.live(now) {
			out[i] = w
		}
	}
	return out, nil
}

// Incr implements Store with one round trip.
func (r *Redis) Incr(ctx context.Context, now time.Time, w time.Duration, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := incrScript.Run(ctx, r.client, r.keys(keys),
		now.UnixMilli(), windowEnd(now, w), ttlMillis(w)).Err()
	if err != nil {
		return fmt.Errorf("throttle: Redis incr: %w", err)
	}
	return nil
}

// Set implements Store with one round trip.
func (r *Redis) Set(ctx context.Context, now time.Time, w time.Duration, key string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := setScript.Run(ctx, r.client, r.keys([]string{key}), windowEnd(now, w), ttlMillis(w)).Err(); err != nil {
		return fmt.Errorf("throttle: Redis set: %w", err)
	}
	return nil
}

// Delete implements Store with one round trip.
func (r *Redis) Delete(ctx context.Context, _ time.Time, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.client.Del(ctx, r.keys(keys)...).Err(); err != nil {
		return fmt.Errorf("throttle: Redis delete: %w", err)
	}
	return nil
}

// windowEnd is the end of a window of length w starting at now, in Unix
// milliseconds rounded up, so that a window never ends early.
func windowEnd(now time.Time, w time.Duration) int64 {
	end := now.Add(w)
	ms := end.UnixMilli()
	if time.UnixMilli(ms).Before(end) {
		ms++
	}
	return ms
}

// ttlMillis is how long a key of a window of length w lives in Redis.
func ttlMillis(w time.Duration) int64 {
	return int64((w + expirySlack + time.Millisecond - 1) / time.Millisecond)
}

// parseInt reads a script's bulk string reply; false for nil or garbage.
func parseInt(v any) (int64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
