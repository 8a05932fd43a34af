package secrets

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"
)

// BenchmarkHash is one keyed hash of a client secret, as every grant
// computes it.
func BenchmarkHash(b *testing.B) {
	h, _ := NewHasher(bytes.Repeat([]byte{1}, 32))
	s, _ := NewClientSecret()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.Hash(ctx, s)
	}
}

// The prepared state changes nothing: the hash is HMAC-SHA-256 of the
// key, from the first call on, concurrently too, and follows a change of
// the version's key.
func TestHashIsHMACSHA256(t *testing.T) {
	ctx := context.Background()
	key := bytes.Repeat([]byte{7}, 32)
	h, err := NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewClientSecret()
	plain := func(key []byte, s ClientSecret) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s.Reveal()))
		return m.Sum(nil)
	}
	want := plain(key, s)
	done := make(chan []byte, 8)
	for range 8 {
		go func() { sh, _ := h.Hash(ctx, s); done <- sh.Sum }()
	}
	for range 8 {
		if got := <-done; !bytes.Equal(got, want) {
			t.Fatalf("Hash = %x, want %x", got, want)
		}
	}
	other, _ := NewClientSecret()
	sh, _ := h.Hash(ctx, other)
	ok, _ := h.Verify(ctx, s, SecretHash{Version: 1, Sum: want})
	notOK, _ := h.Verify(ctx, other, SecretHash{Version: 1, Sum: want})
	if bytes.Equal(sh.Sum, want) || !ok || notOK {
		t.Fatal("Hash does not tell secrets apart")
	}
	// The same version number with another key (a ring from elsewhere):
	// the prepared state of the old key is not used.
	r := SingleVersion(bytes.Repeat([]byte{8}, 32))
	r.Add(time.Now())
	h.keys = NewStaticProvider(Keys{Hash: r})
	if sh, _ := h.Hash(ctx, s); !bytes.Equal(sh.Sum, plain(bytes.Repeat([]byte{8}, 32), s)) {
		t.Fatal("a stale prepared state was used")
	}
}
