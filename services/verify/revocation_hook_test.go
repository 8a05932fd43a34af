package verify_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/chave/chave/services/verify"
)

// fakeChecker is a RevocationChecker that answers revoked and err, and
// counts its calls.
type fakeChecker struct {
	revoked bool
	err     error
	block   bool // wait for the context to end, then answer its error

	calls atomic.Int64
	mu    sync.Mutex
	last  verify.Claims
}

func (f *fakeChecker) IsRevoked(ctx context.Context, c verify.Claims) (bool, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.last = c
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return false, ctx.Err()
	}
	return f.revoked, f.err
}

func (f *fakeChecker) lastClaims() verify.Claims {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func newRevocationVerifier(t testing.TB, keys verify.KeySource, rc verify.RevocationChecker, observe func(string)) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Config{
		Issuer: issuer, Audience: audience, Keys: keys,
		Clock:       func() time.Time { return now },
		Revocations: rc, RevocationTimeout: 100 * time.Millisecond, Observe: observe,
	})
	if err != nil {
		t.Fatalf("verify.New: %v", err)
	}
	return v
}

var errSetDown = errors.New("revocation set down")

func TestRevocationHook(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	tok := signRaw(t, validHeader(k), with(validClaims(), "sid", "fam-1"), jwa.ES256, k.priv)
	ctx := context.Background()

	t.Run("not revoked", func(t *testing.T) {
		rc := &fakeChecker{}
		v := newRevocationVerifier(t, keySet(t, k.pub), rc, nil)
		c, err := v.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if n := rc.calls.Load(); n != 1 {
			t.Errorf("checker called %d times, want 1", n)
		}
		got := rc.lastClaims()
		if got.ID != "jti-1" || got.ClientID != "client-1" || got.SessionID != "fam-1" || !got.IssuedAt.Equal(now.Add(-time.Minute)) {
			t.Errorf("checker saw %+v", got)
		}
		if c.ID != got.ID {
			t.Errorf("Verify returned %+v", c)
		}
	})

	t.Run("revoked", func(t *testing.T) {
		rc := &fakeChecker{revoked: true}
		v := newRevocationVerifier(t, keySet(t, k.pub), rc, nil)
		_, err := v.Verify(ctx, tok)
		var ve *verify.Error
		if !errors.Is(err, verify.ErrInvalidToken) || !errors.As(err, &ve) || ve.Reason != verify.ReasonRevoked {
			t.Fatalf("Verify error = %v, want ErrInvalidToken with reason revoked", err)
		}
		if errors.Is(err, verify.ErrUnavailable) {
			t.Errorf("a revoked token matches ErrUnavailable: %v", err)
		}
		if n := rc.calls.Load(); n != 1 {
			t.Errorf("checker called %d times, want 1", n)
		}
	})

	t.Run("checker error", func(t *testing.T) {
		rc := &fakeChecker{err: errSetDown}
		v := newRevocationVerifier(t, keySet(t, k.pub), rc, nil)
		_, err := v.Verify(ctx, tok)
		if !errors.Is(err, verify.ErrUnavailable) || !errors.Is(err, errSetDown) {
			t.Fatalf("Verify error = %v, want ErrUnavailable wrapping the checker's error", err)
		}
		if errors.Is(err, verify.ErrInvalidToken) {
			t.Errorf("an unavailable check matches ErrInvalidToken: %v", err)
		}
		var ve *verify.Error
		if errors.As(err, &ve) {
			t.Errorf("an unavailable check is a *verify.Error: %v", err)
		}
		if n := rc.calls.Load(); n != 1 {
			t.Errorf("checker called %d times, want 1", n)
		}
	})

	t.Run("checker error even if it says revoked", func(t *testing.T) {
		rc := &fakeChecker{revoked: true, err: errSetDown}
		v := newRevocationVerifier(t, keySet(t, k.pub), rc, nil)
		if _, err := v.Verify(ctx, tok); !errors.Is(err, verify.ErrUnavailable) {
			t.Fatalf("Verify error = %v, want ErrUnavailable", err)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		rc := &fakeChecker{block: true}
		v := newRevocationVerifier(t, keySet(t, k.pub), rc, nil) // RevocationTimeout 100ms
		start := time.Now()
		_, err := v.Verify(ctx, tok)
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("Verify took %v with a hanging checker, want about the 100ms timeout", elapsed)
		}
		if !errors.Is(err, verify.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Verify error = %v, want ErrUnavailable after the deadline", err)
		}
	})

	t.Run("nil checker", func(t *testing.T) {
		v := newRevocationVerifier(t, keySet(t, k.pub), nil, nil)
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}

// TestRevocationHookNotCalledForBadTokens: only a token that passed every
// other check costs a round trip to the revocation set.
func TestRevocationHookNotCalledForBadTokens(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	other := newTestKey(t, jwa.ES256, "k1")
	valid := signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)
	for name, tok := range map[string]string{
		"bad signature": signRaw(t, validHeader(other), validClaims(), jwa.ES256, other.priv),
		"expired":       signRaw(t, validHeader(k), with(validClaims(), "exp", now.Add(-time.Hour).Unix()), jwa.ES256, k.priv),
		"wrong aud":     signRaw(t, validHeader(k), with(validClaims(), "aud", "other"), jwa.ES256, k.priv),
		"unknown kid":   signRaw(t, with(validHeader(k), "kid", "nope"), validClaims(), jwa.ES256, k.priv),
		"crit":          signRaw(t, with(validHeader(k), "crit", []string{"exp"}), validClaims(), jwa.ES256, k.priv),
		"garbage":       "x.y.z",
		"truncated":     valid[:len(valid)-10],
	} {
		t.Run(name, func(t *testing.T) {
			rc := &fakeChecker{}
			v := newRevocationVerifier(t, keySet(t, k.pub), rc, nil)
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, verify.ErrInvalidToken) {
				t.Fatalf("Verify error = %v, want ErrInvalidToken", err)
			}
			if n := rc.calls.Load(); n != 0 {
				t.Errorf("checker called %d times for a bad token", n)
			}
		})
	}
}

