package throttle_test

import (
	"context"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/internal/throttle"
)

// benchmarkGrant measures what throttling adds to a successful grant of a
// known pair: one Check (Succeeded then writes nothing).
func benchmarkGrant(b *testing.B, store throttle.Store) {
	l, err := throttle.NewLimiter(store, throttle.Policy{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	a := throttle.Attempt{ClientID: "chave_ci_0123456789abcdef", Address: "203.0.113.9"}
	d, _ := l.Check(ctx, a)
	if err := l.Succeeded(ctx, d); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d, err := l.Check(ctx, a)
			if err != nil || !d.Allowed {
				b.Fatalf("%+v %v", d, err)
			}
			if err := l.Succeeded(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGrantMemory(b *testing.B) { benchmarkGrant(b, throttle.NewMemory(0)) }

func BenchmarkGrantRedis(b *testing.B) {
	srv := testserver.StartRedis(b)
	client, err := revocationURL(b, srv)
	if err != nil {
		b.Fatal(err)
	}
	shared, err := throttle.NewRedis(client, throttle.RedisOptions{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	benchmarkGrant(b, throttle.NewFallback(shared, throttle.NewMemory(0), throttle.FallbackOptions{}))
}
