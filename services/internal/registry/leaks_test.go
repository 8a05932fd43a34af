package registry

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

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
	got, err := f.svc.ReportLeakedSecrets(ctx, []string{"not-a-secret", string(bad), secret.Reveal(), unknown.Reveal()}, LeakReport{Source: "github", URL: "https://github.com/acme/app/blob/main/.env"})
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
	if last := events[len(events)-1]; last.Action != chave.ActionRevokeLeaked || last.Actor != LeakActor ||
		last.Details[chave.DetailSource] != "github" || last.Details[chave.DetailURL] != "https://github.com/acme/app/blob/main/.env" {
		t.Errorf("last event = %+v, want a revoke by %s with the source and URL", last, LeakActor)
	}
	// Reported again: still revoked, no second event.
	got, err = f.svc.ReportLeakedSecrets(ctx, []string{secret.Reveal()}, LeakReport{Source: "person"})
	if err != nil || !slices.Equal(got, []bool{true}) {
		t.Fatalf("second report = %v, %v; want [true]", got, err)
	}
	again, err := f.svc.ListTokenEvents(ctx, f.op, tok.ID)
	if err != nil || len(again) != len(events) {
		t.Fatalf("events after a second report = %d, %v; want %d", len(again), err, len(events))
	}
}

// TestNewLeakReportOfAPreviousSecret: the secret a rotation replaced is a
// live secret while its grace period lasts, so a report of it revokes the
// credential, new secret included; after the grace period it is not.
func TestNewLeakReportOfAPreviousSecret(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rotated := func() (chave.Token, secrets.ClientSecret, secrets.ClientSecret) {
		t.Helper()
		tok, old, err := f.svc.CreateToken(ctx, f.op, chave.Token{DisplayName: "x", Tenant: "acme", GeneralAccess: true})
		if err != nil {
			t.Fatal(err)
		}
		_, fresh, err := f.svc.RotateToken(ctx, f.op, tok.ID, f.now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return tok, old, fresh
	}
	tok, old, fresh := rotated()
	got, err := f.svc.ReportLeakedSecrets(ctx, []string{old.Reveal()}, LeakReport{Source: "github"})
	if err != nil || !slices.Equal(got, []bool{true}) {
		t.Fatalf("report of the previous secret in its grace period = %v, %v; want [true]", got, err)
	}
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, fresh.Reveal()); err == nil {
		t.Error("the new secret still authenticates after the old one was reported")
	}

	tok2, old2, fresh2 := rotated()
	f.now = f.now.Add(time.Hour)
	got, err = f.svc.ReportLeakedSecrets(ctx, []string{old2.Reveal()}, LeakReport{Source: "github"})
	if err != nil || !slices.Equal(got, []bool{false}) {
		t.Fatalf("report of a previous secret past its grace period = %v, %v; want [false]", got, err)
	}
	if _, err := f.svc.AuthenticateClient(ctx, tok2.ID, fresh2.Reveal()); err != nil {
		t.Errorf("the new secret no longer authenticates: %v", err)
	}
}
