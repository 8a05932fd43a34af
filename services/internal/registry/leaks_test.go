package registry

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/storage"
)

// countingStore counts the lookups by secret hash.
type countingStore struct {
	storage.Store
	lookups atomic.Int64
}

func (c *countingStore) GetTokenBySecretHash(ctx context.Context, hash []byte) (chave.Token, error) {
	c.lookups.Add(1)
	return c.Store.GetTokenBySecretHash(ctx, hash)
}

func TestReportLeakedSecrets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	counting := &countingStore{Store: f.svc.store}
	f.svc.store = counting
	tok, secret, err := f.svc.CreateToken(ctx, f.op, chave.Token{DisplayName: "x", Tenant: "acme", GeneralAccess: true})
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := secrets.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	// A string with the prefix whose checksum fails: the last character changed.
	bad := []byte(secret.Reveal())
	bad[len(bad)-1] ^= 1
	got, err := f.svc.ReportLeakedSecrets(ctx, []string{"not-a-secret", string(bad), secret.Reveal(), unknown.Reveal()})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, false, true, false}; !slices.Equal(got, want) {
		t.Fatalf("results = %v, want %v", got, want)
	}
	if n := counting.lookups.Load(); n != 2 {
		t.Errorf("database lookups = %d, want 2 (strings failing the checksum cost none)", n)
	}
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal()); err == nil {
		t.Error("the reported secret still authenticates")
	}
	events, err := f.svc.ListTokenEvents(ctx, f.op, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Action != chave.ActionRevokeLeaked || last.Actor != LeakActor {
		t.Errorf("last event = %+v, want a revoke by %s", last, LeakActor)
	}
	// Reported again: still revoked, no second event.
	got, err = f.svc.ReportLeakedSecrets(ctx, []string{secret.Reveal()})
	if err != nil || !slices.Equal(got, []bool{true}) {
		t.Fatalf("second report = %v, %v; want [true]", got, err)
	}
	again, err := f.svc.ListTokenEvents(ctx, f.op, tok.ID)
	if err != nil || len(again) != len(events) {
		t.Fatalf("events after a second report = %d, %v; want %d", len(again), err, len(events))
	}
}
