package verify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/chave/chave/services/verify"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// jwksServer serves a JWK Set that tests change, and counts requests.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu           sync.Mutex
	body         []byte
	status       int
	cacheControl string
	gate         chan struct{} // when set, each request waits for it to close
}

func newJWKSServer(t *testing.T, keys ...jwk.Key) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.setKeys(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status, cc, gate := s.body, s.status, s.cacheControl, s.gate
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(t *testing.T, keys ...jwk.Key) {
	t.Helper()
	s.setBody(mustJSON(t, keySet(t, keys...).set))
}

func (s *jwksServer) setBody(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = b
}

func (s *jwksServer) setStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = code
}

func (s *jwksServer) setCacheControl(cc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cacheControl = cc
}

// hold makes requests wait until the returned function is called.
func (s *jwksServer) hold() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(gate)
		})
	}
}

// syncBuffer is a bytes.Buffer for a logger written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type remoteFixture struct {
	srv   *jwksServer
	clock *fakeClock
	keys  *verify.RemoteKeys
	log   *syncBuffer
	v     *verify.Verifier
}

func newRemoteFixture(t *testing.T, opts verify.RemoteKeysOptions, keys ...jwk.Key) *remoteFixture {
	t.Helper()
	f := &remoteFixture{srv: newJWKSServer(t, keys...), clock: newFakeClock(), log: &syncBuffer{}}
	opts.Clock = f.clock.Now
	opts.Logger = slog.New(slog.NewTextHandler(f.log, nil))
	f.keys = verify.NewRemoteKeys(f.srv.URL, opts)
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: audience, Keys: f.keys, Clock: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

// kids returns the key ids of the source's current set.
func (f *remoteFixture) kids(t *testing.T) string {
	t.Helper()
	set, err := f.keys.Keys(context.Background())
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	var ids []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		ids = append(ids, k.KeyID())
	}
	return strings.Join(ids, ",")
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func token(t testing.TB, k testKey) string {
	t.Helper()
	return signRaw(t, validHeader(k), validClaims(), k.alg, k.priv)
}

func TestRemoteKeysCaches(t *testing.T) {
	k1 := newTestKey(t, jwa.ES256, "k1")
	k2 := newTestKey(t, jwa.ES256, "k2")
	f := newRemoteFixture(t, verify.RemoteKeysOptions{}, k1.pub)
	ctx := context.Background()

	for range 20 {
		if _, err := f.v.Verify(ctx, token(t, k1)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if n := f.srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 20 verifications, want 1", n)
	}

	// A new set is published; the cached one stays in use until it is due.
	f.srv.setKeys(t, k2.pub)
	f.clock.Advance(verify.DefaultJWKSRefreshInterval - time.Second)
	if got := f.kids(t); got != "k1" {
		t.Errorf("keys before the refresh interval = %s, want k1", got)
	}
	time.Sleep(20 * time.Millisecond)
	if n := f.srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches before the set is due, want 1", n)
	}

	// Once due, Keys still answers at once with the old set, and one
	// background fetch replaces it.
	f.clock.Advance(time.Second)
	if got := f.kids(t); got != "k1" {
		t.Errorf("keys when due = %s, want the old k1 while the refresh runs", got)
	}
	waitFor(t, "the background refresh", func() bool { return f.kids(t) == "k2" })
	if n := f.srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches after one refresh, want 2", n)
	}
}

