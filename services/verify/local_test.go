package verify_test

import (
	"context"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/verify"
)

// deadlineChecker records whether its context had a deadline; local is
// what its Local method says.
type deadlineChecker struct {
	local       bool
	hadDeadline []bool
}

func (d *deadlineChecker) IsRevoked(ctx context.Context, _ verify.Claims) (bool, error) {
	_, ok := ctx.Deadline()
	d.hadDeadline = append(d.hadDeadline, ok)
	return false, nil
}

func (d *deadlineChecker) Local() bool { return d.local }

// A checker that says it never waits is called without the revocation
// timeout; any other, and one that says false, with it, on every call.
func TestVerifyLocalCheckerGetsNoTimeout(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	tok := signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)
	for _, tt := range []struct {
		name string
		rc   verify.RevocationChecker
		want bool
	}{
		{"local", &deadlineChecker{local: true}, false},
		{"says not local", &deadlineChecker{local: false}, true},
		{"no Local method", &fakeChecker{}, true},
	} {
		v := cachingVerifier(t, keySet(t, k.pub), tt.rc, newClock(now), 0)
		for range 2 { // the second from the cache
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
		if d, ok := tt.rc.(*deadlineChecker); ok {
			for i, had := range d.hadDeadline {
				if had != tt.want {
					t.Errorf("%s: call %d had a deadline: %v, want %v", tt.name, i, had, tt.want)
				}
			}
		}
	}
	// TestRevocationHook's blocking checker covers the timer firing.
}
