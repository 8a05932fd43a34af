package secrets

import (
	"bytes"
	"testing"
)

// BenchmarkHash is one keyed hash of a client secret, as every grant
// computes it.
func BenchmarkHash(b *testing.B) {
	h, _ := NewHasher(bytes.Repeat([]byte{1}, 32))
	s, _ := NewClientSecret()
	b.ReportAllocs()
	for b.Loop() {
		h.Hash(s)
	}
}

// The prepared state changes nothing: the hash is HMAC-SHA-256 of the
// key, from the first call on, concurrently too.
func TestHashIsHMACSHA256(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	h, err := NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewClientSecret()
	want := (&Hasher{key: key}).Hash(s) // no prepared state: hmac.New
	done := make(chan []byte, 8)
	for range 8 {
		go func() { done <- h.Hash(s) }()
	}
	for range 8 {
		if got := <-done; !bytes.Equal(got, want) {
			t.Fatalf("Hash = %x, want %x", got, want)
		}
	}
	other, _ := NewClientSecret()
	if bytes.Equal(h.Hash(other), want) || !h.Verify(s, want) || h.Verify(other, want) {
		t.Fatal("Hash does not tell secrets apart")
	}
}