func TestRemoteKeysMaxAge(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	for _, tt := range []struct {
		cacheControl string
		want         time.Duration
	}{
		{"", verify.DefaultJWKSRefreshInterval},
		{"public, max-age=120", 2 * time.Minute},
		{"max-age=5", verify.MinJWKSMaxAge},
		{"max-age=86400, must-revalidate", verify.MaxJWKSMaxAge},
		{"max-age=99999999999999999999", verify.DefaultJWKSRefreshInterval}, // unparsable: ignored
		{"no-store", verify.MinJWKSMaxAge},
		{`Max-Age="600"`, 10 * time.Minute},
	} {
		t.Run(tt.cacheControl, func(t *testing.T) {
			f := newRemoteFixture(t, verify.RemoteKeysOptions{}, k.pub)
			f.srv.setCacheControl(tt.cacheControl)
			f.kids(t)
			f.clock.Advance(tt.want - time.Second)
			f.kids(t)
			time.Sleep(10 * time.Millisecond)
			if n := f.srv.fetches.Load(); n != 1 {
				t.Fatalf("%d fetches a second before %v, want 1", n, tt.want)
			}
			f.clock.Advance(time.Second)
			f.kids(t)
			waitFor(t, "a refresh", func() bool { return f.srv.fetches.Load() == 2 })
		})
	}
}

func TestRemoteKeysRefreshInterval(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	f := newRemoteFixture(t, verify.RemoteKeysOptions{RefreshInterval: 30 * time.Second}, k.pub)
	f.kids(t)
	f.clock.Advance(30 * time.Second)
	f.kids(t)
	waitFor(t, "a refresh", func() bool { return f.srv.fetches.Load() == 2 })
}

// TestRemoteKeysKidMiss: a token naming an unknown kid refetches the set,
// at most once per MissRefreshInterval.
func TestRemoteKeysKidMiss(t *testing.T) {
	k1 := newTestKey(t, jwa.ES256, "k1")
	k2 := newTestKey(t, jwa.ES256, "k2")
	k3 := newTestKey(t, jwa.ES256, "k3")
	f := newRemoteFixture(t, verify.RemoteKeysOptions{}, k1.pub)
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, token(t, k1)); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	// k2 is published; within 10 s of the last fetch, a miss does not fetch.
	f.srv.setKeys(t, k1.pub, k2.pub)
	f.clock.Advance(verify.DefaultJWKSMissInterval - time.Second)
	for range 5 {
		if _, err := f.v.Verify(ctx, token(t, k2)); !isReason(err, verify.ReasonUnknownKey) {
			t.Fatalf("Verify(k2) within the rate limit = %v, want unknown_key", err)
		}
	}
	if n := f.srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1: kid misses must wait 10 s after the last fetch", n)
	}

	// Then one miss fetches, and the new key verifies at once.
	f.clock.Advance(time.Second)
	if _, err := f.v.Verify(ctx, token(t, k2)); err != nil {
		t.Fatalf("Verify(k2) after the rate limit: %v", err)
	}
	if n := f.srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}

	// A flood of made-up kids costs no fetch until 10 s have passed, then one.
	for range 50 {
		tok := signRaw(t, with(validHeader(k1), "kid", rand.Text()), validClaims(), jwa.ES256, k1.priv)
		if _, err := f.v.Verify(ctx, tok); !isReason(err, verify.ReasonUnknownKey) {
			t.Fatalf("Verify(made-up kid) = %v, want unknown_key", err)
		}
	}
	if n := f.srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after a flood of unknown kids, want still 2", n)
	}
	f.srv.setKeys(t, k1.pub, k2.pub, k3.pub)
	f.clock.Advance(verify.DefaultJWKSMissInterval)
	for range 5 {
		if _, err := f.v.Verify(ctx, token(t, k3)); err != nil {
			t.Fatalf("Verify(k3): %v", err)
		}
	}
	if n := f.srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	// Known kids never fetch.
	for _, k := range []testKey{k1, k2, k3} {
		if _, err := f.v.Verify(ctx, token(t, k)); err != nil {
			t.Fatalf("Verify(%s): %v", k.kid, err)
		}
	}
	if n := f.srv.fetches.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
}

func isReason(err error, r verify.Reason) bool {
	var ve *verify.Error
	return errors.As(err, &ve) && ve.Reason == r
}

