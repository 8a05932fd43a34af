package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Policy says how many failed client authentications are let through.
//
// Failures are counted in fixed windows of Window, per (client id, source
// address) pair, per source address and per client id. An attempt is
// refused, before its secret is checked, when:
//
//   - its pair has MaxPairFailures failures in the pair's window; or
//   - its pair is not known (it has not authenticated within
//     RememberSuccess) and either its address has MaxAddressFailures
//     failures, or its client id has MaxClientFailures failures and the
//     pair has at least one: while a client id is under attack, each
//     unknown address gets one try per window.
//
// So an attacker's address is stopped after a few tries, long before the
// client id is affected; a client id under attack from many addresses
// only slows each of them down, and its real client, calling from an
// address where it authenticated before (or from a new one, whose first
// try always goes through), is never locked out. A refused attempt counts
// nothing, so that no window outlasts Window: hammering a client id locks
// no one out for longer than that. A success counts nothing either; it
// clears its pair's failures and makes the pair known.
type Policy struct {
	// Window is the length of every failure window, and so the longest
	// time an attempt is refused. Default 1m.
	Window time.Duration
	// MaxPairFailures bounds the failures of one client id from one
	// address per window. Default 10.
	MaxPairFailures int64
	// MaxAddressFailures bounds the failures from one address (any client
	// id) per window, for the pairs not known. Default 30.
	MaxAddressFailures int64
	// MaxClientFailures is the failures of one client id (from any
	// address) per window beyond which each unknown pair gets one try per
	// window. Default 100.
	MaxClientFailures int64
	// RememberSuccess is how long a pair that authenticated stays known.
	// Default 24h.
	RememberSuccess time.Duration
	// Recheck is how long after a Check that found its pair known and
	// without failures, and a success, the pair's next attempts may skip
	// the store (Limiter.Recent): the shared store is read at most once
	// per Recheck for a client that keeps succeeding. Default 1s;
	// negative: every attempt is checked.
	Recheck time.Duration
}

// Defaults of Policy.
const (
	DefaultWindow             = time.Minute
	DefaultMaxPairFailures    = 10
	DefaultMaxAddressFailures = 30
	DefaultMaxClientFailures  = 100
	DefaultRememberSuccess    = 24 * time.Hour
	DefaultRecheck            = time.Second
)

// WithDefaults returns p with its zero fields set to the defaults.
func (p Policy) WithDefaults() Policy {
	if p.Window == 0 {
		p.Window = DefaultWindow
	}
	if p.MaxPairFailures == 0 {
		p.MaxPairFailures = DefaultMaxPairFailures
	}
	if p.MaxAddressFailures == 0 {
		p.MaxAddressFailures = DefaultMaxAddressFailures
	}
	if p.MaxClientFailures == 0 {
		p.MaxClientFailures = DefaultMaxClientFailures
	}
	if p.RememberSuccess == 0 {
		p.RememberSuccess = DefaultRememberSuccess
	}
	if p.Recheck == 0 {
		p.Recheck = DefaultRecheck
	}
	return p
}

// Limiter applies a Policy over a Store.
type Limiter struct {
	store  Store
	policy Policy
	now    func() time.Time
	recent recentPairs
}

// NewLimiter returns a limiter of failed authentications. Zero fields of
// policy get the defaults; clock nil means time.Now.
func NewLimiter(store Store, policy Policy, clock func() time.Time) (*Limiter, error) {
	if store == nil {
		return nil, errors.New("throttle: nil store")
	}
	p := policy.WithDefaults()
	if p.Window < 0 || p.RememberSuccess < 0 || p.MaxPairFailures < 0 || p.MaxAddressFailures < 0 || p.MaxClientFailures < 0 {
		return nil, fmt.Errorf("throttle: negative policy setting: %+v", policy)
	}
	if clock == nil {
		clock = time.Now
	}
	return &Limiter{store: store, policy: p, now: clock, recent: recentPairs{max: DefaultMaxRecent}}, nil
}

// Policy returns the policy in force, defaults filled in.
func (l *Limiter) Policy() Policy { return l.policy }

// Attempt is one client authentication.
type Attempt struct {
	// ClientID is the client id presented.
	ClientID string
	// Address is the source address (an IP address, without port), or
	// empty when unknown: all unknown sources share one address.
	Address string
}

// Limit names the limit that refused an attempt.
type Limit string

// Limits.
const (
	LimitPair    Limit = "pair"    // the pair's own failures
	LimitAddress Limit = "address" // the address's failures
	LimitClient  Limit = "client"  // the client id is under attack: one try per unknown address
)

// Decision is the answer to Check.
type Decision struct {
	// Allowed: the attempt may go on to the secret check.
	Allowed bool
	// RetryAfter, when refused, is how long until the refusing window
	// ends.
	RetryAfter time.Duration
	// Limit, when refused, is the limit that refused it.
	Limit Limit

	keys         attemptKeys
	known        bool  // the pair authenticated within RememberSuccess
	pairFailures int64 // the pair's failures in its window
	recent       bool  // from Recent: no store was read
}

type attemptKeys struct {
	pair, address, client, known string
}

