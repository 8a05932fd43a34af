package registry

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/revocation"
)

// replica is a second registry over the fixture's store, hashing keys,
// clock and (unless set is given) revocation set: another replica of the
// same deployment, with its own credential cache.
func (f *fixture) replica(t *testing.T, set revocation.Set) *Service {
	t.Helper()
	if set == nil {
		set = f.svc.revocations
	}
	s, err := New(Config{Store: f.svc.store, Catalog: f.svc.catalog, Hasher: f.svc.hasher, Sealer: f.svc.sealer,
		Clock: f.svc.now, Revocations: set, Logger: f.svc.log})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// warm grants twice on each replica and checks that the second grant was
// served from the cache (no read of the store).
func warm(t *testing.T, ctx context.Context, id, secret string, replicas ...*Service) {
	t.Helper()
	for i, r := range replicas {
		if _, err := r.AuthenticateClient(ctx, id, secret); err != nil {
			t.Fatalf("replica %d: warming grant: %v", i, err)
		}
		counting := &readCountingStore{Store: r.store}
		r.store = counting
		_, err := r.AuthenticateClient(ctx, id, secret)
		r.store = counting.Store
		if err != nil {
			t.Fatalf("replica %d: cached grant: %v", i, err)
		}
		if n := counting.reads(); n != [3]int64{} {
			t.Fatalf("replica %d: the second grant read the store (%v): the cache is not warm", i, n)
		}
	}
}

// TestNewCredCacheServesRepeatGrants: the second grant of a credential
// reads nothing from the store and answers what the first did; a wrong
// secret on a cached entry is refused after a fresh read.
func TestNewCredCacheServesRepeatGrants(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, secret := f.credential(t, "acme", "inventory")
	_, otherSecret := f.credential(t, "acme", "inventory")
	first, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	counting := &readCountingStore{Store: f.svc.store}
	f.svc.store = counting
	for range 3 {
		got, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Scopes, first.Scopes) || got.SecretVersion != first.SecretVersion || got.Tenant != first.Tenant {
			t.Errorf("cached grant = %+v, want the first's %+v", got, first)
		}
	}
	if n := counting.reads(); n != [3]int64{} {
		t.Errorf("cached grants read the store: %v", n)
	}
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, otherSecret.Reveal()); !chave.IsCode(err, chave.Unauthenticated) {
		t.Fatalf("wrong secret on a cached entry: %v, want Unauthenticated", err)
	}
	if n := counting.reads(); n != [3]int64{0, 0, 1} {
		t.Errorf("a refusal on a cached entry read %v, want one GetClient (decided on a fresh read)", n)
	}
	if got := testutil.ToFloat64(f.svc.creds.metrics.lookups[cacheHit]); got != 4 {
		t.Errorf("hits = %v, want 4 (three grants and the refused one)", got)
	}
	if got := testutil.ToFloat64(f.svc.creds.metrics.lookups[cacheRefused]); got != 1 {
		t.Errorf("refused = %v, want 1", got)
	}
}

// change is one change a grant must see at once, made on one replica and
// checked on both.
type change struct {
	name string
	// do makes the change through by; it returns the secret that grants
	// with afterwards (the same, or a rotation's new one).
	do func(t *testing.T, f *fixture, by *Service, tok chave.Token, secret string) string
	// check is the grant's answer on every replica after the change.
	check func(t *testing.T, f *fixture, on *Service, tok chave.Token, oldSecret, secret string)
}

var grantAddr = "192.0.2.7"

func grantCtx() context.Context { return AtTokenEndpoint(context.Background(), grantAddr) }

func wantRefused(t *testing.T, on *Service, what, id, secret string) {
	t.Helper()
	if c, err := on.AuthenticateClient(grantCtx(), id, secret); !chave.IsCode(err, chave.Unauthenticated) {
		t.Errorf("%s: grant = %+v, %v; want Unauthenticated", what, c, err)
	}
}

func wantGranted(t *testing.T, on *Service, what, id, secret string) Client {
	t.Helper()
	c, err := on.AuthenticateClient(grantCtx(), id, secret)
	if err != nil {
		t.Errorf("%s: grant: %v", what, err)
	}
	return c
}

