package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/internal/auth"
)

func TestGrantMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(c *auth.Config) { c.Registerer = reg })
	h.grant(t, "client-1", secret, "")
	h.grant(t, "client-1", secret, "inventory")
	for _, req := range []*authv1.TokenRequest{
		{GrantType: "client_credentials", ClientId: "client-1", ClientSecret: "wrong"},
		{GrantType: "client_credentials", ClientId: "client-1", ClientSecret: secret, Scope: "labels"},
		{GrantType: "password-from-an-attacker\n", ClientId: "client-1", ClientSecret: secret},
	} {
		if _, err := h.rpc.Token(context.Background(), req); err == nil {
			t.Fatalf("%v succeeded", req)
		}
	}
	want := `
# HELP chave_grants_total Token requests by grant type and outcome (ok or the OAuth error code).
# TYPE chave_grants_total counter
chave_grants_total{grant_type="client_credentials",outcome="invalid_client"} 1
chave_grants_total{grant_type="client_credentials",outcome="invalid_scope"} 1
chave_grants_total{grant_type="client_credentials",outcome="ok"} 2
chave_grants_total{grant_type="other",outcome="unsupported_grant_type"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "chave_grants_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "chave_grant_duration_seconds"); n != 4 {
		t.Fatalf("latency series = %d, want 4", n)
	}
}
