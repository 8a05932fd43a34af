package conformance

import (
	"reflect"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// runClients checks GetClient, the one read of a grant, against GetToken
// and GetTenant: the same token (its parameters unread) and the same
// tenant, field for field, whatever columns either gains.
func runClients(t *testing.T, open opener) {
	// check compares GetClient(id) with GetToken(id) and, when the token's
	// tenant is wanted, GetTenant(tenant); otherwise the tenant must be
	// zero.
	check := func(t *testing.T, s storage.Store, id string, wantTenant bool) (chave.Token, chave.Tenant) {
		t.Helper()
		tok, tenant, err := s.GetClient(t.Context(), id)
		if err != nil {
			t.Fatalf("GetClient(%q): %v", id, err)
		}
		want := mustGetToken(t, s, id)
		want.Parameters = nil
		checkToken(t, "GetClient", want, tok)
		if !reflect.DeepEqual(want, tok) {
			t.Errorf("GetClient(%q) token = %+v, want GetToken's without parameters %+v", id, tok, want)
		}
		if tok.Parameters != nil {
			t.Errorf("GetClient(%q) read the parameters: %v", id, tok.Parameters)
		}
		if !wantTenant {
			if !reflect.DeepEqual(tenant, chave.Tenant{}) {
				t.Errorf("GetClient(%q) tenant = %+v, want the zero Tenant", id, tenant)
			}
			return tok, tenant
		}
		wantTn, err := s.GetTenant(t.Context(), tok.Tenant)
		if err != nil {
			t.Fatalf("GetTenant(%q): %v", tok.Tenant, err)
		}
		checkTenant(t, "GetClient", wantTn, tenant)
		if !reflect.DeepEqual(wantTn, tenant) {
			t.Errorf("GetClient(%q) tenant = %+v, want GetTenant's %+v", id, tenant, wantTn)
		}
		return tok, tenant
	}

	t.Run("TokenWithItsTenant", func(t *testing.T) {
		s := open(t)
		mustCreateTenant(t, s, fullTenant("acme"))
		mustCreateTenant(t, s, fullTenant("globex"))
		written := fullToken("c1", "acme", at(0).In(brt))
		mustCreateToken(t, s, written)
		mustCreateToken(t, s, fullToken("c2", "globex", at(time.Second)))
		tok, tenant := check(t, s, "c1", true)
		written.Parameters = nil
		checkToken(t, "GetClient against what was written", written, tok)
		checkTenant(t, "GetClient against what was written", fullTenant("acme"), tenant)
		if _, tenant := check(t, s, "c2", true); tenant.ID != "globex" {
			t.Errorf("GetClient(c2) tenant = %q, want globex", tenant.ID)
		}
	})

	t.Run("ZeroValuesStayZero", func(t *testing.T) {
		// A tenant whose nullable columns are NULL is still there, and a
		// minimal token reads back with its empty fields nil.
		s := open(t)
		mustCreateTenant(t, s, chave.Tenant{ID: "bare", DisplayName: "b"})
		mustCreateToken(t, s, minimalToken("c1", "bare", at(0)))
		if _, tenant := check(t, s, "c1", true); tenant.ID != "bare" {
			t.Errorf("GetClient of a tenant with NULL times: tenant %+v, want bare", tenant)
		}
	})

	t.Run("NoTenant", func(t *testing.T) {
		s := open(t)
		mustCreateTenant(t, s, fullTenant("acme"))
		op := minimalToken("op", "", at(0))
		op.Operator, op.Contexts = true, []string{chave.ScopeRegistryAdmin}
		mustCreateToken(t, s, op)
		check(t, s, "op", false)
		// A token naming a tenant that does not exist: the token, no tenant.
		mustCreateToken(t, s, minimalToken("orphan", "gone", at(time.Second)))
		if tok, _ := check(t, s, "orphan", false); tok.Tenant != "gone" {
			t.Errorf("GetClient(orphan) token tenant = %q, want gone", tok.Tenant)
		}
	})

	t.Run("UnknownNotFound", func(t *testing.T) {
		s := open(t)
		mustCreateTenant(t, s, fullTenant("acme"))
		mustCreateToken(t, s, minimalToken("c1", "acme", at(0)))
		for _, id := range []string{"c2", "", "acme", "C1"} {
			_, _, err := s.GetClient(t.Context(), id)
			wantCode(t, "GetClient("+id+")", err, chave.NotFound)
		}
	})

	t.Run("SeesEveryWrite", func(t *testing.T) {
		// No copy survives an update of either row: a revocation, a
		// rotation or a tenant's new contexts show in the next read.
		s := open(t)
		mustCreateTenant(t, s, fullTenant("acme"))
		mustCreateToken(t, s, minimalToken("c1", "acme", at(0)))
		check(t, s, "c1", true)
		if _, err := s.UpdateTenant(t.Context(), "acme", func(tn *chave.Tenant) error {
			tn.Contexts = []string{"inventory"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateToken(t.Context(), "c1", func(tok *chave.Token) (chave.Event, error) {
			tok.SecretHash, tok.RevokeTime, tok.Revoker = []byte("rotated"), at(time.Minute), "op"
			return chave.Event{Time: at(time.Minute), Actor: "op", Action: chave.ActionRevoke}, nil
		}); err != nil {
			t.Fatal(err)
		}
		tok, tenant := check(t, s, "c1", true)
		if string(tok.SecretHash) != "rotated" || !tok.RevokeTime.Equal(at(time.Minute)) || !reflect.DeepEqual(tenant.Contexts, []string{"inventory"}) {
			t.Errorf("GetClient after updates: token %+v, tenant %+v", tok, tenant)
		}
	})
}
