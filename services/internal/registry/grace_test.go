package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/revocation"
)

// TestNewRotationGracePeriod: during the grace period both secrets
// authenticate and the tokens of both versions are good (the set, the
// registry's Bearer check, CheckIssuedToken, refresh families); at its end
// the old secret and everything it got stop, and the audit trail says so.
func TestNewRotationGracePeriod(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, oldSecret := f.credential(t, "acme", "inventory", chave.ScopeRegistryAdmin)
	before, err := f.svc.AuthenticateClient(ctx, tok.ID, oldSecret.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	issued := f.now
	end := f.now.Add(24 * time.Hour)
	rotated, newSecret, err := f.svc.RotateToken(ctx, f.op, tok.ID, end)
	if err != nil {
		t.Fatal(err)
	}
	if !rotated.PreviousSecretExpireTime.Equal(end) {
		t.Errorf("PreviousSecretExpireTime = %v, want %v", rotated.PreviousSecretExpireTime, end)
	}
	set := f.svc.revocations
	oldQuery := revocation.Query{ClientID: revocation.CredentialKey(tok.ID, before.SecretVersion), IssuedAt: issued}
	revoked := func(q revocation.Query) bool {
		t.Helper()
		r, err := set.IsRevoked(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	gen := int64(0)
	family := famID("fam-grace")
	check := func(when string, oldWorks bool) {
		t.Helper()
		oldClient, err := f.svc.AuthenticateClient(ctx, tok.ID, oldSecret.Reveal())
		if (err == nil) != oldWorks {
			t.Errorf("%s: old secret authenticates: %v, want %v", when, err == nil, oldWorks)
		}
		if oldWorks && oldClient.SecretVersion != before.SecretVersion {
			t.Errorf("%s: the old secret's client has version %q, want the old %q", when, oldClient.SecretVersion, before.SecretVersion)
		}
		newClient, err := f.svc.AuthenticateClient(ctx, tok.ID, newSecret.Reveal())
		if err != nil || newClient.SecretVersion == before.SecretVersion {
			t.Errorf("%s: new secret: %+v, %v", when, newClient, err)
		}
		if _, err := f.svc.Principal(ctx, tok.ID, before.SecretVersion); (err == nil) != oldWorks {
			t.Errorf("%s: Bearer check of an old-secret token: %v, want ok=%v", when, err, oldWorks)
		}
		st, err := f.svc.CheckIssuedToken(ctx, chave.ClientCredentials{}, tok.ID, IssuedToken{TokenID: jtiID("j"), SecretVersion: before.SecretVersion})
		if err != nil || st.Active != oldWorks {
			t.Errorf("%s: CheckIssuedToken of an old-secret token: %+v, %v; want active=%v", when, st, err, oldWorks)
		}
		_, err = f.svc.UseRefreshToken(ctx, tok.ID, ClientProof{RefreshTokenSecretVersion: before.SecretVersion}, family, gen, f.now.Add(48*time.Hour))
		if (err == nil) != oldWorks {
			t.Errorf("%s: refresh of an old-secret family: %v, want ok=%v", when, err, oldWorks)
		}
		if err == nil {
			gen++
		}
	}
	check("in the grace period", true)
	if revoked(oldQuery) {
		t.Error("an old-secret token reads as revoked in the grace period")
	}
	f.now = end.Add(-time.Second)
	if err := f.svc.EndPreviousSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	if revoked(oldQuery) {
		t.Error("the old secret's entry reached the set before the grace period ended")
	}

	f.now = end
	check("at the end of the grace period", false)
	if err := f.svc.EndPreviousSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	if !revoked(revocation.Query{ClientID: oldQuery.ClientID, IssuedAt: end.Add(-time.Second)}) {
		t.Error("an old-secret token issued at the last moment is not revoked after the grace period")
	}
	got, err := f.svc.GetToken(ctx, f.op, tok.ID)
	if err != nil || got.PreviousSecretHash != nil || !got.PreviousSecretExpireTime.IsZero() {
		t.Errorf("token after the grace period: previous %x until %v, %v; want none", got.PreviousSecretHash, got.PreviousSecretExpireTime, err)
	}
	events, err := f.svc.ListTokenEvents(ctx, f.op, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
	}
	if n := len(events); n < 3 || events[n-2].Action != chave.ActionRotate || events[n-1].Action != chave.ActionPreviousSecretEnd ||
		events[n-2].Details[chave.DetailPreviousSecretExpireTime] != end.Format(time.RFC3339Nano) || !events[n-1].Time.Equal(end) {
		t.Errorf("events = %v (%+v), want the rotation with its grace end, then the previous secret's end at %v", actions, events, end)
	}
	// Running it again records nothing more.
	if err := f.svc.EndPreviousSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := f.svc.ListTokenEvents(ctx, f.op, tok.ID); len(again) != len(events) {
		t.Errorf("a second EndPreviousSecrets wrote %d more events", len(again)-len(events))
	}
}

// TestNewRotationGraceBounds: the grace end must be in the future and at
// most 7 days ahead; the error names the field.
func TestNewRotationGraceBounds(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.credential(t, "acme", "inventory")
	for name, end := range map[string]time.Time{
		"now":              f.now,
		"past":             f.now.Add(-time.Hour),
		"beyond 7 days":    f.now.Add(7*24*time.Hour + time.Second),
		"beyond year 9999": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		_, _, err := f.svc.RotateToken(context.Background(), f.op, tok.ID, end)
		var e *chave.Error
		if !chave.IsCode(err, chave.Invalid) || !errors.As(err, &e) || e.Field != "previousSecretExpireTime" {
			t.Errorf("%s: %v, want Invalid naming previousSecretExpireTime", name, err)
		}
	}
	if _, _, err := f.svc.RotateToken(context.Background(), f.op, tok.ID, f.now.Add(7*24*time.Hour)); err != nil {
		t.Errorf("exactly 7 days: %v", err)
	}
}

// TestNewRevokeEndsBothSecrets: revoking a credential in a grace period
// ends both secrets and the tokens of both at once; a second rotation in a
// grace period ends the first previous secret at once.
func TestNewRevokeEndsBothSecrets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, s1 := f.credential(t, "acme", "inventory")
	c1, err := f.svc.AuthenticateClient(ctx, tok.ID, s1.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	_, s2, err := f.svc.RotateToken(ctx, f.op, tok.ID, f.now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := f.svc.AuthenticateClient(ctx, tok.ID, s2.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	// A second rotation: s1 ends now, s2 gets its own grace period.
	_, s3, err := f.svc.RotateToken(ctx, f.op, tok.ID, f.now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, s1.Reveal()); err == nil {
		t.Error("the first secret still authenticates after a second rotation")
	}
	if r, _ := f.svc.revocations.IsRevoked(ctx, revocation.Query{ClientID: revocation.CredentialKey(tok.ID, c1.SecretVersion), IssuedAt: f.now}); !r {
		t.Error("the first secret's tokens are not revoked by the second rotation")
	}
	for i, s := range []string{s2.Reveal(), s3.Reveal()} {
		if _, err := f.svc.AuthenticateClient(ctx, tok.ID, s); err != nil {
			t.Errorf("secret %d after the second rotation: %v", i+2, err)
		}
	}
	if _, err := f.svc.RevokeToken(ctx, f.op, tok.ID); err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{s2.Reveal(), s3.Reveal()} {
		if _, err := f.svc.AuthenticateClient(ctx, tok.ID, s); err == nil {
			t.Errorf("secret %d authenticates after the revocation", i+2)
		}
	}
	if r, _ := f.svc.revocations.IsRevoked(ctx, revocation.Query{ClientID: revocation.CredentialKey(tok.ID, c2.SecretVersion), IssuedAt: f.now}); !r {
		t.Error("the previous secret's tokens are not revoked with the credential")
	}
}
