package revocation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chave/chave/services/internal/redact"
)

// Redis is a Set in Redis, shared by every verifier.
//
// # Keys
//
// With the default prefix "chave:rev" the set uses these keys:
//
//	{chave:rev}:gen            the generation marker: a random value, no expiry
//	{chave:rev}:c:<client id>  a revoked credential; value: At in Unix nanoseconds, 19 digits
//	{chave:rev}:t:<jti>        a revoked access token; value: 1
//	{chave:rev}:f:<family id>  a revoked refresh family; value: 1
//	{chave:rev}:k:<kid>        a revoked signing key; value: 1
//	{chave:rev}:v:<id>         a Changed entry; value: its version, 19 digits
//	{chave:rev}:rebuild:<rand> present while a Rebuild runs; expires on its own
//
// Every entry key expires at its entry's Until (SET … PX, relative to the
// clock, so clock skew between chave and Redis does not move expiries).
// Only a credential's check reads the value; the others hold 1, which Redis
// keeps as a shared integer, allocating nothing for it. (A 19-digit value
// is an integer to Redis too, but one object per key: 16 bytes more.) Keys
// written by older versions, with the instant in every value, read the
// same.
//
// The whole prefix is the key's hash tag, so every key of a set lives in one
// Redis Cluster slot: a check is one MGET, and writes are Lua scripts,
// neither of which may span slots. The cost is that the set lives on one
// shard and does not spread over the cluster; it is small (revocations are
// rare and forget themselves), and a check is one read from that shard's
// primary. Deployments that share a cluster give each set its own prefix,
// and with it its own slot.
//
// # Loss detection
//
// Rebuild writes the generation marker after every entry, and nothing else
// writes it. A store that loses its data (FLUSHALL, a restart without
// persistence, a failover to an empty replica) loses the marker with it, so
// a check that finds no marker answers ErrLost instead of a "not revoked"
// it cannot vouch for. Revoke writes its entries whatever the marker says,
// but never the marker, and reports ErrLost when the marker is missing: a
// write into a lost set never makes it look whole. A Rebuild that is
// overtaken by another loss finds its rebuild key gone and does not write
// the marker.
//
// Evictions would drop entries silently while the marker stays; the store
// must run with maxmemory-policy noeviction (see CheckEvictionPolicy).
// Replication to replicas is asynchronous: a failover may lose the last
// writes acknowledged by the old primary, which this design cannot detect.
type Redis struct {
	client  redis.UniversalClient
	now     func() time.Time
	timeout time.Duration

	marker      string // key of the generation marker
	tag         string // "{prefix}:", the start of every key
	credential  string
	accessToken string
	family      string
	signingKey  string
	changed     string

	reads *reads // every check's MGET, coalesced under load
}

var _ Set = (*Redis)(nil)

// Options configure a Redis set.
type Options struct {
	// Prefix names the set; it becomes every key's hash tag. Default
	// "chave:rev". It may not contain braces.
	Prefix string
	// Timeout bounds every round trip to Redis. Default 250ms. It relies on
	// the client honouring context deadlines (ContextTimeoutEnabled, which
	// ParseURL sets); otherwise the client's own read and write timeouts
	// bound a call.
	Timeout time.Duration
	// Clock returns the current time; nil means time.Now. It turns an
	// entry's Until into a time to live.
	Clock func() time.Time
}

// Defaults of Options.
const (
	DefaultPrefix  = "chave:rev"
	DefaultTimeout = 250 * time.Millisecond
)

// Limits of a Rebuild.
const (
	// rebuildBatch is the number of entries Rebuild writes per round trip,
	// so that no script blocks Redis for long.
	rebuildBatch = 1000
	// rebuildTTL is how long a crashed Rebuild's key outlives it.
	rebuildTTL = 10 * time.Minute
)