// TestRemoteKeysSingleflight: concurrent callers share one fetch, both for
// the first fetch and for a kid miss.
func TestRemoteKeysSingleflight(t *testing.T) {
	k1 := newTestKey(t, jwa.ES256, "k1")
	k2 := newTestKey(t, jwa.ES256, "k2")
	f := newRemoteFixture(t, verify.RemoteKeysOptions{}, k1.pub)
	ctx := context.Background()
	const n = 50

	verifyAll := func(tok string) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				if _, err := f.v.Verify(ctx, tok); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Verify: %v", err)
		}
	}

	release := f.srv.hold()
	go func() {
		// Let the callers pile up on the one fetch, then answer it.
		waitFor(t, "the first fetch", func() bool { return f.srv.fetches.Load() == 1 })
		time.Sleep(50 * time.Millisecond)
		release()
	}()
	verifyAll(token(t, k1))
	if got := f.srv.fetches.Load(); got != 1 {
		t.Fatalf("%d concurrent first verifications made %d fetches, want 1", n, got)
	}

	f.srv.setKeys(t, k1.pub, k2.pub)
	f.clock.Advance(verify.DefaultJWKSMissInterval)
	release = f.srv.hold()
	go func() {
		waitFor(t, "the kid-miss fetch", func() bool { return f.srv.fetches.Load() == 2 })
		time.Sleep(50 * time.Millisecond)
		release()
	}()
	verifyAll(token(t, k2))
	if got := f.srv.fetches.Load(); got != 2 {
		t.Fatalf("%d concurrent kid misses made %d fetches in all, want 2", n, got)
	}
}

// TestRemoteKeysKeepsLastGoodSet: a failing refresh leaves the last good set
// in use, logs, and retries after MissRefreshInterval.
func TestRemoteKeysKeepsLastGoodSet(t *testing.T) {
	k1 := newTestKey(t, jwa.ES256, "k1")
	k2 := newTestKey(t, jwa.ES256, "k2")
	for _, tt := range []struct {
		name   string
		break_ func(s *jwksServer)
	}{
		{"status 500", func(s *jwksServer) { s.setStatus(http.StatusInternalServerError) }},
		{"not JSON", func(s *jwksServer) { s.setBody([]byte("<html>")) }},
		{"no keys", func(s *jwksServer) { s.setBody([]byte(`{"keys":[]}`)) }},
		{"only unusable keys", func(s *jwksServer) { s.setKeys(t, mustClone(t, k2.pub, jwk.KeyUsageKey, "enc")) }},
		{"down", func(s *jwksServer) { s.Close() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newRemoteFixture(t, verify.RemoteKeysOptions{}, k1.pub)
			ctx := context.Background()
			if _, err := f.v.Verify(ctx, token(t, k1)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			tt.break_(f.srv)
			f.clock.Advance(verify.DefaultJWKSRefreshInterval)
			f.kids(t) // starts the refresh
			waitFor(t, "the failed refresh to be logged", func() bool {
				return strings.Contains(f.log.String(), "keeping the last good key set")
			})
			if _, err := f.v.Verify(ctx, token(t, k1)); err != nil {
				t.Fatalf("Verify with the last good set: %v", err)
			}
			// A kid miss with the source failing: unknown key, not unavailable.
			f.clock.Advance(verify.DefaultJWKSMissInterval)
			if _, err := f.v.Verify(ctx, token(t, k2)); !isReason(err, verify.ReasonUnknownKey) {
				t.Fatalf("Verify(k2) with a failing source = %v, want unknown_key", err)
			}
			if got := f.kids(t); got != "k1" {
				t.Errorf("keys = %s, want the last good k1", got)
			}
		})
	}
}

func TestRemoteKeysRetriesAfterFailedRefresh(t *testing.T) {
	k1 := newTestKey(t, jwa.ES256, "k1")
	k2 := newTestKey(t, jwa.ES256, "k2")
	f := newRemoteFixture(t, verify.RemoteKeysOptions{}, k1.pub)
	f.kids(t)
	f.srv.setStatus(http.StatusBadGateway)
	f.clock.Advance(verify.DefaultJWKSRefreshInterval)
	f.kids(t)
	waitFor(t, "the failed refresh", func() bool { return strings.Contains(f.log.String(), "502") })
	// Not again at once, however often Keys is called...
	for range 10 {
		f.kids(t)
	}
	time.Sleep(20 * time.Millisecond)
	if n := f.srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches right after a failed refresh, want 2", n)
	}
	// ...but after MissRefreshInterval.
	f.srv.setStatus(http.StatusOK)
	f.srv.setKeys(t, k2.pub)
	f.clock.Advance(verify.DefaultJWKSMissInterval)
	f.kids(t)
	waitFor(t, "the retried refresh", func() bool { return f.kids(t) == "k2" })
}

