package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/chave/chave/services/internal/redact"
)

// Defaults and limits of RemoteKeys.
const (
	// DefaultJWKSTimeout bounds one fetch of the JWK Set when
	// RemoteKeysOptions.Timeout is zero.
	DefaultJWKSTimeout = 5 * time.Second
	// DefaultJWKSRefreshInterval is how long a fetched set is used before
	// it is fetched again, when the response carries no Cache-Control
	// max-age and RemoteKeysOptions.RefreshInterval is zero.
	DefaultJWKSRefreshInterval = 5 * time.Minute
	// MinJWKSMaxAge and MaxJWKSMaxAge bound the refresh interval a
	// response's Cache-Control max-age may set.
	MinJWKSMaxAge = time.Minute
	MaxJWKSMaxAge = time.Hour
	// DefaultJWKSMissInterval is the least time between two fetches caused
	// by tokens naming an unknown kid, or retrying a failed refresh, when
	// RemoteKeysOptions.MissRefreshInterval is zero.
	DefaultJWKSMissInterval = 10 * time.Second
	// MaxJWKSSize bounds the JWK Set document.
	MaxJWKSSize = 1 << 20
)

// firstFetchRetry is how long a failed first fetch is remembered: callers
// get its error meanwhile instead of each starting a fetch.
const firstFetchRetry = time.Second