// NewRedis returns a set stored in Redis through client. The set owns the
// client: Close closes it.
//
// A new set, like a set that lost its data, answers ErrLost until Rebuild
// has run once against its store: the server rebuilds it from the database
// when it starts and whenever a check reports ErrLost.
func NewRedis(client redis.UniversalClient, opts Options) (*Redis, error) {
	if client == nil {
		return nil, errors.New("revocation: nil Redis client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("revocation: Redis key prefix %q: braces are not allowed", opts.Prefix)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("revocation: negative Redis timeout %s", opts.Timeout)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	tag := "{" + opts.Prefix + "}:"
	r := &Redis{
		client:      client,
		now:         opts.Clock,
		timeout:     opts.Timeout,
		marker:      tag + "gen",
		tag:         tag,
		credential:  tag + "c:",
		accessToken: tag + "t:",
		family:      tag + "f:",
		signingKey:  tag + "k:",
		changed:     tag + "v:",
	}
	r.reads = &reads{mget: r.mget, timeout: r.timeout}
	return r, nil
}

// mget reads keys in one round trip under the set's timeout.
func (r *Redis) mget(ctx context.Context, keys []string) ([]any, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	vals, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	return vals, nil
}

func (r *Redis) key(kind Kind, id string) string {
	switch kind {
	case Credential:
		return r.credential + id
	case AccessToken:
		return r.accessToken + id
	case SigningKey:
		return r.signingKey + id
	case Changed:
		return r.changed + id
	default:
		return r.family + id
	}
}

// writeScript merges entries into the set and reports whether the marker
// exists. KEYS[1] is the marker, KEYS[2…] the entries; ARGV holds, for each
// entry, its value (a credential's At in 19 digits, so that string order is
// time order; 1 for the others) and its time to live in milliseconds. An
// existing entry keeps the greater value and the longer time to live.
var writeScript = redis.NewScript(`
local whole = redis.call('EXISTS', KEYS[1])
for i = 2, #KEYS do
  local at, ttl = ARGV[2*i-3], ARGV[2*i-2]
  local old = redis.call('GET', KEYS[i])
  if old then
    if old > at then at = old end
    local left = redis.call('PTTL', KEYS[i])
    if left > tonumber(ttl) then ttl = left end
  end
  redis.call('SET', KEYS[i], at, 'PX', ttl)
end
return whole
`)

// commitScript ends a Rebuild: it writes the marker (KEYS[1]) with a new
// generation (ARGV[1]) only if the rebuild key (KEYS[2]) survived, that is
// if the store lost nothing since the Rebuild began.
var commitScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`)

// Revoke adds entries in one round trip.
func (r *Redis) Revoke(ctx context.Context, entries ...Entry) error {
	if err := validate(entries); err != nil {
		return err
	}
	whole, err := r.write(ctx, entries)
	if err != nil {
		return fmt.Errorf("revocation: revoke: %w", err)
	}
	if !whole {
		return fmt.Errorf("revocation: revoke: %w", ErrLost)
	}
	return nil
}

// write runs writeScript over entries and reports whether the marker
// exists. With no live entry it only checks the marker.
func (r *Redis) write(ctx context.Context, entries []Entry) (whole bool, err error) {
	now := r.now()
	keys := make([]string, 1, 1+len(entries))
	keys[0] = r.marker
	args := make([]any, 0, 2*len(entries))
	for _, e := range entries {
		ttl := e.Until.Sub(now)
		if ttl <= 0 {
			continue
		}
		ms := (ttl + time.Millisecond - 1) / time.Millisecond // round up: never forget early
		value := "1"
		switch e.Kind {
		case Credential:
			value = formatAt(e.At)
		case Changed:
			value = fmt.Sprintf("%019d", e.Version) // string order is number order
		}
		keys = append(keys, r.key(e.Kind, e.ID))
		args = append(args, value, strconv.FormatInt(int64(ms), 10))
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	n, err := writeScript.Run(ctx, r.client, keys, args...).Int64()
	if err != nil {
		return false, unavailable(err)
	}
	return n == 1, nil
}

// IsRevoked checks the token with one MGET of the marker and its keys.
func (r *Redis) IsRevoked(ctx context.Context, q Query) (bool, error) {
	var buf [5]string
	keys := append(buf[:0], r.marker)
	credential, token, family, key := -1, -1, -1, -1
	if q.ClientID != "" {
		credential = len(keys)
		keys = append(keys, r.credential+q.ClientID)
	}
	if q.TokenID != "" {
		token = len(keys)
		keys = append(keys, r.accessToken+q.TokenID)
	}
	if q.FamilyID != "" {
		family = len(keys)
		keys = append(keys, r.family+q.FamilyID)
	}
	if q.KeyID != "" {
		key = len(keys)
		keys = append(keys, r.signingKey+q.KeyID)
	}

	vals, err := r.reads.read(ctx, keys)
	if err != nil {
		return false, fmt.Errorf("revocation: check: %w", err)
	}
	if vals[0] == nil {
		return false, fmt.Errorf("revocation: check: %w", ErrLost)
	}
	if credential > 0 && vals[credential] != nil {
		at, err := parseAt(vals[credential])
		if err != nil {
			return false, fmt.Errorf("revocation: check credential %q: %w", q.ClientID, err)
		}
		if !q.IssuedAt.After(at) {
			return true, nil
		}
	}
	if token > 0 && vals[token] != nil {
		return true, nil
	}
	if family > 0 && vals[family] != nil {
		return true, nil
	}
	if key > 0 && vals[key] != nil {
		return true, nil
	}
	return false, nil
}

// Versions reads the marker (the generation) and the Changed entries of ids
// with one MGET.
func (r *Redis) Versions(ctx context.Context, ids []string, versions []int64) (Generation, error) {
	if len(versions) != len(ids) {
		return "", fmt.Errorf("revocation: versions: %d ids, room for %d versions", len(ids), len(versions))
	}
	var buf [3]string
	keys := append(buf[:0], r.marker)
	for _, id := range ids {
		keys = append(keys, r.changed+id)
	}
	vals, err := r.reads.read(ctx, keys)
	if err != nil {
		return "", fmt.Errorf("revocation: versions: %w", err)
	}
	gen, ok := vals[0].(string)
	if !ok || gen == "" {
		return "", fmt.Errorf("revocation: versions: %w", ErrLost)
	}
	for i, v := range vals[1:] {
		versions[i] = 0
		if v == nil {
			continue
		}
		s, ok := v.(string)
		n, err := strconv.ParseInt(s, 10, 64)
		if !ok || err != nil {
			return "", fmt.Errorf("revocation: versions: entry %q holds %v, not a version", ids[i], v)
		}
		versions[i] = n
	}
	return Generation(gen), nil
}

// Rebuild adds all to the set, in batches, then writes a new generation
// marker, unless the store lost its data meanwhile.
func (r *Redis) Rebuild(ctx context.Context, all []Entry) error {
	if err := validate(all); err != nil {
		return err
	}
	nonce, err := randomHex()
	if err != nil {
		return fmt.Errorf("revocation: rebuild: %w", err)
	}
	rebuilding := r.tag + "rebuild:" + nonce
	if err := r.do(ctx, func(ctx context.Context) error {
		return r.client.Set(ctx, rebuilding, "1", rebuildTTL).Err()
	}); err != nil {
		return fmt.Errorf("revocation: rebuild: %w", err)
	}
	for len(all) > 0 {
		n := min(len(all), rebuildBatch)
		if _, err := r.write(ctx, all[:n]); err != nil {
			return fmt.Errorf("revocation: rebuild: %w", err)
		}
		all = all[n:]
	}
	generation, err := randomHex()
	if err != nil {
		return fmt.Errorf("revocation: rebuild: %w", err)
	}
	var done int64
	if err := r.do(ctx, func(ctx context.Context) error {
		var err error
		done, err = commitScript.Run(ctx, r.client, []string{r.marker, rebuilding}, generation).Int64()
		return err
	}); err != nil {
		return fmt.Errorf("revocation: rebuild: %w", err)
	}
	if done != 1 {
		return fmt.Errorf("revocation: rebuild: %w again while rebuilding", ErrLost)
	}
	return nil
}

// Healthy checks that Redis answers and holds the marker.
func (r *Redis) Healthy(ctx context.Context) error {
	var n int64
	if err := r.do(ctx, func(ctx context.Context) error {
		var err error
		n, err = r.client.Exists(ctx, r.marker).Result()
		return err
	}); err != nil {
		return fmt.Errorf("revocation: health: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("revocation: health: %w", ErrLost)
	}
	return nil
}

// Size counts the live entries with SCAN, on every primary of a cluster.
// It walks the whole keyspace of the node holding the set, one bounded
// round trip per batch: meant for metrics, not for every request.
func (r *Redis) Size(ctx context.Context) (int64, error) {
	var total atomic.Int64
	count := func(ctx context.Context, c *redis.Client) error {
		n, err := r.count(ctx, c)
		total.Add(n)
		return err
	}
	var err error
	switch c := r.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, count)
	case *redis.Ring:
		err = c.ForEachShard(ctx, count)
	case *redis.Client:
		err = count(ctx, c)
	default:
		return 0, fmt.Errorf("revocation: size: unsupported Redis client %T", r.client)
	}
	if err != nil {
		return 0, fmt.Errorf("revocation: size: %w", err)
	}
	return total.Load(), nil
}

// count counts the set's entry keys on one node.
func (r *Redis) count(ctx context.Context, c *redis.Client) (int64, error) {
	match := globEscape(r.tag) + "[ctfv]:*"
	var n int64
	var cursor uint64
	for {
		var keys []string
		if err := r.do(ctx, func(ctx context.Context) error {
			var err error
			keys, cursor, err = c.Scan(ctx, cursor, match, 1000).Result()
			return err
		}); err != nil {
			return n, err
		}
		n += int64(len(keys))
		if cursor == 0 {
			return n, nil
		}
	}
}

// Close closes the client.
func (r *Redis) Close() error {
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("revocation: close Redis client: %w", err)
	}
	return nil
}

// do runs one round trip under the set's timeout and classifies its error.
func (r *Redis) do(ctx context.Context, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := f(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

// unavailable marks err as ErrUnavailable, keeping its chain.
func unavailable(err error) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// formatAt writes t as 19 decimal digits of Unix nanoseconds, so that the
// string order of two values is their time order.
func formatAt(t time.Time) string {
	return fmt.Sprintf("%019d", t.UnixNano())
}

func parseAt(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("revocation entry holds %T, not a string", v)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("revocation entry holds %q: %w", s, err)
	}
	return time.Unix(0, n), nil
}

// globEscape quotes the characters SCAN's MATCH treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func randomHex() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ParseURL returns a client for a Redis URL:
//
//	redis://[user:password@]host:port[/db][?option=value…]    one server
//	rediss://…                                                 the same over TLS
//	redis-sentinel://[user:password@]host:port[/db]?master_name=NAME[&addr=host2:port2…]
//	rediss-sentinel://…                                        Sentinel, TLS to the servers
//	redis-cluster://[user:password@]host:port[?addr=host2:port2…]
//	rediss-cluster://…                                         Redis Cluster over TLS
//
// In the Sentinel form, user and password authenticate to the Sentinels;
// the query options password and username authenticate to the servers.
// Query options are go-redis's (dial_timeout, read_timeout, pool_size, …).
// The client always honours context deadlines, which Options.Timeout needs.
func ParseURL(redisURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(redisURL)
	if err != nil {
		return nil, fmt.Errorf("revocation: parse Redis URL: %w", redact.URLError(err))
	}
	base, topology, _ := strings.Cut(u.Scheme, "-")
	if base != "redis" && base != "rediss" {
		return nil, fmt.Errorf("revocation: Redis URL scheme %q: want redis, rediss, redis-sentinel or redis-cluster", u.Scheme)
	}
	u.Scheme = base
	switch topology {
	case "":
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("revocation: parse Redis URL: %w", err)
		}
		o.ContextTimeoutEnabled = true
		failFast(o)
		return redis.NewClient(o), nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("revocation: parse Redis Sentinel URL: %w", err)
		}
		if o.MasterName == "" {
			return nil, errors.New("revocation: Redis Sentinel URL needs master_name")
		}
		o.ContextTimeoutEnabled = true
		return redis.NewFailoverClient(o), nil
	case "cluster":
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("revocation: parse Redis Cluster URL: %w", err)
		}
		o.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o), nil
	default:
		return nil, fmt.Errorf("revocation: Redis URL scheme %q: want redis, rediss, redis-sentinel or redis-cluster", u.Scheme)
	}
}

// Eviction policies CheckEvictionPolicy reports.
const (
	PolicyNoEviction = "noeviction"
	PolicyUnknown    = "unknown" // the server would not say (CONFIG disabled)
)

// CheckEvictionPolicy returns Redis's maxmemory-policy: anything but
// PolicyNoEviction lets Redis drop entries silently when memory runs out.
// Servers that refuse CONFIG GET (managed services often do) yield
// PolicyUnknown and no error. On a cluster it reports the first primary
// that does not run noeviction.
func CheckEvictionPolicy(ctx context.Context, client redis.UniversalClient) (string, error) {
	get := func(ctx context.Context, c redis.Cmdable) (string, error) {
		m, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		var refused redis.Error
		switch {
		case errors.As(err, &refused):
			return PolicyUnknown, nil
		case err != nil:
			return "", unavailable(err)
		}
		p, ok := m["maxmemory-policy"]
		if !ok {
			return PolicyUnknown, nil
		}
		return p, nil
	}
	var err error
	policy := ""
	switch c := client.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		policy = PolicyNoEviction
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			p, err := get(ctx, n)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if policy == PolicyNoEviction {
				policy = p
			}
			return nil
		})
	default:
		policy, err = get(ctx, client)
	}
	if err != nil {
		return "", fmt.Errorf("revocation: read Redis eviction policy: %w", err)
	}
	return policy, nil
}