var changes = []change{
	{name: "revoke",
		do: func(t *testing.T, f *fixture, by *Service, tok chave.Token, secret string) string {
			if _, err := by.RevokeToken(context.Background(), f.op, tok.ID); err != nil {
				t.Fatal(err)
			}
			return secret
		},
		check: func(t *testing.T, f *fixture, on *Service, tok chave.Token, _, secret string) {
			wantRefused(t, on, "after revoke", tok.ID, secret)
		}},
	{name: "rotate",
		do: func(t *testing.T, f *fixture, by *Service, tok chave.Token, secret string) string {
			_, fresh, err := by.RotateToken(context.Background(), f.op, tok.ID, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			return fresh.Reveal()
		},
		check: func(t *testing.T, f *fixture, on *Service, tok chave.Token, old, secret string) {
			wantRefused(t, on, "the old secret after rotate", tok.ID, old)
			wantGranted(t, on, "the new secret after rotate", tok.ID, secret)
		}},
	{name: "rotate with a grace period, then its end",
		do: func(t *testing.T, f *fixture, by *Service, tok chave.Token, secret string) string {
			_, fresh, err := by.RotateToken(context.Background(), f.op, tok.ID, f.now.Add(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			return fresh.Reveal()
		},
		check: func(t *testing.T, f *fixture, on *Service, tok chave.Token, old, secret string) {
			wantGranted(t, on, "the old secret during the grace period", tok.ID, old)
			wantGranted(t, on, "the new secret during the grace period", tok.ID, secret)
			// Within the cache's maximum age: the cached copy decides the
			// grace period at the grant's instant.
			f.now = f.now.Add(10 * time.Second)
			wantRefused(t, on, "the old secret once the grace period ended", tok.ID, old)
			wantGranted(t, on, "the new secret once the grace period ended", tok.ID, secret)
			f.now = f.now.Add(-10 * time.Second)
		}},
	{name: "narrow contexts",
		do: func(t *testing.T, f *fixture, by *Service, tok chave.Token, secret string) string {
			if _, err := by.UpdateToken(context.Background(), f.op, chave.Token{ID: tok.ID, Contexts: []string{"inventory"}}, []string{"contexts"}); err != nil {
				t.Fatal(err)
			}
			return secret
		},
		check: func(t *testing.T, f *fixture, on *Service, tok chave.Token, _, secret string) {
			if c := wantGranted(t, on, "after narrowing", tok.ID, secret); !slices.Equal(c.Scopes, []string{"inventory"}) {
				t.Errorf("scopes after narrowing = %v, want [inventory]", c.Scopes)
			}
		}},
	{name: "expire time",
		do: func(t *testing.T, f *fixture, by *Service, tok chave.Token, secret string) string {
			if _, err := by.UpdateToken(context.Background(), f.op, chave.Token{ID: tok.ID, ExpireTime: f.now.Add(10 * time.Second)}, []string{"expire_time"}); err != nil {
				t.Fatal(err)
			}
			return secret
		},
		check: func(t *testing.T, f *fixture, on *Service, tok chave.Token, _, secret string) {
			if c := wantGranted(t, on, "after setting an expiry", tok.ID, secret); !c.ExpireTime.Equal(f.now.Add(10 * time.Second)) {
				t.Errorf("client expire time = %v, want %v", c.ExpireTime, f.now.Add(10*time.Second))
			}
			f.now = f.now.Add(10 * time.Second)
			wantRefused(t, on, "once expired", tok.ID, secret)
			f.now = f.now.Add(-10 * time.Second)
		}},
	{name: "tenant entitlement removed",
		do: func(t *testing.T, f *fixture, by *Service, tok chave.Token, secret string) string {
			if _, err := by.UpdateTenant(context.Background(), f.op, chave.Tenant{ID: "acme", Contexts: []string{"inventory", "foccohub", "telegram"}}, []string{"contexts"}); err != nil {
				t.Fatal(err)
			}
			return secret
		},
		check: func(t *testing.T, f *fixture, on *Service, tok chave.Token, _, secret string) {
			if c := wantGranted(t, on, "after the tenant lost commercial", tok.ID, secret); !slices.Equal(c.Scopes, []string{"inventory"}) {
				t.Errorf("scopes after the tenant lost commercial = %v, want [inventory]", c.Scopes)
			}
		}},
	{name: "tenant address policy",
		do: func(t *testing.T, f *fixture, by *Service, tok chave.Token, secret string) string {
			if _, err := by.UpdateTenant(context.Background(), f.op, chave.Tenant{ID: "acme",
				Policy: chave.TenantPolicy{AllowedClientCIDRs: []string{"10.0.0.0/8"}}}, []string{"policy"}); err != nil {
				t.Fatal(err)
			}
			return secret
		},
		check: func(t *testing.T, f *fixture, on *Service, tok chave.Token, _, secret string) {
			wantRefused(t, on, "from an address the new policy excludes", tok.ID, secret)
			if _, err := on.AuthenticateClient(AtTokenEndpoint(context.Background(), "10.1.2.3"), tok.ID, secret); err != nil {
				t.Errorf("from an address the new policy allows: %v", err)
			}
		}},
	{name: "leak report",
		do: func(t *testing.T, f *fixture, by *Service, tok chave.Token, secret string) string {
			if got, err := by.ReportLeakedSecrets(context.Background(), []string{secret}, LeakReport{Source: "test"}); err != nil || !got[0] {
				t.Fatalf("ReportLeakedSecrets = %v, %v", got, err)
			}
			return secret
		},
		check: func(t *testing.T, f *fixture, on *Service, tok chave.Token, _, secret string) {
			wantRefused(t, on, "after a leak report", tok.ID, secret)
		}},
}

// runChanges makes each change on one replica, from caches warmed on
// both, and checks the next grant on both.
func runChanges(t *testing.T, newReplicas func(t *testing.T) (*fixture, *Service, *Service)) {
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			f, a, b := newReplicas(t)
			entitleCommercial(t, f)
			tok, s := f.credential(t, "acme", "inventory", "commercial")
			secret := s.Reveal()
			warm(t, grantCtx(), tok.ID, secret, a, b)
			next := c.do(t, f, b, tok, secret)
			c.check(t, f, b, tok, secret, next)
			c.check(t, f, a, tok, secret, next)
		})
	}
}

