// Package registrytest is the one contract suite of the auth service's
// Registry (auth.Registry): what the auth service relies on, run against
// every implementation of it: the registry service itself (handed over
// directly in `chave serve`), its gRPC client over the real
// CredentialService server (the services apart), and the auth service's
// in-memory fake.
package registrytest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
)

// Subject is one implementation under test, and how the suite sets up the
// credentials it knows.
type Subject struct {
	Registry auth.Registry
	// NewClient creates an active credential that reaches the scope
	// "inventory" of its tenant and may use refresh tokens, and returns
	// its client id and secret.
	NewClient func(t *testing.T) (id, secret string)
	// RevokeClient revokes the credential id.
	RevokeClient func(t *testing.T, id string)
	// Now is the implementation's clock.
	Now func() time.Time
}

// Run runs the suite; newSubject returns a fresh implementation.
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s Subject)
	}{
		{"AuthenticateClient", testAuthenticate},
		{"UseRefreshToken", testUseRefreshToken},
		{"UseRefreshTokenAlone", testUseRefreshTokenAlone},
		{"RevokeIssuedToken", testRevoke},
		{"CheckIssuedToken", testCheck},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newSubject(t)) })
	}
}

// NewFamilyID returns a fresh, well-formed refresh-token family id.
func NewFamilyID() string {
	b := make([]byte, chave.FamilyIDBytes)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func wantCode(t *testing.T, what string, err error, want chave.Code) {
	t.Helper()
	if got := chave.ErrorCode(err); err == nil || got != want {
		t.Errorf("%s: %v (code %q), want %s", what, err, got, want)
	}
}

func testAuthenticate(t *testing.T, s Subject) {
	ctx := context.Background()
	id, secret := s.NewClient(t)
	c, err := s.Registry.AuthenticateClient(ctx, id, secret)
	if err != nil {
		t.Fatalf("the right secret: %v", err)
	}
	if c.ID != id || c.Tenant == "" || len(c.Scopes) != 1 || c.Scopes[0] != "inventory" || !c.IssueRefreshTokens || c.SecretVersion == "" || c.Operator {
		t.Errorf("client = %+v, want %s of its tenant with scopes [inventory], refresh tokens and a secret version", c, id)
	}
	other, otherSecret := s.NewClient(t)
	// One answer for every failure: nobody learns which ids exist.
	wantCode(t, "a wrong secret", authErr(s, id, secret+"x"), chave.Unauthenticated)
	wantCode(t, "another client's secret", authErr(s, id, otherSecret), chave.Unauthenticated)
	wantCode(t, "no secret", authErr(s, id, ""), chave.Unauthenticated)
	wantCode(t, "an unknown client", authErr(s, "chave_ci_unknown0000000000000000", secret), chave.Unauthenticated)
	s.RevokeClient(t, other)
	wantCode(t, "a revoked credential", authErr(s, other, otherSecret), chave.Unauthenticated)
}

func authErr(s Subject, id, secret string) error {
	_, err := s.Registry.AuthenticateClient(context.Background(), id, secret)
	return err
}

func testUseRefreshToken(t *testing.T, s Subject) {
	ctx := context.Background()
	id, secret := s.NewClient(t)
	exp := s.Now().Add(time.Hour)
	fam := NewFamilyID()
	for gen := range int64(3) {
		c, err := s.Registry.UseRefreshToken(ctx, id, secret, fam, gen, exp)
		if err != nil || c.ID != id {
			t.Fatalf("generation %d: %+v, %v", gen, c, err)
		}
	}
	// A used generation again is a replay: refused, and the family ends.
	_, err := s.Registry.UseRefreshToken(ctx, id, secret, fam, 1, exp)
	wantCode(t, "a replayed generation", err, chave.InvalidGrant)
	_, err = s.Registry.UseRefreshToken(ctx, id, secret, fam, 3, exp)
	wantCode(t, "the current generation after a replay", err, chave.InvalidGrant)

	other, otherSecret := s.NewClient(t)
	_, err = s.Registry.UseRefreshToken(ctx, other, otherSecret, fam, 3, exp)
	wantCode(t, "another client's family", err, chave.InvalidGrant)
	_, err = s.Registry.UseRefreshToken(ctx, id, secret+"x", NewFamilyID(), 0, exp)
	wantCode(t, "a wrong secret", err, chave.Unauthenticated)
	_, err = s.Registry.UseRefreshToken(ctx, id, secret, NewFamilyID(), 0, s.Now().Add(-time.Second))
	wantCode(t, "an expired family", err, chave.InvalidGrant)
}

func testUseRefreshTokenAlone(t *testing.T, s Subject) {
	ctx := context.Background()
	id, secret := s.NewClient(t)
	c, err := s.Registry.AuthenticateClient(ctx, id, secret)
	if err != nil {
		t.Fatal(err)
	}
	exp := s.Now().Add(time.Hour)
	fam := NewFamilyID()
	if got, err := s.Registry.UseRefreshTokenAlone(ctx, id, c.SecretVersion, fam, 0, exp); err != nil || got.ID != id {
		t.Fatalf("the current secret version: %+v, %v", got, err)
	}
	_, err = s.Registry.UseRefreshTokenAlone(ctx, id, c.SecretVersion+"x", fam, 1, exp)
	wantCode(t, "a stale secret version", err, chave.InvalidGrant)
	_, err = s.Registry.UseRefreshTokenAlone(ctx, id, c.SecretVersion, fam, 0, exp)
	wantCode(t, "a replayed generation", err, chave.InvalidGrant)
}

func testRevoke(t *testing.T, s Subject) {
	ctx := context.Background()
	id, secret := s.NewClient(t)
	exp := s.Now().Add(time.Hour)
	fam := NewFamilyID()
	if _, err := s.Registry.UseRefreshToken(ctx, id, secret, fam, 0, exp); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // revoking what is revoked succeeds
		if err := s.Registry.RevokeIssuedToken(ctx, id, secret, auth.IssuedToken{FamilyID: fam, ExpireTime: exp}); err != nil {
			t.Fatalf("revoke the family (%d): %v", i, err)
		}
	}
	_, err := s.Registry.UseRefreshToken(ctx, id, secret, fam, 1, exp)
	wantCode(t, "a revoked family", err, chave.InvalidGrant)

	jti := chave.NewTokenID(id)
	if err := s.Registry.RevokeIssuedToken(ctx, id, secret, auth.IssuedToken{TokenID: jti, ExpireTime: exp}); err != nil {
		t.Fatalf("revoke an access token: %v", err)
	}
	if st, err := s.Registry.CheckIssuedToken(ctx, auth.ClientCredentials{}, id, auth.IssuedToken{TokenID: jti}); err != nil || st.Active {
		t.Errorf("a revoked access token: %+v, %v, want inactive", st, err)
	}

	other, otherSecret := s.NewClient(t)
	err = s.Registry.RevokeIssuedToken(ctx, other, otherSecret, auth.IssuedToken{FamilyID: fam, ExpireTime: exp})
	wantCode(t, "another client's family", err, chave.PermissionDenied)
	err = s.Registry.RevokeIssuedToken(ctx, id, otherSecret, auth.IssuedToken{FamilyID: NewFamilyID(), ExpireTime: exp})
	wantCode(t, "a wrong secret", err, chave.Unauthenticated)
}

