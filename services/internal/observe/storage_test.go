package observe

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/conformance"
	"github.com/chave/chave/services/internal/storage/sqlite"
)

// The wrapped store still is a store: it passes the whole conformance suite.
func TestInstrumentedStoreConforms(t *testing.T) {
	conformance.Run(t, func(t *testing.T) storage.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
		if err != nil {
			t.Fatal(err)
		}
		wrapped, err := Store(s, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		return wrapped
	})
}

func TestStoreMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	store, _ := Store(s, reg)
	ctx := context.Background()
	tn := chave.Tenant{ID: "acme", DisplayName: "Acme", CreateTime: time.Now()}
	if err := store.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	store.CreateTenant(ctx, tn)  // conflict
	store.GetTenant(ctx, "nope") // not found
	if _, err := store.GetTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	families, _ := reg.Gather()
	got := map[string]uint64{}
	for _, m := range families[0].GetMetric() {
		key := ""
		for _, l := range m.GetLabel() {
			key += l.GetValue() + "/"
		}
		got[key] = m.GetHistogram().GetSampleCount()
	}
	want := map[string]uint64{"create_tenant/ok/": 1, "create_tenant/conflict/": 1, "get_tenant/not_found/": 1, "get_tenant/ok/": 1}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
}