// TestRemoteKeysNeverFetched: without one good fetch there are no keys, and
// Verify is unavailable rather than the token invalid.
func TestRemoteKeysNeverFetched(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	f := newRemoteFixture(t, verify.RemoteKeysOptions{}, k.pub)
	f.srv.setStatus(http.StatusServiceUnavailable)
	ctx := context.Background()

	if set, err := f.keys.Keys(ctx); err == nil {
		t.Fatalf("Keys without a good fetch = %v, want an error", set)
	}
	_, err := f.v.Verify(ctx, token(t, k))
	if !errors.Is(err, verify.ErrUnavailable) || errors.Is(err, verify.ErrInvalidToken) {
		t.Fatalf("Verify without keys = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "503") {
		t.Errorf("error %q does not say what failed", err)
	}
	// Failures are remembered for a second: no fetch per request.
	if n := f.srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1 within a second of a failure", n)
	}
	f.srv.setStatus(http.StatusOK)
	f.clock.Advance(time.Second)
	if _, err := f.v.Verify(ctx, token(t, k)); err != nil {
		t.Fatalf("Verify once the JWKS answers: %v", err)
	}
}

func TestRemoteKeysUnreachable(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/jwks.json"
	srv.Close()
	v := newVerifier(t, verify.NewRemoteKeys(url, verify.RemoteKeysOptions{Logger: slog.New(slog.DiscardHandler)}))
	if _, err := v.Verify(context.Background(), token(t, k)); !errors.Is(err, verify.ErrUnavailable) {
		t.Fatalf("Verify with an unreachable JWKS = %v, want ErrUnavailable", err)
	}
}

// TestRemoteKeysTimeout: a JWKS server that never answers costs at most the
// timeout, and a caller's own deadline is honoured while waiting.
func TestRemoteKeysTimeout(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	f := newRemoteFixture(t, verify.RemoteKeysOptions{Timeout: 100 * time.Millisecond}, k.pub)
	release := f.srv.hold()
	t.Cleanup(release)

	start := time.Now()
	_, err := f.v.Verify(context.Background(), token(t, k))
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Verify took %v with a hanging JWKS server, want about the 100ms timeout", elapsed)
	}
	if !errors.Is(err, verify.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify = %v, want ErrUnavailable after a deadline", err)
	}

	// A caller whose context ends first stops waiting; the fetch goes on.
	f2 := newRemoteFixture(t, verify.RemoteKeysOptions{Timeout: 10 * time.Second}, k.pub)
	release2 := f2.srv.hold()
	t.Cleanup(release2)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := f2.keys.Keys(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Keys with a short context = %v, want its deadline", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Keys took %v, want about the caller's 50ms", elapsed)
	}
	release2()
	if _, err := f2.v.Verify(context.Background(), token(t, k)); err != nil {
		t.Fatalf("Verify after the shared fetch completed: %v", err)
	}
	if n := f2.srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want the one the cancelled caller started", n)
	}
}

