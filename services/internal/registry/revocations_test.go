package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/revocation"
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
	if err := f.svc.RevokeIssuedToken(ctx, other.ID, otherSecret.Reveal(), IssuedToken{FamilyID: famID("fam-1"), ExpireTime: exp}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RevokeToken(ctx, f.op, cred.ID); err != nil {
		t.Fatal(err)
	}
	want := []revocation.Query{
		{ClientID: cred.ID, IssuedAt: issued},
		{ClientID: other.ID, IssuedAt: issued, TokenID: jti},
		{ClientID: other.ID, IssuedAt: issued, FamilyID: famID("fam-1")},
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