func testCheck(t *testing.T, s Subject) {
	ctx := context.Background()
	id, secret := s.NewClient(t)
	self := auth.ClientCredentials{ID: id, Secret: secret}
	c, err := s.Registry.AuthenticateClient(ctx, id, secret)
	if err != nil {
		t.Fatal(err)
	}
	exp := s.Now().Add(time.Hour)
	jti := chave.NewTokenID(id)
	st, err := s.Registry.CheckIssuedToken(ctx, self, id, auth.IssuedToken{TokenID: jti, SecretVersion: c.SecretVersion})
	if err != nil || !st.Active || st.Tenant != c.Tenant || len(st.Scopes) != 1 || st.Scopes[0] != "inventory" || st.SecretVersion != c.SecretVersion {
		t.Errorf("the client's own token: %+v, %v, want active with its tenant, scopes and secret version", st, err)
	}
	// The auth service checking for itself learns only whether it is active.
	st, err = s.Registry.CheckIssuedToken(ctx, auth.ClientCredentials{}, id, auth.IssuedToken{TokenID: jti})
	if err != nil || !st.Active || st.Tenant != "" || len(st.Scopes) != 0 || st.Operator {
		t.Errorf("an anonymous check: %+v, %v, want only active", st, err)
	}
	if st, err := s.Registry.CheckIssuedToken(ctx, self, id, auth.IssuedToken{TokenID: jti, SecretVersion: c.SecretVersion + "x"}); err != nil || st.Active {
		t.Errorf("a token of a rotated secret: %+v, %v, want inactive", st, err)
	}
	_, err = s.Registry.CheckIssuedToken(ctx, auth.ClientCredentials{ID: id, Secret: secret + "x"}, id, auth.IssuedToken{TokenID: jti})
	wantCode(t, "a caller with a wrong secret", err, chave.Unauthenticated)

	// Refresh families: only the current generation is good.
	fam := NewFamilyID()
	gen0, gen1 := int64(0), int64(1)
	if st, err := s.Registry.CheckIssuedToken(ctx, self, id, auth.IssuedToken{FamilyID: fam, Generation: &gen0}); err != nil || !st.Active {
		t.Errorf("a family never used, generation 0: %+v, %v, want active", st, err)
	}
	if _, err := s.Registry.UseRefreshToken(ctx, id, secret, fam, 0, exp); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Registry.CheckIssuedToken(ctx, self, id, auth.IssuedToken{FamilyID: fam, Generation: &gen0}); err != nil || st.Active {
		t.Errorf("a used generation: %+v, %v, want inactive", st, err)
	}
	if st, err := s.Registry.CheckIssuedToken(ctx, self, id, auth.IssuedToken{FamilyID: fam, Generation: &gen1}); err != nil || !st.Active {
		t.Errorf("the current generation: %+v, %v, want active", st, err)
	}

	other, otherSecret := s.NewClient(t)
	_, err = s.Registry.CheckIssuedToken(ctx, auth.ClientCredentials{ID: other, Secret: otherSecret}, id, auth.IssuedToken{TokenID: jti})
	wantCode(t, "another tenant's client's token", err, chave.PermissionDenied)
	s.RevokeClient(t, id)
	if st, err := s.Registry.CheckIssuedToken(ctx, auth.ClientCredentials{}, id, auth.IssuedToken{TokenID: jti}); err != nil || st.Active {
		t.Errorf("a token of a revoked credential: %+v, %v, want inactive", st, err)
	}
}
