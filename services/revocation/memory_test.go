package revocation_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/revocation/revocationtest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	revocationtest.Run(t, func(t *testing.T) revocation.Set { return revocation.NewMemory(nil) })
}

// fakeClock is a settable clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func TestMemoryClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	clock := &fakeClock{now: t0}
	m := revocation.NewMemory(clock.Now)
	ctx := t.Context()
	if err := m.Revoke(ctx,
		revocation.Entry{Kind: revocation.AccessToken, ID: "short", At: t0, Until: t0.Add(time.Minute)},
		revocation.Entry{Kind: revocation.AccessToken, ID: "long", At: t0, Until: t0.Add(time.Hour)},
	); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		at          time.Duration
		short, long bool
		size        int64
	}{
		{0, true, true, 2},
		{time.Minute - time.Nanosecond, true, true, 2},
		{time.Minute, false, true, 1}, // forgotten at Until
		{time.Hour, false, false, 0},
	}
	for _, s := range steps {
		clock.now = t0.Add(s.at)
		for id, want := range map[string]bool{"short": s.short, "long": s.long} {
			got, err := m.IsRevoked(ctx, revocation.Query{TokenID: id})
			if err != nil || got != want {
				t.Errorf("at +%s: IsRevoked(%s) = %v, %v; want %v, nil", s.at, id, got, err, want)
			}
		}
		if n, err := m.Size(ctx); err != nil || n != s.size {
			t.Errorf("at +%s: Size = %d, %v; want %d", s.at, n, err, s.size)
		}
	}
	// An expired entry written again starts afresh, without its old instant.
	clock.now = t0.Add(2 * time.Hour)
	if err := m.Revoke(ctx, revocation.Entry{Kind: revocation.Credential, ID: "c", At: clock.now, Until: clock.now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	clock.now = clock.now.Add(2 * time.Hour)
	if err := m.Revoke(ctx, revocation.Entry{Kind: revocation.Credential, ID: "c", At: t0, Until: clock.now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.IsRevoked(ctx, revocation.Query{ClientID: "c", IssuedAt: t0.Add(time.Second)}); got {
		t.Error("an expired entry's instant survived a new entry for the same credential")
	}
}

func TestMemoryClose(t *testing.T) {
	t.Parallel()
	m := revocation.NewMemory(nil)
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	if _, err := m.IsRevoked(ctx, revocation.Query{TokenID: "j"}); !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("IsRevoked after Close: %v, want ErrUnavailable", err)
	}
	if err := m.Healthy(ctx); !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("Healthy after Close: %v, want ErrUnavailable", err)
	}
	e := revocation.Entry{Kind: revocation.AccessToken, ID: "j", At: time.Now(), Until: time.Now().Add(time.Hour)}
	if err := m.Revoke(ctx, e); !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("Revoke after Close: %v, want ErrUnavailable", err)
	}
}

func BenchmarkMemoryIsRevoked(b *testing.B) {
	m := revocation.NewMemory(nil)
	now := time.Now()
	if err := m.Revoke(b.Context(),
		revocation.Entry{Kind: revocation.Credential, ID: "c1", At: now, Until: now.Add(time.Hour)},
		revocation.Entry{Kind: revocation.Family, ID: "f1", At: now, Until: now.Add(time.Hour)},
	); err != nil {
		b.Fatal(err)
	}
	q := revocation.Query{ClientID: "c2", IssuedAt: now, TokenID: "j1", FamilyID: "f2"} // the common case: not revoked
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.IsRevoked(b.Context(), q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.IsRevoked(b.Context(), q); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkMemoryBytesPerEntry measures what an entry costs the heap: the
// live heap before and after adding entriesPerRun entries of every kind,
// with ids as chave makes them (a 26-character jti, a 22-character family
// id, a client id), after a GC each time.
func BenchmarkMemoryBytesPerEntry(b *testing.B) {
	const entriesPerRun = 300_000
	now := time.Now()
	entries := make([]revocation.Entry, entriesPerRun)
	for i := range entries {
		e := revocation.Entry{At: now, Until: now.Add(time.Hour)}
		switch i % 3 {
		case 0:
			e.Kind, e.ID = revocation.AccessToken, rand.Text()
		case 1:
			e.Kind, e.ID = revocation.Family, base64.RawURLEncoding.EncodeToString([]byte(rand.Text())[:16])
		default:
			e.Kind, e.ID = revocation.Credential, "chv_"+rand.Text()
		}
		entries[i] = e
	}
	var perEntry float64
	for b.Loop() {
		before := liveHeap()
		m := revocation.NewMemory(nil)
		if err := m.Revoke(b.Context(), entries...); err != nil {
			b.Fatal(err)
		}
		after := liveHeap()
		if n, err := m.Size(b.Context()); err != nil || n != entriesPerRun {
			b.Fatalf("Size = %d, %v; want %d", n, err, entriesPerRun)
		}
		perEntry = float64(after-before) / entriesPerRun
		m.Close()
	}
	b.ReportMetric(perEntry, "bytes/entry")
}

// liveHeap returns the bytes of live heap objects after a full GC.
func liveHeap() int64 {
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return int64(s.HeapAlloc)
}
