package registry

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
)

func (f *fixture) credential(t *testing.T, tenant string, contexts ...string) (chave.Token, secrets.ClientSecret) {
	t.Helper()
	tok, secret, err := f.svc.CreateToken(context.Background(), f.op, chave.Token{DisplayName: "c", Tenant: tenant, Contexts: contexts})
	if err != nil {
		t.Fatal(err)
	}
	return tok, secret
}

// famID and jtiID return well-formed ids, one per name.
func famID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return base64.RawURLEncoding.EncodeToString(sum[:chave.FamilyIDBytes])
}

func jtiID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return base32.StdEncoding.EncodeToString(sum[:])[:chave.TokenIDLen]
}

func TestUseRefreshTokenRotationAndReplay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, secret := f.credential(t, "acme", "inventory")
	exp := f.now.Add(24 * time.Hour)
	use := func(gen int64) error {
		_, err := f.svc.UseRefreshToken(ctx, tok.ID, ClientProof{Secret: secret.Reveal()}, famID("fam-1"), gen, exp)
		return err
	}
	for gen := range int64(3) {
		if err := use(gen); err != nil {
			t.Fatalf("generation %d: %v", gen, err)
		}
	}
	// Generation 1 comes back: a replay. The family is revoked, so the
	// newest generation (3) fails too.
	if err := use(1); !chave.IsCode(err, chave.InvalidGrant) {
		t.Fatalf("replay: %v, want InvalidGrant", err)
	}
	if err := use(3); !chave.IsCode(err, chave.InvalidGrant) {
		t.Fatalf("newest generation after a replay: %v, want InvalidGrant", err)
	}
	fam, err := f.svc.store.GetRefreshFamily(ctx, famID("fam-1"))
	if err != nil || fam.RevokeReason != chave.FamilyRevokedOnReuse {
		t.Fatalf("family after replay = %+v, %v", fam, err)
	}
	if st, _ := f.svc.CheckIssuedToken(ctx, chave.ClientCredentials{ID: tok.ID, Secret: secret.Reveal()}, tok.ID, IssuedToken{FamilyID: famID("fam-1")}); st.Active {
		t.Fatal("a revoked family checks as active")
	}
}

func TestUseRefreshTokenRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, aSecret := f.credential(t, "acme", "inventory")
	b, bSecret := f.credential(t, "acme", "inventory")
	exp := f.now.Add(time.Hour)
	if _, err := f.svc.UseRefreshToken(ctx, a.ID, ClientProof{Secret: aSecret.Reveal()}, famID("fam-a"), 0, exp); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		id, secret, family string
		gen                int64
		exp                time.Time
		code               chave.Code
	}{
		"another client's family": {b.ID, bSecret.Reveal(), famID("fam-a"), 1, exp, chave.PermissionDenied},
		"wrong secret":            {a.ID, bSecret.Reveal(), famID("fam-a"), 1, exp, chave.Unauthenticated},
		"expired family":          {a.ID, aSecret.Reveal(), famID("fam-x"), 0, f.now.Add(-time.Second), chave.InvalidGrant},
		"no family":               {a.ID, aSecret.Reveal(), "", 0, exp, chave.Invalid},
		"negative generation":     {a.ID, aSecret.Reveal(), famID("fam-y"), -1, exp, chave.Invalid},
	}
	for name, c := range cases {
		if _, err := f.svc.UseRefreshToken(ctx, c.id, ClientProof{Secret: c.secret}, c.family, c.gen, c.exp); !chave.IsCode(err, c.code) {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	// The refused attempts by client b did not disturb a's family.
	if _, err := f.svc.UseRefreshToken(ctx, a.ID, ClientProof{Secret: aSecret.Reveal()}, famID("fam-a"), 1, exp); err != nil {
		t.Fatalf("a's next generation after refusals: %v", err)
	}
	// A revoked credential refreshes no more.
	if _, err := f.svc.RevokeToken(ctx, f.op, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UseRefreshToken(ctx, a.ID, ClientProof{Secret: aSecret.Reveal()}, famID("fam-a"), 2, exp); !chave.IsCode(err, chave.Unauthenticated) {
		t.Fatalf("refresh after credential revocation: %v", err)
	}
}

func TestUseRefreshTokenParallel(t *testing.T) {
	f := newFixture(t)
	tok, secret := f.credential(t, "acme", "inventory")
	const n = 16
	var wg sync.WaitGroup
	results := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.UseRefreshToken(context.Background(), tok.ID, ClientProof{Secret: secret.Reveal()}, famID("fam-p"), 0, f.now.Add(time.Hour))
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case !chave.IsCode(err, chave.InvalidGrant):
			t.Errorf("parallel use failed with %v, want InvalidGrant", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d parallel uses of one refresh token succeeded, want exactly 1", ok)
	}
}

// TestUseRefreshTokenParallelChainsAndAReplay follows several families at
// once, as the refresh load does (on SQLite their advances share
// transactions), while one of them is replayed: that family alone ends,
// revoked on reuse, and every other reaches its last generation.
func TestUseRefreshTokenParallelChainsAndAReplay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, secret := f.credential(t, "acme", "inventory")
	const chains, steps = 8, 6
	use := func(fam string, gen int64) error {
		_, err := f.svc.UseRefreshToken(ctx, tok.ID, ClientProof{Secret: secret.Reveal()}, famID(fam), gen, f.now.Add(time.Hour))
		return err
	}
	var wg sync.WaitGroup
	for c := range chains {
		fam := fmt.Sprintf("chain-%d", c)
		wg.Go(func() {
			for gen := range int64(steps) {
				if c == 0 && gen == 3 {
					// Generation 1 again, while the other chains advance.
					if err := use(fam, 1); !chave.IsCode(err, chave.InvalidGrant) {
						t.Errorf("replay of %s at generation 1: %v, want InvalidGrant", fam, err)
					}
				}
				err := use(fam, gen)
				switch {
				case c == 0 && gen >= 3:
					if !chave.IsCode(err, chave.InvalidGrant) {
						t.Errorf("%s at generation %d after its replay: %v, want InvalidGrant", fam, gen, err)
					}
				case err != nil:
					t.Errorf("%s at generation %d: %v", fam, gen, err)
				}
			}
		})
	}
	wg.Wait()
	for c := range chains {
		fam, err := f.svc.store.GetRefreshFamily(ctx, famID(fmt.Sprintf("chain-%d", c)))
		switch {
		case err != nil:
			t.Errorf("chain %d: %v", c, err)
		case c == 0 && fam.RevokeReason != chave.FamilyRevokedOnReuse:
			t.Errorf("the replayed chain: %+v, want it revoked on reuse", fam)
		case c != 0 && (fam.Revoked() || fam.Generation != steps):
			t.Errorf("chain %d: %+v, want generation %d, not revoked", c, fam, steps)
		}
	}
}

func TestRevokeAndCheckIssuedTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, aSecret := f.credential(t, "acme", "inventory")
	b, bSecret := f.credential(t, "acme", "inventory")
	exp := f.now.Add(time.Hour)

	check := func(id string, tok IssuedToken) bool {
		t.Helper()
		st, err := f.svc.CheckIssuedToken(ctx, chave.ClientCredentials{ID: a.ID, Secret: aSecret.Reveal()}, id, tok)
		if err != nil {
			t.Fatal(err)
		}
		return st.Active
	}
	jti1, jti2 := chave.NewTokenID(a.ID), chave.NewTokenID(a.ID)
	if !check(a.ID, IssuedToken{TokenID: jti1, FamilyID: famID("fam-never-used")}) {
		t.Fatal("a fresh access token of an active credential checks inactive")
	}
	// b cannot revoke a's jti, nor a jti that names no client.
	for _, jti := range []string{jti1, jtiID("jti-of-nobody")} {
		if err := f.svc.RevokeIssuedToken(ctx, b.ID, bSecret.Reveal(), IssuedToken{TokenID: jti, ExpireTime: exp}); !chave.IsCode(err, chave.PermissionDenied) {
			t.Fatalf("b revoking jti %s: %v, want PermissionDenied", jti, err)
		}
	}
	if !check(a.ID, IssuedToken{TokenID: jti1}) {
		t.Fatal("b's refused revocation revoked a's jti")
	}
	if err := f.svc.RevokeIssuedToken(ctx, a.ID, aSecret.Reveal(), IssuedToken{TokenID: jti1, ExpireTime: exp}); err != nil {
		t.Fatal(err)
	}
	if check(a.ID, IssuedToken{TokenID: jti1}) {
		t.Fatal("a revoked jti checks active")
	}
	if !check(a.ID, IssuedToken{TokenID: jti2}) {
		t.Fatal("revoking one jti affected another")
	}
	// Families: b cannot revoke a's family; a can, idempotently.
	if _, err := f.svc.UseRefreshToken(ctx, a.ID, ClientProof{Secret: aSecret.Reveal()}, famID("fam-a"), 0, exp); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeIssuedToken(ctx, b.ID, bSecret.Reveal(), IssuedToken{FamilyID: famID("fam-a"), ExpireTime: exp}); !chave.IsCode(err, chave.PermissionDenied) {
		t.Fatalf("b revoking a's family: %v", err)
	}
	if !check(a.ID, IssuedToken{FamilyID: famID("fam-a")}) {
		t.Fatal("b's refused revocation revoked a's family")
	}
	for range 2 {
		if err := f.svc.RevokeIssuedToken(ctx, a.ID, aSecret.Reveal(), IssuedToken{FamilyID: famID("fam-a"), ExpireTime: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if check(a.ID, IssuedToken{FamilyID: famID("fam-a")}) {
		t.Fatal("a revoked family checks active")
	}
	// Only the current generation of a family checks active.
	if _, err := f.svc.UseRefreshToken(ctx, a.ID, ClientProof{Secret: aSecret.Reveal()}, famID("fam-g"), 0, exp); err != nil {
		t.Fatal(err)
	}
	gen := func(g int64) *int64 { return &g }
	if check(a.ID, IssuedToken{FamilyID: famID("fam-g"), Generation: gen(0)}) || !check(a.ID, IssuedToken{FamilyID: famID("fam-g"), Generation: gen(1)}) {
		t.Fatal("a spent generation checks active, or the current one inactive")
	}
	if !check(a.ID, IssuedToken{FamilyID: famID("fam-unused"), Generation: gen(0)}) || check(a.ID, IssuedToken{FamilyID: famID("fam-unused"), Generation: gen(1)}) {
		t.Fatal("generations of an unused family check wrongly")
	}
	if _, err := f.svc.UseRefreshToken(ctx, a.ID, ClientProof{Secret: aSecret.Reveal()}, famID("fam-a"), 1, exp); !chave.IsCode(err, chave.InvalidGrant) {
		t.Fatalf("refresh of a revoked family: %v", err)
	}
	// Revoking a never-used family also stops it before its first use.
	if err := f.svc.RevokeIssuedToken(ctx, a.ID, aSecret.Reveal(), IssuedToken{FamilyID: famID("fam-new"), ExpireTime: exp}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UseRefreshToken(ctx, a.ID, ClientProof{Secret: aSecret.Reveal()}, famID("fam-new"), 0, exp); !chave.IsCode(err, chave.InvalidGrant) {
		t.Fatalf("first use of a family revoked before use: %v", err)
	}
	// Revoking the credential makes every token it issued inactive.
	if _, err := f.svc.RevokeToken(ctx, f.op, b.ID); err != nil {
		t.Fatal(err)
	}
	if st, err := f.svc.CheckIssuedToken(ctx, chave.ClientCredentials{}, b.ID, IssuedToken{TokenID: jtiID("jti-b")}); err != nil || st.Active {
		t.Fatalf("an access token of a revoked credential checks %+v, %v", st, err)
	}
	unknown := secrets.ClientIDPrefix + "0000000000000000000000"
	if st, err := f.svc.CheckIssuedToken(ctx, chave.ClientCredentials{}, unknown, IssuedToken{TokenID: jtiID("x")}); err != nil || st.Active {
		t.Fatalf("an unknown client's token checks %+v, %v", st, err)
	}
	// A client asking about a client id that is not its own learns nothing,
	// not even whether it exists.
	if _, err := f.svc.CheckIssuedToken(ctx, chave.ClientCredentials{ID: a.ID, Secret: aSecret.Reveal()}, unknown, IssuedToken{TokenID: jtiID("x")}); !chave.IsCode(err, chave.PermissionDenied) {
		t.Fatalf("a client checking an unknown client's token: %v, want PermissionDenied", err)
	}
}

func TestCheckIssuedTokenAnonymousLearnsOnlyActive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, aSecret := f.credential(t, "acme", "inventory")
	st, err := f.svc.CheckIssuedToken(ctx, chave.ClientCredentials{}, a.ID, IssuedToken{TokenID: jtiID("jti")})
	if err != nil || !st.Active || st.Tenant != "" || st.Scopes != nil {
		t.Fatalf("anonymous check = %+v, %v; want only active", st, err)
	}
	st, err = f.svc.CheckIssuedToken(ctx, chave.ClientCredentials{ID: a.ID, Secret: aSecret.Reveal()}, a.ID, IssuedToken{TokenID: jtiID("jti")})
	if err != nil || st.Tenant != "acme" {
		t.Fatalf("authenticated check = %+v, %v", st, err)
	}
	if _, err := f.svc.CheckIssuedToken(ctx, chave.ClientCredentials{ID: a.ID, Secret: "wrong"}, a.ID, IssuedToken{TokenID: jtiID("jti")}); !chave.IsCode(err, chave.Unauthenticated) {
		t.Fatalf("wrong caller secret: %v", err)
	}
}

// A grant records the credential's last use at most once a minute, so that
// grants stay reads.
func TestLastUseRecordedOncePerMinute(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, secret := f.credential(t, "acme", "inventory")
	lastUse := func() time.Time {
		t.Helper()
		got, err := f.svc.GetToken(ctx, f.op, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUseTime
	}
	if !lastUse().IsZero() {
		t.Fatal("a fresh credential has a last use")
	}
	first := f.now
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal()); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(30 * time.Second)
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal()); err != nil {
		t.Fatal(err)
	}
	if got := lastUse(); !got.Equal(first) {
		t.Fatalf("last use after two grants 30 s apart = %v, want the first, %v", got, first)
	}
	f.now = f.now.Add(31 * time.Second)
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal()); err != nil {
		t.Fatal(err)
	}
	if got := lastUse(); !got.Equal(f.now) {
		t.Fatalf("last use a minute later = %v, want %v", got, f.now)
	}
}
