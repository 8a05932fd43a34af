package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

func redisSet(t *testing.T, srv *testserver.Redis, clock func() time.Time) *revocation.Redis {
	t.Helper()
	client, err := revocation.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	set, err := revocation.NewRedis(client, revocation.Options{Clock: clock, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	return set
}

// TestRevocationsReachTheSet: every revocation the registry commits is in
// the set before the call returns, and a rebuild from the database brings
// them all back after Redis loses its data.
func TestRevocationsReachTheSet(t *testing.T) {
	srv := testserver.StartRedis(t)
	var set *revocation.Redis
	f := newFixtureWith(t, func(clock func() time.Time) revocation.Set { set = redisSet(t, srv, clock); return set })
	ctx := context.Background()
	if err := f.svc.RebuildRevocations(ctx); err != nil {
		t.Fatal(err)
	}

	cred, _ := f.credential(t, "acme", "inventory")
	other, otherSecret := f.credential(t, "acme", "inventory")
	issued := f.now.Add(-time.Minute)
	revoked := func(q revocation.Query) bool {
		t.Helper()
		r, err := set.IsRevoked(ctx, q)
		if err != nil {
			t.Fatalf("IsRevoked(%+v): %v", q, err)
		}
		return r
	}
	exp := f.now.Add(time.Hour)
	jti := chave.NewTokenID(other.ID)
	if err := f.svc.RevokeIssuedToken(ctx, other.ID, otherSecret.Reveal(), IssuedToken{TokenID: jti, ExpireTime: exp}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeIssuedToken(ctx, other.ID, otherSecret.Reveal(), IssuedToken{FamilyID: famID("ZmFtaWx5LW9uZS1pZC0xMg"), ExpireTime: exp}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RevokeToken(ctx, f.op, cred.ID); err != nil {
		t.Fatal(err)
	}
	want := []revocation.Query{
		{ClientID: cred.ID, IssuedAt: issued},
		{ClientID: other.ID, IssuedAt: issued, TokenID: jti},
		{ClientID: other.ID, IssuedAt: issued, FamilyID: famID("ZmFtaWx5LW9uZS1pZC0xMg")},
	}
	for _, q := range want {
		if !revoked(q) {
			t.Fatalf("%+v not revoked after the call returned", q)
		}
	}
	if revoked(revocation.Query{ClientID: other.ID, IssuedAt: issued, TokenID: jtiID("jti-2")}) {
		t.Fatal("an unrevoked token reads as revoked")
	}

	// Redis loses everything: checks fail closed, then a rebuild from the
	// database restores every revocation.
	srv.Restart()
	if _, err := set.IsRevoked(ctx, want[0]); !errors.Is(err, revocation.ErrLost) {
		t.Fatalf("after a restart without persistence: %v, want ErrLost", err)
	}
	if err := f.svc.RebuildRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range want {
		if !revoked(q) {
			t.Fatalf("%+v not revoked after the rebuild", q)
		}
	}
}

// TestRevokeAnswersUnavailableWhenTheSetIsDown: the database commits, the
// set cannot take the entry: the call says so (never success), and once
// Redis is back the keeper completes the write from the database.
func TestRevokeAnswersUnavailableWhenTheSetIsDown(t *testing.T) {
	srv := testserver.StartRedis(t)
	var set *revocation.Redis
	f := newFixtureWith(t, func(clock func() time.Time) revocation.Set { set = redisSet(t, srv, clock); return set })
	ctx := context.Background()
	if err := f.svc.RebuildRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	cred, _ := f.credential(t, "acme", "inventory")
	srv.Kill()
	if _, err := f.svc.RevokeToken(ctx, f.op, cred.ID); !chave.IsCode(err, chave.Unavailable) {
		t.Fatalf("revoke with Redis down: %v, want Unavailable", err)
	}
	// The database holds the revocation: the credential is refused at once.
	if _, err := f.svc.Principal(ctx, cred.ID, ""); err == nil {
		t.Fatal("a credential revoked in the database is still a principal")
	}
	srv.Restart()
	keeperCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { f.svc.RunRevocationKeeper(keeperCtx, 20*time.Millisecond); close(done) }()
	defer func() { stop(); <-done }()
	q := revocation.Query{ClientID: cred.ID, IssuedAt: f.now.Add(-time.Minute)} // issued before the revocation
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := set.IsRevoked(ctx, q)
		if err == nil && r {
			break
		}
		if err == nil && !r {
			t.Fatal("the set answers 'not revoked' for a credential the database revoked")
		}
		if time.Now().After(deadline) {
			t.Fatalf("the keeper did not restore the set: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRevocationEntryLifetimes: each entry lasts exactly as long as an
// access token it revokes could still be accepted, the verifiers' largest
// leeway included, and no longer.
func TestRevocationEntryLifetimes(t *testing.T) {
	const lifetime = 30 * time.Minute
	s := &Service{accessTokenLifetime: lifetime}
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	lw := verify.MaxLeeway
	for _, c := range []struct {
		name string
		got  revocation.Entry
		want time.Time
	}{
		{"credential", s.credentialEntries(chave.Token{ID: "c", RevokeTime: at})[0], at.Add(lifetime + lw)},
		{"access token: its exp", s.accessTokenEntry(chave.RevokedAccessToken{ID: "j", RevokeTime: at, ExpireTime: at.Add(10 * time.Minute)}),
			at.Add(10*time.Minute + lw)},
		{"access token: exp unknown", s.accessTokenEntry(chave.RevokedAccessToken{ID: "j", RevokeTime: at}), at.Add(lifetime + lw)},
		{"access token: exp past any lifetime", s.accessTokenEntry(chave.RevokedAccessToken{ID: "j", RevokeTime: at, ExpireTime: at.AddDate(100, 0, 0)}),
			at.Add(chave.MaxAccessTokenLifetime + lw)},
		// A family's refresh tokens live on for days; they are checked
		// against the database, and its last access token was minted at
		// the revocation.
		{"family", s.familyEntry(chave.RefreshFamily{ID: "f", RevokeTime: at, ExpireTime: at.Add(30 * 24 * time.Hour)}), at.Add(lifetime + lw)},
		{"family without expiry", s.familyEntry(chave.RefreshFamily{ID: "f", RevokeTime: at}), at.Add(lifetime + lw)},
		// Revoked after it expired: it minted nothing after its expiry.
		{"family revoked after its expiry", s.familyEntry(chave.RefreshFamily{ID: "f", RevokeTime: at, ExpireTime: at.Add(-time.Hour)}),
			at.Add(-time.Hour + lifetime + lw)},
	} {
		if !c.got.Until.Equal(c.want) || !c.got.At.Equal(at) {
			t.Errorf("%s: At %s, Until %s; want At %s, Until %s", c.name, c.got.At, c.got.Until, at, c.want)
		}
	}
}

// TestRevokedFamilyForgottenWhenItsTokensExpire: a family revoked a month
// before it would have expired stays in the set until the last access
// token it minted has expired, leeway included, and then leaves it.
func TestRevokedFamilyForgottenWhenItsTokensExpire(t *testing.T) {
	f := newFixture(t) // access tokens of chave.MaxAccessTokenLifetime
	ctx := context.Background()
	cred, secret := f.credential(t, "acme", "inventory")
	revokedAt := f.now
	tok := IssuedToken{FamilyID: "ZmFtaWx5LW9uZS1pZC0xMg", ExpireTime: f.now.Add(30 * 24 * time.Hour)}
	if err := f.svc.RevokeIssuedToken(ctx, cred.ID, secret.Reveal(), tok); err != nil {
		t.Fatal(err)
	}
	last := revokedAt.Add(chave.MaxAccessTokenLifetime + verify.MaxLeeway)
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{revokedAt, true},
		{last.Add(-time.Second), true},
		{last, false},
	} {
		f.now = c.at
		got, err := f.svc.revocations.IsRevoked(ctx, revocation.Query{FamilyID: "ZmFtaWx5LW9uZS1pZC0xMg"})
		if err != nil || got != c.want {
			t.Errorf("at revocation +%s: IsRevoked = %v, %v; want %v", c.at.Sub(revokedAt), got, err, c.want)
		}
		// A rebuild from the database agrees.
		if err := f.svc.RebuildRevocations(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.revocations.Size(ctx); err != nil || (n == 1) != c.want {
			t.Errorf("at revocation +%s: after a rebuild Size = %d, %v; want the family held = %v", c.at.Sub(revokedAt), n, err, c.want)
		}
	}
}
