package observe

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/services/revocation"
)

func TestRevocationSetMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	mem := revocation.NewMemory(time.Now)
	set, err := RevocationSet(mem, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := revocation.Entry{Kind: revocation.AccessToken, ID: "jti", At: time.Now(), Until: time.Now().Add(time.Hour)}
	if err := set.Revoke(ctx, e); err != nil {
		t.Fatal(err)
	}
	if r, err := set.IsRevoked(ctx, revocation.Query{TokenID: "jti"}); err != nil || !r {
		t.Fatalf("IsRevoked through the wrapper = %v, %v", r, err)
	}
	mem.Close()
	if _, err := set.IsRevoked(ctx, revocation.Query{TokenID: "jti"}); err == nil {
		t.Fatal("a closed set answered")
	}
	families, err := reg.Gather()
	if err != nil || len(families) != 1 {
		t.Fatalf("Gather = %v, %v", families, err)
	}
	got := map[string]uint64{}
	for _, m := range families[0].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		got[labels["op"]+"/"+labels["result"]] = m.GetHistogram().GetSampleCount()
	}
	want := map[string]uint64{"revoke/ok": 1, "is_revoked/ok": 1, "is_revoked/unavailable": 1}
	if len(got) != len(want) {
		t.Fatalf("series = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s observed %d times, want %d", k, got[k], n)
		}
	}
}
