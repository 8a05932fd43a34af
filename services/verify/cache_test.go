package verify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/chave/chave/services/verify"
)

// swappableKeys is a KeySource whose set a test replaces, as a key
// rotation or an emergency retirement does.
type swappableKeys struct{ set atomic.Pointer[jwk.Set] }

func newSwappableKeys(t testing.TB, keys ...jwk.Key) *swappableKeys {
	s := &swappableKeys{}
	s.swap(keySet(t, keys...).set)
	return s
}

func (s *swappableKeys) swap(set jwk.Set) { s.set.Store(&set) }

func (s *swappableKeys) Keys(context.Context) (jwk.Set, error) { return *s.set.Load(), nil }

// clock is a settable Config.Clock.
type clock struct{ t atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.t.Store(t.UnixNano()) }
func (c *clock) now() time.Time   { return time.Unix(0, c.t.Load()).UTC() }

func cachingVerifier(t testing.TB, keys verify.KeySource, rc verify.RevocationChecker, clk *clock, size int) *verify.Verifier {
	t.Helper()
	cfg := verify.Config{Issuer: issuer, Audience: audience, Keys: keys, Clock: clk.now, CacheSize: size}
	if rc != nil {
		cfg.Revocations = rc
	}
	v, err := verify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantReason(t *testing.T, err error, want verify.Reason, what string) {
	t.Helper()
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Reason != want {
		t.Fatalf("%s: err = %v, want reason %s", what, err, want)
	}
}

func TestVerifyCacheRemembersAVerifiedToken(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := cachingVerifier(t, keySet(t, k.pub), nil, newClock(now), 0)
	tok := signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)
	for i := range 3 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("Verify #%d: %v", i, err)
		}
	}
	if n := verify.CacheLen(v); n != 1 {
		t.Errorf("cache holds %d tokens, want 1", n)
	}
	off := cachingVerifier(t, keySet(t, k.pub), nil, newClock(now), -1)
	if _, err := off.Verify(context.Background(), tok); err != nil || verify.CacheLen(off) != -1 {
		t.Errorf("CacheSize -1: err %v, cache %d", err, verify.CacheLen(off))
	}
}

// A hit still asks the revocation checker, every time.
func TestVerifyCacheChecksRevocationEveryTime(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	rc := &fakeChecker{}
	v := cachingVerifier(t, keySet(t, k.pub), rc, newClock(now), 0)
	tok := signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)
	for range 3 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if got := rc.calls.Load(); got != 3 {
		t.Errorf("revocation checked %d times for 3 Verify calls", got)
	}
	rc2 := &fakeChecker{}
	v2 := cachingVerifier(t, keySet(t, k.pub), rc2, newClock(now), 0)
	if _, err := v2.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	rc2.revoked = true
	_, err := v2.Verify(context.Background(), tok)
	wantReason(t, err, verify.ReasonRevoked, "revoked after it was cached")
	rc2.revoked, rc2.err = false, errors.New("redis down")
	if _, err := v2.Verify(context.Background(), tok); !errors.Is(err, verify.ErrUnavailable) {
		t.Errorf("revocation check failing on a hit: err = %v, want ErrUnavailable", err)
	}
}

func TestVerifyCacheHonoursExpiry(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	clk := newClock(now)
	v := cachingVerifier(t, keySet(t, k.pub), nil, clk, 0)
	tok := signRaw(t, validHeader(k), with(validClaims(), "exp", now.Add(time.Minute).Unix()), jwa.ES256, k.priv)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	clk.set(now.Add(time.Minute + verify.DefaultLeeway))
	_, err := v.Verify(context.Background(), tok)
	wantReason(t, err, verify.ReasonExpired, "a cached token past exp")
	// A clock set back before iat (beyond the leeway) refuses it too.
	clk.set(now.Add(-time.Hour))
	_, err = v.Verify(context.Background(), tok)
	wantReason(t, err, verify.ReasonNotYetValid, "a cached token before its iat")
}