// TestNewCredCacheSeesEveryChange: every change a grant decides on is seen
// by the next grant on the replica that made it and on another one whose
// cache was warm, over one in-process set (serve) and over Redis (the
// registry replicas of the services apart).
func TestNewCredCacheSeesEveryChange(t *testing.T) {
	t.Run("in-process", func(t *testing.T) {
		runChanges(t, func(t *testing.T) (*fixture, *Service, *Service) {
			f := newFixture(t)
			return f, f.svc, f.replica(t, nil)
		})
	})
	t.Run("redis", func(t *testing.T) {
		srv := testserver.StartRedis(t)
		runChanges(t, func(t *testing.T) (*fixture, *Service, *Service) {
			flushRedis(t, srv)
			f := newFixtureWith(t, func(clock func() time.Time) revocation.Set { return redisSet(t, srv, clock) })
			if err := f.svc.RebuildRevocations(context.Background()); err != nil {
				t.Fatal(err)
			}
			return f, f.svc, f.replica(t, redisSet(t, srv, f.svc.now))
		})
	})
}

// TestNewCredCacheAcrossARedisLoss: Redis loses everything between a
// change and the next grant. While the set is lost the grant reads the
// database; once it is rebuilt, its new generation refuses every entry
// filled before the loss, whose Changed entry the loss took.
func TestNewCredCacheAcrossARedisLoss(t *testing.T) {
	srv := testserver.StartRedis(t)
	f := newFixtureWith(t, func(clock func() time.Time) revocation.Set { return redisSet(t, srv, clock) })
	ctx := context.Background()
	if err := f.svc.RebuildRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := f.svc, f.replica(t, redisSet(t, srv, f.svc.now))
	entitleCommercial(t, f)
	tok, s := f.credential(t, "acme", "inventory", "commercial")
	secret := s.Reveal()
	warm(t, grantCtx(), tok.ID, secret, a, b)
	if _, err := b.UpdateToken(ctx, f.op, chave.Token{ID: tok.ID, Contexts: []string{"inventory"}}, []string{"contexts"}); err != nil {
		t.Fatal(err)
	}
	flushRedis(t, srv)
	if c := wantGranted(t, a, "while the set is lost", tok.ID, secret); !slices.Equal(c.Scopes, []string{"inventory"}) {
		t.Errorf("scopes while the set is lost = %v, want [inventory]", c.Scopes)
	}
	if err := b.RebuildRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	if c := wantGranted(t, a, "after the rebuild", tok.ID, secret); !slices.Equal(c.Scopes, []string{"inventory"}) {
		t.Errorf("scopes after the rebuild = %v, want [inventory]", c.Scopes)
	}
	if got := testutil.ToFloat64(a.creds.metrics.lookups[cacheSetError]) + testutil.ToFloat64(a.creds.metrics.lookups[cacheGeneration]) +
		testutil.ToFloat64(a.creds.metrics.lookups[cacheChanged]); got == 0 {
		t.Error("no miss counted for the stale entry")
	}

	// Another change, then the loss and the rebuild before any grant: the
	// entry filled after the first rebuild carries that generation.
	warm(t, grantCtx(), tok.ID, secret, a)
	if _, err := b.RevokeToken(ctx, f.op, tok.ID); err != nil {
		t.Fatal(err)
	}
	flushRedis(t, srv)
	if err := b.RebuildRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, a, "revoked, across a loss and a rebuild", tok.ID, secret)
}