// RemoteKeysOptions configure RemoteKeys. The zero value is usable.
type RemoteKeysOptions struct {
	// Client makes the requests; nil means http.DefaultTransport. Unless
	// the client has a CheckRedirect of its own, redirects are followed (at
	// most 10) but never from https to http. Every request is bounded by
	// Timeout whatever the client's own settings.
	Client *http.Client
	// Timeout bounds one fetch, from the request to the end of the body:
	// zero means DefaultJWKSTimeout.
	Timeout time.Duration
	// RefreshInterval is how long a fetched set is used before it is
	// fetched again when the response has no Cache-Control max-age: zero
	// means DefaultJWKSRefreshInterval. A max-age (or no-cache, no-store,
	// read as max-age 0) overrides it, bounded to [MinJWKSMaxAge,
	// MaxJWKSMaxAge].
	RefreshInterval time.Duration
	// MissRefreshInterval is the least time between the start of a fetch
	// and that of a fetch caused by a token whose kid the set lacks; also
	// how long after a failed refresh the next one starts. Zero means
	// DefaultJWKSMissInterval.
	MissRefreshInterval time.Duration
	// Logger receives a warning when a fetch fails (the last good set stays
	// in use); nil means slog.Default().
	Logger *slog.Logger
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// RemoteKeys is a KeySource over a JWK Set fetched over HTTP(S), such as
// chave's /.well-known/jwks.json: what a resource server verifies with. It
// is safe for concurrent use.
//
// The first Keys call fetches the set and waits for it; until one fetch has
// succeeded Keys returns an error (so Verify answers ErrUnavailable, not
// "unknown key"). A resource server may call Keys at start-up to fail fast
// or warm the cache.
//
// Afterwards Keys answers from memory. When the set is due (after
// RefreshInterval or the response's max-age), Keys still returns it and
// one background fetch replaces it. When a fetch fails, the last good set
// stays in use and the failure is logged; the next attempt follows after
// MissRefreshInterval.
//
// A token naming a kid the set lacks, as right after a key rotation, makes
// Verify call RefreshKeys, which fetches at once unless a fetch started
// less than MissRefreshInterval ago. Concurrent callers share a single
// fetch.
//
// Only usable signature keys are kept: each needs a kid, an alg that Verify
// supports and, if present, use "sig". Symmetric (oct) keys are dropped, as
// a key that is published cannot be secret; private members are dropped
// too. A fetched set without a usable key counts as a failed fetch.
//
// Keys never come from the token: its jku, x5u, x5c and jwk headers are
// ignored; only the configured URL is fetched.
type RemoteKeys struct {
	url       string
	redacted  string // url without a password, for messages
	client    *http.Client
	timeout   time.Duration
	interval  time.Duration
	missEvery time.Duration
	log       *slog.Logger
	now       func() time.Time

	cur  atomic.Pointer[remoteSet] // nil until a fetch succeeded
	busy atomic.Bool               // a fetch runs: lets Keys skip the lock

	mu        sync.Mutex
	inflight  *fetchCall // the fetch running, if any
	lastStart time.Time  // when the last fetch started
	retryAt   time.Time  // before a set was fetched: no new fetch until then
	lastErr   error      // the last fetch's error; nil after a success
}

// remoteSet is a fetched set and when to fetch it again.
type remoteSet struct {
	set jwk.Set
	due time.Time
}

// fetchCall is one fetch, shared by every caller that waits for it.
type fetchCall struct {
	done chan struct{} // closed when set and err are final
	set  jwk.Set
	err  error
}

var _ KeyRefresher = (*RemoteKeys)(nil)

// NewRemoteKeys returns a KeySource over the JWK Set at url. It does not
// fetch until the first Keys call.
func NewRemoteKeys(url string, opts RemoteKeysOptions) *RemoteKeys {
	client := &http.Client{}
	if opts.Client != nil {
		*client = *opts.Client
	}
	if client.CheckRedirect == nil {
		client.CheckRedirect = noDowngrade
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultJWKSTimeout
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultJWKSRefreshInterval
	}
	if opts.MissRefreshInterval <= 0 {
		opts.MissRefreshInterval = DefaultJWKSMissInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &RemoteKeys{
		url:       url,
		redacted:  redact.URL(url),
		client:    client,
		timeout:   opts.Timeout,
		interval:  opts.RefreshInterval,
		missEvery: opts.MissRefreshInterval,
		log:       opts.Logger,
		now:       opts.Clock,
	}
}

// Keys returns the cached set, fetching it first if no fetch has
// succeeded yet, and starting a background refresh if it is due.
func (r *RemoteKeys) Keys(ctx context.Context) (jwk.Set, error) {
	cur := r.cur.Load()
	if cur == nil {
		return r.first(ctx)
	}
	if !r.now().Before(cur.due) {
		r.refreshDue()
	}
	return cur.set, nil
}

// RefreshKeys is called when a token names kid and the set from Keys lacks
// it. It fetches the set again, or joins the fetch under way, unless a fetch
// started less than MissRefreshInterval ago; it returns the newest set it
// has. A failed fetch leaves the last good set in use, and RefreshKeys
// returns that: the kid is then unknown, not the verifier unavailable.
func (r *RemoteKeys) RefreshKeys(ctx context.Context, kid string) (jwk.Set, error) {
	cur := r.cur.Load()
	if cur == nil {
		return r.first(ctx)
	}
	if _, ok := cur.set.LookupKeyID(kid); ok {
		return cur.set, nil
	}
	r.mu.Lock()
	cur = r.cur.Load() // a fetch may have ended meanwhile
	if _, ok := cur.set.LookupKeyID(kid); ok {
		r.mu.Unlock()
		return cur.set, nil
	}
	c := r.inflight
	if c == nil {
		if r.now().Sub(r.lastStart) < r.missEvery {
			r.mu.Unlock()
			return cur.set, nil
		}
		c = r.start()
	}
	r.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("verify: waiting for JWKS %s: %w", r.redacted, ctx.Err())
	}
	if c.err != nil {
		return r.cur.Load().set, nil
	}
	return c.set, nil
}

// first waits for a first successful fetch, starting one unless one runs
// or the last failed less than firstFetchRetry ago.
func (r *RemoteKeys) first(ctx context.Context) (jwk.Set, error) {
	r.mu.Lock()
	if cur := r.cur.Load(); cur != nil {
		r.mu.Unlock()
		return cur.set, nil
	}
	c := r.inflight
	if c == nil {
		if r.lastErr != nil && r.now().Before(r.retryAt) {
			err := r.lastErr
			r.mu.Unlock()
			return nil, err
		}
		c = r.start()
	}
	r.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("verify: waiting for JWKS %s: %w", r.redacted, ctx.Err())
	}
	if c.err != nil {
		return nil, c.err
	}
	return c.set, nil
}

// refreshDue starts a background fetch of a due set unless one runs.
func (r *RemoteKeys) refreshDue() {
	if r.busy.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight != nil || r.now().Before(r.cur.Load().due) {
		return
	}
	r.start()
}

// start starts a fetch; r.mu must be held.
func (r *RemoteKeys) start() *fetchCall {
	c := &fetchCall{done: make(chan struct{})}
	r.inflight = c
	r.busy.Store(true)
	r.lastStart = r.now()
	go r.run(c)
	return c
}