func TestObserve(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	valid := signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)
	expired := signRaw(t, validHeader(k), with(validClaims(), "exp", now.Add(-time.Hour).Unix()), jwa.ES256, k.priv)
	for _, tt := range []struct {
		name  string
		keys  verify.KeySource
		rc    verify.RevocationChecker
		token string
		want  string
	}{
		{"ok", keySet(t, k.pub), &fakeChecker{}, valid, verify.ObserveOK},
		{"ok without checker", keySet(t, k.pub), nil, valid, "ok"},
		{"expired", keySet(t, k.pub), &fakeChecker{}, expired, "expired"},
		{"malformed", keySet(t, k.pub), &fakeChecker{}, "nope", "malformed"},
		{"revoked", keySet(t, k.pub), &fakeChecker{revoked: true}, valid, "revoked"},
		{"checker down", keySet(t, k.pub), &fakeChecker{err: errSetDown}, valid, verify.ObserveUnavailable},
		{"keys down", failingKeys{}, &fakeChecker{}, valid, "unavailable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			v := newRevocationVerifier(t, tt.keys, tt.rc, func(o string) { got = append(got, o) })
			_, _ = v.Verify(context.Background(), tt.token)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("Observe saw %q, want [%q]", got, tt.want)
			}
		})
	}
}

func TestKeySourceFailureIsUnavailable(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := newVerifier(t, failingKeys{})
	_, err := v.Verify(context.Background(), signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv))
	if !errors.Is(err, verify.ErrUnavailable) || !errors.Is(err, errKeysDown) {
		t.Errorf("Verify error = %v, want ErrUnavailable wrapping the key source's error", err)
	}
}

// refreshingKeys is a KeyRefresher: Keys yields before, RefreshKeys after.
type refreshingKeys struct {
	before, after jwk.Set
	err           error
	refreshes     atomic.Int64
}

func (r *refreshingKeys) Keys(context.Context) (jwk.Set, error) { return r.before, nil }

func (r *refreshingKeys) RefreshKeys(ctx context.Context, kid string) (jwk.Set, error) {
	r.refreshes.Add(1)
	return r.after, r.err
}

func TestVerifyAsksKeyRefresherOnKidMiss(t *testing.T) {
	k1 := newTestKey(t, jwa.ES256, "k1")
	k2 := newTestKey(t, jwa.ES256, "k2")
	tok1 := signRaw(t, validHeader(k1), validClaims(), jwa.ES256, k1.priv)
	tok2 := signRaw(t, validHeader(k2), validClaims(), jwa.ES256, k2.priv)
	ctx := context.Background()

	src := &refreshingKeys{before: keySet(t, k1.pub).set, after: keySet(t, k1.pub, k2.pub).set}
	v := newVerifier(t, src)
	if _, err := v.Verify(ctx, tok1); err != nil {
		t.Fatalf("Verify(k1): %v", err)
	}
	if n := src.refreshes.Load(); n != 0 {
		t.Errorf("RefreshKeys called %d times for a known kid", n)
	}
	if _, err := v.Verify(ctx, tok2); err != nil {
		t.Fatalf("Verify(k2) after a refresh: %v", err)
	}
	if n := src.refreshes.Load(); n != 1 {
		t.Errorf("RefreshKeys called %d times, want 1", n)
	}

	src = &refreshingKeys{before: keySet(t, k1.pub).set, after: keySet(t, k1.pub).set}
	v = newVerifier(t, src)
	var ve *verify.Error
	if _, err := v.Verify(ctx, tok2); !errors.As(err, &ve) || ve.Reason != verify.ReasonUnknownKey {
		t.Errorf("Verify(k2) without k2 = %v, want unknown_key", err)
	}

	src = &refreshingKeys{before: keySet(t, k1.pub).set, err: errKeysDown}
	v = newVerifier(t, src)
	if _, err := v.Verify(ctx, tok2); !errors.Is(err, verify.ErrUnavailable) || errors.Is(err, verify.ErrInvalidToken) {
		t.Errorf("Verify(k2) with a failing refresh = %v, want ErrUnavailable", err)
	}
}

func TestNewRejectsNegativeRevocationTimeout(t *testing.T) {
	_, err := verify.New(verify.Config{Issuer: issuer, Audience: audience, Keys: staticKeys{jwk.NewSet()}, RevocationTimeout: -time.Second})
	if err == nil {
		t.Error("New accepted a negative revocation timeout")
	}
}

func TestStaticKeys(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := newVerifier(t, verify.NewStaticKeys(keySet(t, k.pub).set))
	if _, err := v.Verify(context.Background(), signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)); err != nil {
		t.Errorf("Verify: %v", err)
	}
}