// Retiring a key (an emergency rotation) fails the tokens it signed at
// once, cached or not; a different key under the same kid does not verify
// them either.
func TestVerifyCacheFollowsTheKeySource(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	keys := newSwappableKeys(t, k.pub)
	v := cachingVerifier(t, keys, nil, newClock(now), 0)
	tok := signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	other := newTestKey(t, jwa.ES256, "k2")
	keys.swap(keySet(t, other.pub).set)
	_, err := v.Verify(context.Background(), tok)
	wantReason(t, err, verify.ReasonUnknownKey, "a cached token whose key was retired")

	impostor := newTestKey(t, jwa.ES256, "k1")
	keys.swap(keySet(t, impostor.pub).set)
	_, err = v.Verify(context.Background(), tok)
	wantReason(t, err, verify.ReasonSignature, "a cached token whose kid now names another key")

	keys.swap(keySet(t, k.pub).set)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("the key back: %v", err)
	}
}

// A token that borrows a cached token's signature with another header or
// payload is checked in full, and fails.
func TestVerifyCacheRefusesABorrowedSignature(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := cachingVerifier(t, keySet(t, k.pub), nil, newClock(now), 0)
	tok := signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	for name, forged := range map[string]string{
		"payload": b64(mustJSON(t, validHeader(k))) + "." + b64(mustJSON(t, with(validClaims(), "scope", "registry.admin", "tenantid", "other"))) + "." + sig,
		"header":  b64(mustJSON(t, with(validHeader(k), "x", "y"))) + "." + strings.Split(tok, ".")[1] + "." + sig,
	} {
		c, err := v.Verify(context.Background(), forged)
		if err == nil {
			t.Fatalf("%s swapped under a cached signature: accepted with %+v", name, c)
		}
		wantReason(t, err, verify.ReasonSignature, name+" swapped")
	}
}

// Claims handed out are the caller's: changing them changes nothing for
// the next caller.
func TestVerifyCacheClaimsAreCopies(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := cachingVerifier(t, keySet(t, k.pub), nil, newClock(now), 0)
	tok := signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)
	for range 3 {
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(c.Scopes, " ") != "commercial inventory" || len(c.Audience) != 1 || c.Audience[0] != audience {
			t.Fatalf("claims changed by an earlier caller: %+v", c)
		}
		c.Scopes[0], c.Audience[0] = "registry.admin", "elsewhere"
	}
}

// The cache never grows past its size, and every token still verifies
// (or fails) as without it.
func TestVerifyCacheIsBounded(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	clk := newClock(now)
	v := cachingVerifier(t, keySet(t, k.pub), nil, clk, 8)
	var toks []string
	for i := range 40 {
		exp := now.Add(time.Duration(i+1) * time.Minute)
		toks = append(toks, signRaw(t, validHeader(k), with(validClaims(), "jti", fmt.Sprint("jti-", i), "exp", exp.Unix()), jwa.ES256, k.priv))
	}
	for round := range 2 {
		for i, tok := range toks {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("round %d token %d: %v", round, i, err)
			}
			if n := verify.CacheLen(v); n > 8 {
				t.Fatalf("cache holds %d tokens, more than its size 8", n)
			}
		}
	}
	clk.set(now.Add(20*time.Minute + verify.DefaultLeeway))
	for i, tok := range toks {
		_, err := v.Verify(context.Background(), tok)
		if expired := i < 20; expired != (err != nil) {
			t.Errorf("token %d at +20m: err = %v", i, err)
		}
	}
}

// Concurrent Verify calls of cached and new tokens while the revocation
// answer flips: each answer is one of the two, never a stale accept after
// the flip was seen (run with -race).
func TestVerifyCacheConcurrent(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	var revoked atomic.Bool
	rc := checkerFunc(func(context.Context, verify.Claims) (bool, error) { return revoked.Load(), nil })
	v := cachingVerifier(t, keySet(t, k.pub), rc, newClock(now), 16)
	var toks []string
	for i := range 32 {
		toks = append(toks, signRaw(t, validHeader(k), with(validClaims(), "jti", fmt.Sprint("c-", i)), jwa.ES256, k.priv))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if w == 0 && i == 100 {
					revoked.Store(true)
				}
				seenRevoked := revoked.Load()
				_, err := v.Verify(context.Background(), toks[(w*7+i)%len(toks)])
				if seenRevoked && err == nil {
					errs <- errors.New("a revoked token was accepted")
					return
				}
				if err != nil && !seenRevoked && !revoked.Load() {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

type checkerFunc func(context.Context, verify.Claims) (bool, error)

func (f checkerFunc) IsRevoked(ctx context.Context, c verify.Claims) (bool, error) { return f(ctx, c) }