// TestNewCredCacheBounds: an entry serves for at most the maximum age, the
// cache never holds more than its size, and a set that cannot answer or
// was rebuilt is a miss.
func TestNewCredCacheBounds(t *testing.T) {
	ctx := context.Background()
	set := revocation.NewMemory(nil)
	defer set.Close()
	wall := time.Now()
	c, err := newCredCache(3, prometheus.NewRegistry(), func() time.Time { return wall })
	if err != nil {
		t.Fatal(err)
	}
	var age time.Duration
	c.since = func(time.Time) time.Duration { return age }
	gen := func() revocation.Generation {
		g, ok := c.generation(ctx, set, "x")
		if !ok {
			t.Fatal("generation: the set did not answer")
		}
		return g
	}
	tenant := chave.Tenant{ID: "acme", Version: 2}
	c.fill("c1", chave.Token{ID: "c1", Tenant: "acme", Version: 5, DisplayName: "dropped"}, tenant, gen())
	e, ok := c.lookup(ctx, set, "c1")
	if !ok || e.token.Version != 5 || e.tenant.Version != 2 || e.token.DisplayName != "" {
		t.Fatalf("lookup of a fresh entry = %+v, %v", e, ok)
	}

	age = CredentialCacheMaxAge
	if _, ok := c.lookup(ctx, set, "c1"); ok {
		t.Error("an entry of the maximum age served")
	}
	if c.len() != 0 {
		t.Error("the aged entry was kept")
	}
	age = 0
	// The registry's clock steps forward (Changed entries in process go
	// early) or back: the entry is aged either way.
	for _, step := range []time.Duration{CredentialCacheMaxAge, -time.Second} {
		c.fill("c1", chave.Token{ID: "c1", Tenant: "acme", Version: 5}, tenant, gen())
		wall = wall.Add(step)
		if _, ok := c.lookup(ctx, set, "c1"); ok {
			t.Errorf("an entry served after the wall clock moved %v", step)
		}
		wall = wall.Add(-step)
	}

	// The credential's or the tenant's version moves past the entry's.
	for _, e := range []revocation.Entry{
		{Kind: revocation.Changed, ID: revocation.ChangedToken("c1"), At: time.Now(), Version: 6, Until: time.Now().Add(time.Minute)},
		{Kind: revocation.Changed, ID: revocation.ChangedTenant("acme"), At: time.Now(), Version: 3, Until: time.Now().Add(time.Minute)},
	} {
		c.fill("c1", chave.Token{ID: "c1", Tenant: "acme", Version: 5 + e.Version%2}, tenant, gen()) // 6 once the token's entry holds 6
		if _, ok := c.lookup(ctx, set, "c1"); !ok {
			t.Fatal("a fresh entry missed")
		}
		if err := set.Revoke(ctx, e); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.lookup(ctx, set, "c1"); ok {
			t.Errorf("entry served after %s moved to version %d", e.ID, e.Version)
		}
	}
	// An entry at the set's versions serves.
	c.fill("c1", chave.Token{ID: "c1", Tenant: "acme", Version: 6}, chave.Tenant{ID: "acme", Version: 3}, gen())
	if _, ok := c.lookup(ctx, set, "c1"); !ok {
		t.Error("an entry as new as the set's versions missed")
	}

	// A rebuild renews the generation.
	if err := set.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.lookup(ctx, set, "c1"); ok {
		t.Error("an entry of the generation before a rebuild served")
	}

	// The size bound: a full cache evicts aged entries first, else any one.
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		c.fill(id, chave.Token{ID: id, Operator: true}, chave.Tenant{}, gen())
		if n := c.len(); n > 3 {
			t.Fatalf("cache of size 3 holds %d entries", n)
		}
	}
	if _, ok := c.lookup(ctx, set, "e"); !ok {
		t.Error("the entry just filled was evicted")
	}
	// Aged entries go at the next fill once a maximum age has passed
	// since the last sweep, whether or not they are looked up again.
	age = CredentialCacheMaxAge
	c.fill("f", chave.Token{ID: "f", Operator: true}, chave.Tenant{}, gen())
	if n := c.len(); n != 1 {
		t.Errorf("after a sweep the cache holds %d entries, want 1 (the one just filled)", n)
	}
	age = 0

	// A set that cannot answer: a miss, and nothing to fill from.
	set.Close()
	if _, ok := c.lookup(ctx, set, "f"); ok {
		t.Error("an entry served while the set does not answer")
	}
	if _, ok := c.generation(ctx, set, "e"); ok {
		t.Error("a generation answered by a closed set")
	}
	if got := testutil.ToFloat64(c.metrics.lookups[cacheSetError]); got != 1 {
		t.Errorf("miss_set_error = %v, want 1", got)
	}

	// Off: nothing is kept.
	var off *credCache
	off.fill("x", chave.Token{ID: "x"}, chave.Tenant{}, "g")
	if _, ok := off.lookup(ctx, set, "x"); ok {
		t.Error("a disabled cache served")
	}
}

