package registry

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chave/chave/services/internal/chave"
)

// TestNewUsageCounterConcurrent: grants counted from many goroutines while
// flushes drain the counter add up exactly (run with -race).
func TestNewUsageCounterConcurrent(t *testing.T) {
	u := newUsageCounter()
	day := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	const workers, each = 8, 2000
	ids := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				u.add(ids[(w+i)%len(ids)], day, 1, int64(i%2))
			}
		})
	}
	total := map[string]chave.UsageDay{}
	collect := func() {
		for _, c := range u.drain() {
			d := total[c.TokenID]
			d.Succeeded += c.Succeeded
			d.Failed += c.Failed
			if !c.Day.Equal(chave.UsageDayOf(day)) {
				t.Errorf("drained day %v, want %v", c.Day, chave.UsageDayOf(day))
			}
			total[c.TokenID] = d
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			collect()
		}
	}()
	wg.Wait()
	<-done
	collect()
	var ok, failed int64
	for _, d := range total {
		ok, failed = ok+d.Succeeded, failed+d.Failed
	}
	if ok != workers*each || failed != workers*each/2 {
		t.Fatalf("counted %d succeeded, %d failed; want %d, %d", ok, failed, workers*each, workers*each/2)
	}
}

// TestNewGrantPolicyAndUsage: at a token endpoint, an address outside the
// tenant's ranges (or an unknown one) is refused like a wrong secret and
// counted as failed; outside a token endpoint (revocation, introspection)
// nothing is checked or counted. GetTokenUsage adds what is not flushed.
func TestNewGrantPolicyAndUsage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, secret, err := f.svc.CreateToken(ctx, f.op, chave.Token{DisplayName: "x", Tenant: "acme", Contexts: []string{"inventory"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateTenant(ctx, f.op, chave.Tenant{ID: "acme",
		Policy: chave.TenantPolicy{AllowedClientCIDRs: []string{"192.0.2.0/24"}}}, []string{"policy"}); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"198.51.100.1", "", "garbage"} {
		_, err := f.svc.AuthenticateClient(AtTokenEndpoint(ctx, addr), tok.ID, secret.Reveal())
		if !chave.IsCode(err, chave.Unauthenticated) || err.Error() != errBadClient.Error() {
			t.Errorf("grant from %q: %v, want the wrong-secret answer", addr, err)
		}
	}
	if _, err := f.svc.AuthenticateClient(AtTokenEndpoint(ctx, "192.0.2.9"), tok.ID, secret.Reveal()); err != nil {
		t.Errorf("grant from inside the range: %v", err)
	}
	if _, err := f.svc.AuthenticateClient(AtTokenEndpoint(ctx, "192.0.2.9"), tok.ID, "chave_sk_nope"); err == nil {
		t.Error("a wrong secret authenticated")
	}
	if _, err := f.svc.AuthenticateClient(AtTokenEndpoint(ctx, "192.0.2.9"), "no-such-client", secret.Reveal()); err == nil {
		t.Error("an unknown client authenticated")
	}
	// Not a grant: neither checked nor counted.
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal()); err != nil {
		t.Errorf("authentication outside a token endpoint: %v", err)
	}
	days, err := f.svc.GetTokenUsage(ctx, f.op, tok.ID, 0)
	if err != nil || len(days) != 1 || days[0].Succeeded != 1 || days[0].Failed != 4 {
		t.Fatalf("usage before a flush: %+v, %v; want 1 succeeded, 4 failed", days, err)
	}
	if err := f.svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = f.svc.AuthenticateClient(AtTokenEndpoint(ctx, "192.0.2.9"), tok.ID, secret.Reveal())
	days, err = f.svc.GetTokenUsage(ctx, f.op, tok.ID, 1)
	if err != nil || len(days) != 1 || days[0].Succeeded != 2 || days[0].Failed != 4 || !days[0].Day.Equal(chave.UsageDayOf(f.now)) {
		t.Fatalf("usage after a flush and a grant: %+v, %v; want 2 succeeded, 4 failed today", days, err)
	}
	// Another tenant's admin cannot read it; bad days are named.
	if _, err := f.svc.GetTokenUsage(ctx, f.admin(t, "globex"), tok.ID, 0); !chave.IsCode(err, chave.NotFound) {
		t.Errorf("another tenant's usage: %v, want NotFound", err)
	}
	if _, err := f.svc.GetTokenUsage(ctx, f.op, tok.ID, 91); !chave.IsCode(err, chave.Invalid) {
		t.Errorf("91 days: %v, want Invalid", err)
	}
}

// TestNewExpiringGauge: the gauge holds the last count per tenant, zeros
// included, and a scrape reads no database.
func TestNewExpiringGauge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	if err := reg.Register(f.svc.expiring); err != nil {
		t.Fatal(err)
	}
	for _, exp := range []time.Duration{time.Hour, 6 * 24 * time.Hour, 8 * 24 * time.Hour} {
		if _, _, err := f.svc.CreateToken(ctx, f.op, chave.Token{DisplayName: "x", Tenant: "acme",
			Contexts: []string{"inventory"}, ExpireTime: f.now.Add(exp)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := testutil.CollectAndCount(reg); n != 0 {
		t.Fatalf("before a count: %d series, want none", n)
	}
	if err := f.svc.CountExpiring(ctx); err != nil {
		t.Fatal(err)
	}
	want := `# HELP chave_credentials_expiring_soon ` + expiringHelp + `
# TYPE chave_credentials_expiring_soon gauge
chave_credentials_expiring_soon{tenant="acme"} 2
chave_credentials_expiring_soon{tenant="globex"} 0
`
	if err := testutil.CollectAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "chave_credentials_expiring_soon"); n != 2 {
		t.Errorf("%d series, want 2 (acme and globex at 0)", n)
	}
}

// BenchmarkUsageCounterAdd is what a grant pays to be counted.
func BenchmarkUsageCounterAdd(b *testing.B) {
	u := newUsageCounter()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ids := []string{"chave_ci_aaaaaaaaaaaaaaaaaaaaaa", "chave_ci_bbbbbbbbbbbbbbbbbbbbbb", "chave_ci_cccccccccccccccccccccc", "chave_ci_dddddddddddddddddddddd"}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			u.add(ids[i%len(ids)], now, 1, 0)
			i++
		}
	})
}