func keysOf(a Attempt) attemptKeys {
	client, addr := clientKey(a.ClientID), addressKey(a.Address)
	return attemptKeys{
		pair:    "p:" + client + "@" + addr,
		address: "a:" + addr,
		client:  "c:" + client,
		known:   "k:" + client + "@" + addr,
	}
}

// Check decides whether the attempt may go on to the secret check. It
// costs one store read and writes nothing.
func (l *Limiter) Check(ctx context.Context, a Attempt) (Decision, error) {
	now := l.clock()
	k := keysOf(a)
	ws, err := l.store.Get(ctx, now, k.pair, k.address, k.client, k.known)
	if err != nil {
		return Decision{}, fmt.Errorf("throttle: check: %w", err)
	}
	pair, addr, client, known := ws[0], ws[1], ws[2], ws[3]
	d := Decision{keys: k, known: known.Count > 0, pairFailures: pair.Count}
	limit := l.policy.MaxPairFailures
	if !d.known {
		if addr.Count >= l.policy.MaxAddressFailures {
			return d.refuse(LimitAddress, addr.End.Sub(now)), nil
		}
		if client.Count >= l.policy.MaxClientFailures && pair.Count >= 1 {
			return d.refuse(LimitClient, pair.End.Sub(now)), nil
		}
	}
	if pair.Count >= limit {
		return d.refuse(LimitPair, pair.End.Sub(now)), nil
	}
	d.Allowed = true
	return d, nil
}

func (d Decision) refuse(limit Limit, retryAfter time.Duration) Decision {
	d.Allowed, d.Limit, d.RetryAfter = false, limit, max(retryAfter, 0)
	return d
}

// clock is the current time in whole milliseconds, the resolution of the
// shared store, so that every store reports the same windows.
func (l *Limiter) clock() time.Time { return l.now().Truncate(time.Millisecond) }

// Recent answers, without reading the store, an allowed decision for an
// attempt whose pair a Check found known and without failures less than
// Policy.Recheck ago, and which then succeeded; false otherwise (call
// Check).
//
// Its answer may be stale by up to Recheck: failures another replica
// counted since are not seen. So when an attempt Recent allowed fails,
// the caller must call Forget at once, and then Check before it answers,
// and answer the refusal Check gives, if any, instead of the failure
// (counting nothing): the answer is the one a Check first would have
// given, and the pair's next attempts are all checked. Past its limit the
// pair can then only have had attempts in flight checked against stale
// counts, once per Recheck at most, and only after a success whose Check
// found its failures at zero (a success Recent allowed clears nothing
// and extends nothing).
func (l *Limiter) Recent(a Attempt) (Decision, bool) {
	k := keysOf(a)
	if !l.recent.live(k.pair, l.clock()) {
		return Decision{}, false
	}
	return Decision{Allowed: true, keys: k, known: true, recent: true}, true
}

// Forget drops the attempt's pair from Recent's memory: its next attempts
// are checked.
func (l *Limiter) Forget(a Attempt) { l.recent.forget(keysOf(a).pair) }

// Failed counts a failed authentication of an attempt that Check allowed.
// The pair's next attempts are checked.
func (l *Limiter) Failed(ctx context.Context, d Decision) error {
	k := d.keys
	l.recent.forget(k.pair)
	if err := l.store.Incr(ctx, l.clock(), l.policy.Window, k.pair, k.address, k.client); err != nil {
		return fmt.Errorf("throttle: count failure: %w", err)
	}
	return nil
}

// Succeeded records a successful authentication of an attempt that Check
// allowed: the pair's failures are cleared and the pair becomes known. It
// writes only what changes: nothing for a known pair without failures,
// which Recent then allows for Policy.Recheck; nothing either for a
// decision of Recent (which extends nothing).
func (l *Limiter) Succeeded(ctx context.Context, d Decision) error {
	now := l.clock()
	if d.recent {
		return nil
	}
	if d.known && d.pairFailures == 0 && l.policy.Recheck > 0 {
		l.recent.remember(d.keys.pair, now, now.Add(l.policy.Recheck))
	}
	if d.pairFailures > 0 {
		if err := l.store.Delete(ctx, now, d.keys.pair); err != nil {
			return fmt.Errorf("throttle: clear failures: %w", err)
		}
	}
	if !d.known {
		if err := l.store.Set(ctx, now, l.policy.RememberSuccess, d.keys.known); err != nil {
			return fmt.Errorf("throttle: remember success: %w", err)
		}
	}
	return nil
}

// maxPlainClientID is the longest client id used as is in a key.
const maxPlainClientID = 64

// clientKey is the client id as a key: itself when short and plain (chave's
// own ids are), else a digest, so that keys stay small whatever is sent.
func clientKey(id string) string {
	plain := len(id) <= maxPlainClientID
	for i := 0; plain && i < len(id); i++ {
		c := id[i]
		plain = c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	if plain {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "~" + hex.EncodeToString(sum[:16])
}

// addressKey is the source address as a key: an IPv4 address itself, an
// IPv6 address its /64 (one subscriber's usual allocation, so that an
// attacker does not get 2^64 addresses), anything else "unknown".
func addressKey(s string) string {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return "unknown"
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}
