package registry

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// readCountingStore counts the reads a grant can make.
type readCountingStore struct {
	storage.Store
	tokens, tenants, clients atomic.Int64
}

func (c *readCountingStore) GetToken(ctx context.Context, id string) (chave.Token, error) {
	c.tokens.Add(1)
	return c.Store.GetToken(ctx, id)
}

func (c *readCountingStore) GetTenant(ctx context.Context, id string) (chave.Tenant, error) {
	c.tenants.Add(1)
	return c.Store.GetTenant(ctx, id)
}

func (c *readCountingStore) GetClient(ctx context.Context, id string) (chave.Token, chave.Tenant, error) {
	c.clients.Add(1)
	return c.Store.GetClient(ctx, id)
}

func (c *readCountingStore) reads() [3]int64 {
	return [3]int64{c.tokens.Swap(0), c.tenants.Swap(0), c.clients.Swap(0)}
}

// A client-credentials grant reads the store once (GetClient), for a
// tenant's credential and for the operator, on success and on every
// failure, and describes the client as the two reads it replaces did.
func TestNewGrantReadsOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, secret, err := f.svc.CreateToken(ctx, f.op, chave.Token{DisplayName: "x", Tenant: "acme", GeneralAccess: true,
		IssueRefreshTokens: true, ExpireTime: f.now.Add(time.Hour),
		Parameters: chave.Parameters{"telegram": {"botToken": botToken}}})
	if err != nil {
		t.Fatal(err)
	}
	opID, opSecret, err := f.svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counting := &readCountingStore{Store: f.svc.store}
	f.svc.store = counting
	one := [3]int64{0, 0, 1}

	for _, c := range []struct{ name, id, secret string }{
		{"tenant credential", tok.ID, secret.Reveal()},
		{"operator", opID, opSecret.Reveal()},
	} {
		got, err := f.svc.AuthenticateClient(ctx, c.id, c.secret)
		if err != nil {
			t.Fatalf("%s: AuthenticateClient: %v", c.name, err)
		}
		if n := counting.reads(); n != one {
			t.Errorf("%s: reads (GetToken, GetTenant, GetClient) = %v, want %v", c.name, n, one)
		}
		stored, err := counting.Store.GetToken(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		want, err := f.svc.clientOf(ctx, stored, secretVersionOf(stored)) // the two reads of before
		if err != nil {
			t.Fatal(err)
		}
		counting.reads()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: AuthenticateClient = %+v, want what clientOf describes: %+v", c.name, got, want)
		}
	}

	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, opSecret.Reveal()); !chave.IsCode(err, chave.Unauthenticated) {
		t.Errorf("wrong secret: %v, want Unauthenticated", err)
	}
	if n := counting.reads(); n != one {
		t.Errorf("wrong secret: reads = %v, want %v", n, one)
	}

	// The tenant's contexts change: the next grant's scopes follow.
	if _, err := f.svc.UpdateTenant(ctx, f.op, chave.Tenant{ID: "acme", DisplayName: "Acme", Contexts: []string{"inventory"}}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"inventory"}; !reflect.DeepEqual(got.Scopes, want) {
		t.Errorf("scopes after the tenant's update = %v, want %v", got.Scopes, want)
	}
}

// A credential whose tenant is missing (the zero Tenant GetClient reads
// then) fails as loading its tenant did, not as an operator.
func TestNewClientWithMissingTenant(t *testing.T) {
	for _, tok := range []chave.Token{
		{ID: "c1", Tenant: "gone", GeneralAccess: true},
		{ID: "c2", Tenant: "", GeneralAccess: true},
	} {
		if c, err := clientWith(tok, chave.Tenant{}, "v"); !chave.IsCode(err, chave.NotFound) {
			t.Errorf("clientWith(%+v, no tenant) = %+v, %v; want NotFound", tok, c, err)
		}
	}
	if _, err := clientWith(chave.Token{ID: "c3", Tenant: "acme"}, chave.Tenant{ID: "globex"}, "v"); !chave.IsCode(err, chave.NotFound) {
		t.Errorf("clientWith of another tenant: %v, want NotFound", err)
	}
	op, err := clientWith(chave.Token{ID: "op", Operator: true}, chave.Tenant{}, "v")
	if err != nil || !op.Operator || len(op.Scopes) != 2 {
		t.Errorf("clientWith(operator) = %+v, %v", op, err)
	}
}
