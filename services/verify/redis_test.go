package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/redis/go-redis/v9"

	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// redisSet returns a revocation set on the Redis at url, closed with the
// test; rebuilt says whether to mark it whole (a fresh set answers ErrLost).
func redisSet(t testing.TB, url string, rebuilt bool) *revocation.Redis {
	t.Helper()
	client, err := revocation.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	set, err := revocation.NewRedis(client, revocation.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = set.Close() })
	if rebuilt {
		if err := set.Rebuild(context.Background(), nil); err != nil {
			t.Fatalf("Rebuild: %v", err)
		}
	}
	return set
}

// liveVerifier verifies with the real clock against the revocation set.
func liveVerifier(t testing.TB, k testKey, set revocation.Set) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Config{
		Issuer: issuer, Audience: audience, Keys: keySet(t, k.pub),
		Revocations: revocation.Checker(set),
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// liveToken is a token issued at iat, valid for half an hour.
func liveToken(t testing.TB, k testKey, iat time.Time, kv ...any) string {
	t.Helper()
	claims := with(validClaims(), "iat", iat.Unix(), "exp", iat.Add(30*time.Minute).Unix())
	return signRaw(t, validHeader(k), with(claims, kv...), jwa.ES256, k.priv)
}

// serve runs one request through h with the token and returns the status
// and how long it took.
func serve(h http.Handler, tok string) (int, time.Duration) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	return rec.Code, time.Since(start)
}

// TestRedisRevocation runs the middleware against a real Redis revocation
// set: revocations take effect at once, and a set that is lost or gone
// makes every token fail closed with 503 promptly.
func TestRedisRevocation(t *testing.T) {
	srv := testserver.StartRedis(t)
	set := redisSet(t, srv.URL(), true)
	k := newTestKey(t, jwa.ES256, "k1")
	h := verify.HTTPMiddleware(liveVerifier(t, k, set), verify.WithLogger(slog.New(slog.DiscardHandler)))(echoClaims)
	ctx := context.Background()
	issued := time.Now().Add(-time.Minute).Truncate(time.Second)
	until := issued.Add(time.Hour)

	plain := liveToken(t, k, issued, "jti", "jti-plain")
	byJTI := liveToken(t, k, issued, "jti", "jti-revoked")
	byFamily := liveToken(t, k, issued, "jti", "jti-fam", "sid", "fam-1")
	byCredential := liveToken(t, k, issued, "jti", "jti-cred", "sub", "client-2", "client_id", "client-2")
	afterCredential := liveToken(t, k, issued.Add(2*time.Second), "jti", "jti-cred-2", "sub", "client-2", "client_id", "client-2")
	for _, tok := range []string{plain, byJTI, byFamily, byCredential} {
		if code, _ := serve(h, tok); code != http.StatusOK {
			t.Fatalf("status %d before any revocation, want 200", code)
		}
	}

	if err := set.Revoke(ctx,
		revocation.Entry{Kind: revocation.AccessToken, ID: "jti-revoked", At: issued, Until: until},
		revocation.Entry{Kind: revocation.Family, ID: "fam-1", At: issued, Until: until},
		revocation.Entry{Kind: revocation.Credential, ID: "client-2", At: issued.Add(time.Second), Until: until},
	); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	for _, tt := range []struct {
		name string
		tok  string
		want int
	}{
		{"not revoked", plain, http.StatusOK},
		{"revoked jti", byJTI, http.StatusUnauthorized},
		{"revoked family", byFamily, http.StatusUnauthorized},
		{"revoked credential", byCredential, http.StatusUnauthorized},
		{"issued after the credential's revocation", afterCredential, http.StatusOK},
	} {
		if code, _ := serve(h, tt.tok); code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, code, tt.want)
		}
	}

	// Losing the data must not make a revoked token valid: the set answers
	// ErrLost until rebuilt, and the middleware 503.
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	if err := admin.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{plain, byJTI} {
		if code, _ := serve(h, tok); code != http.StatusServiceUnavailable {
			t.Errorf("status %d after FLUSHALL, want 503", code)
		}
	}
	if err := set.Rebuild(ctx, []revocation.Entry{{Kind: revocation.AccessToken, ID: "jti-revoked", At: issued, Until: until}}); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	if code, _ := serve(h, byJTI); code != http.StatusUnauthorized {
		t.Errorf("revoked token after the rebuild: status %d, want 401", code)
	}

	// Redis gone: 503 within about a second, for every token.
	srv.Kill()
	for range 3 {
		code, took := serve(h, plain)
		t.Logf("Redis killed: status %d in %v", code, took)
		if code != http.StatusServiceUnavailable {
			t.Errorf("status %d with Redis killed, want 503", code)
		}
		if took > time.Second {
			t.Errorf("503 took %v with Redis killed, want under a second", took)
		}
	}
}

// TestRedisUnresponsive: a Redis that accepts connections but never
// answers costs the set's timeout (250ms), then 503.
func TestRedisUnresponsive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() }) // hold it open, silent
		}
	}()
	set := redisSet(t, "redis://"+ln.Addr().String(), false)
	k := newTestKey(t, jwa.ES256, "k1")
	v := liveVerifier(t, k, set)
	h := verify.HTTPMiddleware(v, verify.WithLogger(slog.New(slog.DiscardHandler)))(echoClaims)
	code, took := serve(h, liveToken(t, k, time.Now()))
	t.Logf("silent Redis: status %d in %v", code, took)
	if code != http.StatusServiceUnavailable {
		t.Errorf("status %d with a silent Redis, want 503", code)
	}
	if took > time.Second {
		t.Errorf("503 took %v with a silent Redis, want about the 250ms timeout", took)
	}
	_, err = v.Verify(context.Background(), liveToken(t, k, time.Now()))
	if !errors.Is(err, verify.ErrUnavailable) || !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("Verify = %v, want verify.ErrUnavailable wrapping revocation.ErrUnavailable", err)
	}
}

// benchRevocation verifies one ES256 token against set, which holds n
// revocations of other tokens.
func benchRevocation(b *testing.B, set revocation.Set) {
	ctx := context.Background()
	issued := time.Now().Truncate(time.Second)
	var entries []revocation.Entry
	for i := range 1000 {
		entries = append(entries,
			revocation.Entry{Kind: revocation.AccessToken, ID: fmt.Sprintf("other-jti-%d", i), At: issued, Until: issued.Add(time.Hour)},
			revocation.Entry{Kind: revocation.Credential, ID: fmt.Sprintf("other-client-%d", i), At: issued, Until: issued.Add(time.Hour)},
		)
	}
	if err := set.Rebuild(ctx, entries); err != nil {
		b.Fatalf("Rebuild: %v", err)
	}
	k := newTestKey(b, jwa.ES256, "k1")
	v := liveVerifier(b, k, set)
	tok := liveToken(b, k, issued.Add(-time.Minute), "sid", "fam-1")
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkVerifyWithMemoryRevocation(b *testing.B) {
	set := revocation.NewMemory(nil)
	b.Cleanup(func() { _ = set.Close() })
	benchRevocation(b, set)
}

func BenchmarkVerifyWithRedisRevocation(b *testing.B) {
	srv := testserver.StartRedis(b)
	benchRevocation(b, redisSet(b, srv.URL(), false))
}
