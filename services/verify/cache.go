package verify

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// DefaultCacheSize is how many verified tokens a Verifier remembers when
// Config.CacheSize is zero: a few MiB at most (chave's tokens are under
// 1 KiB).
const DefaultCacheSize = 4096

// maxKeyCache bounds the derived verification keys a Verifier keeps; past
// it the cache starts again (key sets hold a handful of keys).
const maxKeyCache = 64

// cachedToken is a token that passed every check but revocation's, with
// what a second Verify of the very same string needs to accept it again
// without the signature check: the key it verified under (which the key
// source must still yield under its kid), and the dates that bound it.
type cachedToken struct {
	raw    string
	kid    string
	key    jwk.Key
	claims Claims
	nbf    time.Time // zero: no nbf
}

// tokenCache remembers verified tokens by their signature segment until
// they expire. Only tokens that verified enter it, so nobody can fill it
// with junk; past its bound, expired entries go first, then arbitrary
// ones. A hit still compares the whole token.
type tokenCache struct {
	mu  sync.RWMutex
	m   map[string]*cachedToken
	max int
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{m: make(map[string]*cachedToken), max: size}
}

func (c *tokenCache) get(sig string) *cachedToken {
	c.mu.RLock()
	e := c.m[sig]
	c.mu.RUnlock()
	return e
}

func (c *tokenCache) put(sig string, e *cachedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[sig]; !ok && len(c.m) >= c.max {
		for k, old := range c.m {
			if !now.Before(old.claims.Expiry) {
				delete(c.m, k)
			}
		}
		// Still full: drop about an eighth, in map order (arbitrary).
		for k := range c.m {
			if len(c.m) < c.max-c.max/8 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[sig] = e
}

func (c *tokenCache) remove(sig string, e *cachedToken) {
	c.mu.Lock()
	if c.m[sig] == e {
		delete(c.m, sig)
	}
	c.mu.Unlock()
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// keyCache remembers the verification key derived from a JWK (its
// checks and the conversion to a crypto key cost more than a map lookup),
// by the JWK's identity: key sources replace keys, they never change one
// in place (KeySource).
type keyCache struct {
	mu sync.RWMutex
	m  map[keyCacheKey]any
}

type keyCacheKey struct {
	key jwk.Key
	alg jwa.SignatureAlgorithm
}

// verificationKey is the package's verificationKey, remembered for keys
// that can be compared by identity.
func (c *keyCache) verificationKey(key jwk.Key, alg jwa.SignatureAlgorithm) (any, error) {
	if !comparableKey(key) {
		return verificationKey(key, alg)
	}
	k := keyCacheKey{key, alg}
	c.mu.RLock()
	raw, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return raw, nil
	}
	raw, err := verificationKey(key, alg)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxKeyCache {
		c.m = make(map[keyCacheKey]any)
	}
	c.m[k] = raw
	c.mu.Unlock()
	return raw, nil
}

// clone copies the slices of claims handed out from the cache, so that a
// caller changing its Claims cannot change another's.
func (c Claims) clone() Claims {
	c.Audience = slices.Clone(c.Audience)
	c.Scopes = slices.Clone(c.Scopes)
	return c
}

// checkedHeader is what Verify takes from a header segment that passed
// checkHeader.
type checkedHeader struct {
	kid      string
	alg      jwa.SignatureAlgorithm
	verifier jws.Verifier
}

// maxCachedHeaders bounds headerCache: an issuer signs with a header per
// key (chave's is fixed per key), so a handful are ever in use.
const maxCachedHeaders = 64

// headerCache remembers the header segments of tokens whose signature
// verified, checked: the checks are a function of the segment alone, and
// the next token signed under the same header skips the base64 and JSON
// decoding. Only a verified signature adds a segment, so a client cannot
// fill it with headers of its own making; past maxCachedHeaders nothing
// is added.
type headerCache struct {
	m sync.Map // header segment → checkedHeader
	n atomic.Int32
}

func (c *headerCache) get(h string) (checkedHeader, bool) {
	if e, ok := c.m.Load(h); ok {
		return e.(checkedHeader), true
	}
	return checkedHeader{}, false
}

func (c *headerCache) put(h string, hdr checkedHeader) {
	if c.n.Load() >= maxCachedHeaders {
		return
	}
	if _, loaded := c.m.LoadOrStore(h, hdr); !loaded {
		c.n.Add(1)
	}
}
