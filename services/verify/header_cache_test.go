package verify_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/verify"
)

// A header segment is remembered only once a token under it verified; a
// remembered header changes no answer: a forged signature, another key's
// kid or a retired key still fail, and headers nobody signed never enter.
func TestHeaderCacheRemembersOnlySignedHeadersAndChangesNoAnswer(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	other := newTestKey(t, jwa.ES256, "k2")
	keys := keySet(t, k.pub)
	v := newVerifier(t, keys, jwa.ES256)
	ctx := t.Context()

	// Unsigned or mis-signed tokens under headers of their own: none kept.
	for i := range 10 {
		hdr := with(validHeader(k), "x", fmt.Sprint(i))
		tok := signRaw(t, hdr, validClaims(), jwa.ES256, other.priv)
		if _, err := v.Verify(ctx, tok); !errors.Is(err, verify.ErrInvalidToken) {
			t.Fatalf("a token signed by another key: %v", err)
		}
	}
	if n := verify.HeaderCacheLen(v); n != 0 {
		t.Fatalf("%d headers remembered from tokens that did not verify", n)
	}

	good := signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)
	if _, err := v.Verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	if n := verify.HeaderCacheLen(v); n != 1 {
		t.Fatalf("%d headers remembered, want 1", n)
	}

	// The same header over a forged signature, new claims: still refused.
	hdrSeg := good[:strings.IndexByte(good, '.')]
	forged := signRaw(t, validHeader(k), with(validClaims(), "jti", "jti-forged"), jwa.ES256, other.priv)
	forged = hdrSeg + forged[strings.IndexByte(forged, '.'):]
	var ve *verify.Error
	if _, err := v.Verify(ctx, forged); !errors.As(err, &ve) || ve.Reason != verify.ReasonSignature {
		t.Fatalf("forged signature under a remembered header: %v", err)
	}
	// Claims under a remembered header are still checked.
	expired := signRaw(t, validHeader(k), with(validClaims(), "jti", "jti-old", "exp", now.Add(-time.Hour).Unix()), jwa.ES256, k.priv)
	if _, err := v.Verify(ctx, expired); !errors.As(err, &ve) || ve.Reason != verify.ReasonExpired {
		t.Fatalf("expired token under a remembered header: %v", err)
	}
	// The key leaves the source: its remembered header does not keep it.
	keys.set.RemoveKey(k.pub)
	fresh := signRaw(t, validHeader(k), with(validClaims(), "jti", "jti-new"), jwa.ES256, k.priv)
	if _, err := v.Verify(ctx, fresh); !errors.As(err, &ve) || ve.Reason != verify.ReasonUnknownKey {
		t.Fatalf("a retired key's token under a remembered header: %v", err)
	}
}

func TestHeaderCacheIsBounded(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := newVerifier(t, keySet(t, k.pub), jwa.ES256)
	for i := range 100 {
		tok := signRaw(t, with(validHeader(k), "x", fmt.Sprint(i)), with(validClaims(), "jti", fmt.Sprint("j", i)), jwa.ES256, k.priv)
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := verify.HeaderCacheLen(v); n != 64 {
		t.Errorf("%d headers remembered, want the bound 64", n)
	}
}