// flushRedis empties the server behind the sets' backs.
func flushRedis(t *testing.T, srv *testserver.Redis) {
	t.Helper()
	client, err := revocation.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// entitleCommercial adds commercial to acme's contexts.
func entitleCommercial(t *testing.T, f *fixture) {
	t.Helper()
	if _, err := f.svc.UpdateTenant(context.Background(), f.op, chave.Tenant{ID: "acme",
		Contexts: []string{"commercial", "foccohub", "inventory", "telegram"}}, []string{"contexts"}); err != nil {
		t.Fatal(err)
	}
}

// TestNewCredCacheRefreshBySecretVersion: a refresh grant proved by the
// refresh token's secret version (no secret) is served from the cache too,
// and a rotation on another replica refuses the old version at once.
func TestNewCredCacheRefreshBySecretVersion(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.svc, f.replica(t, nil)
	tok, secret := f.credential(t, "acme", "inventory")
	first, err := a.AuthenticateClient(ctx, tok.ID, secret.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	proof := ClientProof{RefreshTokenSecretVersion: first.SecretVersion}
	exp := f.now.Add(48 * time.Hour)
	family := famID("cache-family")
	for gen := int64(0); gen < 2; gen++ {
		counting := &readCountingStore{Store: a.store}
		a.store = counting
		if _, err := a.UseRefreshToken(ctx, tok.ID, proof, family, gen, exp); err != nil {
			t.Fatalf("refresh %d: %v", gen, err)
		}
		a.store = counting.Store
		if n := counting.reads(); n != [3]int64{} {
			t.Errorf("refresh %d read %v: the client check did not come from the cache", gen, n)
		}
	}
	_, fresh, err := b.RotateToken(ctx, f.op, tok.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UseRefreshToken(ctx, tok.ID, proof, family, 2, exp); !errors.Is(err, errInvalidGrant) {
		t.Fatalf("refresh of the rotated version: %v, want invalid_grant", err)
	}
	// Cached again, now under the new secret: the old version is still
	// refused by the cached copy itself.
	warm(t, ctx, tok.ID, fresh.Reveal(), a)
	if _, err := a.UseRefreshToken(ctx, tok.ID, proof, family, 2, exp); !errors.Is(err, errInvalidGrant) {
		t.Fatalf("refresh of the rotated version on a current cached copy: %v, want invalid_grant", err)
	}
}
