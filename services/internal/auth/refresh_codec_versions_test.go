package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/secrets"
)

// swappable is a key provider whose keys a test replaces.
type swappable struct {
	keys      *secrets.Keys
	next      *secrets.Keys // what Refresh moves to
	refreshes int
}

func (p *swappable) Keys(context.Context) (*secrets.Keys, error) { return p.keys, nil }
func (p *swappable) Refresh(context.Context) (*secrets.Keys, error) {
	p.refreshes++
	if p.next != nil {
		p.keys = p.next
	}
	return p.keys, nil
}

// TestNewRefreshCodecKeyVersions: a token made under version 1 (the form of
// earlier releases) still parses after version 2 becomes active; new
// tokens name version 2; a token of a version this replica has not read
// yet makes it look again; a retired version's tokens fail.
func TestNewRefreshCodecKeyVersions(t *testing.T) {
	ctx := context.Background()
	ring := secrets.SingleVersion(testRefreshKey)
	p := &swappable{keys: &secrets.Keys{RefreshToken: ring}}
	c, err := newVersionedRefreshCodec(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	old, err := c.encode(ctx, testRefreshToken())
	if err != nil {
		t.Fatal(err)
	}
	if legacy, _ := testCodec(t).encode(ctx, testRefreshToken()); legacy != old {
		t.Fatal("version 1 does not make the tokens of earlier releases")
	}

	rotated := secrets.Keys{RefreshToken: ring}
	rotated.RefreshToken = cloneRing(ring)
	v2, _ := rotated.RefreshToken.Add(testNow)
	rotated.RefreshToken.Activate(v2, testNow)
	// Another replica activated version 2; this one has not read it yet.
	other, _ := newVersionedRefreshCodec(ctx, &swappable{keys: &rotated})
	fresh, err := other.encode(ctx, testRefreshToken())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(fresh, ".") != 2 || !strings.Contains(fresh, ".2.") {
		t.Fatalf("a version 2 token %q does not name its version", fresh)
	}
	p.next = &rotated
	if got, err := c.parse(ctx, fresh); err != nil || !sameToken(got, testRefreshToken()) {
		t.Fatalf("a version 2 token on a replica that had not read it: %v", err)
	}
	if p.refreshes != 1 {
		t.Fatalf("%d refreshes, want 1", p.refreshes)
	}
	if _, err := c.parse(ctx, old); err != nil {
		t.Fatalf("a version 1 token after the rotation: %v", err)
	}

	// Tampering with the version breaks the MAC or the syntax.
	for _, bad := range []string{
		strings.Replace(fresh, ".2.", ".3.", 1),
		strings.Replace(fresh, ".2.", ".02.", 1),
		strings.Replace(fresh, ".2.", ".1.", 1),
		strings.Replace(fresh, ".2.", ".", 1),
		strings.Replace(fresh, ".2.", ".99999999999.", 1),
		strings.Replace(old, ".", ".2.", 1),
	} {
		if _, err := c.parse(ctx, bad); !errors.Is(err, errRefreshToken) {
			t.Errorf("parse(%q) = %v, want errRefreshToken", bad, err)
		}
	}

	retired := cloneRing(rotated.RefreshToken)
	retired.Retire(1, testNow.Add(time.Hour))
	p.keys = &secrets.Keys{RefreshToken: retired}
	if _, err := c.parse(ctx, old); !errors.Is(err, errRefreshToken) {
		t.Fatalf("a token of a retired version: %v", err)
	}
	if _, err := c.parse(ctx, fresh); err != nil {
		t.Fatalf("a version 2 token after version 1 retired: %v", err)
	}
}

func cloneRing(r secrets.KeyRing) secrets.KeyRing {
	k := secrets.Keys{RefreshToken: r}
	return k.Clone().RefreshToken
}