func mustClone(t *testing.T, k jwk.Key, kv ...any) jwk.Key {
	t.Helper()
	c, err := k.Clone()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		if kv[i+1] == nil {
			if err := c.Remove(name); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := c.Set(name, kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestRemoteKeysKeepsOnlyUsableKeys: keys for encryption, without kid or
// alg, symmetric keys and keys whose type does not fit their alg are
// dropped; private members never stay in the set.
func TestRemoteKeysKeepsOnlyUsableKeys(t *testing.T) {
	good := newTestKey(t, jwa.ES256, "good")
	noUse := newTestKey(t, jwa.ES256, "no-use")
	ed := newTestKey(t, jwa.EdDSA, "ed")
	hs := newTestKey(t, jwa.HS512, "hs")

	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	private, err := jwk.FromRaw(ecPriv)
	if err != nil {
		t.Fatal(err)
	}
	private = mustClone(t, private, jwk.KeyIDKey, "private", jwk.AlgorithmKey, jwa.ES256)
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := jwk.FromRaw(rsaPriv.Public())
	if err != nil {
		t.Fatal(err)
	}

	f := newRemoteFixture(t, verify.RemoteKeysOptions{},
		good.pub,
		mustClone(t, noUse.pub, jwk.KeyUsageKey, nil),
		ed.pub,
		private,
		mustClone(t, newTestKey(t, jwa.ES256, "enc").pub, jwk.KeyUsageKey, "enc"),
		mustClone(t, newTestKey(t, jwa.ES256, "no-alg").pub, jwk.AlgorithmKey, nil),
		mustClone(t, newTestKey(t, jwa.ES256, "x").pub, jwk.KeyIDKey, nil),
		hs.pub,
		mustClone(t, rsaPub, jwk.KeyIDKey, "rsa-as-es256", jwk.AlgorithmKey, jwa.ES256),
		mustClone(t, newTestKey(t, jwa.ES256, "weird-alg").pub, jwk.AlgorithmKey, "ES999"),
	)
	// An unparsable key among them is skipped too.
	var doc map[string][]json.RawMessage
	f.srv.mu.Lock()
	if err := json.Unmarshal(f.srv.body, &doc); err != nil {
		t.Fatal(err)
	}
	doc["keys"] = append(doc["keys"], json.RawMessage(`{"kty":"XYZ","kid":"odd","alg":"ES256"}`))
	f.srv.body = mustJSON(t, doc)
	f.srv.mu.Unlock()

	if got, want := f.kids(t), "good,no-use,ed,private"; got != want {
		t.Fatalf("usable keys = %s, want %s", got, want)
	}
	set, _ := f.keys.Keys(context.Background())
	k, _ := set.LookupKeyID("private")
	if _, isPrivate := k.(jwk.ECDSAPrivateKey); isPrivate {
		t.Error("a private key stayed private in the set")
	}
	if _, err := f.v.Verify(context.Background(), token(t, good)); err != nil {
		t.Errorf("Verify(good): %v", err)
	}
	if _, err := f.v.Verify(context.Background(), token(t, hs)); err == nil {
		t.Error("Verify accepted a token signed with a published symmetric key")
	}
}

func TestRemoteKeysRejectsHugeDocument(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	f := newRemoteFixture(t, verify.RemoteKeysOptions{}, k.pub)
	f.srv.setBody(append([]byte(`{"keys":[],"pad":"`), append(bytes.Repeat([]byte("a"), verify.MaxJWKSSize), '"', '}')...))
	if _, err := f.keys.Keys(context.Background()); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("Keys = %v, want a size error", err)
	}
}

func TestRemoteKeysRefusesDowngradeRedirect(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	plain := newJWKSServer(t, k.pub)
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plain.URL, http.StatusFound))
	t.Cleanup(tlsSrv.Close)
	// The test server's client trusts its certificate and has no redirect
	// policy of its own.
	keys := verify.NewRemoteKeys(tlsSrv.URL, verify.RemoteKeysOptions{Client: tlsSrv.Client(), Logger: slog.New(slog.DiscardHandler)})
	if _, err := keys.Keys(context.Background()); err == nil || !strings.Contains(err.Error(), "https to http") {
		t.Errorf("Keys through an https→http redirect = %v, want a refusal", err)
	}
	if n := plain.fetches.Load(); n != 0 {
		t.Errorf("the http server was fetched %d times", n)
	}
}
