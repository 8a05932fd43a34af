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

// TestRotationRevokesTheOldSecretVersion: a rotation puts the old secret
// version's entry in the set before it returns, leaves the new version's
// tokens alone, survives Redis losing its data (the rebuild restores it
// from the database), and the registry's Bearer check refuses a token of
// the old version.
func TestRotationRevokesTheOldSecretVersion(t *testing.T) {
	srv := testserver.StartRedis(t)
	var set *revocation.Redis
	f := newFixtureWith(t, func(clock func() time.Time) revocation.Set { set = redisSet(t, srv, clock); return set })
	ctx := context.Background()
	if err := f.svc.RebuildRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	tok, secret := f.credential(t, "acme", "inventory", chave.ScopeRegistryAdmin)
	before, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	// A token issued just before the rotation and one issued after it, in
	// the same second: only the secret version tells them apart.
	issued := f.now
	oldQuery := revocation.Query{ClientID: revocation.CredentialKey(tok.ID, before.SecretVersion), IssuedAt: issued}
	revoked := func(q revocation.Query) bool {
		t.Helper()
		r, err := set.IsRevoked(ctx, q)
		if err != nil {
			t.Fatalf("IsRevoked(%+v): %v", q, err)
		}
		return r
	}
	if revoked(oldQuery) {
		t.Fatal("a token of the current secret reads as revoked")
	}

	_, newSecret, err := f.svc.RotateToken(ctx, f.op, tok.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := f.svc.AuthenticateClient(ctx, tok.ID, newSecret.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if after.SecretVersion == before.SecretVersion {
		t.Fatal("the secret version did not change")
	}
	newQuery := revocation.Query{ClientID: revocation.CredentialKey(tok.ID, after.SecretVersion), IssuedAt: issued}
	if !revoked(oldQuery) {
		t.Fatal("a token of the old secret is not revoked when the rotation returns")
	}
	if revoked(newQuery) || revoked(revocation.Query{ClientID: tok.ID, IssuedAt: issued}) {
		t.Fatal("the rotation revoked the new secret's tokens, or the credential")
	}
	if _, err := f.svc.Principal(ctx, tok.ID, before.SecretVersion); !chave.IsCode(err, chave.Unauthenticated) {
		t.Fatalf("registry Bearer check of a token of the old secret: %v, want Unauthenticated", err)
	}
	if _, err := f.svc.Principal(ctx, tok.ID, after.SecretVersion); err != nil {
		t.Fatalf("registry Bearer check of a token of the new secret: %v", err)
	}
	for _, v := range []string{before.SecretVersion, ""} {
		if st, err := f.svc.CheckIssuedToken(ctx, chave.ClientCredentials{ID: "", Secret: ""}, tok.ID, IssuedToken{TokenID: jtiID("j"), SecretVersion: v}); err != nil || st.Active != (v == "") {
			t.Fatalf("CheckIssuedToken of secret version %q: %+v, %v", v, st, err)
		}
	}

	// Redis loses everything; the rebuild brings the rotation back.
	srv.Restart()
	if _, err := set.IsRevoked(ctx, oldQuery); !errors.Is(err, revocation.ErrLost) {
		t.Fatalf("after a restart without persistence: %v, want ErrLost", err)
	}
	if err := f.svc.RebuildRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	if !revoked(oldQuery) || revoked(newQuery) {
		t.Fatal("the rebuild lost the rotation, or revoked the new secret")
	}

	// Revoking the credential revokes the tokens of its current version too.
	if _, err := f.svc.RevokeToken(ctx, f.op, tok.ID); err != nil {
		t.Fatal(err)
	}
	if !revoked(newQuery) {
		t.Fatal("a token of the current secret survives the credential's revocation")
	}
}

// TestRotationRecordsCannotBeNamed: no RevokeIssuedToken call can write the
// row a rotation writes, since no jti has its form.
func TestRotationRecordsCannotBeNamed(t *testing.T) {
	f := newFixture(t)
	tok, secret := f.credential(t, "acme", "inventory")
	rec := f.svc.rotationRecord(tok.ID, "v", f.now)
	if chave.ValidTokenID(rec.ID) {
		t.Fatalf("rotation record id %q has a jti's form", rec.ID)
	}
	err := f.svc.RevokeIssuedToken(context.Background(), tok.ID, secret.Reveal(), IssuedToken{TokenID: rec.ID, ExpireTime: f.now.Add(time.Hour)})
	if !chave.IsCode(err, chave.Invalid) {
		t.Fatalf("RevokeIssuedToken of a rotation record's id: %v, want Invalid", err)
	}
}