// run fetches the set and publishes the result.
func (r *RemoteKeys) run(c *fetchCall) {
	set, ttl, err := r.fetch()
	now := r.now()
	kept := false
	r.mu.Lock()
	if err != nil {
		r.lastErr = err
		if old := r.cur.Load(); old != nil {
			// Keep serving the last good set; retry after missEvery.
			r.cur.Store(&remoteSet{set: old.set, due: now.Add(r.missEvery)})
			kept = true
		} else {
			r.retryAt = now.Add(firstFetchRetry)
		}
	} else {
		r.lastErr = nil
		r.cur.Store(&remoteSet{set: set, due: now.Add(ttl)})
	}
	c.set, c.err = set, err
	r.inflight = nil
	r.busy.Store(false)
	r.mu.Unlock()
	close(c.done)

	switch {
	case kept:
		r.log.Warn("verify: JWKS refresh failed; keeping the last good key set", "url", r.redacted, "err", err)
	case err != nil:
		r.log.Warn("verify: JWKS fetch failed; no keys yet, tokens cannot be verified", "url", r.redacted, "err", err)
	}
}

// fetch gets the set once, bounded by r.timeout, and returns its usable
// keys and how long to use them.
func (r *RemoteKeys) fetch() (jwk.Set, time.Duration, error) {
	fail := func(format string, args ...any) (jwk.Set, time.Duration, error) {
		return nil, 0, fmt.Errorf("verify: fetching JWKS %s: "+format, append([]any{r.redacted}, args...)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return fail("%w", redact.URLError(err))
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return fail("%w", redact.URLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		return fail("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSSize+1))
	if err != nil {
		return fail("reading the body: %w", err)
	}
	if len(body) > MaxJWKSSize {
		return fail("the document exceeds %d bytes", MaxJWKSSize)
	}
	parsed, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return fail("%w", err)
	}
	set, skipped := usableKeys(parsed)
	if set.Len() == 0 {
		return fail("no usable signature key (%d skipped)", skipped)
	}
	if skipped > 0 {
		r.log.Debug("verify: JWKS keys skipped", "url", r.redacted, "skipped", skipped, "kept", set.Len())
	}
	ttl, ok := maxAge(resp.Header)
	if !ok {
		ttl = r.interval
	}
	return set, ttl, nil
}

// usableKeys returns the public parts of the keys Verify may use, and how
// many it dropped.
func usableKeys(in jwk.Set) (jwk.Set, int) {
	out := jwk.NewSet()
	skipped := 0
	for i := range in.Len() {
		key, _ := in.Key(i)
		if !usableKey(key) {
			skipped++
			continue
		}
		pub, err := jwk.PublicKeyOf(key)
		if err != nil || out.AddKey(pub) != nil {
			skipped++
		}
	}
	return out, skipped
}

func usableKey(key jwk.Key) bool {
	if key == nil || key.KeyID() == "" || key.KeyType() == jwa.OctetSeq {
		return false
	}
	if use := key.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return false
	}
	kty, ok := keyTypeFor(jwa.SignatureAlgorithm(key.Algorithm().String()))
	return ok && kty == key.KeyType()
}

// maxAge reads Cache-Control's max-age, bounded to [MinJWKSMaxAge,
// MaxJWKSMaxAge]; no-cache and no-store count as max-age 0.
func maxAge(h http.Header) (time.Duration, bool) {
	found, secs := false, int64(0)
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				if !found || n < secs {
					secs = n
				}
				found = true
			case "no-cache", "no-store":
				secs, found = 0, true
			}
		}
	}
	if !found {
		return 0, false
	}
	switch {
	case secs < int64(MinJWKSMaxAge/time.Second):
		return MinJWKSMaxAge, true
	case secs > int64(MaxJWKSMaxAge/time.Second):
		return MaxJWKSMaxAge, true
	}
	return time.Duration(secs) * time.Second, true
}

// noDowngrade follows redirects, at most 10, but never from https to http.
func noDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("refusing a redirect from https to " + req.URL.Scheme)
	}
	return nil
}

// StaticKeys is a KeySource over a fixed set, for tests and for servers
// that configure their verification keys by hand.
type StaticKeys struct {
	set jwk.Set
}

// NewStaticKeys returns a KeySource over set, which the caller must not
// modify afterwards. Verify still checks each key's alg, use and type.
func NewStaticKeys(set jwk.Set) *StaticKeys { return &StaticKeys{set: set} }

// Keys returns the set.
func (s *StaticKeys) Keys(context.Context) (jwk.Set, error) { return s.set, nil }
